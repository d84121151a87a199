"""A module-level client object that connects to Redis lazily and keeps the connection.

Source: https://github.com/pytest-dev/pytest-asyncio/issues/413 ("`Event loop is closed` in second test with
aioredis connection"). aioredis 2 became redis.asyncio, whose ``from_url`` is the same call; the report's
redis://127.0.0.1 is the test set-up's own redis-server (REALWORLD_REDIS_URL).
"""

import os

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


client = Client()


async def test_get():
    await client.get()


async def test_get2():
    await client.get()
