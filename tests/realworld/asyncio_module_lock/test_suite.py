"""An ``asyncio.Lock`` created at module level and taken by code that several tests call, each on its own loop.

Source: https://github.com/Kludex/starlette/issues/1315 (utkarshgupta137's comment: the "attached to a
different loop" errors came from "creating asyncio.Lock or similar objects at the module level"). The app
code is cut down to one helper that refreshes a cached token under the lock; since Python 3.10 the lock
binds to the loop of its first contended use.
"""

import asyncio

lock = asyncio.Lock()
_token = {}


async def get_token():
    async with lock:
        await asyncio.sleep(0)  # the refresh call the app made
        _token.setdefault("value", "t-1")
        return _token["value"]


async def test_token():
    assert await asyncio.gather(get_token(), get_token()) == ["t-1", "t-1"]


async def test_token_again():
    assert await asyncio.gather(get_token(), get_token()) == ["t-1", "t-1"]
