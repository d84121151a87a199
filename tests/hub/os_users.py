"""Real OS users for the hub's learners: made with useradd and a password, removed with userdel afterwards."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class OSUser:
    """One learner's account: user name, password (for PAM), home."""

    name: str
    password: str = field(repr=False)  # never in a test's failure output
    home: Path

    @property
    def uid(self) -> int:
        """The account's user id."""
        return pwd.getpwnam(self.name).pw_uid


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}"


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                pids.append(int(entry.name))
    return pids


def _remove(user: OSUser) -> None:
    """Stop what is left of the user's processes (all started by this test), then delete the account and its home."""
    uid = user.uid
    deadline = time.monotonic() + 20
    while (pids := _processes_of(uid)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if time.monotonic() < deadline - 10 else signal.SIGKILL)
        time.sleep(0.5)
    _run("userdel", "--remove", user.name)


@contextlib.contextmanager
def os_users(prefix: str, count: int, homes: Path, course: Path) -> Iterator[list[OSUser]]:
    """``count`` accounts ``PREFIX00``... with homes under ``homes``, each holding a copy of ``course``; removed after."""
    if os.geteuid() != 0:
        raise AssertionError("make test-hub adds OS users (the hub's local process spawner runs as them): run it as root")
    made: list[OSUser] = []
    try:
        for index in range(count):
            user = OSUser(f"{prefix}{index:02d}", secrets.token_urlsafe(12), homes / f"{prefix}{index:02d}")
            _run("useradd", "--create-home", "--home-dir", str(user.home), "--shell", "/bin/bash", "--no-user-group", user.name)
            made.append(user)
            shutil.copytree(course, user.home / "loop-lab-course")
            _run("chown", "-R", f"{user.name}:", str(user.home))
            user.home.chmod(0o700)
        subprocess.run(["chpasswd"], input="".join(f"{u.name}:{u.password}\n" for u in made), text=True, check=True, timeout=60)
        yield made
    finally:
        for user in made:
            _remove(user)
