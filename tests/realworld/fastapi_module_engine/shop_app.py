"""The app under test: engine, sessionmaker and session dependency at module level, as in the source thread.

Source: https://github.com/Kludex/starlette/issues/1315 (LuisLuii's comment, 2022-01-08: a module-level
create_async_engine + sessionmaker + get_session dependency, "attached to a different loop" under test). The
query is cut down to one SELECT.
"""

import os

from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1))
async_session = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
app = FastAPI()


async def get_session():
    async with async_session() as session:
        yield session


@app.get("/answer")
async def answer(session: AsyncSession = Depends(get_session)):
    return {"answer": (await session.execute(text("SELECT 40 + 2"))).scalar_one()}
