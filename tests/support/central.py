"""A room's central PostgreSQL in the tests: the kit's own server (or another), its superuser, and an admin that is none.

Shared by tests/test_learners.py, tests/test_room.py, tests/test_debian_postgres.py and tests/hub/. ``superuser``
is a superuser's URL; by default the kit's own server's ($DATABASE_URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator

import asyncpg

from kit.db.config import DatabaseConfig
from kit.db.learners import database_name
from kit.db.room import room_database


def superuser_sql(*statements: str, superuser: str | None = None) -> list[object]:
    """Run each statement as the superuser on its own; return each first value."""

    async def run() -> list[object]:
        conn = await asyncpg.connect(superuser or os.environ["DATABASE_URL"], ssl=False)
        try:
            return [await conn.fetchval(sql) for sql in statements]
        finally:
            await conn.close()

    return asyncio.run(run())


def drop_learners(learners: Iterable[str], rooms: Iterable[str] = (), *, superuser: str | None = None) -> None:
    """Drop the learners' databases and roles, and the rooms' databases (as the superuser)."""
    names = [database_name(who) for who in learners]
    superuser_sql(
        *[f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in [*names, *map(room_database, rooms)]],
        *[f'DROP ROLE IF EXISTS "{name}"' for name in names],
        superuser=superuser,
    )


@contextlib.contextmanager
def limited_admin(
    learners: Iterable[str] = (), rooms: Iterable[str] = (), *, superuser: str | None = None
) -> Iterator[tuple[str, str, str]]:
    """A role with LOGIN CREATEROLE CREATEDB and no SUPERUSER, as docs/deploying.md tells an admin to make.

    Yields (role, its URL on the superuser's server, its password); afterwards drops ``learners``' databases and roles,
    ``rooms``' databases, and the role.
    """
    role, password = f"looplab_admin_{os.getpid()}", secrets.token_hex(12)
    superuser_sql(f"CREATE ROLE {role} LOGIN CREATEROLE CREATEDB PASSWORD '{password}'", superuser=superuser)
    config = DatabaseConfig.from_url(superuser or os.environ["DATABASE_URL"])
    try:
        yield role, f"postgresql://{role}:{password}@{config.host}:{config.port}/postgres", password
    finally:
        drop_learners(learners, rooms, superuser=superuser)
        superuser_sql(f"DROP ROLE IF EXISTS {role}", superuser=superuser)
