"""The client of pytest-asyncio#413, fixed as its reporter did: a function-scoped fixture gives each test its own.

Source: https://github.com/pytest-dev/pytest-asyncio/issues/413 (the reporter's "temporally solve this by
adding function fixture"), with the client closed at the end of each test.
"""

import os

import pytest_asyncio
import redis.asyncio as aioredis


class Client:
    def __init__(self):
        self._redis_conn = None

    async def _set_redis(self):
        if self._redis_conn is None:
            self._redis_conn = await aioredis.from_url(os.environ["REALWORLD_REDIS_URL"])

    async def get(self):
        await self._set_redis()
        return await self._redis_conn.get(b"key")


@pytest_asyncio.fixture
async def client():
    client = Client()
    yield client
    if client._redis_conn is not None:
        await client._redis_conn.aclose()


async def test_get(client):
    await client.get()


async def test_get2(client):
    await client.get()
