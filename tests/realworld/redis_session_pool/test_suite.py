"""A session-scoped redis.asyncio ``ConnectionPool`` behind a per-test client, tests on their own loops.

Source: https://github.com/redis/redis-py/issues/3048 ("Unable to run more than one async test using
Pytest": the first test passes, the rest fail with "got Future ... attached to a different loop"). The
report's redis://localhost is the test set-up's own redis-server, given by REALWORLD_REDIS_URL.
"""

import os

import pytest
import redis.asyncio as redis


@pytest.fixture(scope="session")
def redis_pool() -> redis.ConnectionPool:
    return redis.ConnectionPool.from_url(os.environ["REALWORLD_REDIS_URL"])


@pytest.fixture
def redis_client(redis_pool: redis.ConnectionPool) -> redis.Redis:
    return redis.Redis(connection_pool=redis_pool)


@pytest.mark.parametrize("value", ["foo", "bar", "baz", "one", "two", "three"])
async def test_redis(value: str, redis_client: redis.Redis) -> None:
    await redis_client.set("test_key", value)
    assert await redis_client.get("test_key") == value.encode("utf-8")
