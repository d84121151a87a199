"""The session-scoped aiohttp client of pytest-asyncio#868, fixed as the maintainer advised there: the
fixture and the tests share the session loop (``loop_scope="session"`` on both).

Source: https://github.com/pytest-dev/pytest-asyncio/issues/868 (seifertm's answer: the test and the fixture
ran in different event loops).
"""

import os

import aiohttp
import pytest
import pytest_asyncio

URL = os.environ["REALWORLD_HTTP_URL"]

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_the_client(client: aiohttp.ClientSession):
    async with client.get(URL + "foobar") as response:
        assert response.status == 200


async def test_the_client_again(client: aiohttp.ClientSession):
    async with client.get(URL + "foobar") as response:
        assert response.status == 200
