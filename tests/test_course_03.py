"""Notebook 03 (the function-scoped fix) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

from tests.support.notebook_runner import Pass, committed_without_outputs, no_cell_raises, passes_fixture, schema_exists

NAME = "03_function_scoped_fix.ipynb"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_raises = no_cell_raises


def test_seed_async_fixture_under_pytest_fixture_is_refused(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.outcomes("seed-config") == {"test_config_is_a_dsn": "error"}
        assert "requested an async fixture 'database_config'" in run.text("seed-config")


def test_every_kit_style_fixture_passes(passes: tuple[Pass, Pass]) -> None:
    expected = {
        "config": {"test_config_is_a_dsn"},
        "test-connection": {"test_select_one", "test_in_the_notebook_schema"},
        "analyzer-fixture": {"test_unknown_table_is_an_error"},
        "cleanup-fixture": {"test_cleanup_keeps_testament"},
        "seed-example": {"TestExample::test_database_operations", "TestExample::test_foreign_key_is_found"},
    }
    for run in passes:
        for cell_id, tests in expected.items():
            assert run.outcomes(cell_id) == dict.fromkeys(tests, "passed"), cell_id


def test_each_connection_lives_on_its_tests_loop(passes: tuple[Pass, Pass]) -> None:
    rows = passes[0].rows("test-connection-timeline")
    test_loops = {row["test"]: row["loop"] for row in rows if row["kind"] == "test"}
    assert len(set(test_loops.values())) == 2
    for row in rows:
        if row["item"] == "test_connection":
            assert row["loop"] == test_loops[row["test"]]
        if row["item"] == "database_config":
            assert row["loop"] == "no loop"


def test_fire_and_forget_close_is_not_done_when_it_returns(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        seed_now, seed_later, kit = run.rows("managers-compared")
        assert (seed_now["distinct connections handed out"], seed_now["all closed"], seed_now["still open on the server"]) == (
            "1",
            "False",
            "1",
        )
        assert (seed_later["all closed"], seed_later["still open on the server"]) == ("True", "0")
        assert (kit["distinct connections handed out"], kit["all closed"], kit["still open on the server"]) == ("2", "True", "0")


def test_shared_cached_connection_breaks_concurrent_callers(passes: tuple[Pass, Pass]) -> None:
    rows = {row["test"]: row for row in passes[0].rows("manager-fixture")}
    assert rows["test_seed_manager_shares_one_connection"]["outcome"] == "failed"
    assert "another operation is in progress" in rows["test_seed_manager_shares_one_connection"]["message"]
    assert rows["test_kit_manager_gives_each_caller_its_own"]["outcome"] == "passed"


def test_like_underscore_is_a_wildcard(passes: tuple[Pass, Pass]) -> None:
    rows = {row["name"]: row for row in passes[0].rows("like-wildcard")}
    assert rows["testament"]["seed: LIKE 'test_%'"] == "True"
    assert rows["testament"]["kit: left(name, 5) = 'test_'"] == "False"
    assert rows["test_users"]["kit: left(name, 5) = 'test_'"] == "True"
    live = {row["table"]: row["after the seed's cleanup"] for row in passes[0].rows("seed-cleanup-live")}
    assert live == {"test_leftover": "False", "testament": "False"}


def test_connections_back_to_zero_after_the_seed_example(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        counts = {row["moment"]: row["open kit connections"] for row in run.rows("connection-counts")}
        assert counts["after the run"] == "0"
        assert "open kit connections: 0" in run.text("cleanup")


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-test-connection-check")
    assert passes[0].text("ex-test-connection-hint").startswith("Hint: ")
    assert passes[0].cell("ex-test-connection-solution").source.startswith("# solution(")


def test_schema_is_dropped_afterwards(passes: tuple[Pass, Pass]) -> None:
    assert schema_exists("nb03") is False
