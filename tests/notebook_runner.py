"""Execute a course notebook in a fresh Jupyter kernel, twice in the same kernel, and read its outputs.

Used by the course tests: cells tagged ``raises-exception`` must fail, every other cell must not, and
the second pass must fail and pass exactly where the first did.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAISES = "raises-exception"


@dataclass
class Pass:
    """One execution of every cell: the executed notebook."""

    nb: nbformat.NotebookNode

    def cell(self, cell_id: str) -> nbformat.NotebookNode:
        """The code cell with this id (ids are set by the notebook's author)."""
        for cell in self.nb.cells:
            if cell.get("id") == cell_id:
                return cell
        raise KeyError(f"no cell with id {cell_id!r}; ids: {[c.get('id') for c in self.nb.cells if c.cell_type == 'code']}")

    def text(self, cell_id: str | None = None) -> str:
        """Everything one cell (or, with no id, the whole notebook) showed: streams, results, HTML, errors."""
        cells = [self.cell(cell_id)] if cell_id else [c for c in self.nb.cells if c.cell_type == "code"]
        return "\n".join(_output_text(output) for cell in cells for output in cell.get("outputs", []))

    def failed(self, cell: nbformat.NotebookNode) -> bool:
        """Whether this cell raised."""
        return any(output.output_type == "error" for output in cell.get("outputs", []))

    def failing_cells(self) -> list[str]:
        """Ids of the code cells that raised."""
        return [c.get("id") for c in self.nb.cells if c.cell_type == "code" and self.failed(c)]


def _output_text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return _ANSI.sub("", output.text)
    if output.output_type == "error":
        return _ANSI.sub("", "\n".join([f"{output.ename}: {output.evalue}", *output.traceback]))
    data = output.get("data", {})
    return _ANSI.sub("", "\n".join(str(data[key]) for key in ("text/plain", "text/html", "text/markdown") if key in data))


def execute(name: str, *, timeout: int = 300) -> tuple[Pass, Pass]:
    """Run notebook ``name`` top to bottom, then again in the same kernel; return both passes.

    Fails (AssertionError) when a cell tagged raises-exception did not raise, when any other cell
    raised, or when the second pass fails where the first passed or the other way round.
    """
    path = NOTEBOOKS / name
    source = nbformat.read(path, as_version=4)
    first, second = copy.deepcopy(source), copy.deepcopy(source)
    client = NotebookClient(first, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    env = dict(os.environ)
    with client.setup_kernel(env=env, cwd=str(NOTEBOOKS)):
        for notebook in (first, second):
            client.nb = notebook
            for index, cell in enumerate(notebook.cells):
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as exc:
                    raise AssertionError(f"{name}: cell {cell.get('id')!r} raised but is not tagged {RAISES}:\n{exc}") from None
    passes = Pass(first), Pass(second)
    for number, run in enumerate(passes, 1):
        for cell in run.nb.cells:
            if cell.cell_type == "code" and RAISES in cell.metadata.get("tags", []) and not run.failed(cell):
                raise AssertionError(f"{name} (pass {number}): cell {cell.get('id')!r} is tagged {RAISES} but did not raise")
    assert passes[0].failing_cells() == passes[1].failing_cells(), f"{name}: the second run fails in other cells"
    return passes


def stripped(name: str) -> bool:
    """True when the committed notebook has no outputs and no execution counts."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
