"""Notebook 05 (sharing a loop on purpose) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

from tests.support.notebook_runner import Pass, committed_without_outputs, no_cell_raises, passes_fixture, schema_exists

NAME = "05_sharing_a_loop_on_purpose.ipynb"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_raises = no_cell_raises


def test_full_fix_runs_everything_on_one_loop(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.outcomes("done-right") == dict.fromkeys(["test_first", "test_second", "test_third"], "passed")
    loops = {row["item"]: row["loop"] for row in passes[0].rows("done-right-timeline") if row["loop"] != "no loop"}
    assert set(loops) == {"pool", "test_first", "test_second", "test_third"}
    assert set(loops.values()) == {"loop 1"}


def test_half_fix_still_fails_on_different_loops(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = run.rows("half-fix")
        assert [row["outcome"] for row in rows] == ["failed", "failed"]
        assert all("attached to a different loop" in row["message"] for row in rows)
    timeline = passes[0].rows("half-fix-timeline")
    pool_loop = next(row["loop"] for row in timeline if row["item"] == "pool")
    assert all(row["loop"] != pool_loop for row in timeline if row["kind"] == "test")


def test_bare_marker_overrides_pytestmark(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row["test"]: row for row in run.rows("pytestmark")}
        assert rows["test_marked_by_the_module"]["outcome"] == "passed"
        assert rows["test_also_marked_by_the_module"]["outcome"] == "passed"
        assert rows["test_with_a_leftover_bare_marker"]["outcome"] == "failed"
        assert "attached to a different loop" in rows["test_with_a_leftover_bare_marker"]["message"]


def test_loop_guard_names_the_mistake_and_the_fix(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        half = run.text("guard-half-fix")
        assert [row["error_type"] for row in run.rows("guard-half-fix")] == ["LoopMismatchError"]
        assert "created by fixture 'pool' (scope='session', loop_scope='session')" in half
        assert "bare @pytest.mark.asyncio on the test" in half
        assert 'mark the tests: @pytest.mark.asyncio(loop_scope="session")' in half
        bare = run.text("guard-bare-marker")
        assert [row["error_type"] for row in run.rows("guard-bare-marker")] == ["LoopMismatchError"]
        assert "overriding pytestmark" in bare
        assert "Remove the bare @pytest.mark.asyncio from the test" in bare


def test_guard_is_off_again_afterwards(passes: tuple[Pass, Pass]) -> None:
    assert "LoopMismatchError" not in passes[0].text("rollback") + passes[0].text("timing")


def test_rollback_isolates_tests_on_one_connection(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert set(run.outcomes("rollback", 0).values()) == {"passed"}
        first, second = run.rows("rollback")
        assert (first["rows seen"], second["rows seen"]) == ("1", "0")
        assert first["server pid"] == second["server pid"]
        assert first["in a transaction"] == second["in a transaction"] == "True"
        assert "rows in nb05.items after the run: 0" in run.text("rollback-after")


def test_both_timing_groups_pass(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        summary = {row["strategy"]: row for row in run.rows("timing")}
        assert set(summary) == {"connect per test", "shared with rollback"}
        assert all((row["tests"], row["passed"]) == ("30", "30") for row in summary.values())
        assert len(run.rows("timing-per-test")) == 31  # the column-name row of the pivot, then tests 0..29


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet: a bare @pytest.mark.asyncio" in passes[0].text("ex-session-marker-check")
    assert passes[0].text("ex-session-marker-hint").startswith("Hint: ")
    assert passes[0].cell("ex-session-marker-solution").source.startswith("# solution(")


def test_schema_is_dropped_afterwards(passes: tuple[Pass, Pass]) -> None:
    assert schema_exists("nb05") is False
