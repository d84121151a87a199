"""``make install`` in a fresh copy of the tree: uv does the work, a re-run does nothing, and without uv it says so once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FALLBACK = "loop-lab: uv could not be installed; installing with pip instead"
# Where pip finds nothing: no index, no links, no configuration of this machine's.
OFFLINE_PIP = {
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_FIND_LINKS": "",
    "PIP_RETRIES": "0",
}
# No network at all for pip and uv: both indexes point nowhere, every proxy is a closed port.
NO_NETWORK = {
    **OFFLINE_PIP,
    "UV_INDEX_URL": "http://127.0.0.1:9/simple",
    "UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple",
    **{name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")},
    "NO_PROXY": "",
}


def _fresh_copy(tmp_path: Path) -> Path:
    """What a clone holds for an install: the package, its metadata and the Makefile."""
    tree = tmp_path / "clone"
    shutil.copytree(ROOT / "kit", tree / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "notebooks", tree / "notebooks", ignore=shutil.ignore_patterns(".*"))
    for name in ("pyproject.toml", "Makefile", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy2(ROOT / name, tree / name)
    return tree


def _path_without_uv() -> str:
    """This PATH less every folder holding a ``uv`` (the venv's own included): make must bring its own."""
    folders = [folder for folder in os.environ.get("PATH", "").split(os.pathsep) if folder and not Path(folder, "uv").exists()]
    return os.pathsep.join(folders)


def _make(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": _path_without_uv(), "PYTHON": sys.executable, **env}
    return subprocess.run(["make", *args], cwd=tree, env=environment, capture_output=True, text=True, timeout=600)


def test_make_install_uses_uv_and_a_rerun_is_a_no_op(tmp_path: Path) -> None:
    tree = _fresh_copy(tmp_path)
    first = _make(tree, "install")
    assert first.returncode == 0, first.stdout + first.stderr
    assert FALLBACK not in first.stdout, "uv was available through pip, yet make fell back to pip"
    venv = tree / ".venv" / "bin"
    assert (venv / "uv").exists() and (venv / "pip").exists(), sorted(p.name for p in venv.iterdir())
    where = subprocess.run(
        [venv / "python", "-c", "import kit; print(kit.__file__)"], cwd=tmp_path, capture_output=True, text=True
    )
    assert where.stdout.strip() == str(tree / "kit" / "__init__.py"), where.stdout + where.stderr
    pinned = subprocess.run(
        [venv / "python", "-c", "import pytest_asyncio; print(pytest_asyncio.__version__)"], capture_output=True, text=True
    )
    assert pinned.stdout.strip() == "1.5.0", "the lock's version, installed as a constraint"

    again = _make(tree, "install")
    assert again.returncode == 0 and "Nothing to be done for 'install'" in again.stdout, again.stdout + again.stderr


def test_without_uv_make_says_so_once_and_uses_pip(tmp_path: Path) -> None:
    tree = _fresh_copy(tmp_path)
    done = _make(tree, "install", **OFFLINE_PIP)
    output = done.stdout + done.stderr
    assert output.count(FALLBACK) == 1, output
    assert done.returncode != 0, "with no index at all, pip cannot install either"
    assert (tree / ".venv" / "bin" / "pip").exists(), "the pip route brings pip into the pip-less venv (ensurepip)"
    assert not (tree / ".venv" / ".loop-lab-installed").exists(), "a failed install must not leave the stamp"


def test_make_setup_offline_installs_from_the_wheelhouse_with_no_network(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    built = subprocess.run(
        ["make", "wheelhouse", f"WHEELHOUSE={wheelhouse}"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stdout + built.stderr
    names = [path.name for path in wheelhouse.glob("*.whl")]
    for wheel in ("loop_lab-", "setuptools-", "pip-", "uv-", "pytest_asyncio-1.5.0-", "jupyterlab-4.6.6-"):
        assert any(name.startswith(wheel) for name in names), f"the wheelhouse lacks {wheel}*: {sorted(names)}"

    tree, home = _fresh_copy(tmp_path), tmp_path / "home"
    # A cache of its own, empty: what uv installs must come from the wheelhouse.
    offline = {**NO_NETWORK, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "PIP_NO_CACHE_DIR": "1", "LOOP_LAB_HOME": str(home)}
    try:
        done = _make(tree, "setup", f"OFFLINE={wheelhouse}", **offline)
        assert done.returncode == 0, done.stdout + done.stderr
        assert FALLBACK not in done.stdout and "database ready" in done.stdout, done.stdout
        venv = tree / ".venv" / "bin"
        versions = subprocess.run(
            [venv / "python", "-c", "import kit, pytest_asyncio; print(kit.__file__, pytest_asyncio.__version__)"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert versions.stdout.split() == [str(tree / "kit" / "__init__.py"), "1.5.0"], versions.stdout + versions.stderr
        assert (venv / "jupyter-lab").exists() and (venv / "loop-lab").exists()
    finally:
        subprocess.run(
            [tree / ".venv" / "bin" / "python", "-m", "kit", "db", "stop", "--remove"],
            env={**os.environ, "LOOP_LAB_HOME": str(home)},
            capture_output=True,
            timeout=120,
        )


def test_make_setup_offline_names_a_folder_that_is_no_wheelhouse(tmp_path: Path) -> None:
    tree = _fresh_copy(tmp_path)
    done = _make(tree, "setup", f"OFFLINE={tmp_path}", **NO_NETWORK)
    assert done.returncode != 0 and f"OFFLINE={tmp_path} is not a wheelhouse" in done.stdout, done.stdout + done.stderr
    assert not (tree / ".venv").exists()
