"""A ``databases.Database`` connected and disconnected by a function-scoped fixture: each test on its own loop.

Source: https://github.com/fastapi/fastapi/issues/2819 ("How to close the mysql connection before event loop
is closed?"), the fixture frankie567 suggested and the reporter confirmed working:
``await database.connect(); yield database; await database.disconnect()``. Cut down: PostgreSQL (the kit's,
given by DATABASE_URL) instead of MySQL, and the database made inside the fixture.
"""

import os

import databases
import pytest


@pytest.fixture
async def test_database():
    database = databases.Database(os.environ["DATABASE_URL"])
    await database.connect()
    yield database
    await database.disconnect()


async def test_insert_and_read(test_database):
    assert await test_database.fetch_val("SELECT 1") == 1


async def test_again(test_database):
    assert await test_database.fetch_val("SELECT 2") == 2
