"""A session-scoped aiohttp session reached only through a closure: a session fixture returns a request helper.

Source: https://github.com/pytest-dev/pytest-asyncio/issues/762 (``RuntimeError: "Timeout context manager
should be used inside a task"`` with pytest-asyncio 0.23). The test gets ``inner``, whose closure holds
the ``ClientSession`` of the session loop. The report's settings and HTTPResponse type are cut down to a
local URL (REALWORLD_HTTP_URL) and a tuple.
"""

import os
from collections.abc import AsyncGenerator, Callable
from typing import Literal

import aiohttp
import pytest
import pytest_asyncio

URL = os.environ["REALWORLD_HTTP_URL"]


@pytest_asyncio.fixture(scope="session")
async def session() -> AsyncGenerator:
    session = aiohttp.ClientSession()
    yield session
    await session.close()


@pytest_asyncio.fixture(scope="session")
async def make_request(session: aiohttp.ClientSession) -> Callable:
    async def inner(
        url: str,
        params: dict | None = None,
        headers: dict | None = None,
        http_method: Literal["get", "post", "patch", "put"] = "get",
    ) -> tuple:
        params = params or {}
        headers = headers or {}
        full_url = f"{URL}app/gantt/api/{url}"
        async with getattr(session, http_method)(full_url, params=params, headers=headers) as response:
            return response.status, await response.text()

    return inner


@pytest.mark.asyncio()
async def test_some(make_request):
    response = await make_request(url="some_url", http_method="get")
    assert response[0] == 200


@pytest.mark.asyncio()
async def test_other(make_request):
    response = await make_request(url="other_url", http_method="get")
    assert response[0] == 200
