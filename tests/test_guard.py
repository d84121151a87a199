"""The loop guard (kit.diagnose.guard) against real PostgreSQL: broken fixture patterns become a clear
LoopMismatchError before any query; correct patterns and unguarded runs are left alone."""

from __future__ import annotations

import os
import textwrap

import pytest

from kit.diagnose.guard import FLAG, fix_advice
from kit.diagnose.rules import fix_advice_for_global, has
from tests.support.asyncio_ini import (
    FIXTURE_SCOPE_INI,
    FIXTURE_SCOPE_SETTING,
    SAME_LOOP_FOR,
    SESSION_FIXTURE_FIX,
    fixture_loop_choice,
    refused_loop_scope,
    spelled,
)
from tests.support.kit_cli import WITHOUT_KIT

pytest_plugins = ["pytester"]

HEADER = """
import asyncio
import os

import asyncpg
import pytest
import pytest_asyncio

DSN = os.environ["DATABASE_URL"]
"""

# Scenario A of kit.course.scenarios: a session pool, tests on function loops, no loop settings.
SESSION_POOL = """
@pytest_asyncio.fixture(scope="session")
async def session_pool():
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    yield pool
    assert await pool.fetchval("SELECT 1") == 1  # the guard left the pool usable
    await pool.close()

@pytest.mark.asyncio
async def test_one(session_pool):
    assert await session_pool.fetchval("SELECT 1") == 1

@pytest.mark.asyncio
async def test_two(session_pool):
    assert await session_pool.fetchval("SELECT 2") == 2
"""

# Scenario D (half fix): a single session connection with loop_scope="session", tests unmarked for it.
SESSION_CONNECTION = """
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_conn():
    conn = await asyncpg.connect(DSN)
    yield conn
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()

@pytest.mark.asyncio
async def test_one(shared_conn):
    assert await shared_conn.fetchval("SELECT 1") == 1
"""

MANAGER_CLASSES = """
class ConnectionManager:
    def __init__(self, url):
        self.database_url = url
        self._connection = None
        self._connections = []

    async def get_connection(self):
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self.database_url)
            self._connections.append(self._connection)
        return self._connection

class Analyzer:
    def __init__(self, connection_manager):
        self.connection_manager = connection_manager

    async def count_tables(self):
        conn = await self.connection_manager.get_connection()
        return await conn.fetchval("SELECT count(*) FROM pg_class")
"""

# A session manager holding a session-loop connection, reached by the test through a plain analyzer.
ANALYZER_HOLDS_SESSION_CONNECTION = (
    MANAGER_CLASSES
    + """
@pytest_asyncio.fixture(scope="session")
async def connection_manager():
    manager = ConnectionManager(DSN)
    await manager.get_connection()
    yield manager
    await manager._connection.close()

@pytest.fixture
def dependency_analyzer(connection_manager):
    return Analyzer(connection_manager)

@pytest.mark.asyncio
async def test_analyzer(dependency_analyzer):
    assert await dependency_analyzer.count_tables() > 0
"""
)

# A session manager that connects lazily: the first test's loop owns the connection, the second test breaks.
LAZY_MANAGER = (
    MANAGER_CLASSES
    + """
@pytest.fixture(scope="session")
def connection_manager():
    return ConnectionManager(DSN)

@pytest.mark.asyncio
async def test_first(connection_manager):
    conn = await connection_manager.get_connection()
    assert await conn.fetchval("SELECT 1") == 1

@pytest.fixture
def dependency_analyzer(connection_manager):
    return Analyzer(connection_manager)

@pytest.mark.asyncio
async def test_second(dependency_analyzer):
    assert await dependency_analyzer.count_tables() > 0
"""
)

# The seed's "before": a function-scoped autouse fixture uses a session connection on its own loop.
FIXTURE_USES_SESSION_CONNECTION = """
@pytest_asyncio.fixture(scope="session")
async def test_connection():
    conn = await asyncpg.connect(DSN)
    yield conn
    await conn.close()

@pytest_asyncio.fixture(autouse=True)
async def clean_test_schema(test_connection):
    await test_connection.execute("DROP TABLE IF EXISTS guard_scratch")

@pytest.mark.asyncio(loop_scope="session")
async def test_uses_it(test_connection):
    assert await test_connection.fetchval("SELECT 1") == 1
"""

