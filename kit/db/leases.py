"""Who uses the kit's server: a lease file per client process, so a run stops only a server no one else uses.

A client (a pytest session on the kit's server, ``make test``) holds a lease while it runs: a state file
``lease-<pid>.json`` naming its pid and that process's start time. A lease counts only while that very
process lives (a reused pid has another start time); a stale lease is deleted when the leases are read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kit.db.processes import command_line, started_at
from kit.db.state import read_state, remove_state, state_dir, write_state
from kit.errors import StateError

__all__ = ["Lease", "hold", "holders", "release"]

_PREFIX = "lease-"


@dataclass(frozen=True)
class Lease:
    """One client of the kit's server: its pid, its start time and (for messages) its command line."""

    pid: int
    started: str
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command[:80] or 'unknown command'})"


def _name(pid: int) -> str:
    return f"{_PREFIX}{pid}.json"


def hold(pid: int | None = None) -> Lease:
    """Record that process ``pid`` (default: this one) uses the kit's server, until :func:`release` or its exit.

    Stale leases (of processes that have ended) are deleted on the way.
    """
    pid = os.getpid() if pid is None else pid
    holders()
    started = started_at(pid)
    if started is None:
        raise StateError(f"Cannot hold a lease for pid {pid}: no such process is running.")
    lease = Lease(pid, started, " ".join(command_line(pid)))
    write_state({"pid": lease.pid, "started": lease.started, "command": lease.command}, _name(pid))
    return lease


def release(pid: int | None = None) -> None:
    """Drop process ``pid``'s lease (default: this process's); nothing happens if it holds none."""
    remove_state(_name(os.getpid() if pid is None else pid))


def holders(*, excluding: int | None = None) -> list[Lease]:
    """The leases of processes that still live (all but ``excluding``'s); stale and unreadable leases are deleted."""
    found = []
    for path in sorted(state_dir().glob(f"{_PREFIX}*.json")):
        try:
            record = read_state(path.name) or {}
            lease = Lease(int(record["pid"]), str(record["started"]), str(record.get("command", "")))
        except (StateError, KeyError, TypeError, ValueError):
            lease = None
        if lease is None or started_at(lease.pid) != lease.started:
            remove_state(path.name)
        elif lease.pid != excluding:
            found.append(lease)
    return found
