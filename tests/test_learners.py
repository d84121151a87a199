"""A room of learners on one central server: each gets an isolated database, created on first use."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from kit.db.config import OWNED_COMMENT
from kit.db.learners import database_name, ensure_learner_database
from kit.errors import LearnerError
from tests.support import central
from tests.support.kit_cli import kit_env

LEARNERS = [f"learner-{i:02d}" for i in range(27)] + ["Zoë Ünïcode", "anna.o'brien", 'x"; DROP DATABASE loop_lab; --']
NEIGHBOUR = "room-neighbour"  # provisioned first; every learner then tries to enter its database

COURSE_TESTS = """
import os
import asyncpg
import pytest
import pytest_asyncio

pytestmark = pytest.mark.usefixtures("clean_test_schema")


@pytest.mark.asyncio
async def test_own_tables(test_connection):
    await test_connection.execute("CREATE TABLE test_items (id serial PRIMARY KEY, owner text)")
    await test_connection.execute("INSERT INTO test_items (owner) VALUES ($1)", os.environ["LOOP_LAB_LEARNER"])
    tables = await test_connection.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    assert [t["table_name"] for t in tables] == ["test_items"], "a learner sees only their own tables"


@pytest.mark.asyncio
async def test_analyzer(test_connection, dependency_analyzer):
    await test_connection.execute("CREATE TABLE test_users (id serial PRIMARY KEY)")
    await test_connection.execute("CREATE TABLE test_orders (id serial, user_id int REFERENCES test_users(id))")
    found = await dependency_analyzer.find_foreign_key_dependencies("test_users", "id")
    assert [fk.source_table for fk in found] == ["test_orders"]


@pytest.mark.asyncio(loop_scope="session")
async def test_session_loop_rollback(db):
    await db.execute("CREATE TABLE test_scratch (x int)")
    assert await db.fetchval("SELECT count(*) FROM test_scratch") == 0


@pytest.mark.asyncio
async def test_cannot_enter_another_learners_database(database_config):
    neighbour = os.environ["NEIGHBOUR_DATABASE"]
    own = database_config.rsplit("/", 1)[0]
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(f"{own}/{neighbour}", ssl=False)
"""


@pytest.fixture
def admin_url() -> Iterator[str]:
    url = os.environ["DATABASE_URL"]  # the kit's own server: its superuser plays the central admin
    yield url

    async def drop_all() -> None:
        conn = await asyncpg.connect(url)
        try:
            for learner in [*LEARNERS, NEIGHBOUR]:
                name = database_name(learner)
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.execute(f'DROP ROLE IF EXISTS "{name}"')
        finally:
            await conn.close()

    asyncio.run(drop_all())


def test_names_are_safe_distinct_and_stable() -> None:
    names = [database_name(learner) for learner in LEARNERS]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 63 and n.replace("_", "").isalnum() and n.isascii() for n in names)
    assert database_name("Anna") != database_name("anna"), "different learners never share a database"
    assert database_name("Anna") == database_name("Anna")


def test_thirty_learners_at_once(admin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path / "neighbour-home"))
    (tmp_path / "test_course.py").write_text(textwrap.dedent(COURSE_TESTS))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    ensure_learner_database(admin_url, NEIGHBOUR)
    processes = []
    for index, learner in enumerate(LEARNERS):
        home = tmp_path / f"home-{index}"
        env = kit_env(home, LOOP_LAB_ADMIN_URL=admin_url, LOOP_LAB_LEARNER=learner, NEIGHBOUR_DATABASE=database_name(NEIGHBOUR))
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_course.py"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    failed = {LEARNERS[i]: out[-2000:] for i, (p, out) in enumerate(zip(processes, outputs)) if p.returncode != 0}
    assert not failed, failed
    assert all("4 passed" in out for out in outputs)

    async def leftovers() -> int:
        conn = await asyncpg.connect(admin_url)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'loop\\_lab\\_%' AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()

    assert asyncio.run(leftovers()) == 0, "no learner connection may be left open"


def test_learner_state_is_private_and_reused(admin_url: str, tmp_path: Path) -> None:
    env = kit_env(tmp_path / "home", LOOP_LAB_ADMIN_URL=admin_url, LOOP_LAB_LEARNER=LEARNERS[0])
    first = subprocess.run([sys.executable, "-m", "kit", "db", "url"], env=env, capture_output=True, text=True, timeout=60)
    second = subprocess.run([sys.executable, "-m", "kit", "db", "url"], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and f"/{database_name(LEARNERS[0])}" in first.stdout
    state = tmp_path / "home" / "learner.json"
    assert state.stat().st_mode & 0o077 == 0
    status = subprocess.run([sys.executable, "-m", "kit", "db", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert "learner" in status.stdout and first.stdout.split(":")[2].split("@")[0] not in status.stdout


# --- a central admin that is no superuser (PostgreSQL 16 and later: CREATE DATABASE ... OWNER needs SET ROLE) ---


@pytest.fixture
def limited_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    """A role with LOGIN CREATEROLE CREATEDB and no SUPERUSER (tests/support/central.py), in a home of its own."""
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path / "home"))
    with central.limited_admin(["limited-1", "limited-2", "no-createdb"]) as admin:
        yield admin


def test_a_non_superuser_admin_provisions_learners(limited_admin: tuple[str, str, str]) -> None:
    role, admin, password = limited_admin
    version = central.superuser_sql("SHOW server_version_num")[0]
    first = ensure_learner_database(admin, "limited-1")
    assert ensure_learner_database(admin, "limited-1") == first  # the second time (same home): reused, not re-created
    assert ensure_learner_database(admin, "limited-2") != first

    async def probe() -> tuple[str, bool, str]:
        conn = await asyncpg.connect(first, ssl=False)
        try:
            who = await conn.fetchval("SELECT current_user || '@' || current_database()")
            comment = await conn.fetchval(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
            )
        finally:
            await conn.close()
        neighbour = first.rsplit("/", 1)[0] + "/" + database_name("limited-2")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(neighbour, ssl=False)
        return who, comment == OWNED_COMMENT, version

    who, marked, _ = asyncio.run(probe())
    name = database_name("limited-1")
    assert who == f"{name}@{name}" and marked
    assert int(version) >= 160000, "this test is about PostgreSQL 16 and later (the kit's server is 18)"


def test_a_failed_provisioning_leaves_no_role_behind(limited_admin: tuple[str, str, str]) -> None:
    role, admin, password = limited_admin
    central.superuser_sql(f"ALTER ROLE {role} NOCREATEDB")
    with pytest.raises(LearnerError, match=f"The admin role '{role}' could not provision") as caught:
        ensure_learner_database(admin, "no-createdb")
    assert password not in str(caught.value)
    name = database_name("no-createdb")
    assert central.superuser_sql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{name}'") == [0]


def test_status_before_a_learner_is_provisioned_says_so(tmp_path: Path) -> None:
    """Not "No database is configured": the room's central server is configured, this learner's database is not yet."""
    env = kit_env(tmp_path / "fresh-home", LOOP_LAB_ADMIN_URL="postgresql://admin:x@127.0.0.1:1/postgres")
    result = subprocess.run([sys.executable, "-m", "kit", "db", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "has not been provisioned in this home yet" in result.stdout and "No database is configured" not in result.stdout
