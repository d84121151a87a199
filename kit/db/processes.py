"""What the kit reads about a process it did not start: its command line and when it started.

From ``/proc`` where it exists (Linux), else from ``ps`` (macOS). A pid alone proves nothing (pids are
reused); a pid with its start time names one process for as long as it lives.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

__all__ = ["command_line", "pids", "started_at"]

_HAS_PROC = Path("/proc/self/stat").exists()


def _ps(pid: int, field: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(
            ["ps", "-o", f"{field}=", "-p", str(pid)], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    return ""


def pids() -> list[int]:
    """The pids of every process this user may see."""
    if _HAS_PROC:
        return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [int(pid) for pid in _ps(-1, "pid").split() if pid.isdigit()]


def command_line(pid: int) -> list[str]:
    """The arguments of process ``pid``, ``[]`` if there is none (or it has exited: a zombie has no command line)."""
    if _HAS_PROC:
        try:
            return [arg.decode(errors="replace") for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if arg]
        except OSError:
            return []
    return _ps(pid, "command").split()


def started_at(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque string to compare (``None`` if no such process lives)."""
    if _HAS_PROC:
        try:
            stat_line = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat_line.rpartition(")")[2].split()  # after the command name, which may hold spaces
        return None if fields[0] in ("Z", "X") else fields[19]  # state, then field 22 of stat: start time in ticks
    return _ps(pid, "lstart") or None
