"""The hub's provisioning with an admin that is no superuser, on the Debian package's PostgreSQL (15 on bookworm).

The kit's own server is PostgreSQL 18 (tests/test_room.py); before 16 a CREATEROLE admin becomes a member of the
roles it creates by another grant (kit.db.learners._may_own). The kit starts a second server of its own from
Debian's binaries (``LOOP_LAB_PG_BINDIR``), in a home of its own; `.ci/run` installs the package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from kit._sync import run_sync
from kit.db.config import DatabaseConfig
from kit.db.learners import OWNED_COMMENT, database_name
from kit.db.room import record, room_database
from kit.errors import LearnerError
from kit.room import hub, recorded
from tests.support import central
from tests.support.kit_cli import kit, kit_env

LEARNERS = ["debian-anna", "debian-bob"]
FAILING = "debian-no-createdb"
ROOM = "debian-room"


def _debian_bindir() -> Path:
    """The newest /usr/lib/postgresql/N/bin with a server in it."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("Debian's PostgreSQL is not installed (/usr/lib/postgresql/N/bin): apt-get install postgresql")
    return found[-1].parent


@pytest.fixture(scope="module")
def superuser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A kit server of its own from Debian's binaries; its superuser (a masked repr). Stopped and removed afterwards."""
    env = kit_env(tmp_path_factory.mktemp("debian-home"), LOOP_LAB_PG_BINDIR=str(_debian_bindir()))
    started = kit("db", "start", env=env, timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        url = kit("db", "url", env=env)
        assert url.returncode == 0, url.stderr
        yield DatabaseConfig.from_url(url.stdout.strip())
    finally:
        kit("db", "stop", "--remove", env=env, timeout=120)


@pytest.fixture(scope="module")
def admin(superuser: DatabaseConfig) -> Iterator[tuple[str, DatabaseConfig]]:
    """LOGIN CREATEROLE CREATEDB, no SUPERUSER, on Debian's server: its name and settings. Dropped afterwards."""
    with central.limited_admin([*LEARNERS, FAILING], rooms=[ROOM], superuser=superuser.url) as (role, url, _):
        yield role, DatabaseConfig.from_url(url)


async def _as_learner(config: DatabaseConfig, database: str | None = None) -> tuple[str, str | None]:
    conn = await asyncpg.connect(replace(config, database=database or config.database).url, ssl=False)
    try:
        who = await conn.fetchval("SELECT current_user || '@' || current_database()")
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
        return who, comment
    finally:
        await conn.close()


def test_the_server_is_debians(superuser: DatabaseConfig) -> None:
    version = central.superuser_sql("SHOW server_version_num", superuser=superuser.url)[0]
    assert int(str(version)) // 10000 == int(_debian_bindir().parent.name) < 16  # the membership branch of _may_own


def test_the_hub_provisions_learners_with_a_non_superuser_admin(admin: tuple[str, DatabaseConfig]) -> None:
    admin_url = admin[1].url

    async def all_at_once() -> list[DatabaseConfig]:
        return await asyncio.gather(*(hub.provision(who, admin=admin_url, room=ROOM) for who in LEARNERS))

    anna, bob = asyncio.run(all_at_once())
    name = database_name(LEARNERS[0])
    assert asyncio.run(_as_learner(anna)) == (f"{name}@{name}", OWNED_COMMENT)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(_as_learner(anna, database=bob.database))
    again = run_sync(hub.provision(LEARNERS[0], admin=admin_url, room=ROOM))
    assert again.password != anna.password
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(_as_learner(anna))

    run_sync(record(again.url, ROOM, "01-summary-vs-cause", True))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # a learner inserts its own checks and reads none
        asyncio.run(_count_checks(bob))
    assert [(r.learner, r.exercise, r.ok) for r in recorded(ROOM, admin=admin_url)] == [
        (LEARNERS[0], "01-summary-vs-cause", True)
    ]


async def _count_checks(config: DatabaseConfig) -> object:
    conn = await asyncpg.connect(replace(config, database=room_database(ROOM)).url, ssl=False)
    try:
        return await conn.fetchval("SELECT count(*) FROM checks")
    finally:
        await conn.close()


def test_a_failed_provisioning_leaves_no_role_behind(superuser: DatabaseConfig, admin: tuple[str, DatabaseConfig]) -> None:
    role, config = admin
    central.superuser_sql(f"ALTER ROLE {role} NOCREATEDB", superuser=superuser.url)
    try:
        with pytest.raises(LearnerError, match=f"The admin role '{role}' could not provision") as caught:
            run_sync(hub.provision(FAILING, admin=config.url))
    finally:
        central.superuser_sql(f"ALTER ROLE {role} CREATEDB", superuser=superuser.url)
    assert config.password not in str(caught.value)
    count = f"SELECT count(*) FROM pg_roles WHERE rolname = '{database_name(FAILING)}'"
    assert central.superuser_sql(count, superuser=superuser.url) == [0]