# Scenario G: the 0.21 recipe, a session event_loop override, which pytest-asyncio 1.x ignores.
EVENT_LOOP_OVERRIDE = (
    """
@pytest.fixture(scope="session")
def event_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
"""
    + SESSION_POOL
)

# Scenario I': pytestmark chooses the session loop, but a bare marker on the test wins.
BARE_MARKER_OVERRIDES_PYTESTMARK = """
pytestmark = pytest.mark.asyncio(loop_scope="session")

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_pool():
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    yield pool
    await pool.close()

async def test_module_loop(session_pool):
    assert await session_pool.fetchval("SELECT 1") == 1

@pytest.mark.asyncio
async def test_bare_marker(session_pool):
    assert await session_pool.fetchval("SELECT 1") == 1
"""

GOOD_FUNCTION_SCOPED = """
@pytest_asyncio.fixture
async def pool():
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    yield pool
    await pool.close()

@pytest_asyncio.fixture
async def test_connection():
    conn = await asyncpg.connect(DSN)
    yield conn
    await conn.close()

@pytest.mark.asyncio
@pytest.mark.parametrize("n", [1, 2])
async def test_pool(pool, n):
    assert await pool.fetchval("SELECT $1::int", n) == n

@pytest.mark.asyncio
async def test_connection_works(test_connection):
    assert await test_connection.fetchval("SELECT 1") == 1
"""

# Scenario E plus the kit's session patterns: everything that shares the pool runs on the session loop.
GOOD_SESSION_LOOP = (
    MANAGER_CLASSES
    + """
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_pool():
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    yield pool
    await pool.close()

@pytest_asyncio.fixture(loop_scope="session")
async def db(shared_pool):
    async with shared_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        yield conn
        await tx.rollback()

@pytest.fixture(scope="session")
def connection_manager():
    return ConnectionManager(DSN)

@pytest.fixture
def dependency_analyzer(connection_manager):
    return Analyzer(connection_manager)

@pytest.mark.asyncio(loop_scope="session")
async def test_pool(shared_pool):
    assert await shared_pool.fetchval("SELECT 1") == 1

@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("n", [1, 2])
async def test_db(db, n):
    await db.execute("CREATE TEMP TABLE guard_t (x int)")
    assert await db.fetchval("SELECT $1::int", n) == n

@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("n", [1, 2])
async def test_analyzer(dependency_analyzer, n):
    assert await dependency_analyzer.count_tables() > 0
"""
)

# Scenario I: one pytestmark per module puts the unmarked tests on the session loop.
GOOD_PYTESTMARK = """
pytestmark = pytest.mark.asyncio(loop_scope="session")

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_pool():
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    yield pool
    await pool.close()

async def test_one(session_pool):
    assert await session_pool.fetchval("SELECT 1") == 1

async def test_two(session_pool):
    assert await session_pool.fetchval("SELECT 1") == 1
"""

# A module-loop fixture warms a session-loop pool: pytest caches the stopped setup, so both tests get the report.
STOPPED_MODULE_FIXTURE = """
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_pool():
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    yield pool
    await pool.close()

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def warmed(session_pool):
    await session_pool.fetchval("SELECT 1")
    return session_pool

@pytest.mark.asyncio(loop_scope="module")
async def test_one(warmed):
    assert await warmed.fetchval("SELECT 1") == 1

@pytest.mark.asyncio(loop_scope="module")
async def test_two(warmed):
    assert await warmed.fetchval("SELECT 1") == 1
"""

