"""A room of learners on one central PostgreSQL (JupyterHub, a large BinderHub event).

Set ``LOOP_LAB_ADMIN_URL`` to a role on the central server that may create roles and databases. On first
use, each learner gets a login role and a database of their own, both named from the learner's name
(``LOOP_LAB_LEARNER``, else ``JUPYTERHUB_USER``, else the OS user) reduced to safe characters plus a
hash, so two different names never share a database. ``CONNECT`` on the database is revoked from
``PUBLIC``: learners cannot open each other's databases. The learner's generated password lives in an
owner-only state file, like the kit's own server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg

from kit._sync import run_sync
from kit.db.config import ADMIN_ENV, OWNED_COMMENT, DatabaseConfig
from kit.db.connections import connect, ping
from kit.db.state import LEARNER_STATE_FILE, read_state, write_state
from kit.errors import ConfigError, DatabaseUnavailable, LearnerError

_PREFIX = "loop_lab_"
_LOCK_KEY = 0x100B1AB  # one advisory lock for all provisioning on the central server
LOCK_WAIT_S = 600.0  # how long a learner's provisioning may queue behind the others'
# How long the admin's connection may take: on a hub starting a room's servers at once, the hub's CPU and event
# loop are shared by every spawn (the 5 s a learner's connection gets failed one spawn in 31 on 2 cores).
ADMIN_CONNECT_S = 60.0


def learner_name(environ: dict[str, str] | None = None) -> str:
    """Who this learner is: ``LOOP_LAB_LEARNER``, else ``JUPYTERHUB_USER``, else the OS user."""
    env = os.environ if environ is None else environ
    name = (env.get("LOOP_LAB_LEARNER") or env.get("JUPYTERHUB_USER") or getpass.getuser()).strip()
    if not name:
        raise LearnerError("LOOP_LAB_LEARNER is empty. Set it to the learner's user name.")
    return name


def database_name(learner: str) -> str:
    """The role and database name for ``learner``: lowercase letters, digits and ``_``, plus a hash of the full name."""
    readable = re.sub(r"[^a-z0-9]+", "_", learner.lower()).strip("_")[:40] or "learner"
    digest = hashlib.sha256(learner.encode()).hexdigest()[:8]
    return f"{_PREFIX}{readable}_{digest}"


def ident(name: str) -> str:
    """``name`` quoted as an SQL identifier, after checking it holds only what :func:`database_name` yields."""
    # database_name() only ever yields [a-z0-9_]: quoting it is safe by construction, and checked here.
    if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
        raise LearnerError(f"refusing unsafe identifier {name!r}")
    return f'"{name}"'


def _literal(secret: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", secret):
        raise LearnerError("refusing an unsafe password literal")
    return f"'{secret}'"


async def admin_connection(url: str, database: str | None = None) -> asyncpg.Connection:
    """Connect as the admin of ``url`` (to ``database`` instead of the URL's, if given), allowing a busy hub time."""
    config = DatabaseConfig.from_url(url, source=ADMIN_ENV)
    return await connect(replace(config, database=database).url if database else config.url, timeout=ADMIN_CONNECT_S)


@contextlib.asynccontextmanager
async def advisory_lock(admin: Any, key: int) -> AsyncIterator[None]:
    """Hold PostgreSQL advisory lock ``key`` on connection ``admin``: one provisioning at a time on the server.

    Waiting is bounded by ``LOCK_WAIT_S``, not by the connection's command timeout: a room of 30 starting at once
    queues for longer than one statement may take.
    """
    try:
        await admin.execute("SELECT pg_advisory_lock($1)", key, timeout=LOCK_WAIT_S)
    except asyncio.TimeoutError:
        raise LearnerError(
            f"Waited {LOCK_WAIT_S} s for the other provisionings on the central server to finish; is one of them stuck? "
            "See pg_locks (locktype = 'advisory') on the server."
        ) from None
    try:
        yield
    finally:
        await admin.execute("SELECT pg_advisory_unlock($1)", key)


async def _provision(admin_url: str, name: str, password: str) -> None:
    admin = await admin_connection(admin_url)
    try:
        async with advisory_lock(admin, _LOCK_KEY):
            await _provision_locked(admin, name, password)
    finally:
        await admin.close()


async def _provision_locked(admin: Any, name: str, password: str) -> None:
    """Create (or refresh) the learner's role and database; undo what this call made if a step fails."""
    made_role = made_database = False
    try:
        if await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
            await admin.execute(f"ALTER ROLE {ident(name)} WITH LOGIN PASSWORD {_literal(password)}")
        else:
            await admin.execute(
                f"CREATE ROLE {ident(name)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {_literal(password)}"
            )
            made_role = True
        await _may_own(admin, name)
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f"CREATE DATABASE {ident(name)} OWNER {ident(name)}")
            made_database = True
        # As the owner: a CREATEROLE admin that is no superuser holds no privileges of the learner's role.
        await _as(admin, name, f"REVOKE ALL ON DATABASE {ident(name)} FROM PUBLIC")
        await _as(admin, name, f"COMMENT ON DATABASE {ident(name)} IS '{OWNED_COMMENT}'")
    except asyncpg.PostgresError as exc:
        who = await admin.fetchval("SELECT current_user")
        if made_database:
            await _as(admin, name, f"DROP DATABASE IF EXISTS {ident(name)}")
        if made_role:
            await admin.execute(f"DROP ROLE IF EXISTS {ident(name)}")  # no role left without its database
        raise LearnerError(
            f"The admin role {who!r} could not provision the learner database {name!r}: {exc}. It needs LOGIN, "
            "CREATEROLE and CREATEDB (or SUPERUSER); see docs/deploying.md."
        ) from exc


