"""Loop affinity (kit.diagnose.affinity) on real objects created on real event loops: asyncio's own, asyncpg and
SQLAlchemy over the kit's PostgreSQL, aiohttp and httpx against a local aiohttp server, redis.asyncio against a
real redis-server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterator

import aiohttp
import asyncpg
import databases
import httpx
import psycopg
import psycopg_pool
import pytest
import redis.asyncio
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from kit.diagnose.affinity import bindable_objects, bound_objects, describe, held_objects, loop_of, makes_bindable
from tests.support.redis_server import redis_server


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop, not running: each test drives it with run_until_complete."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def dsn() -> str:
    """The kit's PostgreSQL (tests/conftest.py started it)."""
    return os.environ["DATABASE_URL"]


@pytest.fixture
def sa_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
def web_url(loop: asyncio.AbstractEventLoop) -> Iterator[str]:
    """A local aiohttp server on 127.0.0.1, served by ``loop``."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"
    loop.run_until_complete(runner.cleanup())


def test_futures_tasks_and_primitives(loop):
    async def make():
        future = loop.create_future()
        lock, event, semaphore, condition, queue = (
            asyncio.Lock(),
            asyncio.Event(),
            asyncio.Semaphore(0),
            asyncio.Condition(),
            asyncio.Queue(),
        )
        unbound = (asyncio.Lock(), asyncio.Queue())
        await lock.acquire()

        async def wait_on_condition():
            async with condition:
                await condition.wait()

        coros = (lock.acquire(), event.wait(), semaphore.acquire(), queue.get(), wait_on_condition())
        waiters = [asyncio.ensure_future(c) for c in coros]
        await asyncio.sleep(0)
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        return future, waiters[0], (lock, event, semaphore, condition, queue), unbound

    future, task, primitives, unbound = loop.run_until_complete(make())
    assert loop_of(future) is loop
    for obj in primitives:
        assert loop_of(obj) is loop, obj  # bound on first contended use
    assert [loop_of(obj) for obj in unbound] == [None, None]  # never contended: bound to no loop yet
    assert loop_of(task) is None  # done: nothing left to protect
    future.set_result(1)
    assert loop_of(future) is None


def test_transports_and_streams(loop):
    async def make():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        return server, reader, writer

    server, reader, writer = loop.run_until_complete(make())
    assert loop_of(reader) is loop and loop_of(writer) is loop and loop_of(writer.transport) is loop
    writer.close()
    server.close()
    loop.run_until_complete(server.wait_closed())
    assert loop_of(writer) is None and loop_of(writer.transport) is None


class _Holder:
    def __init__(self, inner: object) -> None:
        self.inner = inner


_LATEST: dict[str, object] = {}


@functools.cache
def _cached() -> _Holder:
    return _Holder(_LATEST["service"])


@functools.lru_cache(maxsize=4)
def _cached_limited(n: int) -> dict[str, list[object]]:
    return {"svc": [_LATEST["service"]]}


def test_generic_fallback_walks_attributes_containers_closures_and_caches(loop):
    class Service:
        def __init__(self) -> None:
            self.loop = asyncio.get_running_loop()

    service = loop.run_until_complete(_call(Service))
    assert loop_of(service) is loop  # an attribute holding an AbstractEventLoop binds the object

    def factory():
        return service

    # module-level functions, so that only their caches (not a closure) reach the service
    assert loop_of(_cached) is None  # nothing cached yet
    _LATEST["service"] = service
    _cached_limited(1)
    _cached()
    for obj in (factory, _cached_limited, _cached, _Holder({"a": (1, [service])})):
        assert loop_of(obj) is loop, obj
    paths = {found.path for found in bound_objects(_Holder({"a": (1, [service])}), "value")}
    assert paths == {"value.inner['a'][1][0]"}
    assert [f.path for f in bound_objects(factory, "factory")] == ["factory.__closure__[0].cell_contents"]
    assert [f.path for f in bound_objects(_cached, "cached")] == ["cached.cache[()].inner"]
    assert [f.path for f in bound_objects(_cached_limited, "cached")] == ["cached.cache[1]['svc'][0]"]


def test_the_walk_is_bounded(loop):
    service = loop.run_until_complete(_call(lambda: _Holder(asyncio.get_running_loop())))
    chain: object = service
    for _ in range(50):
        chain = _Holder(chain)
    assert loop_of(chain) is loop
    assert list(bound_objects(chain, "chain", limit=20)) == []  # 51 objects deep, 20 visited
    assert loop_of(asyncio) is None and loop_of(loop) is None  # modules and loops are never looked into


class _NoRepr:
    def __repr__(self) -> str:
        raise RuntimeError("a key whose repr fails")


def test_the_walk_runs_no_user_repr(loop):
    service = loop.run_until_complete(_call(lambda: _Holder(asyncio.get_running_loop())))
    value = {("k", _NoRepr()): service, _NoRepr(): [service]}
    assert [found.path for found in bound_objects(value, "value")] == ["value[<tuple>]"]  # seen once, by id
    assert [found.path for found in bound_objects({("a", 1): [service]}, "v")] == ["v[('a', 1)][0]"]


def test_asyncpg_pools_and_connections(loop, dsn):
    async def make():
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        conn = await asyncpg.connect(dsn)
        proxy = await pool.acquire()
        return pool, conn, proxy

    pool, conn, proxy = loop.run_until_complete(make())
    assert loop_of(pool) is loop and loop_of(conn) is loop and loop_of(proxy) is loop
    assert [describe(o) for o in (pool, conn, proxy)] == ["asyncpg Pool", "asyncpg Connection", "asyncpg pooled Connection"]
    loop.run_until_complete(pool.release(proxy))
    loop.run_until_complete(conn.close())
    loop.run_until_complete(pool.close())
    assert loop_of(pool) is None and loop_of(conn) is None


def test_sqlalchemy_engine_connection_session_and_sessionmaker(loop, sa_url):
    engine = create_async_engine(sa_url)
    assert loop_of(engine) is None  # created at import time, say: no connection yet, no loop

    async def use():
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checked_out = await engine.connect()
        await checked_out.execute(sa.text("SELECT 1"))
        session = AsyncSession(engine)
        await session.execute(sa.text("SELECT 1"))
        return checked_out, session

    checked_out, session = loop.run_until_complete(use())
    session_found = next(bound_objects(session, "session"))
    assert loop_of(checked_out) is loop and session_found.loop is loop
    assert "_transaction._connections" in session_found.path  # its checked-out connection (the engine has no idle one)
    assert loop_of(engine) is None
    loop.run_until_complete(session.close())
    assert loop_of(engine) is loop  # its idle pooled connection, down to the asyncpg Connection
    (found,) = list(bound_objects(engine, "engine"))
    assert isinstance(found.obj, asyncpg.Connection)
    assert found.path == "engine.sync_engine.pool._pool._queue._queue[0].dbapi_connection._connection"
    assert found.named() == ("engine", engine) and describe(engine) == "SQLAlchemy AsyncEngine"
    assert loop_of(async_sessionmaker(engine)) is loop  # through the engine it binds
    assert ".sync_engine" in [suffix for suffix, _ in held_objects(engine)]

    loop.run_until_complete(checked_out.close())
    loop.run_until_complete(engine.dispose())
    assert loop_of(engine) is None and loop_of(checked_out) is None


def test_sqlalchemy_null_pool_is_loop_free(loop, sa_url):
    engine = create_async_engine(sa_url, poolclass=NullPool)

    async def use():
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    loop.run_until_complete(use())
    assert loop_of(engine) is None  # nothing kept between uses: the classic fix
    loop.run_until_complete(engine.dispose())


def test_aiohttp_session_and_connector(loop, web_url):
    async def make():
        session = aiohttp.ClientSession()
        async with session.get(web_url) as response:
            assert await response.text() == "ok"
        return session

    session = loop.run_until_complete(make())
    assert loop_of(session) is loop and loop_of(session.connector) is loop
    assert describe(session) == "aiohttp ClientSession"
    loop.run_until_complete(session.close())
    assert loop_of(session) is None


def test_httpx_client_is_bound_through_its_pooled_connections(loop, web_url):
    client = httpx.AsyncClient()
    assert loop_of(client) is None  # httpx connects lazily

    async def use():
        assert (await client.get(web_url)).text == "ok"

    loop.run_until_complete(use())
    found = next(bound_objects(client, "client"))
    assert found.loop is loop and found.named() == ("client", client)
    assert found.path.startswith("client._transport._pool._connections[0]")
    loop.run_until_complete(client.aclose())
    assert loop_of(client) is None


def test_databases_database_is_bound_through_its_backend_pool(loop, dsn):
    database = databases.Database(dsn, min_size=1, max_size=2)
    assert loop_of(database) is None  # not connected yet
    assert makes_bindable(databases.Database) == "databases Database"

    async def use():
        await database.connect()
        assert await database.fetch_val("SELECT 1") == 1

    loop.run_until_complete(use())
    found = next(bound_objects(database, "database"))
    assert found.loop is loop and found.named() == ("database", database) and describe(database) == "databases Database"
    assert isinstance(found.obj, asyncpg.Pool) and found.path == "database._backend._pool"
    loop.run_until_complete(database.disconnect())
    assert loop_of(database) is None


def test_psycopg_connection_is_bound_to_no_loop(loop, dsn):
    conn = loop.run_until_complete(psycopg.AsyncConnection.connect(dsn))
    assert loop_of(conn) is None and makes_bindable(psycopg.AsyncConnection) is None
    other = asyncio.new_event_loop()
    try:  # what the adapter says, shown: the same connection answers on another loop
        assert other.run_until_complete(_fetch(conn, "SELECT 2")) == (2,)
    finally:
        other.close()
    assert list(bindable_objects({"conn": conn}, "value")) == []  # the audit finds nothing to warn about
    loop.run_until_complete(conn.close())


def test_psycopg_pool_is_bound_to_the_loop_of_its_workers(loop, dsn):
    pool = psycopg_pool.AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False)
    assert loop_of(pool) is None and makes_bindable(psycopg_pool.AsyncConnectionPool) == "psycopg_pool AsyncConnectionPool"
    assert [path for path, _ in bindable_objects(pool, "pool")] == ["pool"]  # before open(): it will keep connections
    loop.run_until_complete(pool.open(wait=True))
    found = next(bound_objects(pool, "pool"))
    assert found.loop is loop and found.path == "pool" and describe(pool) == "psycopg_pool AsyncConnectionPool"
    loop.run_until_complete(pool.close())
    assert loop_of(pool) is None


async def _fetch(conn, query):
    cursor = await conn.execute(query)
    return await cursor.fetchone()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_redis_client_pool_and_connection(loop, redis_url):
    client = redis.asyncio.Redis.from_url(redis_url)
    assert loop_of(client) is None  # connects lazily

    async def use():
        await client.set("affinity", "1")
        assert await client.get("affinity") == b"1"

    loop.run_until_complete(use())
    found = next(bound_objects(client, "client"))
    assert found.loop is loop and found.named() == ("client", client) and describe(client) == "redis Redis client"
    assert found.path == "client.connection_pool._available_connections[0]"
    assert loop_of(client.connection_pool) is loop
    loop.run_until_complete(client.aclose())
    assert loop_of(client) is None  # its pool disconnected every connection


async def _call(factory):
    return factory()