# A pool kept in a module-level dict by a helper the tests call: the first test's loop owns it.
MODULE_LEVEL_CACHE = """
_pools = {}

async def get_pool():
    if "default" not in _pools:
        _pools["default"] = await asyncpg.create_pool(DSN, min_size=1, max_size=1)
    return _pools["default"]

@pytest.mark.asyncio
async def test_first():
    pool = await get_pool()
    assert await pool.fetchval("SELECT 1") == 1

@pytest.mark.asyncio
async def test_second():
    pool = await get_pool()
    assert await pool.fetchval("SELECT 1") == 1

@pytest.mark.asyncio
async def test_third():
    pool = await get_pool()
    assert await pool.fetchval("SELECT 1") == 1
"""

RAW_FAILURES = ("got Future", "cannot perform operation: another operation is in progress")


@pytest.fixture(scope="session")
def dsn() -> str:
    """The development database: DATABASE_URL, else the kit's own server."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from kit.db.server import ensure_server

    return ensure_server()


@pytest.fixture
def run(pytester: pytest.Pytester, dsn: str, monkeypatch: pytest.MonkeyPatch):
    """Write a suite (HEADER + body) with an ini, run it with kit.diagnose.guard loaded, return the result."""
    monkeypatch.setenv("DATABASE_URL", dsn)

    def _run(body: str, *args: str, ini: str = FIXTURE_SCOPE_INI) -> pytest.RunResult:
        pytester.makeini(f"[pytest]\nasyncio_mode = strict\nasyncio_default_test_loop_scope = function\n{ini}\n")
        pytester.makepyfile(test_suite=spelled(HEADER + textwrap.dedent(body)))
        plugins = (
            *WITHOUT_KIT,
            "-p",
            "kit.diagnose.guard",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
        )
        return pytester.runpytest(*plugins, *args)

    return _run


def _assert_guarded(result: pytest.RunResult) -> str:
    text = result.stdout.str()
    assert "kit.diagnose.guard.LoopMismatchError" in text
    assert "Stopped before any query was sent" in text
    for raw in RAW_FAILURES:
        assert raw not in text
    return text


def test_session_pool_on_function_loops_fails_fast_and_names_the_fix(run):
    result = run(SESSION_POOL, FLAG)
    result.assert_outcomes(failed=2, errors=0)  # errors=0: the teardown query on the pool still worked
    text = _assert_guarded(result)
    assert "test 'test_one' would use an asyncpg Pool" in text
    assert "fixture 'session_pool' (scope='session', loop_scope='session')" in text
    assert "runs on the function-scoped loop (bare @pytest.mark.asyncio on the test" in text
    assert SESSION_FIXTURE_FIX in text
    assert spelled('@pytest.mark.asyncio(loop_scope="session")') in text
    assert "make 'session_pool' function-scoped" in text


def test_without_the_flag_the_failure_is_unchanged(run):
    result = run(SESSION_POOL)
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "LoopMismatchError" not in text
    assert any(raw in text for raw in RAW_FAILURES)


def test_ini_option_turns_the_guard_on(run):
    result = run(SESSION_POOL, ini=f"{FIXTURE_SCOPE_INI}\nloop_guard = true")
    result.assert_outcomes(failed=2, errors=0)
    _assert_guarded(result)


def test_single_session_connection_with_half_fix(run):
    result = run(SESSION_CONNECTION, FLAG, ini="asyncio_default_fixture_loop_scope = function")
    result.assert_outcomes(failed=1, errors=0)
    text = _assert_guarded(result)
    assert "asyncpg Connection" in text
    assert "fixture 'shared_conn' (scope='session', loop_scope='session')" in text
    assert "function-scoped loop" in text


def test_connection_held_two_levels_deep_by_an_analyzer(run):
    result = run(ANALYZER_HOLDS_SESSION_CONNECTION, FLAG)
    result.assert_outcomes(failed=1, errors=0)
    text = _assert_guarded(result)
    assert "The Connection: dependency_analyzer.connection_manager._connection" in text
    assert "created by fixture 'connection_manager' (scope='session', loop_scope='session')" in text


def test_lazily_created_connection_of_a_session_manager(run):
    result = run(LAZY_MANAGER, FLAG, ini="asyncio_default_fixture_loop_scope = function")
    result.assert_outcomes(passed=1, failed=1)
    text = _assert_guarded(result)
    assert "test 'test_second' would use an asyncpg Connection" in text
    assert "The Connection: dependency_analyzer.connection_manager._connection, created later" in text
    assert "inside the value of fixture 'connection_manager' (scope='session', a sync fixture" in text
    assert spelled('@pytest.mark.asyncio(loop_scope="session")') in text


def test_function_fixture_using_a_session_connection(run):
    result = run(FIXTURE_USES_SESSION_CONNECTION, FLAG)
    if has("refuses_narrower_fixture_loops"):  # 0.24 to 0.26 refuse the suite at collection
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*MultipleEventLoopsRequestedError*", "*by test_suite.py::test_uses_it*"])
        return
    result.assert_outcomes(errors=1)
    text = _assert_guarded(result)
    assert "fixture 'clean_test_schema' would use an asyncpg Connection" in text
    assert "fixture 'test_connection' (scope='session', loop_scope='session')" in text
    # what the user declared, not the loop scope pytest-asyncio's synchronizer carries during setup
    chose = f"(no loop_scope, {FIXTURE_SCOPE_SETTING} -> the fixture's scope='function')"
    assert f"The fixture: runs on the function-scoped loop {chose}." in text
    assert SAME_LOOP_FOR.format("clean_test_schema") in text


IGNORED = "is ignored: pytest-asyncio 1.0 removed event_loop"


def test_session_event_loop_override_is_named(run):
    result = run(EVENT_LOOP_OVERRIDE, FLAG)
    result.assert_outcomes(failed=2, errors=0)
    text = _assert_guarded(result)
    assert "Your event_loop fixture" in text
    assert (IGNORED if has("no_event_loop_fixture") else "is deprecated since pytest-asyncio 0.23") in text
    assert "fixture 'session_pool' (scope='session', loop_scope='session')" in text


def test_bare_marker_overriding_pytestmark(run):
    result = run(BARE_MARKER_OVERRIDES_PYTESTMARK, FLAG, ini="asyncio_default_fixture_loop_scope = function")
    result.assert_outcomes(passed=1, failed=1)
    text = _assert_guarded(result)
    assert "test 'test_bare_marker'" in text
    assert spelled("overriding pytestmark = pytest.mark.asyncio(loop_scope='session') in test_suite.py") in text
    assert "Remove the bare @pytest.mark.asyncio from the test" in text


def test_a_stopped_fixture_gives_every_later_test_the_same_report(run):
    result = run(STOPPED_MODULE_FIXTURE, FLAG, ini="asyncio_default_fixture_loop_scope = function")
    result.assert_outcomes(errors=2)
    text = _assert_guarded(result)
    assert "AssertionError" not in text  # pytest's `assert not self._finalizers` when the error is not cached
    assert text.count("fixture 'warmed' would use an asyncpg Pool") == 2
    assert "Its loop: the session-scoped loop that fixture 'session_pool' ran on earlier" in text
    assert f"({fixture_loop_choice('session_pool', 'session')}), still open." in text
    assert f"The fixture: runs on the module-scoped loop ({fixture_loop_choice('warmed', 'module')})." in text


def test_a_pool_in_a_module_global_reached_through_a_helper(pytester, dsn, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", dsn)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_suite=spelled(HEADER + textwrap.dedent(MODULE_LEVEL_CACHE)))
    # in a subprocess: the pool, bound to a closed loop, cannot be closed, and goes away with the process
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", FLAG)
    result.assert_outcomes(passed=1, failed=2)
    text = _assert_guarded(result)
    for test in ("test_second", "test_third"):
        assert f"test {test!r} would use an asyncpg Pool" in text
    assert text.count("The Pool: _pools['default'], held by the module-level global '_pools' (") == 2
    assert "test_suite.py:10), bound on the first loop that used it." in text
    assert "Its loop: the function-scoped loop that test 'test_first' ran on earlier" in text
    assert "1. Run every test and async fixture that uses '_pools' on the session loop:" in text


# An app module that makes its pool on first use, at module level; tests call the app's code, never a fixture.
APP_MODULE = """
import os

