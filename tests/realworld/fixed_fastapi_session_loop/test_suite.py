"""The same suite, fixed without touching the app: fixtures and tests all run on the session loop (pytest.ini).

Sources: https://github.com/Kludex/starlette/issues/1315 (the app) and FastAPI's "Async Tests" recipe, as in
https://github.com/fastapi/fastapi/issues/4100 (spacemanspiff2007: a fresh AsyncClient per test from a
function-scoped fixture, tests marked @pytest.mark.asyncio). With both ini defaults set to session, the
engine's connection and every test share one loop: the fix that works when the engine is a global.
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
