"""A real JupyterHub for a room (`make test-hub`): OS users, the learners' Python, the central PostgreSQL, the hub.

The hub runs docs/jupyterhub_config.py, the file docs/deploying.md documents, from the kit's venv as root; the
learners' single-user servers run as their OS users from a venv under a world-readable folder (the kit's own
venv lives under /root, which they cannot read). The kit's own server is the room's central PostgreSQL, with an
admin that is no superuser (LOGIN CREATEROLE CREATEDB); only the hub's environment holds its URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hub.hub_api import Hub
from tests.hub.os_users import OSUser, os_users
from tests.support import central
from tests.support.kit_cli import kit_env
from tests.support.lab_server import free_port, stop_group

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CONFIG = ROOT / "docs" / "jupyterhub_config.py"
LEARNERS = int(os.environ.get("HUB_LEARNERS", "30"))
ROOM = f"hub-test-{os.getpid()}"
PREFIX = f"lh{os.getpid() % 10000:04d}u"  # OS user names: unique per run, so two runs never share an account
BASE_PYTHON = "/usr/bin/python3"  # Debian's, readable by every user (.ci/run installs it)


@dataclass(frozen=True)
class Room:
    """The running hub, its learners (the last one uses Chromium), the admin's URL and password, the hub's pid."""

    hub: Hub
    learners: list[OSUser]
    admin_url: str = field(repr=False)  # the credentials are never in a test's failure output
    admin_password: str = field(repr=False)
    hub_pid: int
    log: Path


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A world-readable folder (0755) for the learners' Python, the course and the homes; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="loop-lab-hub-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def learner_python(scratch: Path) -> Path:
    """A venv every learner can run: Debian's Python, loop-lab[course,hub] from this checkout at the lock's versions.

    Byte-compiled, as pip installs by default: a server or kernel of a learner, who may not write to it, would
    otherwise compile every module it imports, every time (31 servers starting at once took up to 3 minutes).
    """
    venv = scratch / "venv"
    uv = ROOT / ".venv" / "bin" / "uv"
    subprocess.run([uv, "venv", "--quiet", "--python", BASE_PYTHON, venv], check=True, timeout=300)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",  # the learners cannot write __pycache__ here: without it each process compiles all
            "--python",
            venv / "bin" / "python",
            "-c",
            ROOT / "kit/course/lock.txt",
            f"{ROOT}[course,hub]",
        ],
        check=True,
        timeout=900,
    )
    return venv


@pytest.fixture(scope="session")
def course(scratch: Path, learner_python: Path) -> Path:
    """The course as a learner gets it: `loop-lab notebooks DEST` from the learners' venv."""
    dest = scratch / "course"
    subprocess.run([learner_python / "bin" / "loop-lab", "notebooks", dest], check=True, capture_output=True, timeout=120)
    return dest


@pytest.fixture(scope="session")
def room(scratch: Path, learner_python: Path, course: Path) -> Iterator[Room]:
    """JupyterHub on docs/jupyterhub_config.py with LEARNERS + 1 OS users, running until the session ends."""
    homes = scratch / "homes"
    homes.mkdir()
    state = scratch / "hub"  # the hub's database and cookie secret: root's alone
    state.mkdir(mode=0o700)
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "hub.log"
    names = [f"{PREFIX}{i:02d}" for i in range(LEARNERS + 1)]
    with (
        central.limited_admin(names, rooms=[ROOM]) as (_, admin_url, admin_password),
        os_users(PREFIX, LEARNERS + 1, homes, course) as learners,
        log.open("w") as output,
    ):
        port = free_port()
        (state / "learners").write_text("".join(f"{user.name}\n" for user in learners))
        env = kit_env(
            LOOP_LAB_LEARNERS_FILE=str(state / "learners"),
            LOOP_LAB_ADMIN_URL=admin_url,
            LOOP_LAB_ROOM=ROOM,
            LOOP_LAB_SINGLEUSER=str(learner_python / "bin" / "jupyterhub-singleuser"),
        )
        command = [
            str(ROOT / ".venv" / "bin" / "jupyterhub"),
            f"--config={CONFIG}",
            f"--JupyterHub.bind_url=http://127.0.0.1:{port}",
            f"--JupyterHub.hub_bind_url=http://127.0.0.1:{free_port()}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
            f"--JupyterHub.db_url=sqlite:///{state}/jupyterhub.sqlite",
            f"--JupyterHub.cookie_secret_file={state}/cookie_secret",
            f"--ConfigurableHTTPProxy.pid_file={state}/proxy.pid",
        ]
        process = subprocess.Popen(command, cwd=state, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        hub = Hub(f"http://127.0.0.1:{port}")
        try:
            _wait_for(hub, process, log)
            yield Room(hub, learners, admin_url, admin_password, process.pid, log)
        finally:
            process.send_signal(signal.SIGTERM)  # the hub stops the learners' servers it started (cleanup_servers)
            try:
                process.wait(timeout=120)
            finally:
                with contextlib.suppress(ProcessLookupError):  # gone already, with its proxy
                    stop_group(process)


def _wait_for(hub: Hub, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{hub.url}/hub/api/", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"JupyterHub did not answer within {timeout:.0f} s; its log: {log}\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
