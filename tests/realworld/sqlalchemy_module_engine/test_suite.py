"""An SQLAlchemy async engine created at import time, used by tests that each run on their own loop.

Source: https://github.com/pytest-dev/pytest-asyncio/issues/402 (three identical tests, asyncio_mode=auto;
"attached to a different loop", then "another operation is in progress"). The engine binds to the first
test's loop through its pooled connection.
"""

import os

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql import text

engine = create_async_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1))


async def test_echo():
    async with engine.begin() as conn:
        r = await conn.execute(text("SELECT 'hello' as echo"))
        assert r.scalar() == "hello"


async def test_echo2():
    async with engine.begin() as conn:
        r = await conn.execute(text("SELECT 'hello' as echo"))
        assert r.scalar() == "hello"


async def test_echo3():
    async with engine.begin() as conn:
        r = await conn.execute(text("SELECT 'hello' as echo"))
        assert r.scalar() == "hello"
