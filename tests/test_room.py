"""kit.room: the hub provisions each learner with an admin that is no superuser, and the room records checks.

On the kit's own PostgreSQL 18. The real JupyterHub runs in tests/hub/ (`make test-hub`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from kit._sync import run_sync
from kit.course.exercises import check
from kit.db.config import DatabaseConfig, choose
from kit.db.learners import database_name
from kit.db.room import Check, record, room_database
from kit.errors import KitError, RoomError
from kit.room import hub, recorded, stuck, table
from tests.support import central
from tests.support.kit_cli import kit, kit_env
from tests.support.notebook_runner import execute

LEARNERS = ["anna", "bob", "Zoë O'Brien"]
ROOM = "test-room"
OUTSIDER = "outsider"  # provisioned, never admitted to the room


@pytest.fixture(scope="module")
def admin() -> Iterator[tuple[str, str, str]]:
    """A non-superuser admin (CREATEROLE CREATEDB) on the kit's server; learners and the room dropped afterwards."""
    with central.limited_admin([*LEARNERS, OUTSIDER], rooms=[ROOM]) as made:
        yield made


@pytest.fixture(scope="module")
def learners(admin: tuple[str, str, str]) -> dict[str, DatabaseConfig]:
    """Every learner provisioned by the hub's code, all at once, and admitted to the room."""

    async def all_at_once() -> list[DatabaseConfig]:
        return await asyncio.gather(*(hub.provision(who, admin=admin[1], room=ROOM) for who in LEARNERS))

    return dict(zip(LEARNERS, asyncio.run(all_at_once())))


async def _fetch(url: str, sql: str, database: str | None = None) -> object:
    config = DatabaseConfig.from_url(url)
    conn = await asyncpg.connect(replace(config, database=database or config.database).url, ssl=False)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_each_learner_gets_only_their_own_database(learners: dict[str, DatabaseConfig], admin: tuple[str, str, str]) -> None:
    anna, bob = learners["anna"], learners["bob"]
    assert anna.user == anna.database == database_name("anna") and anna.password != bob.password
    assert admin[2] not in anna.url, "the learner's URL carries the learner's own password, not the admin's"
    assert asyncio.run(_fetch(anna.url, "SELECT current_user || '@' || current_database()")) == f"{anna.user}@{anna.user}"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(_fetch(anna.url, "SELECT 1", database=bob.database))
    rights = asyncio.run(
        _fetch(anna.url, f"SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = '{anna.user}'")
    )
    assert rights is False


def test_provisioning_again_gives_a_new_password(learners: dict[str, DatabaseConfig], admin: tuple[str, str, str]) -> None:
    again = run_sync(hub.provision("bob", admin=admin[1]))
    assert again.database == learners["bob"].database and again.password != learners["bob"].password
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(_fetch(learners["bob"].url, "SELECT 1"))
    learners["bob"] = again


