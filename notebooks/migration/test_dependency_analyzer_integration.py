"""Integration tests for the DependencyAnalyzer, written the way the seed project wrote them (BROKEN).

Loop Lab's notebook 09 runs this file, sees it fail with "Task got Future attached to a different
loop", audits it and migrates a *copy* to the event-loop-safe pattern. Leave this file broken: it is
the "before" picture, the seed's "Before (Problematic)" fixtures:

* ``test_database`` is session-scoped and creates an asyncpg pool, on the session's event loop;
* ``connection_manager`` is function-scoped and hands out connections from that pool to tests that
  run on their own, function-scoped, event loops.
"""

import asyncpg
import pytest

from kit.db.analyzer import DependencyAnalyzer
from kit.db.config import DatabaseConfig

SCHEMA = """
CREATE TABLE test_mig_users (
    id    serial PRIMARY KEY,
    email varchar(255) UNIQUE NOT NULL
);
CREATE TABLE test_mig_orders (
    id      serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES test_mig_users (id)
);
CREATE VIEW test_mig_user_emails AS SELECT id, email FROM test_mig_users;
"""
DROP = "DROP TABLE IF EXISTS test_mig_orders, test_mig_users CASCADE"


# --- fixtures -----------------------------------------------------------------------------------------------


class DatabaseInfrastructure:
    """Owns the asyncpg pool that the whole test session shares."""

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self.pool = None

    async def initialize(self) -> None:
        """Create the pool (on whichever event loop is running now)."""
        self.pool = await asyncpg.create_pool(self.config.url, min_size=1, max_size=2)

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()


class MigrationConnectionManager:
    """Hands the analyzer connections from the shared pool."""

    def __init__(self, infrastructure: DatabaseInfrastructure) -> None:
        self.infrastructure = infrastructure

    async def get_connection(self):
        """A connection from the session's pool."""
        return await self.infrastructure.pool.acquire()


@pytest.fixture(scope="session")  # ❌ session scope: the pool is created on the session's event loop
async def test_database():
    infrastructure = DatabaseInfrastructure(DatabaseConfig.from_environment())
    await infrastructure.initialize()
    yield infrastructure
    await infrastructure.close()


@pytest.fixture  # ❌ function scope: runs on each test's own loop, but hands out the session pool's connections
async def connection_manager(test_database):
    yield MigrationConnectionManager(test_database)


@pytest.fixture
async def dependency_analyzer(connection_manager):
    yield DependencyAnalyzer(connection_manager)


# --- test data ----------------------------------------------------------------------------------------------


@pytest.fixture
async def test_connection():
    """A direct connection for creating and dropping the tables (function scope: this one is fine)."""
    conn = await asyncpg.connect(DatabaseConfig.from_environment().url)
    await conn.execute(DROP)
    await conn.execute(SCHEMA)
    yield conn
    await conn.execute(DROP)
    await conn.close()


@pytest.mark.integration
@pytest.mark.timeout(30)
class TestDependencyAnalyzerIntegration:
    """The analyzer against real tables."""

    @pytest.mark.asyncio
    async def test_foreign_key_dependencies(self, dependency_analyzer, test_connection):
        deps = await dependency_analyzer.find_foreign_key_dependencies("test_mig_users", "id")
        assert [(d.source_table, d.source_column) for d in deps] == [("test_mig_orders", "user_id")]

    @pytest.mark.asyncio
    async def test_view_dependencies(self, dependency_analyzer, test_connection):
        deps = await dependency_analyzer.find_view_dependencies("test_mig_users", "email")
        assert [d.view_name for d in deps] == ["test_mig_user_emails"]

    @pytest.mark.asyncio
    async def test_removal_recommendation(self, dependency_analyzer, test_connection):
        report = await dependency_analyzer.analyze_column_dependencies("test_mig_users", "id")
        assert report.get_removal_recommendation() == "DANGEROUS"
