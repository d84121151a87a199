"""Parallel runs: under pytest-xdist each worker tests in a database of its own, made and dropped by the kit."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import replace

import pytest

from kit.db.config import OWNED_COMMENT, DatabaseConfig
from kit.db.connections import connect
from kit.db.server import ensure_server
from kit.db.workers import drop_run_databases, run_prefix
from kit.plugin import ALLOW_CLEANUP_ENV

# clean_test_schema before and after each of 24 tests that create, fill and count the same table: with one
# database for both workers, one worker's clean-up dropped the table under the other's test (3-5 failed a run).
CLEANED = """
import asyncio
import os

import pytest

pytestmark = pytest.mark.usefixtures("clean_test_schema")
OWNED = "loop-lab: created by the kit, disposable"


@pytest.mark.parametrize("n", range(24))
@pytest.mark.asyncio
async def test_a_table_of_its_own(n, test_connection, database_settings):
    await test_connection.execute("CREATE TABLE test_items (id serial PRIMARY KEY, n int)")
    await test_connection.executemany("INSERT INTO test_items (n) VALUES ($1)", [(n,)] * 50)
    await asyncio.sleep(0.02)
    assert await test_connection.fetchval("SELECT count(*) FROM test_items WHERE n = $1", n) == 50
    name, comment = await test_connection.fetchrow(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
    )
    assert name == database_settings.database and name.endswith("_" + os.environ["PYTEST_XDIST_WORKER"])
    assert comment == OWNED
"""

# Every other fixture of the kit's, each checked to be on the worker's database.
OTHERS = """
import os

import pytest


def _worker_db(name):
    assert name.endswith("_" + os.environ["PYTEST_XDIST_WORKER"]), name


def test_database_config(database_config, database_settings):
    assert database_config == database_settings.url
    _worker_db(database_settings.database)


@pytest.mark.asyncio
async def test_connection_manager_and_analyzer(connection_manager, dependency_analyzer, test_connection):
    await test_connection.execute("CREATE TABLE test_parent (id int PRIMARY KEY)")
    await test_connection.execute("CREATE TABLE test_child (id int, parent int REFERENCES test_parent (id))")
    try:
        conn = await connection_manager.get_connection()
        _worker_db(await conn.fetchval("SELECT current_database()"))
        assert len(await dependency_analyzer.find_foreign_key_dependencies("test_parent", "id")) == 1
    finally:
        await test_connection.execute("DROP TABLE test_child, test_parent")


@pytest.mark.asyncio
async def test_session_config_connection(session_config_connection):
    _worker_db(await session_config_connection.fetchval("SELECT current_database()"))


@pytest.mark.asyncio(loop_scope="session")
async def test_shared_connection_and_pool(shared_connection, shared_pool):
    _worker_db(await shared_connection.fetchval("SELECT current_database()"))
    _worker_db(await shared_pool.fetchval("SELECT current_database()"))


@pytest.mark.parametrize("n", range(4))
@pytest.mark.asyncio(loop_scope="session")
async def test_db_rolls_back(db, n):
    _worker_db(await db.fetchval("SELECT current_database()"))
    await db.execute("CREATE TABLE test_rolled_back (n int)")
"""


def _databases(url: str, *, besides: str | None = None) -> set[str]:
    """The databases on ``url``'s server, but for those whose names start with ``besides``."""

    async def names() -> set[str]:
        conn = await connect(url)
        try:
            return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()

    return {name for name in asyncio.run(names()) if not (besides and name.startswith(besides))}


def _this_runs_prefix() -> str | None:
    """Under pytest-xdist, the prefix of this (outer) run's databases: its other worker makes and drops some meanwhile
    (test_plugin's ``..._not_kit``)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    own = DatabaseConfig.from_url(ensure_server()).database
    return own[: -len(worker)] if worker and own.endswith(worker) else None


@pytest.fixture
def source_database() -> Iterator[str]:
    """A database of this test's own to copy from: the suite's shared one may have other sessions on it, and a
    database can be copied as a template only while nobody else is connected to it."""
    base = DatabaseConfig.from_url(ensure_server())
    name = f"{base.database}_xdist_source_{os.getpid()}"
    asyncio.run(_admin_execute(base.url, f'CREATE DATABASE "{name}"', f"COMMENT ON DATABASE \"{name}\" IS '{OWNED_COMMENT}'"))
    yield replace(base, database=name).url
    asyncio.run(_admin_execute(base.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_ten_parallel_runs_in_a_row_never_collide(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source_database: str
) -> None:
    url, outer = source_database, _this_runs_prefix()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv(ALLOW_CLEANUP_ENV, raising=False)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_cleaned=CLEANED, test_others=OTHERS)
    before = _databases(url, besides=outer)
    for run in range(10):
        result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "-p", "no:cacheprovider", "-q", timeout=120)
        assert result.ret == 0 and result.parseoutcomes() == {"passed": 32}, f"run {run + 1}:\n" + "\n".join(result.outlines)
        left = _databases(url, besides=outer) - before
        assert not left, f"run {run + 1} left its databases behind: {sorted(left)}"


def test_without_xdist_the_fixtures_use_the_configured_database(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", ensure_server())
    pytester.makepyfile(
        test_plain=f"def test_it(database_settings):\n    assert database_settings.database == {DatabaseConfig.from_environment().database!r}\n"
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


async def _admin_execute(url: str, *statements: str) -> None:
    conn = await connect(replace(DatabaseConfig.from_url(url), database="postgres").url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def test_only_databases_carrying_the_kits_comment_are_dropped() -> None:
    url = ensure_server()
    own = DatabaseConfig.from_url(url)
    theirs, ours = (run_prefix(own.database, "feedc0de") + name for name in ("gw8", "gw9"))
    asyncio.run(_admin_execute(url, f'CREATE DATABASE "{theirs}"', f'CREATE DATABASE "{ours}"'))
    asyncio.run(_admin_execute(url, f"COMMENT ON DATABASE \"{ours}\" IS '{OWNED_COMMENT}'"))
    try:
        assert drop_run_databases(own, "feedc0de") == [ours]
        assert theirs in _databases(url), "a database without the kit's comment was dropped"
    finally:
        asyncio.run(_admin_execute(url, f'DROP DATABASE IF EXISTS "{theirs}"', f'DROP DATABASE IF EXISTS "{ours}"'))
