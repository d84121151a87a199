"""The broken patterns fail the way kit.course.patterns describes (pytest-asyncio 1.5.0), in real inner pytest sessions.

Inner sessions leave ``asyncio_default_fixture_loop_scope`` unset, as the seed's suite did: that is
the setting under which a session-scoped fixture silently gets its own loop (scenario A).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import kit.course.broken
import kit.plugin
from kit.course.patterns import PATTERNS, records
from kit.db.config import DatabaseConfig

pytest_plugins = ["pytester"]

SEED_INI = """
[pytest]
asyncio_mode = strict
"""
DIFF_LOOP = "*RuntimeError: Task <Task pending*got Future*attached to a different loop*"
IN_PROGRESS = "*InterfaceError: cannot perform operation: another operation is in progress*"


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.Pytester]:
    """A pytester whose inner sessions talk to the database under test, configured like the seed's suite."""
    from kit.db.server import ensure_server

    ensure_server()
    monkeypatch.setenv("DATABASE_URL", DatabaseConfig.from_environment().url)
    pytester.makeini(SEED_INI)
    yield pytester


def _run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", timeout=180)


def test_session_pool_gets_a_different_loop(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_pool="""
        import pytest
        from kit.course.broken import session_pool

        @pytest.mark.asyncio
        @pytest.mark.parametrize("i", range(3))
        async def test_query(session_pool, i):
            assert await session_pool.fetchval("SELECT 1") == 1
        """
    )
    result = _run(inner)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([DIFF_LOOP])
    result.stdout.fnmatch_lines([IN_PROGRESS])
    # The short summary of the first test names only the InterfaceError, hiding the loop error.
    result.stdout.fnmatch_lines(["FAILED test_pool.py::test_query[[]0[]] - asyncpg.exceptions._base.InterfaceError*"])


def test_session_connection_breaks_after_the_first_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_conn="""
        import pytest
        from kit.course.broken import session_connection

        @pytest.mark.asyncio
        @pytest.mark.parametrize("i", range(3))
        async def test_query(session_connection, i):
            assert await session_connection.fetchval("SELECT 1") == 1
        """
    )
    result = _run(inner)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["FAILED test_conn.py::test_query[[]0[]] - RuntimeError: Task*"])
    result.stdout.fnmatch_lines(["FAILED test_conn.py::test_query[[]1[]] - asyncpg.exceptions._base.InterfaceError*"])
    result.stdout.fnmatch_lines(["FAILED test_conn.py::test_query[[]2[]] - asyncpg.exceptions._base.InterfaceError*"])
    result.stdout.fnmatch_lines([DIFF_LOOP])


def test_event_loop_override_is_ignored(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_override="""
        import asyncio
        import pytest

        pytest_plugins = ["kit.course.broken"]

        @pytest.mark.asyncio
        async def test_runs_in_the_override_loop(event_loop):
            assert asyncio.get_running_loop() is event_loop

        @pytest.mark.asyncio
        @pytest.mark.parametrize("i", range(2))
        async def test_query(session_pool, i):
            assert await session_pool.fetchval("SELECT 1") == 1
        """
    )
    result = _run(inner)
    result.assert_outcomes(failed=3)
    # The test runs in pytest-asyncio's own loop; the override's loop is created and never run.
    result.stdout.fnmatch_lines(["E*assert <*EventLoop running=True*> is <*EventLoop running=False*>"])
    result.stdout.fnmatch_lines(["FAILED test_override.py::test_runs_in_the_override_loop*"])
    result.stdout.fnmatch_lines([DIFF_LOOP])


FIRE_AND_FORGET = """
import asyncio
import pytest
from kit._sync import run_sync
from kit.db.connections import APPLICATION_NAME, ConnectionManager, connect
from kit.course.broken import FireAndForgetConnectionManager, fire_and_forget_manager

PIDS = []


def still_connected(url, pids):
    \"\"\"Count loop-lab backends among pids from another thread, without letting this loop run.\"\"\"
    async def count():
        conn = await connect(url)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid = ANY($2::int[])",
                APPLICATION_NAME, pids)
        finally:
            await conn.close()
    return run_sync(count())


@pytest.mark.asyncio
async def test_fire_and_forget_returns_with_the_connection_open(database_config):
    manager = FireAndForgetConnectionManager(database_config)
    conn = await manager.get_connection()
    manager.close_all_connections()
    left = still_connected(database_config, [conn.get_server_pid()])
    assert left == 0, f"{left} connection(s) still open after close_all_connections() returned"


@pytest.mark.asyncio
async def test_kit_manager_returns_with_everything_closed(database_config):
    manager = ConnectionManager(database_config)
    conns = [await manager.get_connection() for _ in range(3)]
    await manager.close_all_connections()
    assert still_connected(database_config, [c.get_server_pid() for c in conns]) == 0


@pytest.mark.asyncio
async def test_seed_fixture_in_use(fire_and_forget_manager):
    PIDS.append((await fire_and_forget_manager.get_connection()).get_server_pid())


def test_after_its_loop_closed(database_config):
    # pytest-asyncio 1.5.0 closes the test's loop after teardown: the pending close is cancelled
    # after sending Terminate, which aborts the socket. The connection is gone, by luck of ordering.
    assert len(PIDS) == 1 and still_connected(database_config, PIDS) == 0
"""


def test_fire_and_forget_cleanup_is_not_done_when_it_returns(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_cleanup=FIRE_AND_FORGET)
    result = _run(inner)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: 1 connection(s) still open after close_all_connections() returned*"])
    result.stdout.fnmatch_lines(["FAILED test_cleanup.py::test_fire_and_forget_returns_with_the_connection_open*"])


def test_catalogue_names_fixtures_that_exist() -> None:
    modules = {"kit.plugin": kit.plugin, "kit.course.broken": kit.course.broken}
    for pattern in PATTERNS:
        for fixture in pattern.fixtures:
            assert hasattr(modules[pattern.module], fixture), (pattern.name, fixture)
    table = records()
    assert len(table) == len(PATTERNS) and {"name", "module", "fixtures", "works", "outcome"} <= set(table[0])
    assert [row["works"] for row in table].count(False) == 4
