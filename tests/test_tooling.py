"""Contributor tooling: the pre-commit hooks agree with the tree, so a commit never rewrites what is committed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = (ROOT / ".pre-commit-config.yaml").read_text()


def _minor(version: str) -> str:
    return ".".join(version.lstrip("v").split(".")[:2])


def test_the_hooks_are_ruff_and_nbstripout_keeping_cell_ids() -> None:
    for hook in ("id: ruff-check", "id: ruff-format", "id: nbstripout", "args: [--keep-id]"):
        assert hook in CONFIG, f".pre-commit-config.yaml lacks {hook!r}"
    rev = re.search(r"ruff-pre-commit\s+rev: (\S+)", CONFIG)
    assert rev and _minor(rev.group(1)) == _minor(metadata.version("ruff")), "pre-commit's ruff must be the test extra's"


def test_nbstripout_keep_id_leaves_the_committed_notebooks_unchanged(tmp_path: Path) -> None:
    committed = sorted((ROOT / "notebooks").glob("*.ipynb"))
    copies = [Path(shutil.copy2(path, tmp_path)) for path in committed]
    nbstripout = Path(sys.executable).parent / "nbstripout"
    subprocess.run([nbstripout, "--keep-id", *copies], check=True, timeout=60)
    changed = [path.name for path, copy in zip(committed, copies) if path.read_bytes() != copy.read_bytes()]
    assert not changed, f"the pre-commit hook would rewrite {changed}: run `nbstripout --keep-id` on them and commit"


def _tree_for_lint(tmp_path: Path) -> Path:
    """kit/, tests/, pyproject.toml and the Makefile in ``tmp_path``, timestamps kept (so make does not reinstall)."""
    for folder in ("kit", "tests"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "Makefile"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def _make_lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # -o install: lint with this venv as it is; never install into it from the copy
    return subprocess.run(
        ["make", "-o", "install", "lint", f"VENV={sys.prefix}"], cwd=tree, capture_output=True, text=True, timeout=120
    )


def test_make_lint_passes_on_the_tree_and_fails_on_a_finding_or_unformatted_code(tmp_path: Path) -> None:
    tree = _tree_for_lint(tmp_path)
    clean = _make_lint(tree)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "pip install" not in clean.stdout + clean.stderr and ".loop-lab-installed" not in clean.stdout

    module = tree / "kit" / "errors.py"
    original = module.read_text()
    module.write_text("import os\n" + original)
    unused = _make_lint(tree)
    assert unused.returncode != 0 and "F401" in unused.stdout, unused.stdout + unused.stderr

    module.write_text(original + "\nx = {  'a':1 }\n")
    unformatted = _make_lint(tree)
    assert unformatted.returncode != 0 and "1 file would be reformatted" in unformatted.stdout, unformatted.stdout
