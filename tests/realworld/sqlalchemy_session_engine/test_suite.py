"""A session-scoped SQLAlchemy async engine shared by function-scoped async fixtures and tests.

Source: https://github.com/sqlalchemy/sqlalchemy/issues/5626 (the maintainer's reproduction: a session
``engine`` fixture, a per-test ``create`` fixture making the schema, a per-test ``AsyncSession``). The
pooled connection opened on the first test's loop is reused on the next test's loop.
"""

import os

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)

Base = orm.declarative_base()


class Country(Base):
    __tablename__ = "realworld_country_5626"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.Text)


@pytest.fixture(scope="session")
def engine():
    engine = create_async_engine(URL)
    yield engine
    engine.sync_engine.dispose()


@pytest_asyncio.fixture()
async def create(engine):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)


@pytest_asyncio.fixture
async def session(engine, create):
    async with AsyncSession(engine) as session:
        yield session


@pytest.mark.asyncio
async def test_one(session):
    c = Country(name="foo")
    session.add(c)
    await session.commit()
    assert len((await session.execute(sa.select(Country))).scalars().all()) == 1


@pytest.mark.asyncio
async def test_two(session):
    session.add(Country(name="bar"))
    await session.commit()
    assert len((await session.execute(sa.select(Country))).scalars().all()) == 1


@pytest.mark.asyncio
async def test_three(session):
    assert (await session.execute(sa.select(sa.func.count()).select_from(Country))).scalar() == 0
