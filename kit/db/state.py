"""The kit's state directory: the state files that say where its databases are, and the lock.

One atomic reader and writer for every state file (the server's ``server.json``, a learner's
``learner.json``): files are written to a temporary file in the same directory (created 0600) and
renamed into place, so a reader sees the old record or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kit.errors import ServerError, StateError, UntrustedStateError

STATE_FILE = "server.json"
LEARNER_STATE_FILE = "learner.json"
_LOCK_FILE = "server.lock"
_LOCK_WAIT_S = 90.0


def state_dir() -> Path:
    """The private directory holding the kit's state file, lock and (when not root) its server."""
    explicit = os.environ.get("LOOP_LAB_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "loop-lab"


_SAFE_PLACES = "export LOOP_LAB_HOME=~/.local/state/loop-lab   (or $XDG_RUNTIME_DIR/loop-lab)"


def check_trusted(path: Path) -> None:
    """Refuse (:class:`UntrustedStateError`) a state directory or file another user owns or may write: it could be steered."""
    try:
        link, target = os.lstat(path), os.stat(path)
    except FileNotFoundError:
        return
    uid = os.geteuid()
    if link.st_uid != uid or target.st_uid != uid:
        owner = target.st_uid if link.st_uid == uid else link.st_uid
        raise UntrustedStateError(
            f"The kit's state path {path} belongs to uid {owner}, not to you (uid {uid}): whoever owns it could steer "
            f"the kit. Remove it if it is yours to remove, or use a directory of your own: {_SAFE_PLACES}"
        )
    if target.st_mode & 0o022:
        raise UntrustedStateError(
            f"The kit's state path {path} is writable by other users (mode {stat.filemode(target.st_mode)}): they could "
            f"steer the kit. Fix it with `chmod go-w {path}`, or use a directory of your own: {_SAFE_PLACES}"
        )


def read_state(name: str = STATE_FILE) -> dict[str, Any] | None:
    """The kit server's state record (or another state file of the kit's), ``None`` when none has been written.

    Raises :class:`UntrustedStateError` when the file or its directory is not the user's own (:func:`check_trusted`).
    """
    path = state_dir() / name
    check_trusted(path.parent)
    check_trusted(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(
            f"Cannot read the kit's state file {path} ({exc}). Run `python -m kit db stop` then `python -m kit db start`."
        ) from None


def private_state_dir() -> Path:
    """The state directory, created 0700 if missing; a clear error when it cannot be written or trusted."""
    path = state_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_trusted(path)
        with tempfile.TemporaryFile(dir=path, prefix=".write-test-"):  # a name of its own: concurrent starts never collide
            pass
    except OSError as exc:
        raise ServerError(
            f"The kit cannot write its state directory {path} ({exc.strerror or exc}). "
            f"Set LOOP_LAB_HOME to a writable directory of your own: {_SAFE_PLACES}"
        ) from None
    return path


def write_state(state: dict[str, Any], name: str = STATE_FILE) -> None:
    """Replace the state file ``name`` with ``state``, atomically; the file is readable by its owner only."""
    path = private_state_dir() / name
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
        with os.fdopen(fd, "w") as handle:  # mkstemp creates the file 0600
            json.dump(state, handle, indent=2)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise StateError(
            f"The kit cannot write its state file {path} ({exc.strerror or exc}). Free some space there, "
            f"or set LOOP_LAB_HOME to a writable directory of your own: {_SAFE_PLACES}"
        ) from None


def remove_state(name: str = STATE_FILE) -> None:
    """Delete the state file ``name`` if it exists."""
    (state_dir() / name).unlink(missing_ok=True)


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Hold the kit's lock so two processes never start two servers at once."""
    import fcntl

    path = private_state_dir() / _LOCK_FILE
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as handle:
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"Another process has held the kit's lock {path} for {_LOCK_WAIT_S:.0f} s. "
                        "If nothing else is starting the server, end that process and try again."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
