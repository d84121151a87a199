"""Notebook 00 (check your setup) runs twice in one kernel and shows a green doctor and a passing async test."""

from __future__ import annotations

import re

from tests.support.notebook_runner import Pass, committed_without_outputs, no_cell_raises, passes_fixture

NAME = "00_check_your_setup.ipynb"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_raises = no_cell_raises


def test_the_doctor_is_green(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row["check"]: row for row in run.rows("doctor")}
        assert {"Python", "database", "ipytest runs tests in a thread", "asyncio_default_fixture_loop_scope"} <= set(rows)
        assert all(row["ok"] == "True" for row in rows.values()), rows
        assert rows["asyncio_default_fixture_loop_scope"]["found"] == "unset"
        assert re.match(r"All \d+ checks passed\.", run.text("doctor-verdict"))


def test_the_kernel_loop_is_running_in_the_cell_thread(passes: tuple[Pass, Pass]) -> None:
    assert passes[0].rows("kernel-loop")[0] == {
        "": "0",
        "thread": "MainThread",
        "loop": "_UnixSelectorEventLoop",
        "is_running()": "True",
    }


def test_the_first_async_tests_pass_in_both_runs(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.outcomes("first-test") == {"test_runs_on_a_loop_of_its_own": "passed", "test_database_answers": "passed"}
        assert "asyncio_default_fixture_loop_scope" in run.text("first-test")  # the warning the prose mentions


def test_exercise_starts_unanswered_and_the_setup_is_ready(passes: tuple[Pass, Pass]) -> None:
    first = passes[0]
    assert "Not yet" in first.text("ex-option-check")
    assert first.text("ex-option-hint").startswith("Hint: ")
    assert first.cell("ex-option-solution").source.startswith("# solution(")
    ready = re.search(r"Set-up checked in ([\d.]+) s: ready for notebook 01\.", first.text("ready"))
    assert ready and float(ready.group(1)) < 60


def test_the_unset_loop_scope_warning_is_shown_here_where_it_is_explained(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert 'The configuration option "asyncio_default_fixture_loop_scope" is unset' in run.text("first-test")


def test_the_ipytest_magic_runs_the_cells_test(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert "1 passed" in run.text("ipytest-magic")
