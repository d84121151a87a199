"""Notebook 04 (the synchronous session-config alternative) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

from tests.support.notebook_runner import Pass, committed_without_outputs, no_cell_raises, passes_fixture, schema_exists

NAME = "04_sync_session_config.ipynb"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_raises = no_cell_raises


def test_seed_alternative_passes_with_config_resolved_once(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert set(run.outcomes("alternative").values()) == {"passed"}
        assert len(run.outcomes("alternative")) == 3
        assert "database_config ran 1 time(s) for 3 tests" in run.text("alternative")
        assert "devpw" not in run.text("alternative") and "***" in run.text("alternative")


def test_sync_session_fixture_runs_on_no_loop(passes: tuple[Pass, Pass]) -> None:
    rows = passes[0].rows("alternative-timeline")
    config = [row for row in rows if row["item"] == "database_config"]
    assert [(row["scope"], row["loop"]) for row in config] == [("session", "no loop")]
    connection_loops = [row["loop"] for row in rows if row["item"] == "test_connection"]
    assert len(connection_loops) == len(set(connection_loops)) == 3
    assert any("image/png" in o.get("data", {}) for o in passes[0].cell("alternative-plot").outputs)


def test_migration_runs_once_outside_any_test_loop(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert set(run.outcomes("migration").values()) == {"passed"}
        assert "migrated_schema ran 1 time(s) for 3 tests" in run.text("migration")
    migration = [row for row in passes[0].rows("migration-timeline") if row["item"] == "migrated_schema"]
    assert [(row["scope"], row["loop"]) for row in migration] == [("session", "no loop")]


def test_only_loop_free_values_are_safe_to_share(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row["test"]: row for row in run.rows("candidates")}
        for n in (1, 2):
            assert rows[f"test_settings[{n}]"]["outcome"] == "passed"
            assert rows[f"test_migrated_schema[{n}]"]["outcome"] == "passed"
            assert rows[f"test_pool[{n}]"]["outcome"] == "failed"
            assert "attached to a different loop" in rows[f"test_pool[{n}]"]["message"]
            assert rows[f"test_connection_from_asyncio_run[{n}]"]["outcome"] == "failed"
        assert "Event loop is closed" in rows["test_connection_from_asyncio_run[1]"]["message"]


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-session-safe-check")
    assert passes[0].text("ex-session-safe-hint").startswith("Hint: ")
    assert passes[0].cell("ex-session-safe-solution").source.startswith("# solution(")


def test_schema_is_dropped_afterwards(passes: tuple[Pass, Pass]) -> None:
    assert schema_exists("nb04") is False


def test_the_counts_and_the_teardown_error_are_what_the_prose_says(passes: tuple[Pass, Pass]) -> None:
    """md-07/md-08: two candidates fail (four tests), and connection's teardown errors with the closed loop."""
    for run in passes:
        text = run.text("candidates")
        assert "4 failed, 4 passed, 1 error" in text
        assert "ERROR" in text and "RuntimeError: Event loop is closed" in text
