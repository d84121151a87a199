"""A session-scoped psycopg_pool ``AsyncConnectionPool``, used by tests on their own loops.

Source: https://github.com/semiotic-ai/autoagora/pull/94 ("Changed asyncpg to psycopg3"), the test fixture
of tests/test_model_builder.py: ``AsyncConnectionPool(conn_string, min_size=2, max_size=10, open=False)``,
``await pool.open()``, ``await pool.wait()``. Cut down: the fixture is session-scoped and yields the pool (the
review asked for the missing ``yield``), its conninfo is the kit's PostgreSQL (DATABASE_URL), and the pool
gives up after 2 s instead of 30. A test that holds three connections at once waits for the pool's workers to
open the third, but they run on the session loop, which does not run while a test does: ``PoolTimeout``
(with the audit's fix applied, tests/corpus/test_realworld.py's pool-and-tests-on-its-loop, the pool grows on the
session loop and the same test passes).
"""

import asyncio
import os

import psycopg_pool
import pytest_asyncio


@pytest_asyncio.fixture(scope="session")
async def pgpool():
    conn_string = os.environ["DATABASE_URL"]
    pool = psycopg_pool.AsyncConnectionPool(conn_string, min_size=2, max_size=10, open=False, timeout=2)
    await pool.open()
    await pool.wait()
    yield pool
    await pool.close()


async def _query(pool, n):
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT %s::int, pg_sleep(2.5)", (n,))
        return (await cursor.fetchone())[0]


async def test_one_query(pgpool):
    assert await _query(pgpool, 1) == 1


async def test_three_queries_at_once(pgpool):
    assert await asyncio.gather(*(_query(pgpool, n) for n in range(3))) == [0, 1, 2]
