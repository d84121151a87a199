"""Loop Lab's pytest plugin: database fixtures that are safe for pytest-asyncio's event loops.

Registered through the ``pytest11`` entry point ``kit``, so every suite gets these fixtures once
loop-lab is installed. Three families, each one of the lesson's working patterns:

1. **The seed's recommended pattern** (everything function-scoped, a new connection per test):
   ``database_config``, ``test_connection``, ``connection_manager``, ``dependency_analyzer`` and
   ``clean_test_schema`` (opt-in, destructive, refuses databases the kit did not create).
2. **The seed's alternative** (synchronous session-scoped configuration, async connection per test):
   ``database_settings`` and ``session_config_connection``.
3. **One session loop** (the pytest-asyncio 1.x way to share): ``shared_connection``, ``shared_pool``
   and ``db``, a connection inside a transaction rolled back after each test. Tests using them
   must run in the session loop: ``@pytest.mark.asyncio(loop_scope="session")``.

Every connection has a connect timeout and a command timeout, and tests that use these fixtures
get a ``timeout`` marker (``loop_lab_timeout`` ini option, 120 s by default) unless a timeout is
configured already, so a dead server fails tests quickly instead of hanging them.
Under pytest-xdist every fixture uses the worker's own database (:mod:`kit.db.workers`), dropped at the run's end.
The broken patterns live in :mod:`kit.course.broken` and are never registered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio

from kit.db.config import OWNED_COMMENT, DatabaseConfig, MaskedDSN, mask_url
from kit.db.connections import ConnectionManager, connect, create_pool
from kit.db.leases import release
from kit.db.server import ensure_server
from kit.db.workers import drop_run_databases, worker_config
from kit.diagnose.rules import asyncio_version, fixture_loop_kwargs, marker_loop_keyword
from kit.errors import DatabaseUnavailable, InvalidDatabaseURL, KitError

if TYPE_CHECKING:
    from kit.db.analyzer import DependencyAnalyzer

F = TypeVar("F", bound=Callable[..., Any])
pytest_plugins = ["kit.diagnose.guard"]  # the loop guard: off unless --loop-guard or loop_guard = true

ALLOW_CLEANUP_ENV = "LOOP_LAB_ALLOW_CLEANUP"
_DEFAULT_TIMEOUT = "120"
_RUN_OUTPUT = "loop_lab_run"  # an xdist worker's output: (the URL under test, the run id)
_RUN_KEY = pytest.StashKey[tuple[str, str]]()
_KIT_FIXTURES = frozenset(
    {
        "database_config",
        "test_connection",
        "connection_manager",
        "dependency_analyzer",
        "clean_test_schema",
        "database_settings",
        "session_config_connection",
        "shared_connection",
        "shared_pool",
        "db",
    }
)

# The DROP statements for relations and routines whose names literally begin with "test_" (left(), not LIKE,
# where "_" would match any character) in the connection's current schema, dependants first. Skipped: extension
# members, and sequences owned by a column (a table "test" with a serial id owns "test_id_seq"; dropping it
# would break that table).
_TEST_OBJECTS_SQL = r"""
SELECT format('DROP %s IF EXISTS %I.%I CASCADE', kind, nspname, relname) AS statement, relname AS name, rank
FROM (
    SELECT n.nspname, c.relname,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
           array_position(ARRAY['m', 'v', 'f', 'p', 'r', 'S']::"char"[], c.relkind) AS rank
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema()
      AND left(c.relname, 5) = 'test_'
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (
          SELECT 1 FROM pg_depend d
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
            AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i') AND d.refobjid <> c.oid)))
) AS relations
UNION ALL
SELECT format('DROP ROUTINE IF EXISTS %I.%I(%s) CASCADE', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       p.proname, 7
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema()
  AND left(p.proname, 5) = 'test_'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY rank, name
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--allow-cleanup`` and the plugin's ini options."""
    group = parser.getgroup("loop-lab", "Loop Lab database fixtures")
    group.addoption(
        "--allow-cleanup",
        action="append",
        default=[],
        metavar="DBNAME",
        help="let clean_test_schema drop test_* objects in DBNAME although the kit did not create it "
        f"(repeatable or comma-separated; also ${ALLOW_CLEANUP_ENV} and the loop_lab_allow_cleanup ini option)",
    )
    parser.addini(
        "loop_lab_allow_cleanup", "databases clean_test_schema may clean although the kit did not create them", type="args"
    )
    parser.addini(
        "loop_lab_timeout",
        "default per-test timeout in seconds for tests using Loop Lab's database fixtures (0 disables)",
        default=_DEFAULT_TIMEOUT,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give tests that use the kit's database fixtures a timeout, unless one is configured already."""
    value = config.getini("loop_lab_timeout") or "0"
    try:
        seconds = float(value)
    except ValueError:
        raise pytest.UsageError(
            f"loop_lab_timeout = {value!r} is not a number of seconds; use e.g. 120, or 0 to disable it."
        ) from None
    if not seconds or not any(map(config.pluginmanager.hasplugin, ("timeout", "pytest_timeout"))):  # entry point or -p module
        return
    if config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT") or config.getini("timeout"):
        return
    for item in items:
        uses_kit = _KIT_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_kit and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(seconds))


# --- where the database is ------------------------------------------------------------------------------


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    """Explain a failed comparison with a kit DSN without its password (pytest's text diff would print it)."""
    if not (isinstance(left, MaskedDSN) or isinstance(right, MaskedDSN)):
        return None
    shown = [mask_url(side) if isinstance(side, str) else side for side in (left, right)]
    return [f"{shown[0]!r} {op} {shown[1]!r}", "(Loop Lab masks the DSN's password in test output)"]


def xdist_worker(config: pytest.Config) -> tuple[str, str] | None:
    """``(run id, worker id)`` in a pytest-xdist worker, None in a run without workers (or in xdist's controller)."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else (workerinput["testrunuid"], workerinput["workerid"])


@pytest.fixture(scope="session")
def _loop_lab_settings(request: pytest.FixtureRequest) -> Iterator[DatabaseConfig]:
    """The database under test, resolved once per session: under pytest-xdist, this worker's own database.

    A worker's database is made from a template of the configured one (:mod:`kit.db.workers`) and dropped
    when the worker's session ends; xdist's controller drops the template and anything a crashed worker left.
    """
    worker = xdist_worker(request.config)
    try:
        ensure_server(lease_for=os.getpid())  # on the kit's own server, a lease: no other run stops it under us
        base = DatabaseConfig.from_environment()
        settings = base if worker is None else worker_config(base, *worker)
    except KitError as exc:
        release()
        pytest.fail(f"Loop Lab has no database to test against: {exc}", pytrace=False)
    if worker is not None:
        request.config.workeroutput[_RUN_OUTPUT] = (str(base.url), worker[0])  # read by pytest_testnodedown
    try:
        yield settings
        if worker is not None:
            with contextlib.suppress(KitError):  # the controller drops what is left, once the workers are done
                drop_run_databases(base, worker[0], only=settings.database)
    finally:
        release()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """In xdist's controller: remember which run's databases the workers made, so the run's end can drop them."""
    made = getattr(node, "workeroutput", {}).get(_RUN_OUTPUT)
    if made is not None:
        node.config.stash[_RUN_KEY] = made  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In xdist's controller: drop the template and the workers' databases of this run (only the kit's own)."""
    made = session.config.stash.get(_RUN_KEY, None)
    if made is None:
        return
    try:
        drop_run_databases(DatabaseConfig.from_url(made[0], source="kit"), made[1])
    except KitError as exc:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"loop-lab: could not drop this run's worker databases: {exc}", yellow=True)


@pytest.fixture(scope="session")
def _loop_lab_dsn(_loop_lab_settings: DatabaseConfig) -> MaskedDSN:
    """The DSN of the database under test (a worker's own under pytest-xdist), resolved once per session.

    A :class:`kit.db.config.MaskedDSN`: a ``str`` whose ``repr`` (what pytest prints) masks the password.
    """
    return _loop_lab_settings.url


@asynccontextmanager
async def _opened(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A kit connection, closed (awaited) on exit; a connection failure becomes a short test failure."""
    try:
        conn = await connect(dsn)
    except (DatabaseUnavailable, InvalidDatabaseURL) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield conn
    finally:
        await conn.close()


# --- 1. the seed's recommended pattern: function scope, a new connection per test ----------------------


@pytest.fixture
def database_config(_loop_lab_dsn: MaskedDSN) -> MaskedDSN:
    """The DSN of the database under test (the seed's name for it): the kit's server or $DATABASE_URL.

    A ``str``; its ``repr``, which pytest shows in failure reports, masks the password.
    """
    return _loop_lab_dsn


@pytest_asyncio.fixture
async def test_connection(database_config: str) -> AsyncIterator[asyncpg.Connection]:
    """A new asyncpg connection for this test, checked with ``SELECT 1`` and closed (awaited) afterwards.

    It lives on the test's own event loop, so it works with plain ``@pytest.mark.asyncio`` tests.
    """
    async with _opened(database_config) as conn:
        await conn.fetchval("SELECT 1")
        yield conn


@pytest_asyncio.fixture
async def connection_manager(database_config: str) -> AsyncIterator[ConnectionManager]:
    """A :class:`kit.db.connections.ConnectionManager` for this test; its connections are closed, awaited, afterwards."""
    async with ConnectionManager(database_config) as manager:
        yield manager


@pytest.fixture
def dependency_analyzer(connection_manager: ConnectionManager) -> DependencyAnalyzer:
    """A :class:`kit.db.analyzer.DependencyAnalyzer` that gets its connections from ``connection_manager``."""
    from kit.db.analyzer import DependencyAnalyzer

    return DependencyAnalyzer(connection_manager)


def _allowed_databases(config: pytest.Config) -> set[str]:
    names = [*config.getoption("allow_cleanup"), *config.getini("loop_lab_allow_cleanup"), os.environ.get(ALLOW_CLEANUP_ENV, "")]
    return {part.strip() for name in names for part in name.split(",") if part.strip()}


async def _schema_to_clean(conn: asyncpg.Connection, config: pytest.Config, dsn: str) -> tuple[str, str]:
    """The (database, schema) the connection really uses; fails the test unless the kit created the database
    or the user allowed cleaning it, and when the search_path names no schema that exists."""
    name, comment, schema, path = await conn.fetchrow(
        "SELECT datname, shobj_description(oid, 'pg_database'), current_schema(), current_setting('search_path') "
        "FROM pg_database WHERE datname = current_database()"
    )
    if comment != OWNED_COMMENT and name not in _allowed_databases(config):
        pytest.fail(
            f"clean_test_schema refused to drop test_* objects in database {name!r} (schema {schema!r}, {mask_url(dsn)}).\n"
            f"The kit did not create this database (it lacks the comment {OWNED_COMMENT!r}),\n"
            "so its test_* tables may be someone's data. If every object named test_* in it is disposable,\n"
            f"allow it by name:  {ALLOW_CLEANUP_ENV}={name} pytest ...   or   pytest --allow-cleanup={name}",
            pytrace=False,
        )
    if schema is None:
        pytest.fail(
            f"clean_test_schema: the connection's search_path ({path}) names no schema that exists in database {name!r}, "
            "so there is nothing it may clean. Create the schema, or fix options=-csearch_path=... in DATABASE_URL.",
            pytrace=False,
        )
    return name, schema


async def _clean(conn: asyncpg.Connection, where: str, when: str) -> None:
    """Drop the ``test_*`` objects of the connection's current schema in one transaction; say what went, and where."""
    rows = await conn.fetch(_TEST_OBJECTS_SQL)
    async with conn.transaction():
        for row in rows:
            await conn.execute(row["statement"])
    dropped = ", ".join(row["name"] for row in rows) or "nothing to drop"
    print(f"clean_test_schema {when} the test, in {where}: {dropped}")


@pytest_asyncio.fixture
async def clean_test_schema(
    test_connection: asyncpg.Connection, database_config: str, request: pytest.FixtureRequest
) -> AsyncIterator[None]:
    """Drop every table, view, materialized view, sequence and function named ``test_*`` before and after the test.

    Not autouse: opt in per module with ``pytestmark = pytest.mark.usefixtures("clean_test_schema")``.
    Works in the schema the connection really uses (its ``current_schema()``: ``public`` unless the search_path
    says otherwise, as with ``options=-csearch_path=scratch`` in DATABASE_URL) and prints which one (captured
    output) with what it dropped. Matches names that literally begin with ``test_``, case-sensitively:
    ``test_users`` goes; ``testament``, ``test``, ``tests_x`` and a quoted ``"Test_Upper"`` stay. Drops use
    CASCADE, so objects that depend on a ``test_*`` object go with it.
    Refuses (fails the test) on a database the kit did not create unless allowed by name with
    ``LOOP_LAB_ALLOW_CLEANUP=<dbname>``, ``--allow-cleanup=<dbname>`` or the ``loop_lab_allow_cleanup`` ini option.
    """
    database, schema = await _schema_to_clean(test_connection, request.config, database_config)
    where = f"schema {schema!r} of database {database!r}"
    await _clean(test_connection, where, "before")
    yield
    await _clean(test_connection, where, "after")


# --- 2. the seed's alternative: synchronous session configuration, async connection per test ----------


@pytest.fixture(scope="session")
def database_settings(_loop_lab_settings: DatabaseConfig) -> DatabaseConfig:
    """The database settings as a :class:`kit.db.config.DatabaseConfig`, resolved once per session.

    A synchronous fixture: it creates nothing tied to an event loop, so sharing it is safe.
    """
    return _loop_lab_settings


@pytest_asyncio.fixture
async def session_config_connection(database_settings: DatabaseConfig) -> AsyncIterator[asyncpg.Connection]:
    """A new connection per test, opened from the session's ``database_settings`` and closed afterwards."""
    async with _opened(database_settings.url) as conn:
        yield conn


# --- 3. one session loop: share a connection, isolate tests with a rollback ----------------------------


def _on_the_session_loop(scope: str) -> Callable[[F], F]:
    """``pytest_asyncio.fixture`` for an async fixture of ``scope`` that runs on the session's event loop.

    Where the installed pytest-asyncio cannot run such a fixture (0.23 runs an async fixture on the loop of its
    own scope), the fixture becomes one that fails every test using it with a message saying why and what to do.
    """
    kwargs = fixture_loop_kwargs(scope, "session")
    if kwargs is not None:
        return pytest_asyncio.fixture(**kwargs)

    def unavailable(func: F) -> F:
        def fixture() -> None:
            pytest.fail(
                f"fixture {func.__name__!r} needs pytest-asyncio >= 0.24: pytest-asyncio {asyncio_version()} runs an "
                f"async {scope}-scoped fixture on the {scope} loop, never on the session's. Upgrade pytest-asyncio, or use "
                f'shared_connection in tests marked @pytest.mark.asyncio({marker_loop_keyword()}="session").',
                pytrace=False,
            )

        # the name and docstring, not the signature (no __wrapped__): it needs none of the fixtures the original asks for
        fixture.__name__, fixture.__qualname__, fixture.__doc__ = func.__name__, func.__qualname__, func.__doc__
        return pytest.fixture(scope=scope)(fixture)  # type: ignore[return-value]

    return unavailable


@_on_the_session_loop("session")
async def shared_connection(database_settings: DatabaseConfig) -> AsyncIterator[asyncpg.Connection]:
    """One connection for the whole session, living on the session's event loop.

    Only tests that also run in the session loop may use it: mark them
    ``@pytest.mark.asyncio(loop_scope="session")`` (or set ``pytestmark`` per module; pytest-asyncio 0.23:
    ``scope="session"``). A test on its own function loop gets "attached to a different loop". Prefer ``db``,
    which isolates tests.
    """
    async with _opened(database_settings.url) as conn:
        yield conn


@_on_the_session_loop("session")
async def shared_pool(database_settings: DatabaseConfig) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool (1 to 4 connections) for the whole session, on the session's event loop.

    Tests using it need ``@pytest.mark.asyncio(loop_scope="session")``, like ``shared_connection``.
    """
    try:
        pool = await create_pool(database_settings.url)
    except (DatabaseUnavailable, InvalidDatabaseURL) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield pool
    finally:
        try:
            await asyncio.wait_for(pool.close(), timeout=10)
        except asyncio.TimeoutError:
            pool.terminate()


@_on_the_session_loop("function")
async def db(shared_connection: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """The shared connection inside a transaction that is rolled back after the test.

    Whatever the test writes (rows, even tables) is gone for the next test, and a test costs a
    BEGIN and a ROLLBACK instead of a new connection. Tests using it need
    ``@pytest.mark.asyncio(loop_scope="session")``. Nested ``db.transaction()`` blocks become savepoints.
    Other connections cannot see the test's uncommitted writes. Needs pytest-asyncio >= 0.24 (a
    function-scoped fixture on the session loop); on 0.23 a test using it fails with a message saying so.
    """
    transaction = shared_connection.transaction()
    await transaction.start()
    try:
        yield shared_connection
    finally:
        await transaction.rollback()
