"""A room's shared database on the central server: the instructor's live view of who passed which exercise.

Opt-in per room (``LOOP_LAB_ROOM``). The room's database holds two tables, owned by the admin role:

* ``learners (role, name)``: the hub's user name of each learner role, written by the admin when it admits one;
* ``checks (learner, exercise, ok, at)``: one row per ``check()``. A learner role may only ``INSERT`` the
  ``exercise`` and ``ok`` columns; ``learner`` (``current_user``) and ``at`` (``now()``) are the server's
  defaults, so nobody can record for someone else, and no learner can read anything back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from kit.db.config import OWNED_COMMENT, DatabaseConfig
from kit.db.connections import connect
from kit.db.learners import admin_connection, advisory_lock, ident
from kit.errors import ConfigError, RoomError

ROOM_ENV = "LOOP_LAB_ROOM"
_PREFIX = "loop_room_"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS learners (role name PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS checks (
    learner name NOT NULL DEFAULT current_user,
    exercise text NOT NULL CHECK (length(exercise) <= 100),
    ok boolean NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS checks_by_learner ON checks (learner, exercise, at);
REVOKE ALL ON learners, checks FROM PUBLIC;
"""
_REGISTER = "INSERT INTO learners (role, name) VALUES ($1, $2) ON CONFLICT (role) DO UPDATE SET name = excluded.name"
_LOCK_KEY = 0x100B1AC  # opening a room and admitting learners, one at a time


class Check(NamedTuple):
    """One recorded ``check()``: who (the hub's user name), which exercise, passed or not, when."""

    learner: str
    exercise: str
    ok: bool
    at: datetime


def room_database(room: str) -> str:
    """The database name of room ``room``: ``loop_room_`` plus its name in safe characters plus a hash."""
    if not room.strip():
        raise ConfigError(f"{ROOM_ENV} is empty. Set it to the room's name (such as workshop-2026-03), or unset it.")
    readable = re.sub(r"[^a-z0-9]+", "_", room.lower()).strip("_")[:40] or "room"
    return f"{_PREFIX}{readable}_{hashlib.sha256(room.encode()).hexdigest()[:8]}"


def _on(config: DatabaseConfig, database: str) -> str:
    return replace(config, database=database).url


async def admit(admin_url: str, room: str, role: str, learner: str) -> None:
    """Open room ``room`` if needed and let learner role ``role`` (the hub's user ``learner``) insert its own checks.

    Run as the admin, under an advisory lock (many spawns at once): creates the room's database and tables
    when missing, then grants ``role`` CONNECT, and INSERT on the ``exercise`` and ``ok`` columns of ``checks``.
    """
    name = ident(room_database(room))
    conn = await admin_connection(admin_url)
    try:
        async with advisory_lock(conn, _LOCK_KEY):
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", room_database(room)):
                await conn.execute(f"CREATE DATABASE {name}")
                await conn.execute(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
                await conn.execute(f"COMMENT ON DATABASE {name} IS 'loop-lab room: {OWNED_COMMENT}'")
            await conn.execute(f"GRANT CONNECT ON DATABASE {name} TO {ident(role)}")
            inside = await admin_connection(admin_url, room_database(room))
            try:
                await inside.execute(_SCHEMA)
                await inside.execute(f"GRANT USAGE ON SCHEMA public TO {ident(role)}")
                await inside.execute(f"GRANT INSERT (exercise, ok) ON checks TO {ident(role)}")
                await inside.execute(_REGISTER, role, learner)
            finally:
                await inside.close()
    finally:
        await conn.close()


async def record(learner_url: str, room: str, exercise: str, ok: bool) -> None:
    """Insert one check into room ``room`` as the learner of ``learner_url`` (the learner's own role)."""
    learner = DatabaseConfig.from_url(learner_url)
    conn = await connect(_on(learner, room_database(room)))
    try:
        await conn.execute("INSERT INTO checks (exercise, ok) VALUES ($1, $2)", exercise, ok)
    except asyncpg.PostgresError as exc:
        raise RoomError(
            f"{learner.user!r} may not record in room {room!r} ({exc}); the hub admits learners when it spawns their "
            f"server with {ROOM_ENV} in c.Spawner.environment (or: python -m kit room provision --room {room} NAME)."
        ) from None
    finally:
        await conn.close()


async def checks(admin_url: str, room: str) -> list[Check]:
    """Every check recorded in room ``room``, oldest first (read as the admin)."""
    conn = await admin_connection(admin_url, room_database(room))
    try:
        rows: list[Any] = await conn.fetch(
            "SELECT coalesce(l.name, c.learner::text) AS learner, c.exercise, c.ok, c.at "
            "FROM checks c LEFT JOIN learners l ON l.role = c.learner ORDER BY c.at"
        )
    finally:
        await conn.close()
    return [Check(*row) for row in rows]
