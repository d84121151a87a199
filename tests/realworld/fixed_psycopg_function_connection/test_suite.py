"""A psycopg ``AsyncConnection`` per test, from a function-scoped async fixture.

Source: https://github.com/dbfixtures/pytest-postgresql/issues/646 ("Support for asynchronous cursors"), the
reporter's ``postgresql_factory``: an async function-scoped fixture that opens
``psycopg.AsyncConnection.connect(...)``, yields it and closes it. Cut down: no DatabaseJanitor (the kit's
PostgreSQL, given by DATABASE_URL, is the database) and the connection made from one conninfo string.
"""

import os

import psycopg
import pytest


@pytest.fixture
async def postgresql():
    db_connection = await psycopg.AsyncConnection.connect(os.environ["DATABASE_URL"])
    yield db_connection
    await db_connection.close()


async def test_async_cursor(postgresql):
    async with postgresql.cursor() as cursor:
        await cursor.execute("SELECT 1")
        assert await cursor.fetchone() == (1,)


async def test_again(postgresql):
    cursor = await postgresql.execute("SELECT 2")
    assert await cursor.fetchone() == (2,)
