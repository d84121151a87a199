"""Sample answers to the exercise of notebook 03 (kit.course.exercises.nb03)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from kit.course.exercises.nb03 import KEY
from kit.db.connections import connect

# --- sample answers ---------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def _right(database_config: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_config)
    try:
        await conn.fetchval("SELECT 1")
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="session")
async def _session_scoped(database_config: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_config)
    yield conn
    await conn.close()


@pytest_asyncio.fixture
async def _returns(database_config: str) -> asyncpg.Connection:
    return await connect(database_config)


@pytest_asyncio.fixture
async def _create_task_close(database_config: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_config)
    yield conn
    asyncio.create_task(conn.close())


@pytest_asyncio.fixture
async def _close_not_awaited(database_config: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_config)
    yield conn
    coroutine = conn.close()  # created, never awaited
    coroutine.close()  # (silences "never awaited" in this sample)


@pytest.fixture
async def _plain_pytest_fixture(database_config: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_config)
    yield conn
    await conn.close()


CASES = {
    KEY: {
        "right": [_right],
        "wrong": [
            (..., "set answer = test_connection"),
            (_session_scoped, "scope='session'"),
            (_returns, "never closed"),
            (_create_task_close, "only schedules the close"),
            (_close_not_awaited, "is the close awaited"),
            (_plain_pytest_fixture, "@pytest.fixture on an async def"),
        ],
    }
}
