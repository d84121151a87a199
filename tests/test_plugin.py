"""The kit's pytest plugin, exercised in real inner pytest sessions (pytester, in subprocesses) against PostgreSQL.

Each good pattern must pass; clean_test_schema must drop exactly the ``test_*`` objects and refuse a
database the kit did not create unless that database is allowed by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import pytest_asyncio

from kit.db.config import DatabaseConfig
from kit.diagnose.rules import has
from kit.plugin import ALLOW_CLEANUP_ENV
from tests.support.asyncio_ini import spelled

pytest_plugins = ["pytester"]

GOOD_INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
markers = integration: tests that need PostgreSQL
"""


@pytest.fixture(scope="module")
def settings() -> DatabaseConfig:
    """The database under test, from the kit's server or $DATABASE_URL."""
    from kit.db.server import ensure_server

    ensure_server()
    return DatabaseConfig.from_environment()


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, settings: DatabaseConfig) -> Iterator[pytest.Pytester]:
    """A pytester whose inner sessions talk to the database under test, with no cleanup opt-in set."""
    monkeypatch.setenv("DATABASE_URL", settings.url)
    monkeypatch.delenv(ALLOW_CLEANUP_ENV, raising=False)
    pytester.makeini(GOOD_INI)
    yield pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=180)


