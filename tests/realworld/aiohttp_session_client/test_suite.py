"""A session-scoped aiohttp ``ClientSession`` fixture, used by tests on their own function loops.

Source: https://github.com/pytest-dev/pytest-asyncio/issues/868 ("pytest-asyncio unusable with code using
aiohttp": asyncio_mode=auto, ``RuntimeError: Timeout context manager should be used inside a task``). The
server the report called (localhost:8080) is a local one here, given by REALWORLD_HTTP_URL.
"""

import os

import aiohttp
import pytest

URL = os.environ["REALWORLD_HTTP_URL"]


@pytest.fixture(scope="session")
async def client():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_the_client(client: aiohttp.ClientSession):
    await client.get(URL + "foobar")


async def test_the_client_again(client: aiohttp.ClientSession):
    await client.get(URL + "foobar")