import asyncpg

_pool = None


async def pool():
    global _pool
    if _pool is None:
        _pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=1)
    return _pool


async def count_tables():
    return await (await pool()).fetchval("SELECT count(*) FROM pg_class")
"""

TESTS_OF_THE_APP = """
import pytest

import app_db
from app_db import count_tables


@pytest.mark.asyncio
async def test_first():
    assert await count_tables() > 0


@pytest.mark.asyncio
async def test_module():
    assert await app_db.count_tables() > 0


@pytest.mark.asyncio
async def test_import():
    assert await count_tables() > 0
"""


def test_a_pool_made_at_module_level_in_an_app_module(pytester, dsn, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", dsn)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(app_db=APP_MODULE, test_app=TESTS_OF_THE_APP)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", FLAG)  # the stray pool dies with the process
    result.assert_outcomes(passed=1, failed=2)
    text = _assert_guarded(result)
    assert text.count("The Pool: app_db._pool, held by the module-level global 'app_db._pool' (") == 2
    assert "app_db.py:5), bound on the first loop that used it." in text
    assert "Its loop: the function-scoped loop that test 'test_first' ran on earlier" in text


@pytest.mark.parametrize(
    "body, passed",
    [(GOOD_FUNCTION_SCOPED, 3), (GOOD_SESSION_LOOP, 5), (GOOD_PYTESTMARK, 2)],
    ids=["function-scoped", "session-loop", "pytestmark"],
)
def test_good_patterns_pass_under_the_guard(run, body, passed):
    result = run(body, FLAG, ini="asyncio_default_fixture_loop_scope = function")
    if body is GOOD_SESSION_LOOP and refused_loop_scope(result):  # db: a function-scoped fixture on the session loop
        return
    result.assert_outcomes(passed=passed)
    assert "LoopMismatchError" not in result.stdout.str()


def test_fix_advice_follows_the_pytest_asyncio_version():
    modern = fix_advice("pool", "session", version="1.5.0")
    assert '@pytest_asyncio.fixture(scope="session", loop_scope="session")' in modern
    assert "asyncio_default_test_loop_scope = session" in modern
    older = fix_advice("pool", "session", version="0.24.0")
    assert 'loop_scope="session"' in older and "asyncio_default_test_loop_scope" not in older
    v023 = fix_advice("pool", "session", version="0.23.8")
    assert '@pytest.mark.asyncio(scope="session")' in v023 and "loop_scope=" not in v023
    v021 = fix_advice("pool", "session", version="0.21.2")
    assert "def event_loop():" in v021


def test_fix_advice_for_a_global_names_what_fits_the_object():
    plain = fix_advice_for_global("lock", version="1.5.0")
    assert "create 'lock' in a fixture instead of at import time" in plain and "NullPool" not in plain
    engine = fix_advice_for_global("engine", version="1.5.0", keep_nothing="an engine made with poolclass=NullPool")
    assert "(function-scoped: one per test, on the test's loop); an engine made with poolclass=NullPool." in engine


def test_fix_advice_for_a_function_scoped_fixture_on_the_session_loop():
    advice = fix_advice("db", "function", "session", version="1.5.0")
    assert '@pytest_asyncio.fixture(loop_scope="session")' in advice
    assert "drop loop_scope from 'db'" in advice and "function-scoped (drop scope" not in advice


# The kit's own plugin (entry point "kit") loads the guard: no "-p kit.diagnose.guard" needed.
KIT_BROKEN = """
from kit.course.broken import session_pool