@pytest_asyncio.fixture
async def admin(settings: DatabaseConfig) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the database under test, for preparing and inspecting objects."""
    conn = await asyncpg.connect(settings.url)
    yield conn
    await conn.close()


# --- 1. the seed's recommended pattern ----------------------------------------------------------------


SEED_EXAMPLE = '''
import pytest

pytestmark = pytest.mark.usefixtures("clean_test_schema")
PIDS = []


@pytest.mark.integration
@pytest.mark.timeout(30)
class TestExample:
    """The seed pattern's example (docs/architecture.md), unchanged apart from the kit's fixtures."""

    @pytest.mark.asyncio
    async def test_database_operations(self, dependency_analyzer, test_connection):
        await test_connection.execute("""
            CREATE TABLE test_users (
                id SERIAL PRIMARY KEY,
                email VARCHAR(255) UNIQUE NOT NULL
            );
        """)
        await test_connection.execute(
            "CREATE TABLE test_orders (id serial PRIMARY KEY, user_id int REFERENCES test_users (id))"
        )
        result = await dependency_analyzer.find_foreign_key_dependencies("test_users", "id")
        assert isinstance(result, list)
        assert [dep.source_table for dep in result] == ["test_orders"]

    @pytest.mark.asyncio
    async def test_schema_is_clean_again(self, test_connection):
        assert await test_connection.fetchval("SELECT to_regclass('test_users')") is None


@pytest.mark.asyncio
async def test_manager_connections(connection_manager, database_config):
    first = await connection_manager.get_connection()
    second = await connection_manager.get_connection()
    PIDS.extend([first.get_server_pid(), second.get_server_pid()])
    assert first is not second and connection_manager.open_connections == 2
    assert database_config == connection_manager.database_url


@pytest.mark.asyncio
async def test_manager_closed_them(test_connection):
    left = await test_connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", PIDS)
    assert len(PIDS) == 2 and left == 0
'''


def test_seed_pattern_passes(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_seed=SEED_EXAMPLE)
    result = _run(inner)
    result.assert_outcomes(passed=4)


def test_kit_fixtures_get_a_timeout(inner: pytest.Pytester) -> None:
    """A test that uses the kit's fixtures and hangs is stopped by the plugin's default timeout."""
    inner.makeini(GOOD_INI + "loop_lab_timeout = 2\n")
    inner.makepyfile(
        test_hang="""
        import asyncio, pytest

        @pytest.mark.asyncio
        async def test_hangs(test_connection):
            await asyncio.sleep(60)

        @pytest.mark.asyncio
        async def test_own_marker_wins(test_connection):
            await asyncio.sleep(3)
        test_own_marker_wins = pytest.mark.timeout(20)(test_own_marker_wins)
        """
    )
    result = _run(inner)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Timeout (>2.0s) from pytest-timeout*"])


# --- 2. the seed's alternative: synchronous session settings -----------------------------------------


def test_sync_session_settings_pattern_passes(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_settings="""
        import pytest
        from kit.db.config import DatabaseConfig

        SEEN = []

        @pytest.mark.asyncio
        @pytest.mark.parametrize("i", range(3))
        async def test_query(database_settings, session_config_connection, i):
            assert isinstance(database_settings, DatabaseConfig)
            SEEN.append((id(database_settings), session_config_connection.get_server_pid()))
            assert await session_config_connection.fetchval("SELECT 1") == 1

        def test_settings_shared_connections_not():
            assert len({s for s, _ in SEEN}) == 1
            assert len({p for _, p in SEEN}) == 3
        """
    )
    _run(inner).assert_outcomes(passed=4)


# --- 3. one session loop, a rollback per test -----------------------------------------------------------


SHARED_SUITE = """
        import pytest

        pytestmark = pytest.mark.asyncio(loop_scope="session")
        TABLE = "loop_lab_plugin_rollback_probe"
        SEEN = []

        async def test_0_create_table(shared_connection):
            await shared_connection.execute(f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (v int)")

        async def test_1_insert(db):
            await db.execute(f"INSERT INTO {TABLE} VALUES (1)")
            await db.execute("CREATE TABLE test_made_in_a_test (x int)")
            assert await db.fetchval(f"SELECT count(*) FROM {TABLE}") == 1
            SEEN.append(db)

        async def test_2_row_is_gone(db):
            assert await db.fetchval(f"SELECT count(*) FROM {TABLE}") == 0
            assert await db.fetchval("SELECT to_regclass('test_made_in_a_test')") is None
            SEEN.append(db)

        async def test_3_pool_in_the_same_loop(shared_pool):
            assert await shared_pool.fetchval("SELECT 1") == 1

        async def test_4_drop_table(shared_connection):
            assert SEEN[0] is SEEN[1] is shared_connection
            assert not shared_connection.is_in_transaction()
            await shared_connection.execute(f"DROP TABLE {TABLE}")
        """


def test_session_loop_with_rollback_isolates_tests(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_shared=spelled(SHARED_SUITE))
    result = _run(inner)
    if not has("loop_scope"):  # 0.23 cannot run a function-scoped fixture on the session loop: db says so
        result.assert_outcomes(passed=2, errors=2, failed=1)  # test_4 finds no db in SEEN
        result.stdout.fnmatch_lines(["*fixture 'db' needs pytest-asyncio >= 0.24*"])
        return
    result.assert_outcomes(passed=5)


# --- clean_test_schema ----------------------------------------------------------------------------------

PROBE_SCHEMA = "loop_lab_plugin_cleanup_probe"
KEPT = ["test", "testament", "tests_x", "Test_Upper", "test_id_seq", "atest_x"]
DROPPED = ["test_x", "test_v", "test_mv", "test_seq", "test_part"]

CLEANUP_PROBE = f"""
import pytest
import pytest_asyncio

@pytest_asyncio.fixture
async def in_probe_schema(test_connection):
    await test_connection.execute("SET search_path = {PROBE_SCHEMA}")

@pytest.mark.asyncio
@pytest.mark.usefixtures("in_probe_schema", "clean_test_schema")
async def test_cleaned(test_connection):
    assert await test_connection.fetchval("SELECT to_regclass('test_x')") is None
"""


async def _make_probe_objects(admin: asyncpg.Connection) -> None:
    await admin.execute(
        f"""
        DROP SCHEMA IF EXISTS {PROBE_SCHEMA} CASCADE;
        CREATE SCHEMA {PROBE_SCHEMA};
        SET search_path = {PROBE_SCHEMA};
        CREATE TABLE test_x (id int);
        CREATE TABLE test (id serial);           -- owns the sequence test_id_seq: must survive
        CREATE TABLE testament (id int);         -- LIKE 'test_%' would match it: "_" is a wildcard
        CREATE TABLE tests_x (id int);
        CREATE TABLE "Test_Upper" (id int);      -- case matters
        CREATE TABLE atest_x (id int);
        CREATE TABLE test_part (id int) PARTITION BY RANGE (id);
        CREATE VIEW test_v AS SELECT id FROM testament;
        CREATE MATERIALIZED VIEW test_mv AS SELECT id FROM test;
        CREATE SEQUENCE test_seq;
        CREATE FUNCTION test_fn(a int, b text) RETURNS int LANGUAGE sql AS 'SELECT a';
        CREATE FUNCTION testfn() RETURNS int LANGUAGE sql AS 'SELECT 1';
        CREATE PROCEDURE test_proc() LANGUAGE sql AS 'SELECT 1';
        RESET search_path;
        """
    )


async def _probe_contents(admin: asyncpg.Connection) -> tuple[set[str], set[str]]:
    relations = await admin.fetch(
        "SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind <> 'i'", PROBE_SCHEMA
    )
    routines = await admin.fetch("SELECT proname FROM pg_proc WHERE pronamespace = $1::regnamespace", PROBE_SCHEMA)
    return {r["relname"] for r in relations}, {r["proname"] for r in routines}


@pytest.mark.asyncio
async def test_clean_test_schema_drops_only_names_beginning_with_test_(inner: pytest.Pytester, admin: asyncpg.Connection) -> None:
    await _make_probe_objects(admin)
    try:
        inner.makepyfile(test_cleanup=CLEANUP_PROBE)
        _run(inner).assert_outcomes(passed=1)
        relations, routines = await _probe_contents(admin)
        # The table "test" still works: its sequence test_id_seq was not dropped from under it.
        assert await admin.fetchval(f"INSERT INTO {PROBE_SCHEMA}.test DEFAULT VALUES RETURNING id") == 1
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {PROBE_SCHEMA} CASCADE")
    assert set(KEPT) <= relations
    assert not set(DROPPED) & relations
    assert routines == {"testfn"}


async def _in(url: str, sql: str) -> object:
    """Run one statement in another database and return its first value."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_clean_test_schema_refuses_a_database_the_kit_did_not_create(
    inner: pytest.Pytester, admin: asyncpg.Connection, settings: DatabaseConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = f"{settings.database}_not_kit"
    await admin.execute(f'DROP DATABASE IF EXISTS "{foreign}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{foreign}"')
    try:
        foreign_url = dataclasses.replace(settings, database=foreign).url
        await _in(foreign_url, "CREATE TABLE test_precious (v int)")
        monkeypatch.setenv("DATABASE_URL", foreign_url)
        inner.makepyfile(
            test_refuse="""
            import pytest

            pytestmark = pytest.mark.usefixtures("clean_test_schema")

            @pytest.mark.asyncio
            async def test_cleaned(test_connection):
                assert await test_connection.fetchval("SELECT to_regclass('test_precious')") is None
            """
        )
        refused = _run(inner)
        refused.assert_outcomes(errors=1)
        refused.stdout.fnmatch_lines(
            [
                f"clean_test_schema refused to drop test_* objects in database '{foreign}'*",
                "The kit did not create this database*",
                "*",
                f"allow it by name:  {ALLOW_CLEANUP_ENV}={foreign} pytest ...   or   pytest --allow-cleanup={foreign}",
            ]
        )
        if settings.password:
            assert settings.password not in refused.stdout.str()
        assert await _in(foreign_url, "SELECT to_regclass('test_precious')") is not None  # untouched

        monkeypatch.setenv(ALLOW_CLEANUP_ENV, "some_other_db")
        _run(inner).assert_outcomes(errors=1)  # allowing another name changes nothing

        monkeypatch.setenv(ALLOW_CLEANUP_ENV, f"some_other_db, {foreign}")
        _run(inner).assert_outcomes(passed=1)
        monkeypatch.delenv(ALLOW_CLEANUP_ENV)

        await _in(foreign_url, "CREATE TABLE test_precious (v int)")
        _run(inner, f"--allow-cleanup={foreign}").assert_outcomes(passed=1)

        inner.makeini(GOOD_INI + f"loop_lab_allow_cleanup = some_other_db {foreign}\n")
        await _in(foreign_url, "CREATE TABLE test_precious (v int)")
        _run(inner).assert_outcomes(passed=1)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{foreign}" WITH (FORCE)')
