"""Every course notebook: committed without outputs, with objectives, a time, a summary and an exercise, and tested."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.support.notebook_runner import NOTEBOOKS, RAISES, stripped

COURSE = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_the_course_has_ten_numbered_notebooks() -> None:
    assert [name[:2] for name in COURSE] == [f"{i:02d}" for i in range(10)]


@pytest.mark.parametrize("name", COURSE)
def test_notebook_shape(name: str) -> None:
    assert stripped(name), f"{name} must be committed without outputs (clear them before committing)"
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "What you will learn" in markdown and "Time:" in markdown, f"{name}: objectives and a time estimate at the top"
    assert "core path" in markdown.lower() or "extended" in markdown.lower(), f"{name}: say which path it belongs to"
    assert "## Summary" in markdown or "## What you saw" in markdown, f"{name}: a summary at the end"
    assert "check(" in code and "hint(" in code, f"{name}: an exercise with a check and a hint"
    assert "# solution(" in code, f"{name}: the solution is revealed only on purpose (a commented-out call)"
    for cell in nb.cells:
        if RAISES in cell.metadata.get("tags", []):
            before = nb.cells[nb.cells.index(cell) - 1]
            assert before.cell_type == "markdown" and "fail" in before.source.lower(), (
                f"{name}: the text above a cell tagged {RAISES} must say it fails on purpose"
            )


@pytest.mark.parametrize("name", COURSE)
def test_each_notebook_is_executed_by_a_test(name: str) -> None:
    test_file = Path(__file__).parent / f"test_course_{name[:2]}.py"
    assert test_file.exists() and name in test_file.read_text(), f"{test_file.name} must execute {name}"
