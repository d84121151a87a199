"""Notebook 08 (Jupyter's own running loop) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.notebook_runner import Pass, committed_without_outputs, passes_fixture

NAME = "08_jupyters_own_loop.ipynb"
RUNNER_REFUSES = "Runner.run() cannot be called from a running event loop"
DIFFERENT_LOOP = "attached to a different loop"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)


def _failures(run: Pass, cell_id: str) -> dict[str, tuple[str, str]]:
    """nb.run()'s table: test -> (outcome, message)."""
    return {row["test"]: (row["outcome"], row["message"]) for row in run.rows(cell_id)}


def test_no_cell_raises_and_both_passes_show_the_same_tables(passes: tuple[Pass, Pass]) -> None:
    first, second = passes
    assert first.failing_cells() == second.failing_cells() == []
    for cell_id in ("run-in-kernel-thread", "run-in-own-thread", "run-kernel-model", "kernel-pool"):
        assert [row[1:3] for row in first.table(cell_id)[1:]] == [row[1:3] for row in second.table(cell_id)[1:]], cell_id
    assert [row[-1] for row in first.table("where-tests-run")[1:]] == [row[-1] for row in second.table("where-tests-run")[1:]]


def test_the_kernel_loop_runs_in_the_cell_thread(passes: tuple[Pass, Pass]) -> None:
    assert passes[0].rows("kernel-loop")[0] == {
        "": "0",
        "thread": "MainThread",
        "loop": "_UnixSelectorEventLoop",
        "running": "True",
    }
    where = {row[""]: (row["thread"], row["running loop in that thread"]) for row in passes[0].rows("where-tests-run")}
    assert where["run_in_thread=False"] == ("MainThread", "True")
    assert where["run_in_thread=True"][0] != "MainThread" and where["run_in_thread=True"][1] == "False"


def test_plain_ipytest_errors_every_async_test(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _failures(run, "run-in-kernel-thread")
        assert set(outcomes) == {"test_plain", "test_session_fixed", "test_broken_pool"}
        assert all(outcome == ("error", RUNNER_REFUSES) for outcome in outcomes.values()), outcomes


def test_run_in_thread_passes_correct_tests_and_shows_the_real_failure(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _failures(run, "run-in-own-thread")
        assert outcomes["test_plain"][0] == outcomes["test_session_fixed"][0] == "passed"
        assert outcomes["test_broken_pool"][0] == "failed" and DIFFERENT_LOOP in outcomes["test_broken_pool"][1]


def test_nest_asyncio_neither_helps_nor_changes_the_failure(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        model = run.rows("run-kernel-model")
        rows = {(row["nest_asyncio + pytest in"], row["test"]): (row["outcome"], row["message"]) for row in model}
        for test in ("test_plain", "test_session_fixed", "test_broken_pool"):
            assert rows[("same-thread", test)] == ("error", RUNNER_REFUSES)
        assert rows[("thread", "test_plain")][0] == rows[("thread", "test_session_fixed")][0] == "passed"
        assert rows[("thread", "test_broken_pool")][0] == "failed" and DIFFERENT_LOOP in rows[("thread", "test_broken_pool")][1]
    written = re.search(r"to (\S+)", passes[1].text("write-kernel-model"))
    assert written and not Path(written.group(1)).exists(), "the model's scratch directory is removed"


def test_a_pool_from_top_level_await_belongs_to_the_kernel_loop(passes: tuple[Pass, Pass]) -> None:
    first = passes[0]
    assert "hello from the kernel's loop" in first.text("top-level-await")
    outcome, message = _failures(first, "kernel-pool")["test_uses_kernel_pool"]
    assert outcome == "failed" and DIFFERENT_LOOP in message
    assert DIFFERENT_LOOP in first.text("kernel-pool-detail")
    assert "kernel_pool closed: True" in first.text("kernel-pool-close")


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-runner-check")
    assert passes[0].cell("ex-runner-solution").source.startswith("# solution(")
