"""Notebook 02 (why loops collide) runs twice in one kernel and shows the loops and the live scenario table."""

from __future__ import annotations

import html
import re

import pytest

from tests.notebook_runner import Pass, execute, stripped

NAME = "02_why_loops_collide.ipynb"
DIFFERENT_LOOP = "attached to a different loop"
EXPECTED = {  # findings.md section 2, pytest-asyncio 1.5.0
    "A": "DIFF-LOOP", "B": "DIFF-LOOP", "C": "ScopeMismatch", "D": "DIFF-LOOP", "E": "pass",
    "F": "pass", "G": "DIFF-LOOP", "H": "pass", "I": "pass", "I'": "DIFF-LOOP",
}
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _table(run: Pass, cell_id: str) -> list[list[str]]:
    """The body rows (index cell first) of the last HTML table a cell displayed."""
    tables = [o.data["text/html"] for o in run.cell(cell_id).outputs if "text/html" in o.get("data", {})]
    assert tables, f"cell {cell_id!r} displayed no table"
    rows = [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[-1])]
    return rows[1:]


def _loops(run: Pass, cell_id: str) -> dict[str, str]:
    """nb.timeline()'s table: item -> loop."""
    return {row[1]: row[5] for row in _table(run, cell_id)}


@pytest.fixture(scope="module")
def passes() -> tuple[Pass, Pass]:
    return execute(NAME)


def test_committed_without_outputs() -> None:
    assert stripped(NAME)


def test_only_the_foreign_future_cell_raises(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.failing_cells() == ["different-loop"]
        error = run.text("different-loop")
        assert error.startswith("RuntimeError: ") and DIFFERENT_LOOP in error
        assert "resolved on loop A" in run.text("same-loop")


def test_the_broken_suite_runs_the_pool_and_each_test_on_different_loops(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = {row[1]: (row[2], row[5]) for row in _table(run, "broken-suite")}
        assert all(outcome == "failed" and DIFFERENT_LOOP in message for outcome, message in outcomes.values()), outcomes
        loops = _loops(run, "broken-timeline")
        assert loops["pool"] == "loop 1"
        assert len({loops["pool"], loops["test_one"], loops["test_two"]}) == 3, loops
        assert "image/png" in run.cell("broken-plot").outputs[-1].data


def test_the_fixed_suite_shares_one_loop_and_passes(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert {row[1]: row[2] for row in _table(run, "fixed-suite")} == {"test_one": "passed", "test_two": "passed"}
        assert set(_loops(run, "fixed-timeline").values()) == {"loop 1"}
        assert "image/png" in run.cell("fixed-plot").outputs[-1].data


def test_the_live_scenario_table_matches_the_measured_version(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row[1]: row[2:] for row in _table(run, "scenarios-run")}
        assert {name: row[1] for name, row in rows.items()} == EXPECTED
        assert "scope" in rows["F"][6] and "deprecated" in rows["F"][6]
        assert DIFFERENT_LOOP in rows["D"][2]
        assert "[10/10] scenario" in run.text("scenarios-run")
    assert "asyncio_mode = strict" in passes[0].text("scenario-source")


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-scenarios-check")
    assert passes[0].cell("ex-scenarios-solution").source.startswith("# solution(")
