"""Notebook 01 (reproduce the failure) runs twice in one kernel and shows the failures and the cleanup it claims."""

from __future__ import annotations

from tests.support.notebook_runner import Pass, committed_without_outputs, no_cell_raises, passes_fixture

NAME = "01_reproduce_the_failure.ipynb"
DIFFERENT_LOOP = "attached to a different loop"
IN_PROGRESS = "another operation is in progress"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_raises = no_cell_raises


def _failures(run: Pass, cell_id: str) -> dict[str, tuple[str, str, str]]:
    """nb.run()'s table: test -> (outcome, error_type, message)."""
    return {row["test"]: (row["outcome"], row["error_type"], row["message"]) for row in run.rows(cell_id)}


def test_the_session_pool_fails_every_test_with_the_loop_error(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _failures(run, "broken-run")
        assert set(outcomes) == {"test_select_one", "test_server_is_postgres", "test_database_name"}
        assert all(o[:2] == ("failed", "RuntimeError") and DIFFERENT_LOOP in o[2] for o in outcomes.values()), outcomes
        assert "FAILED" in run.text("broken-run") and "PytestDeprecationWarning" not in run.text("broken-run")


def test_pytest_summary_shows_the_interface_error_and_the_chain_the_cause(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row["test"]: row for row in run.rows("summary-vs-cause")}
        summary, cause = rows["test_select_one"]["pytest's summary line"], rows["test_select_one"]["root cause"]
        assert summary.startswith("InterfaceError: ") and IN_PROGRESS in summary
        assert cause.startswith("RuntimeError: ") and DIFFERENT_LOOP in cause
        chain = run.text("chain")
        assert chain.index(IN_PROGRESS) < chain.index(DIFFERENT_LOOP)


def test_a_single_connection_fails_first_with_the_loop_then_with_interface_errors(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _failures(run, "single-connection")
        assert outcomes["test_first"][:2] == ("failed", "RuntimeError") and DIFFERENT_LOOP in outcomes["test_first"][2]
        for test in ("test_second", "test_third"):
            assert outcomes[test] == ("failed", "InterfaceError", f"cannot perform operation: {IN_PROGRESS}")


def test_fire_and_forget_leaves_the_connection_open_when_teardown_returns(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.outcomes("cleanup-run") == {"test_with_seed_manager": "passed", "test_with_kit_manager": "passed"}
        rows = {row["moment"].split(":")[0]: row for row in run.rows("cleanup-table")}
        seed, kit = rows["seed"], rows["kit"]
        assert (seed["in pg_stat_activity"], seed["application_name"], seed["conn.is_closed()"]) == ("True", "loop-lab", "False")
        assert seed["state"]
        assert (kit["in pg_stat_activity"], kit["application_name"], kit["conn.is_closed()"]) == ("False", "None", "True")
        later = run.rows("cleanup-later")[0]
        assert later["moment"].startswith("seed: after") and later["in pg_stat_activity"] == "False"


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-cause-check")
    assert passes[0].cell("ex-cause-solution").source.startswith("# solution(")


def test_the_unset_loop_scope_warning_is_hidden_after_notebook_00(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert "PytestDeprecationWarning" not in run.text()


def test_failed_lines_show_what_the_prose_says(passes: tuple[Pass, Pass]) -> None:
    """md-04: the first test's FAILED line shows the InterfaceError, the other two the RuntimeError."""
    for run in passes:
        failed = {
            line.split(" - ")[0].split("::")[-1]: line.split(" - ", 1)[1]
            for line in run.text("broken-run").splitlines()
            if line.startswith("FAILED ")
        }
        assert set(failed) == {"test_select_one", "test_server_is_postgres", "test_database_name"}, failed
        assert failed["test_select_one"].startswith("asyncpg.exceptions._base.InterfaceError") or failed[
            "test_select_one"
        ].startswith("InterfaceError"), failed
        for later in ("test_server_is_postgres", "test_database_name"):
            assert failed[later].startswith("RuntimeError: Task <Task pending"), failed  # the rest is cut off
