"""The run recorder (kit.diagnose.recorder): outcomes with their root cause, and the loop of every fixture and test."""

from __future__ import annotations

import json

import pytest

from kit.diagnose.causes import exception_chain, root_cause, short_message
from kit.diagnose.recorder import NO_LOOP, RESULT_COLUMNS, TIMELINE_COLUMNS, Recorder
from tests.support.kit_cli import WITHOUT_KIT

BROKEN_SUITE = """
import os

import asyncpg
import pytest
import pytest_asyncio


@pytest_asyncio.fixture(scope="session")
async def pool():
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=1)
    yield pool
    pool.terminate()


@pytest.fixture
def settings():
    return {"rows": 2}


@pytest.mark.asyncio
async def test_first(pool, settings):
    assert await pool.fetchval("SELECT 1") == 1


@pytest.mark.asyncio
async def test_second(pool):
    assert await pool.fetchval("SELECT 2") == 2


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""
QUIET = ("-W", "ignore::pytest.PytestDeprecationWarning")  # the inner runs leave the loop scope unset, on purpose
INI = "[pytest]\nasyncio_mode = strict\n"


def test_recorder_sees_each_loop_and_the_root_cause(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_broken=BROKEN_SUITE)
    recorder = Recorder()
    pytester.inline_run(*WITHOUT_KIT, *QUIET, plugins=[recorder])
    results = {row["test"]: row for row in recorder.results()}
    assert set(results) == {"test_first", "test_second", "test_skipped"}
    assert all(set(RESULT_COLUMNS) <= set(row) for row in results.values())
    for name in ("test_first", "test_second"):
        assert results[name]["outcome"] == "failed"
        assert results[name]["error_type"] == "RuntimeError" and "attached to a different loop" in results[name]["message"]
    assert (results["test_skipped"]["outcome"], results["test_skipped"]["message"]) == ("skipped", "not today")
    rows = recorder.timeline()
    assert all(list(row) == TIMELINE_COLUMNS for row in rows)
    tests = {row["item"]: row["loop"] for row in rows if row["kind"] == "test"}
    pool = next(row for row in rows if row["item"] == "pool")
    settings = next(row for row in rows if row["item"] == "settings")
    assert pool["scope"] == "session" and pool["loop_scope"] == "session"
    assert tests["test_first"] != tests["test_second"] and pool["loop"] not in (tests["test_first"], tests["test_second"])
    assert settings["loop"] == NO_LOOP and tests["test_skipped"] == "not run"


def test_kit_record_option_writes_the_same_rows_as_json(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_broken=BROKEN_SUITE)
    out = pytester.path / "record.json"
    result = pytester.runpytest_subprocess(*WITHOUT_KIT, "-p", "kit.diagnose.recorder", f"--kit-record={out}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    recorded = json.loads(out.read_text())
    assert recorded["exit_code"] == 1
    assert {row["test"]: row["outcome"] for row in recorded["results"]} == {
        "test_first": "failed",
        "test_second": "failed",
        "test_skipped": "skipped",
    }
    assert {row["item"] for row in recorded["timeline"]} >= {"pool", "settings", "test_first", "test_second"}


# --- root cause, on exception chains built here ------------------------------------------------------------


def _chained() -> BaseException:
    """The shape asyncpg produces: the loop error, then an InterfaceError while the pool releases."""
    try:
        try:
            raise RuntimeError(
                "Task <Task pending name='Task-2' coro=<test_one() running at t.py:3> cb=[_run_until_complete_cb() "
                "at base_events.py:180]> got Future <Future pending cb=[BaseProtocol._on_waiter_completed()]> "
                "attached to a different loop"
            )
        except RuntimeError:
            raise ConnectionError("cannot perform operation: another operation is in progress")  # noqa: B904  (the chain under test)
    except ConnectionError as exc:
        return exc


def test_root_cause_prefers_the_loop_error_and_trims_reprs() -> None:
    outer = _chained()
    cause = root_cause(outer)
    assert type(cause) is RuntimeError
    assert short_message(cause) == "Task <Task pending ...> got Future <Future pending ...> attached to a different loop"
    assert [type(exc) for exc in exception_chain(outer)] == [ConnectionError, RuntimeError]


def test_root_cause_keeps_the_outer_error_without_a_known_pattern() -> None:
    try:
        try:
            raise KeyError("id")
        except KeyError as inner:
            raise ValueError("bad row\nsecond line") from inner
    except ValueError as exc:
        assert root_cause(exc) is exc
        assert short_message(exc) == "bad row"


def test_a_missing_fixture_is_named_in_words(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_missing="def test_needs_it(not_a_fixture_anywhere):\n    pass\n")
    recorder = Recorder()
    pytester.inline_run(*WITHOUT_KIT, *QUIET, plugins=[recorder])
    (row,) = recorder.results()
    assert (row["outcome"], row["error_type"]) == ("error", "FixtureLookupError")
    assert row["message"] == "fixture 'not_a_fixture_anywhere' not found"
