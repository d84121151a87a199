"""The broken fixture patterns, kept to be run and watched failing. Never registered automatically.

Use them in a test module on purpose, either one by one::

    from kit.course.broken import session_pool

or all at once with ``pytest_plugins = ["kit.course.broken"]`` in a conftest or test module.
Each fixture's docstring says what goes wrong (measured with pytest-asyncio 1.5.0) and which of
the kit's fixtures (:mod:`kit.plugin`) replaces it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import pytest_asyncio

from kit.db.config import DatabaseConfig
from kit.db.connections import connect, create_pool


@pytest_asyncio.fixture(scope="session")
async def session_pool(database_settings: DatabaseConfig) -> AsyncIterator[asyncpg.Pool]:
    """BROKEN: a session-scoped pool used by tests that run on their own function-scoped loops.

    ``scope="session"`` without ``loop_scope`` runs this fixture in the session's event loop, while
    each plain ``@pytest.mark.asyncio`` test runs in a new loop. The first query fails with
    ``RuntimeError: ... got Future ... attached to a different loop``, and the pool's release then
    adds ``InterfaceError: cannot perform operation: another operation is in progress``, the only
    line pytest's short summary shows. That is with ``asyncio_default_fixture_loop_scope`` unset (the
    seed's setting); set to ``function``, the same fixture fails at setup with a ScopeMismatch instead.
    Replace it with ``shared_pool`` plus ``@pytest.mark.asyncio(loop_scope="session")`` on the tests,
    or with ``test_connection``.
    """
    pool = await create_pool(database_settings.url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest_asyncio.fixture(scope="session")
async def session_connection(database_settings: DatabaseConfig) -> AsyncIterator[asyncpg.Connection]:
    """BROKEN: one session-scoped connection shared by tests on function-scoped loops.

    The first test fails with "attached to a different loop"; the connection is left mid-operation,
    so the next tests fail with ``InterfaceError: cannot perform operation: another operation is in
    progress``. Replace it with ``db`` (shared connection, session loop, rollback per test) or ``test_connection``.
    """
    conn = await connect(database_settings.url)
    yield conn
    await conn.close()


class FireAndForgetConnectionManager:
    """The seed pattern's ``AsyncConnectionManager`` (docs/architecture.md), unchanged in spirit: its cleanup is never awaited."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._connection: asyncpg.Connection | None = None

    async def get_connection(self) -> asyncpg.Connection:
        """Return the cached connection, opening a new one if there is none or it was closed."""
        if self._connection is None or self._connection.is_closed():
            self._connection = await connect(self.database_url)
        return self._connection

    def close_all_connections(self) -> None:
        """Schedule the close and return at once: nobody awaits the task, so it may never run."""
        if self._connection and not self._connection.is_closed():
            asyncio.create_task(self._connection.close())


@pytest_asyncio.fixture
async def fire_and_forget_manager(database_settings: DatabaseConfig) -> AsyncIterator[FireAndForgetConnectionManager]:
    """BROKEN: cleanup by ``asyncio.create_task(conn.close())`` from a synchronous method.

    ``close_all_connections()`` returns before anything is closed: right after it, the connection is
    still open and its server process still listed in ``pg_stat_activity``. Whether it is ever closed
    depends on the event loop running again. Under pytest-asyncio 1.5.0 it happens to: the task's
    first step (sending Terminate) runs before the test's loop stops, and closing the loop cancels the
    rest, which aborts the socket. Called where no loop runs (a synchronous fixture, ``atexit``) it
    raises ``RuntimeError: no running event loop`` and the connection stays open. Errors in the close
    are never seen, and only the last connection is tracked: one opened by a concurrent caller is
    never closed by the manager. Replace it with ``connection_manager``, whose cleanup is awaited.
    """
    manager = FireAndForgetConnectionManager(database_settings.url)
    yield manager
    manager.close_all_connections()


@pytest.fixture(scope="session")
def event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """BROKEN: the pytest-asyncio 0.21 recipe, a session-scoped ``event_loop`` override.

    pytest-asyncio 0.21 ran every test and fixture in the loop this fixture returned, which made a
    session pool work. From 0.23 it is deprecated, and pytest-asyncio 1.0 removed the ``event_loop``
    fixture: nothing requests this one any more, so it is silently ignored and ``session_pool``
    still fails with "attached to a different loop". Replace it with ``loop_scope="session"`` on the
    fixture and ``@pytest.mark.asyncio(loop_scope="session")`` on the tests (``shared_pool``, ``db``).
    """
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
