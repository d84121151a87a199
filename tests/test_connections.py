"""kit.db.connections against the real PostgreSQL: clear connect errors, and a manager that closes what it opens."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from kit.db.config import ConfigError, DatabaseConfig
from kit.db.connections import APPLICATION_NAME, ConnectionManager, DatabaseUnavailable, InvalidDatabaseURL, connect, create_pool

SECRET = "sekrit-pw-7f3a"


@pytest.fixture(scope="module")
def settings() -> DatabaseConfig:
    """The database under test, from the kit's server or $DATABASE_URL."""
    from kit.db.server import ensure_server

    ensure_server()
    return DatabaseConfig.from_environment()


@pytest_asyncio.fixture
async def observer(settings: DatabaseConfig) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own to watch pg_stat_activity with."""
    conn = await asyncpg.connect(settings.url)
    yield conn
    await conn.close()


async def _alive(observer: asyncpg.Connection, pids: list[int]) -> int:
    """How many of the server processes ``pids`` are still connected as loop-lab."""
    return await observer.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid = ANY($2::int[])", APPLICATION_NAME, pids
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- connect(): what a learner sees when something is wrong --------------------------------------------


@pytest.mark.asyncio
async def test_connect_names_itself_loop_lab(settings: DatabaseConfig) -> None:
    conn = await connect(settings.url)
    try:
        assert await conn.fetchval("SHOW application_name") == APPLICATION_NAME
        # Loopback host: no SSL negotiation, as the server's own view of the connection shows.
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_wrong_password_is_explained_and_masked(settings: DatabaseConfig) -> None:
    url = dataclasses.replace(settings, password=SECRET).url
    with pytest.raises(DatabaseUnavailable) as info:
        await connect(url)
    message = str(info.value)
    assert "rejected the password" in message and "DATABASE_URL" in message
    assert SECRET not in message and "***" in message
    assert isinstance(info.value.__cause__, asyncpg.InvalidPasswordError)


@pytest.mark.asyncio
async def test_missing_database_is_explained(settings: DatabaseConfig) -> None:
    missing = f"loop_lab_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(DatabaseUnavailable) as info:
        await connect(dataclasses.replace(settings, database=missing).url)
    message = str(info.value)
    assert "does not exist" in message and missing in message and "createdb" in message
    if settings.password:
        assert settings.password not in message
    assert isinstance(info.value.__cause__, asyncpg.InvalidCatalogNameError)


@pytest.mark.asyncio
async def test_refused_port_says_how_to_start_a_server(settings: DatabaseConfig) -> None:
    url = dataclasses.replace(settings, host="127.0.0.1", port=_free_port(), password=SECRET).url
    with pytest.raises(DatabaseUnavailable) as info:
        await connect(url)
    message = str(info.value)
    assert "refused" in message and "python -m kit db start" in message and "DATABASE_URL" in message
    assert SECRET not in message and "***" in message
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


@pytest.mark.asyncio
async def test_silent_server_times_out_quickly() -> None:
    """A port that accepts but never answers fails within the connect timeout instead of hanging."""
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(DatabaseUnavailable) as info:
            await connect(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db", timeout=0.5)
        assert asyncio.get_running_loop().time() - started < 3
    finally:
        server.close()
    message = str(info.value)
    assert "No answer" in message and "0.5 s" in message and "python -m kit db start" in message
    assert SECRET not in message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [f"mysql://me:{SECRET}@127.0.0.1:5432/db", f"postgresql://me:{SECRET}@127.0.0.1:notaport/db", "just some words"],
)
async def test_malformed_url_is_a_config_error(url: str) -> None:
    with pytest.raises(InvalidDatabaseURL) as info:
        await connect(url)
    message = str(info.value)
    assert "malformed" in message and "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" in message
    assert SECRET not in message
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


@pytest.mark.asyncio
async def test_sslmode_in_the_dsn_is_respected(settings: DatabaseConfig) -> None:
    """The kit turns SSL off for loopback hosts only when the DSN does not ask for it."""
    with pytest.raises(DatabaseUnavailable, match="SSL"):
        await connect(settings.url + "?sslmode=require")


@pytest.mark.asyncio
async def test_pool_shares_the_settings_and_the_errors(settings: DatabaseConfig) -> None:
    pool = await create_pool(settings.url, min_size=1, max_size=2)
    try:
        assert await pool.fetchval("SHOW application_name") == APPLICATION_NAME
    finally:
        await pool.close()
    with pytest.raises(DatabaseUnavailable, match="rejected the password"):
        await create_pool(dataclasses.replace(settings, password=SECRET).url)


# --- ConnectionManager ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_manager_hands_out_new_connections_and_closes_them_all(
    settings: DatabaseConfig, observer: asyncpg.Connection
) -> None:
    manager = ConnectionManager(settings.url)
    first, second = await asyncio.gather(manager.get_connection(), manager.get_connection())
    third = await manager.get_connection()
    pids = [c.get_server_pid() for c in (first, second, third)]
    assert len(set(pids)) == 3 and manager.open_connections == 3
    assert await _alive(observer, pids) == 3

    await second.close()  # a caller may close what it got (the analyzer does)
    assert manager.open_connections == 2

    assert await manager.close_all_connections() == 2
    assert manager.open_connections == 0
    assert all(c.is_closed() for c in (first, second, third))
    assert await _alive(observer, pids) == 0


@pytest.mark.asyncio
async def test_manager_as_async_context_manager(settings: DatabaseConfig, observer: asyncpg.Connection) -> None:
    async with ConnectionManager(settings.url) as manager:
        conn = await manager.get_connection()
        assert await conn.fetchval("SELECT 41 + 1") == 42
    assert conn.is_closed() and manager.open_connections == 0
    assert await _alive(observer, [conn.get_server_pid()]) == 0


@pytest.mark.asyncio
async def test_manager_repr_masks_the_password(settings: DatabaseConfig) -> None:
    manager = ConnectionManager(dataclasses.replace(settings, password=SECRET).url)
    assert SECRET not in repr(manager) and "***" in repr(manager)
    assert manager.database_url.count(SECRET) == 1
