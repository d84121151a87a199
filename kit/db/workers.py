"""A database of its own for each parallel test worker (pytest-xdist), made from a template prepared once per run.

The first worker of a run copies the database under test into a template (``<base>_<run>_template``);
every worker then gets ``<base>_<run>_<worker>`` from that template, so it sees the same schemas and
extensions without sharing a single table with another worker. Each database carries the kit's
ownership comment (:data:`kit.db.config.OWNED_COMMENT`); :func:`drop_run_databases` drops a run's
databases at its end, and only those that carry the comment. The work goes through the ``postgres``
maintenance database: no connection to the database under test is held while it is copied.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace

import asyncpg

from kit._sync import run_sync
from kit.db.config import OWNED_COMMENT, DatabaseConfig
from kit.db.connections import connect
from kit.errors import DatabaseUnavailable

__all__ = ["drop_run_databases", "run_prefix", "worker_config"]

_MAINTENANCE = "postgres"
_COPY_WAIT_S = 15.0  # how long a busy database under test may keep the template from being copied
_OWNED_SQL = "SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1 AND shobj_description(oid, 'pg_database') = $2"


def run_prefix(base: str, run_id: str) -> str:
    """The prefix of every database of one run: the base database's name (if short) and the run's id."""
    stem = base if re.fullmatch(r"[A-Za-z0-9_]{1,30}", base) else "loop_lab"
    return f"{stem}_{re.sub(r'[^A-Za-z0-9]', '', run_id)[:10].lower()}_"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _admin(config: DatabaseConfig) -> asyncpg.Connection:
    return await connect(replace(config, database=_MAINTENANCE).url)


async def _copy(conn: asyncpg.Connection, source: str, target: str) -> None:
    """``CREATE DATABASE target TEMPLATE source``, waiting a little while other sessions use ``source``."""
    deadline = time.monotonic() + _COPY_WAIT_S
    while True:
        try:
            await conn.execute(f"CREATE DATABASE {_ident(target)} TEMPLATE {_ident(source)}")
            break
        except asyncpg.ObjectInUseError:
            if time.monotonic() > deadline:
                users = await conn.fetch(
                    "SELECT pid, application_name FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", source
                )
                shown = ", ".join(f"pid {row['pid']} ({row['application_name'] or 'no application_name'})" for row in users)
                raise DatabaseUnavailable(
                    f"pytest-xdist: the kit could not copy database {source!r} for the workers: other sessions kept it "
                    f"busy for {_COPY_WAIT_S:.0f} s ({shown or 'they have left since'}). Close them (a notebook kernel, "
                    "a psql), or run without -n."
                ) from None
            await asyncio.sleep(0.2)
    await conn.execute(f"COMMENT ON DATABASE {_ident(target)} IS '{OWNED_COMMENT}'")


async def _worker_database(config: DatabaseConfig, prefix: str, worker: str) -> str:
    conn = await _admin(config)
    try:
        # One run's workers take turns (a lock per run): the first one prepares the template.
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", prefix)
        try:
            template, name = prefix + "template", prefix + worker
            owned = {row["datname"] for row in await conn.fetch(_OWNED_SQL, prefix, OWNED_COMMENT)}
            if template not in owned:
                await _copy(conn, config.database, template)
            if name not in owned:
                await _copy(conn, template, name)
        finally:
            if not conn.is_closed():  # else the lock went with the session; keep the error that closed it
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", prefix)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise DatabaseUnavailable(
            f"pytest-xdist: each worker needs a database of its own, and user {config.user!r} may not create one ({exc}). "
            f"Grant it (ALTER ROLE {config.user} CREATEDB), or run without -n."
        ) from None
    finally:
        await conn.close()
    return name


def worker_config(config: DatabaseConfig, run_id: str, worker: str) -> DatabaseConfig:
    """The settings of worker ``worker``'s own database in run ``run_id``, created (from the run's template) if needed."""
    return replace(config, database=run_sync(_worker_database(config, run_prefix(config.database, run_id), worker)))


async def _drop(config: DatabaseConfig, prefix: str, only: str | None) -> list[str]:
    conn = await _admin(config)
    try:
        force = " WITH (FORCE)" if int(await conn.fetchval("SHOW server_version_num")) >= 130000 else ""
        names = [row["datname"] for row in await conn.fetch(_OWNED_SQL, prefix, OWNED_COMMENT)]
        dropped = [name for name in names if only in (None, name)]
        for name in dropped:
            await conn.execute(f"DROP DATABASE IF EXISTS {_ident(name)}{force}")
    finally:
        await conn.close()
    return dropped


def drop_run_databases(config: DatabaseConfig, run_id: str, *, only: str | None = None) -> list[str]:
    """Drop run ``run_id``'s databases (or just ``only``) that carry the kit's comment; return the names dropped.

    ``config`` is the database under test (not a worker's): the run's databases are named after it.
    """
    return run_sync(_drop(config, run_prefix(config.database, run_id), only))
