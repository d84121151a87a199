"""The session engine of sqlalchemy#5626, fixed by sharing one loop: the engine, the per-test fixtures and the
tests all run on the session loop, and each test's session rolls back an outer transaction.

Sources: https://github.com/sqlalchemy/sqlalchemy/issues/5626 (the suite) and
https://github.com/sqlalchemy/sqlalchemy/pull/13473 (a testing recipe proposed for the docs: a session-scoped engine,
a per-test ``AsyncSession`` joined to an outer transaction with ``join_transaction_mode="create_savepoint"``),
with the loop scopes pytest-asyncio >= 0.24 needs for it (https://github.com/pytest-dev/pytest-asyncio/issues/706).
"""

import os

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)

Base = orm.declarative_base()

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Country(Base):
    __tablename__ = "realworld_country_13473"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.Text)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine():
    engine = create_async_engine(URL)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def session(engine):
    async with engine.connect() as conn:
        outer = await conn.begin()
        async with AsyncSession(bind=conn, join_transaction_mode="create_savepoint") as session:
            yield session
        await outer.rollback()


async def test_one(session):
    session.add(Country(name="foo"))
    await session.commit()
    assert len((await session.execute(sa.select(Country))).scalars().all()) == 1


async def test_two(session):
    session.add(Country(name="bar"))
    await session.commit()
    assert len((await session.execute(sa.select(Country))).scalars().all()) == 1


async def test_three(session):
    assert (await session.execute(sa.select(sa.func.count()).select_from(Country))).scalar() == 0