async def _as(admin: Any, role: str, sql: str) -> None:
    """Run one statement as ``role`` (the admin may SET ROLE to it, see :func:`_may_own`), then become itself again."""
    await admin.execute(f"SET ROLE {ident(role)}")
    try:
        await admin.execute(sql)
    finally:
        await admin.execute("RESET ROLE")


async def _may_own(admin: Any, name: str) -> None:
    """Let a non-superuser admin give a database to the learner's role.

    ``CREATE DATABASE ... OWNER role`` needs the admin to be able to ``SET ROLE`` to it. A superuser always can; on
    PostgreSQL 16 and later a CREATEROLE admin holds ADMIN OPTION on the roles it created but is no member of them
    (unless ``createrole_self_grant`` says so), so it grants itself SET, without INHERIT; before 16, membership does it.
    """
    if await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        return
    if int(await admin.fetchval("SHOW server_version_num")) >= 160000:
        await admin.execute(f"GRANT {ident(name)} TO CURRENT_USER WITH INHERIT FALSE, SET TRUE")
    else:
        await admin.execute(f"GRANT {ident(name)} TO CURRENT_USER")


def _answers(url: str) -> bool:
    try:
        run_sync(ping(url))
    except DatabaseUnavailable:
        return False
    return True


async def provision_learner(admin_url: str, learner: str) -> DatabaseConfig:
    """Create (or refresh) ``learner``'s role and database with a new password; return the learner's settings.

    The one provisioning path: the learner's own kernel (:func:`ensure_learner_database`) and the hub
    (:mod:`kit.room`) both call it. The settings keep the admin URL's host, port and query parameters.
    """
    admin = DatabaseConfig.from_url(admin_url, source=ADMIN_ENV)
    name = database_name(learner)
    password = secrets.token_urlsafe(24)
    await _provision(admin.url, name, password)
    return replace(admin, user=name, password=password, database=name, source="learner")


def ensure_learner_database(admin_url: str, learner: str | None = None) -> str:
    """Return the DSN of this learner's own database on the central server, creating it on first use."""
    who = learner or learner_name()
    name = database_name(who)
    admin = DatabaseConfig.from_url(admin_url, source=ADMIN_ENV)
    try:
        state = read_state(LEARNER_STATE_FILE)
    except ConfigError:
        state = None
    if state and state.get("database") == name and state.get("host") == admin.host and state.get("port") == admin.port:
        url = DatabaseConfig.from_state(state).url
        if _answers(url):
            return url
    config = run_sync(provision_learner(admin.url, who))
    state = {
        "source": "learner",
        "learner": who,
        "host": config.host,
        "port": config.port,
        "user": config.user,
        "password": config.password,
        "database": config.database,
        "params": list(config.params),  # the central server's sslmode, options...: the learner's connections keep them
    }
    write_state(state, LEARNER_STATE_FILE)
    return config.url
