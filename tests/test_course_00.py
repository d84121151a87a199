"""Notebook 00 (check your setup) runs twice in one kernel and shows a green doctor and a passing async test."""

from __future__ import annotations

import html
import re

import pytest

from tests.notebook_runner import Pass, execute, stripped

NAME = "00_check_your_setup.ipynb"
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _table(run: Pass, cell_id: str) -> list[list[str]]:
    """The body rows (index cell first) of the last HTML table a cell displayed."""
    tables = [o.data["text/html"] for o in run.cell(cell_id).outputs if "text/html" in o.get("data", {})]
    assert tables, f"cell {cell_id!r} displayed no table"
    rows = [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[-1])]
    return rows[1:]


@pytest.fixture(scope="module")
def passes() -> tuple[Pass, Pass]:
    return execute(NAME)


def test_committed_without_outputs() -> None:
    assert stripped(NAME)


def test_no_cell_raises(passes: tuple[Pass, Pass]) -> None:
    assert passes[0].failing_cells() == passes[1].failing_cells() == []


def test_the_doctor_is_green(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row[1]: row[2:] for row in _table(run, "doctor")}
        assert {"Python", "database", "ipytest runs tests in a thread", "asyncio_default_fixture_loop_scope"} <= set(rows)
        assert all(row[0] == "True" for row in rows.values()), rows
        assert rows["asyncio_default_fixture_loop_scope"][1] == "unset"
        assert re.match(r"All \d+ checks passed\.", run.text("doctor-verdict"))


def test_the_kernel_loop_is_running_in_the_cell_thread(passes: tuple[Pass, Pass]) -> None:
    assert _table(passes[0], "kernel-loop")[0][1:] == ["MainThread", "_UnixSelectorEventLoop", "True"]


def test_the_first_async_tests_pass_in_both_runs(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = {row[1]: row[2] for row in _table(run, "first-test")}
        assert outcomes == {"test_runs_on_a_loop_of_its_own": "passed", "test_database_answers": "passed"}
        assert "asyncio_default_fixture_loop_scope" in run.text("first-test")  # the warning the prose mentions


def test_exercise_starts_unanswered_and_the_setup_is_ready(passes: tuple[Pass, Pass]) -> None:
    first = passes[0]
    assert "Not yet" in first.text("ex-option-check")
    assert first.text("ex-option-hint").startswith("Hint: ")
    assert first.cell("ex-option-solution").source.startswith("# solution(")
    ready = re.search(r"Set-up checked in ([\d.]+) s: ready for notebook 01\.", first.text("ready"))
    assert ready and float(ready.group(1)) < 60
