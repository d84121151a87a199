"""Every course notebook: committed without outputs, with objectives, a time, a summary and an exercise, and tested."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from kit.course.strip import main as strip_main
from kit.course.syllabus import SPARE_MINUTES, WORKSHOP_MINUTES, Lesson, core_minutes, lessons
from tests.support.notebook_runner import NOTEBOOKS, RAISES, STRIP_FIX, stripped

COURSE = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_the_course_has_ten_numbered_notebooks() -> None:
    assert [name[:2] for name in COURSE] == [f"{i:02d}" for i in range(10)]


@pytest.mark.parametrize("name", COURSE)
def test_notebook_shape(name: str) -> None:
    assert stripped(name), f"{name} must be committed without outputs: run `{STRIP_FIX}` (it keeps the cell ids)"
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


# --- one source for time budgets: each notebook's metadata -----------------------------------------------

ROOT = NOTEBOOKS.parent
LESSONS = lessons(NOTEBOOKS)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.name for lesson in LESSONS])
def test_header_states_the_budget_in_the_metadata(lesson: Lesson) -> None:
    header = nbformat.read(NOTEBOOKS / f"{lesson.name}.ipynb", as_version=4).cells[0].source
    found = re.search(r"\*\*Time:\*\* ~(\d+) min", header)
    assert found and int(found.group(1)) == lesson.minutes, f"{lesson.name}: the header must say **Time:** ~{lesson.minutes} min"
    word = "**Core path" if lesson.path == "core" else "**Extended"
    assert word in header, f"{lesson.name}: the header must say {word}** (metadata: {lesson.path})"


def _table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows that start with a notebook number: number -> cells."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        number = re.match(r"`?(\d\d)[ _]", cells[0]) if line.startswith("|") else None
        if number:
            rows[number.group(1)] = cells
    return rows


def test_readme_and_guide_agree_with_the_metadata() -> None:
    readme = _table_rows((ROOT / "README.md").read_text())
    guide = _table_rows((ROOT / "docs" / "instructor-guide.md").read_text())
    for lesson in LESSONS:
        assert readme[lesson.number][1:3] == [lesson.path, str(lesson.minutes)], f"README.md, row {lesson.number}"
        assert guide[lesson.number][1:3] == [str(lesson.minutes), lesson.path], f"docs/instructor-guide.md, row {lesson.number}"


def test_the_core_path_fits_the_workshop_with_time_to_spare() -> None:
    core = core_minutes(LESSONS)
    assert core <= WORKSHOP_MINUTES - SPARE_MINUTES, f"the core path takes {core} min"
    guide = (ROOT / "docs" / "instructor-guide.md").read_text()
    assert f"The core path is {core} minutes" in guide and f"The core path is {core} minutes" in (ROOT / "README.md").read_text()


def test_notebooks_clean_strips_outputs_and_keeps_cell_ids(tmp_path: Path) -> None:
    original = NOTEBOOKS / COURSE[1]
    worked = tmp_path / original.name
    nb = json.loads(original.read_text())
    for index, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = index + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["autosaved\n"]}]
        cell["metadata"]["execution"] = {"iopub.status.idle": "2026-12-01T00:00:00Z"}
    worked.write_text(json.dumps(nb, indent=1))
    assert strip_main(["--check", str(tmp_path)]) == 1
    assert strip_main([str(tmp_path)]) == 0
    assert worked.read_text() == original.read_text()  # ids, order and everything else as committed
    assert strip_main(["--check", str(tmp_path)]) == 0
