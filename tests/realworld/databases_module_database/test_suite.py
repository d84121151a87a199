"""A ``databases.Database`` made at import time, connected once for the session, used by tests on their own loops.

Source: https://github.com/encode/databases/issues/364 ("pytest -- AssertionError: DatabaseBackend is not
running"): db.py makes ``database = databases.Database(DB_URI, min_size=5, max_size=20)`` and main.py connects
it in the app's startup handler and disconnects it at shutdown. Cut down: the handlers' bodies run in a
session-scoped autouse fixture (the app starts once per session); the reporter's query of devices is a
``SELECT`` of constants; DB_URI is the kit's PostgreSQL, given by DATABASE_URL.
"""

import os

import databases
import pytest_asyncio

database = databases.Database(os.environ["DATABASE_URL"], min_size=5, max_size=20)


@pytest_asyncio.fixture(scope="session", autouse=True)
async def startup():
    await database.connect()
    yield
    await database.disconnect()


async def test_read_devices():
    rows = await database.fetch_all("SELECT 'sn1' AS sn UNION ALL SELECT 'sn2'")
    assert [row["sn"] for row in rows] == ["sn1", "sn2"]


async def test_read_device():
    assert await database.fetch_val("SELECT 'sn3'") == "sn3"