@pytest.mark.asyncio
async def test_broken(session_pool):
    assert await session_pool.fetchval("SELECT 1") == 1
"""

KIT_GOOD = """
@pytest.mark.asyncio(loop_scope="session")
async def test_db(db):
    assert await db.fetchval("SELECT 1") == 1

@pytest.mark.asyncio(loop_scope="session")
async def test_shared_pool(shared_pool):
    assert await shared_pool.fetchval("SELECT 1") == 1

@pytest.mark.asyncio
async def test_seed_pattern(dependency_analyzer, test_connection):
    assert await test_connection.fetchval("SELECT 1") == 1
    assert dependency_analyzer.connection_manager is not None
"""


@pytest.mark.parametrize("body, outcome", [(KIT_BROKEN, {"failed": 1}), (KIT_GOOD, {"passed": 3})], ids=["broken", "good"])
def test_kit_plugin_loads_the_guard(pytester, dsn, monkeypatch, body, outcome):
    monkeypatch.setenv("DATABASE_URL", dsn)
    pytester.makeini(f"[pytest]\nasyncio_mode = strict\n{FIXTURE_SCOPE_INI}\n")
    pytester.makepyfile(test_suite=spelled(HEADER + textwrap.dedent(body)))
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", FLAG)
    if body is KIT_GOOD and not has("loop_scope"):  # 0.23: the kit's db cannot be on the session loop, and says so
        result.assert_outcomes(passed=2, errors=1)
        result.stdout.fnmatch_lines(["*fixture 'db' needs pytest-asyncio >= 0.24*"])
        return
    result.assert_outcomes(**outcome)
    assert ("fixture 'session_pool' (scope='session', loop_scope='session')" in result.stdout.str()) == ("failed" in outcome)


# A loop error the guard cannot foresee: the session-loop future is reached through a computed name.
UNFORESEEN = """
import sys

