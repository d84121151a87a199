"""An httpx AsyncClient over a FastAPI app whose engine is created at import time (shop_app.py).

Sources: https://github.com/Kludex/starlette/issues/1315 (the app) and FastAPI's "Async Tests" recipe, as in
https://github.com/fastapi/fastapi/issues/4100 (spacemanspiff2007: a fresh AsyncClient per test from a
function-scoped fixture, tests marked @pytest.mark.asyncio). The first test binds the engine's pooled
connection to its loop; the next ones fail with "attached to a different loop".
"""

import httpx
import pytest
import pytest_asyncio
from shop_app import app


@pytest_asyncio.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.mark.asyncio
async def test_answer(client):
    assert (await client.get("/answer")).json() == {"answer": 42}


@pytest.mark.asyncio
async def test_answer_again(client):
    assert (await client.get("/answer")).json() == {"answer": 42}


@pytest.mark.asyncio
async def test_answer_once_more(client):
    assert (await client.get("/answer")).json() == {"answer": 42}
