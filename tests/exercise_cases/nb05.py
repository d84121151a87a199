"""Sample answers to the exercise of notebook 05 (kit.course.exercises.nb05)."""

from __future__ import annotations

from typing import Any

import pytest

from kit.course.exercises.nb05 import KEY

# --- sample answers ---------------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="session")
async def _right(db: Any) -> None:
    assert await db.fetchval("SELECT 1") == 1


@pytest.mark.asyncio
async def _bare(db: Any) -> None:
    assert await db.fetchval("SELECT 1") == 1


@pytest.mark.asyncio(scope="session")
async def _old_spelling(db: Any) -> None:
    assert await db.fetchval("SELECT 1") == 1


@pytest.mark.asyncio(loop_scope="module")
async def _module_loop(db: Any) -> None:
    assert await db.fetchval("SELECT 1") == 1


async def _unmarked(db: Any) -> None:
    assert await db.fetchval("SELECT 1") == 1


@pytest.mark.asyncio(loop_scope="session")
async def _without_db() -> None:
    pass


CASES = {
    KEY: {
        "right": [_right],
        "wrong": [
            (..., "set answer = test_on_the_session_loop"),
            (_bare, "a bare @pytest.mark.asyncio"),
            (_old_spelling, "0.23 spelling"),
            (_module_loop, 'loop_scope="module"'),
            (_unmarked, "has no asyncio marker"),
            (_without_db, "does not take the db fixture"),
        ],
    }
}