def test_a_learner_records_checks_and_reads_nothing_back(
    learners: dict[str, DatabaseConfig], admin: tuple[str, str, str]
) -> None:
    anna = learners["anna"]
    run_sync(record(anna.url, ROOM, "01-summary-vs-cause", False))
    run_sync(record(anna.url, ROOM, "01-summary-vs-cause", True))
    for forbidden in (
        "SELECT count(*) FROM checks",
        "INSERT INTO checks (learner, exercise, ok) VALUES ('bob', 'x', true)",
        "SELECT count(*) FROM learners",
        "UPDATE checks SET ok = true",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            asyncio.run(_fetch(anna.url, forbidden, database=room_database(ROOM)))
    rows = recorded(ROOM, admin=admin[1])
    assert [(r.learner, r.exercise, r.ok) for r in rows] == [
        ("anna", "01-summary-vs-cause", False),
        ("anna", "01-summary-vs-cause", True),
    ]


def test_a_learner_outside_the_room_is_told_why(learners: dict[str, DatabaseConfig], admin: tuple[str, str, str]) -> None:
    outsider = run_sync(hub.provision(OUTSIDER, admin=admin[1]))
    with pytest.raises(KitError, match="permission denied") as caught:
        run_sync(record(outsider.url, ROOM, "01-summary-vs-cause", True))
    assert outsider.password not in str(caught.value)


def test_check_records_in_the_room_when_asked(
    learners: dict[str, DatabaseConfig],
    admin: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", learners["bob"].url)
    monkeypatch.setenv("LOOP_LAB_ROOM", ROOM)
    verdict = check("01-summary-vs-cause", "no answer")
    assert not verdict.ok
    assert "recorded for the instructor" in capsys.readouterr().out
    assert ("bob", "01-summary-vs-cause", False) in [(r.learner, r.exercise, r.ok) for r in recorded(ROOM, admin=admin[1])]
    monkeypatch.delenv("LOOP_LAB_ROOM")
    check("01-summary-vs-cause", "no answer")
    assert "recorded" not in capsys.readouterr().out, "outside a room nothing is recorded"


def test_room_status_prints_the_room(learners: dict[str, DatabaseConfig], admin: tuple[str, str, str]) -> None:
    run_sync(record(learners["anna"].url, ROOM, "03-test-connection", False))
    done = kit("room", "status", "--room", ROOM, env=kit_env(LOOP_LAB_ADMIN_URL=admin[1]))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["learner", "01-summary-vs-cause", "03-test-connection"]
    assert lines[1].split() == ["anna", "RIGHT", "trying"] and lines[2].split() == ["bob", "trying"]
    assert admin[2] not in done.stdout


def test_stuck_means_failing_since_more_than_n_minutes() -> None:
    now = datetime(2026, 3, 1, 10, 30, tzinfo=timezone.utc)
    at = [now - timedelta(minutes=m) for m in (20, 15, 5, 2)]
    rows = [
        Check("anna", "03", False, at[0]),
        Check("anna", "03", False, at[1]),
        Check("bob", "03", False, at[0]),
        Check("bob", "03", True, at[2]),
        Check("cleo", "03", False, at[3]),
    ]
    assert [(s.learner, s.attempts, s.since) for s in stuck(rows, 10, now)] == [("anna", 2, at[0])]
    assert "stuck for more than 10 minutes: 1\n  anna on 03: 2 tries since 10:10" in table(rows, 10, now)


def test_provision_command_prints_no_password(admin: tuple[str, str, str]) -> None:
    done = kit("room", "provision", "anna", env=kit_env(LOOP_LAB_ADMIN_URL=admin[1]))
    assert done.returncode == 0, done.stderr
    assert f"anna: postgresql://{database_name('anna')}:***@" in done.stdout and admin[2] not in done.stdout
    missing = kit("room", "provision", "anna", env=kit_env())
    assert missing.returncode == 2 and "LOOP_LAB_ADMIN_URL is not set" in missing.stderr and "Traceback" not in missing.stderr


def test_the_admin_credential_in_a_learners_server_is_refused(tmp_path: Path, admin: tuple[str, str, str]) -> None:
    env = {"LOOP_LAB_ADMIN_URL": admin[1], "JUPYTERHUB_USER": "anna", "DATABASE_URL": "postgresql://a:b@h/d"}
    with pytest.raises(RoomError, match="pre_spawn_hook"):
        choose(env)
    started = kit("db", "start", env=kit_env(tmp_path / "home", **env))
    assert started.returncode == 2 and "c.Spawner.environment" in started.stderr and "Traceback" not in started.stderr
    assert admin[2] not in started.stderr
    assert choose({"LOOP_LAB_ADMIN_URL": admin[1]}).kind == "learner", "outside a hub the learner path still works"


def test_the_hub_refuses_to_hand_out_the_admin_credential() -> None:
    class Spawner:  # the two settings of JupyterHub's Spawner the hook reads (the real hub: tests/hub/)
        environment = {"LOOP_LAB_ADMIN_URL": "postgresql://admin:secret@db/postgres"}
        env_keep = ["PATH"]

    with pytest.raises(RoomError, match="c.Spawner.environment") as caught:
        run_sync(hub.pre_spawn_hook(Spawner()))
    assert "secret" not in str(caught.value)
    Spawner.environment, Spawner.env_keep = {}, ["PATH", "LOOP_LAB_ADMIN_URL"]
    with pytest.raises(RoomError, match="c.Spawner.env_keep"):
        run_sync(hub.pre_spawn_hook(Spawner()))


def test_the_hub_names_a_missing_admin_credential() -> None:
    with pytest.raises(Exception, match="LOOP_LAB_ADMIN_URL is not set"):
        hub.admin_url({})
    with pytest.raises(Exception, match="must start with postgresql://") as caught:
        hub.admin_url({"LOOP_LAB_ADMIN_URL": "mysql://root:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)
    assert os.environ.get("LOOP_LAB_ADMIN_URL") is None


def test_the_instructor_notebook_shows_the_room_twice(
    learners: dict[str, DatabaseConfig], admin: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOP_LAB_ROOM", ROOM)
    monkeypatch.setenv("LOOP_LAB_ADMIN_URL", admin[1])
    for run in execute("instructor/room.ipynb"):  # every cell twice in one kernel; no password in an output
        grid_html = [o.data["text/html"] for o in run.cell("grid").outputs if "text/html" in o.get("data", {})]
        assert len(grid_html) == 2, "the grid and the stuck learners"
        anna = next(row for row in grid_html[0].split("<tr>") if ">anna<" in row)
        assert "RIGHT" in anna and "trying" in anna, anna
        assert admin[2] not in json.dumps(run.nb)
