"""Notebook 08 (Jupyter's own running loop) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.notebook_runner import Pass, execute, stripped

NAME = "08_jupyters_own_loop.ipynb"
RUNNER_REFUSES = "Runner.run() cannot be called from a running event loop"
DIFFERENT_LOOP = "attached to a different loop"
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _table(run: Pass, cell_id: str) -> list[list[str]]:
    """The body rows (index cell first) of the last HTML table a cell displayed."""
    tables = [o.data["text/html"] for o in run.cell(cell_id).outputs if "text/html" in o.get("data", {})]
    assert tables, f"cell {cell_id!r} displayed no table"
    rows = [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[-1])]
    return rows[1:]


def _outcomes(run: Pass, cell_id: str) -> dict[str, tuple[str, str]]:
    """nb.run()'s table: test -> (outcome, message)."""
    return {row[1]: (row[2], row[5]) for row in _table(run, cell_id)}


@pytest.fixture(scope="module")
def passes() -> tuple[Pass, Pass]:
    return execute(NAME)


def test_committed_without_outputs() -> None:
    assert stripped(NAME)


def test_no_cell_raises_and_both_passes_show_the_same_tables(passes: tuple[Pass, Pass]) -> None:
    first, second = passes
    assert first.failing_cells() == second.failing_cells() == []
    for cell_id in ("run-in-kernel-thread", "run-in-own-thread", "run-kernel-model", "kernel-pool"):
        assert [row[1:3] for row in _table(first, cell_id)] == [row[1:3] for row in _table(second, cell_id)], cell_id
    assert [row[-1] for row in _table(first, "where-tests-run")] == [row[-1] for row in _table(second, "where-tests-run")]


def test_the_kernel_loop_runs_in_the_cell_thread(passes: tuple[Pass, Pass]) -> None:
    assert _table(passes[0], "kernel-loop")[0][1:] == ["MainThread", "_UnixSelectorEventLoop", "True"]
    where = {row[0]: row[1:] for row in _table(passes[0], "where-tests-run")}
    assert where["run_in_thread=False"] == ["MainThread", "True"]
    assert where["run_in_thread=True"][0] != "MainThread" and where["run_in_thread=True"][1] == "False"


def test_plain_ipytest_errors_every_async_test(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _outcomes(run, "run-in-kernel-thread")
        assert set(outcomes) == {"test_plain", "test_session_fixed", "test_broken_pool"}
        assert all(outcome == ("error", RUNNER_REFUSES) for outcome in outcomes.values()), outcomes


def test_run_in_thread_passes_correct_tests_and_shows_the_real_failure(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _outcomes(run, "run-in-own-thread")
        assert outcomes["test_plain"][0] == outcomes["test_session_fixed"][0] == "passed"
        assert outcomes["test_broken_pool"][0] == "failed" and DIFFERENT_LOOP in outcomes["test_broken_pool"][1]


def test_nest_asyncio_neither_helps_nor_changes_the_failure(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {(row[1], row[2]): (row[3], row[4]) for row in _table(run, "run-kernel-model")}
        for test in ("test_plain", "test_session_fixed", "test_broken_pool"):
            assert rows[("same-thread", test)] == ("error", RUNNER_REFUSES)
        assert rows[("thread", "test_plain")][0] == rows[("thread", "test_session_fixed")][0] == "passed"
        assert rows[("thread", "test_broken_pool")][0] == "failed" and DIFFERENT_LOOP in rows[("thread", "test_broken_pool")][1]
    written = re.search(r"to (\S+)", passes[1].text("write-kernel-model"))
    assert written and not Path(written.group(1)).exists(), "the model's scratch directory is removed"


def test_a_pool_from_top_level_await_belongs_to_the_kernel_loop(passes: tuple[Pass, Pass]) -> None:
    first = passes[0]
    assert "hello from the kernel's loop" in first.text("top-level-await")
    outcome, message = _outcomes(first, "kernel-pool")["test_uses_kernel_pool"]
    assert outcome == "failed" and DIFFERENT_LOOP in message
    assert DIFFERENT_LOOP in first.text("kernel-pool-detail")
    assert "kernel_pool closed: True" in first.text("kernel-pool-close")


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-runner-check")
    assert passes[0].cell("ex-runner-solution").source.startswith("# solution(")