_hidden = {}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def server():
    _hidden["ready"] = asyncio.get_running_loop().create_future()
    yield "started"


@pytest.mark.asyncio
async def test_waits_for_the_server(server):
    await vars(sys.modules[__name__])["_hid" + "den"]["ready"]
"""


def test_an_unforeseen_loop_error_names_the_fixtures_on_another_loop(run):
    result = run(UNFORESEEN, FLAG)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "(LoopMismatchError from kit.diagnose.guard; the raw error is kept as its cause" in text
    assert "test 'test_waits_for_the_server' failed with an event-loop error the loop guard could not foresee:" in text
    assert "attached to a different loop" in text  # the raw error, quoted
    assert "fixture 'server' (scope='session', loop_scope='session')" in text and "on the session-scoped loop" in text
    assert "How to fix it" in text


def test_without_the_flag_an_unforeseen_loop_error_is_unchanged(run):
    result = run(UNFORESEEN)
    result.assert_outcomes(failed=1)
    assert "LoopMismatchError" not in result.stdout.str() and "attached to a different loop" in result.stdout.str()


def test_the_recorder_shows_the_diagnosis_as_the_message(pytester, dsn, monkeypatch):
    from kit.diagnose.recorder import Recorder

    monkeypatch.setenv("DATABASE_URL", dsn)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_suite=spelled(HEADER + textwrap.dedent(UNFORESEEN)))
    recorder = Recorder()
    pytester.runpytest_inprocess(*WITHOUT_KIT, "-p", "kit.diagnose.guard", "-p", "no:cacheprovider", FLAG, plugins=[recorder])
    [row] = recorder.results()
    assert row["error_type"] == "LoopMismatchError"
    assert row["message"] == "test 'test_waits_for_the_server' failed with an event-loop error the loop guard could not foresee:"
    assert any("attached to a different loop" in link for link in row["chain"])


# A loop error at teardown: a session-loop fixture's teardown awaits a future the test made on its own loop.
UNFORESEEN_AT_TEARDOWN = """
@pytest_asyncio.fixture(loop_scope="session")
async def waiter():
    box = {}
    yield box
    await box["done"]


@pytest.mark.asyncio
async def test_hands_over_a_future(waiter):
    waiter["done"] = asyncio.get_running_loop().create_future()
"""


def test_an_unforeseen_loop_error_at_teardown_is_diagnosed(run):
    result = run(UNFORESEEN_AT_TEARDOWN, FLAG)
    if refused_loop_scope(result):  # a function-scoped fixture on the session loop
        return
    result.assert_outcomes(passed=1, errors=1)
    text = result.stdout.str()
    assert "test 'test_hands_over_a_future' failed with an event-loop error the loop guard could not foresee:" in text
    assert "fixture 'waiter' (scope='function', loop_scope='session')" in text
    assert "attached to a different loop" in text
