"""Sharing one server between runs: leases keep it running while a client uses it, and a restart keeps the password."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kit.db import leases, state
from kit.db.config import DatabaseConfig, MaskedDSN, mask_url
from kit.db.connections import ping
from kit.errors import StateError
from tests.support.kit_cli import kit, kit_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sleeper() -> subprocess.Popen[bytes]:
    """A live process that can hold a lease."""
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def test_a_lease_counts_while_its_process_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleeper) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path))
    lease = leases.hold(sleeper.pid)
    assert leases.holders() == [lease] and "sleep 300" in str(lease)
    assert leases.holders(excluding=sleeper.pid) == []
    sleeper.kill()
    sleeper.wait()
    assert leases.holders() == [] and not list(tmp_path.glob("lease-*")), "a dead client's lease is deleted"
    stale = tmp_path / f"lease-{sleeper.pid}.json"
    state.write_state({"pid": sleeper.pid, "started": "1", "command": "gone"}, stale.name)
    leases.hold()
    assert not stale.exists() and [lease.pid for lease in leases.holders()] == [os.getpid()]


def test_a_reused_pid_does_not_inherit_a_lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleeper) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path))
    leases.hold(sleeper.pid)
    record = json.loads((tmp_path / f"lease-{sleeper.pid}.json").read_text())
    state.write_state(dict(record, started="1"), f"lease-{sleeper.pid}.json")  # the pid now names another process
    assert leases.holders() == []
    with pytest.raises(StateError, match="no such process"):
        leases.hold(2**22 + 1)


def test_stop_leaves_a_server_another_client_uses_running(private_home: Path, sleeper) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", "--hold", str(sleeper.pid), env=env).returncode == 0
    refused = kit("db", "stop", env=env)
    assert refused.returncode == 2 and "in use by 1 other client(s): pid " in refused.stderr, refused.stderr
    assert kit("db", "status", "--quiet", env=env).returncode == 0, "the server must still be running"
    forced = kit("db", "stop", "--force", env=env)
    assert forced.returncode == 0 and "stopped the kit's server" in forced.stdout, forced.stderr


def test_a_restart_keeps_the_password_and_the_data_also_from_another_clone(private_home: Path) -> None:
    env = kit_env(private_home)
    first = kit("db", "url", env=env)
    assert first.returncode == 0, first.stderr
    asyncio.run(ping(first.stdout.strip(), "CREATE TABLE kept (n int)"))
    assert kit("db", "stop", env=env).returncode == 0
    record = json.loads((private_home / state.STATE_FILE).read_text())
    # another clone's venv: the same PostgreSQL, installed elsewhere
    (private_home / state.STATE_FILE).write_text(json.dumps(dict(record, bindir="/elsewhere/.venv/pginstall/bin")))
    again = kit("db", "url", env=env)
    assert again.returncode == 0, again.stderr
    assert MaskedDSN(again.stdout) == MaskedDSN(first.stdout), (
        "restarted with another password (or port): a running suite's URL broke"
    )
    assert asyncio.run(ping(again.stdout.strip(), "SELECT count(*) FROM kept")) == 0, "the data was reinitialised"


_WAIT = """
import time
from dataclasses import replace
from pathlib import Path


def wait_for(name):
    deadline = time.monotonic() + 90
    while not (Path({here!r}) / name).exists():
        assert time.monotonic() < deadline, "timed out waiting for " + name
        time.sleep(0.1)
"""

_FIRST = """
def test_first(database_config):
    (Path({here!r}) / "first_running").touch()
    wait_for("second_running")
"""

_SECOND = """
import pytest


@pytest.mark.asyncio
async def test_second(test_connection, database_config):
    pid = await test_connection.fetchval("SELECT pg_postmaster_start_time()")
    (Path({here!r}) / "second_running").touch()
    wait_for("first_done")
    assert await test_connection.fetchval("SELECT pg_postmaster_start_time()") == pid
    import asyncpg

    other = await asyncpg.connect(database_config, ssl=False)
    await other.close()
"""


def _make_test(suite: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    args = f"{suite} -p no:cacheprovider -q"
    return subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT),
            "-o",
            "install",
            "test",
            f"VENV={sys.prefix}",
            "XDIST=",
            f"PYTEST_ARGS={args}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _suite(tmp_path: Path, name: str, body: str) -> Path:
    suite = tmp_path / name
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    (suite / f"test_{name}.py").write_text((_WAIT + body).format(here=str(tmp_path)))
    return suite


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while not path.exists():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        time.sleep(0.1)


def test_two_make_test_runs_sharing_a_state_directory_both_pass(
    private_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = kit_env(private_home)
    first = _make_test(_suite(tmp_path, "first", _FIRST), env)  # starts the server, so it will try to stop it
    _wait_for(tmp_path / "first_running", first)
    second = _make_test(_suite(tmp_path, "second", _SECOND), env)
    try:
        first_out = first.communicate(timeout=120)[0]
        assert first.returncode == 0, first_out
        assert "in use by" in first_out and "left running" in first_out, first_out
        (tmp_path / "first_done").touch()
        second_out = second.communicate(timeout=120)[0]
        assert second.returncode == 0, second_out
    finally:
        (tmp_path / "first_done").touch()
        second.kill()
    assert kit("db", "status", "--quiet", env=env).returncode == 0, "the server the second run used was stopped"
    monkeypatch.setenv("LOOP_LAB_HOME", str(private_home))
    assert leases.holders() == [], "every client has ended: no lease may count"


def test_make_test_says_which_database_an_exported_database_url_points_at(private_home: Path, tmp_path: Path) -> None:
    own = DatabaseConfig.from_environment()
    elsewhere = replace(own, database="postgres").url  # a database that is not the kit's own one
    done = _make_test(
        _suite(tmp_path, "tiny", "\ndef test_nothing():\n    pass\n"), kit_env(private_home, DATABASE_URL=elsewhere)
    )
    out = done.communicate(timeout=120)[0]
    assert done.returncode == 0, out
    said = [line for line in out.splitlines() if "DATABASE_URL" in line]
    expected = f"database ready: {mask_url(elsewhere)}  (from DATABASE_URL in the environment, not the kit's own server, "
    assert len(said) == 1 and said[0].startswith(expected), out
    assert own.password not in out
