"""Strip the outputs from course notebooks, keeping each cell's id: ``make notebooks-clean``.

JupyterLab autosaves outputs into the notebook files while you work through them; the course is committed
without outputs (the course tests check it). This removes outputs, execution counts and per-cell execution
metadata, and keeps everything else, cell ids included (the tests find cells by id; plain ``nbstripout``
renumbers them unless given ``--keep-id``). Standard library only.

    python -m kit.course.strip notebooks/            # strip every notebook under notebooks/
    python -m kit.course.strip --check notebooks/    # exit 1 and name the notebooks that have outputs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

FIX = "make notebooks-clean"
_CELL_METADATA = ("execution", "collapsed", "scrolled")


def has_outputs(notebook: dict[str, Any]) -> bool:
    """Whether any code cell of a notebook (as loaded JSON) has outputs or an execution count."""
    return any(
        cell.get("outputs") or cell.get("execution_count") is not None
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    )


def strip(path: Path) -> bool:
    """Remove outputs and execution counts from the notebook at ``path`` in place; True if it changed."""
    text = path.read_text()
    notebook = json.loads(text)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        for key in _CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
    notebook.get("metadata", {}).pop("widgets", None)
    new = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    if new == text:
        return False
    path.write_text(new)
    return True


def _notebooks(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"notebooks-clean: {name} is neither a notebook nor a directory")
    return found


def main(argv: list[str] | None = None) -> int:
    """Strip (or with ``--check`` only list) notebooks with outputs; exit 1 with ``--check`` when any has them."""
    parser = argparse.ArgumentParser(prog="python -m kit.course.strip", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook has outputs")
    parser.add_argument("paths", nargs="+", help="notebooks or directories")
    args = parser.parse_args(argv)
    notebooks = _notebooks(args.paths)
    if args.check:
        dirty = [path for path in notebooks if has_outputs(json.loads(path.read_text()))]
        for path in dirty:
            print(f"{path}: has outputs; run `{FIX}`")
        return 1 if dirty else 0
    changed = [path for path in notebooks if strip(path)]
    print(f"stripped {len(changed)} of {len(notebooks)} notebooks" + "".join(f"\n  {path}" for path in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
