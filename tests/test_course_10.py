"""Notebook 10 (the same bug in your stack) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

from tests.support.notebook_runner import Pass, committed_without_outputs, no_cell_raises, passes_fixture

NAME = "10_the_same_bug_in_your_stack.ipynb"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_raises = no_cell_raises


def _rows(run: Pass, cell_id: str) -> dict[str, dict[str, str]]:
    return {row["test"]: row for row in run.rows(cell_id)}


def test_the_engine_made_at_import_time_breaks_the_later_tests(passes: tuple[Pass, Pass]) -> None:
    """md-04: the first passes, the second gets the loop error, the third 'another operation is in progress'."""
    for run in passes:
        rows = _rows(run, "broken-run")
        assert rows["test_answer"]["outcome"] == "passed"
        assert rows["test_answer_again"]["outcome"] == "failed"
        assert "attached to a different loop" in rows["test_answer_again"]["message"]
        assert rows["test_answer_once_more"]["outcome"] == "failed"
        assert "cannot perform operation: another operation is in" in rows["test_answer_once_more"]["message"]  # cut at 200


def test_the_guard_stops_both_at_set_up_and_names_the_app(passes: tuple[Pass, Pass]) -> None:
    """md-05/md-06: both stopped at set-up with LoopMismatchError; the report names the sessionmaker and the app."""
    for run in passes:
        rows = _rows(run, "guard-run")
        assert rows["test_answer"]["outcome"] == "passed"
        for name in ("test_answer_again", "test_answer_once_more"):
            assert (rows[name]["outcome"], rows[name]["error_type"]) == ("error", "LoopMismatchError"), rows[name]
        report = run.text("guard-report")
        assert "fixture 'client' would use a SQLAlchemy async_sessionmaker" in report
        assert "held by the module-level global 'app'" in report and "now closed" in report and "How to fix it" in report


def test_the_audit_flags_the_tests_that_reach_the_global_app(passes: tuple[Pass, Pass]) -> None:
    """md-06/md-07: a row per test that uses 'app', each at risk, with the guard's fix."""
    for run in passes:
        text = run.text("audit-run")
        assert "3 of 3 rows at risk" in text and "module-level global 'app'" in text and "How to fix it" in text


def test_both_fixes_pass_with_the_guard_on(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        for cell in ("fix-engine-per-test", "fix-session-loop"):
            assert {row["outcome"] for row in run.rows(cell)} == {"passed"} and len(run.rows(cell)) == 3, cell


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-fixes-check")
    assert passes[0].cell("ex-fixes-solution").source.startswith("# solution(")
