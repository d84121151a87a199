"""The instructor's live view of a room: who passed which exercise, and who has been stuck for a while.

Reads the room's ``checks`` (:mod:`kit.db.room`) as the admin: ``LOOP_LAB_ADMIN_URL`` if set, else the kit's own
server (a room on one machine). :func:`table` is what ``python -m kit room status`` prints; :func:`grid` and
:func:`stuck` are the instructor notebook's (``notebooks/instructor/room.ipynb``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, NamedTuple

from kit._sync import run_sync
from kit.db.config import ADMIN_ENV
from kit.db.room import ROOM_ENV, Check, checks
from kit.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

PASSED, TRYING = "RIGHT", "trying"


class Stuck(NamedTuple):
    """A learner whose checks of ``exercise`` have all failed since ``since``."""

    learner: str
    exercise: str
    since: datetime
    attempts: int


def room_name(room: str | None = None) -> str:
    """``room``, else ``LOOP_LAB_ROOM``; a clear error if neither names one."""
    name = room or os.environ.get(ROOM_ENV, "")
    if not name:
        raise ConfigError(f"Which room? Pass --room NAME or set {ROOM_ENV} (the name in the hub's c.Spawner.environment).")
    return name


def recorded(room: str | None = None, admin: str | None = None) -> list[Check]:
    """Every check recorded in the room, oldest first."""
    from kit.db.server import ensure_server

    url = admin or os.environ.get(ADMIN_ENV) or ensure_server()
    return run_sync(checks(url, room_name(room)))


def _cells(rows: list[Check]) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    learners = sorted({row.learner for row in rows})
    exercises = sorted({row.exercise for row in rows})
    cells: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (row.learner, row.exercise)
        if cells.get(key) != PASSED:
            cells[key] = PASSED if row.ok else TRYING
    return learners, exercises, cells


def stuck(rows: list[Check], minutes: float = 10, now: datetime | None = None) -> list[Stuck]:
    """Learners whose every check of an exercise (since their last pass of it) failed, the first over ``minutes`` ago."""
    now = now or datetime.now(timezone.utc)
    failing: dict[tuple[str, str], list[Check]] = {}
    for row in rows:
        key = (row.learner, row.exercise)
        failing[key] = [] if row.ok else [*failing.get(key, []), row]
    found = [Stuck(*key, tries[0].at, len(tries)) for key, tries in failing.items() if tries]
    return sorted((s for s in found if now - s.since > timedelta(minutes=minutes)), key=lambda s: s.since)


def table(rows: list[Check], minutes: float = 10, now: datetime | None = None) -> str:
    """The room as text: one line per learner, one column per exercise (RIGHT, trying, or blank), and who is stuck."""
    learners, exercises, cells = _cells(rows)
    if not rows:
        return "no checks recorded in this room yet"
    header = ["learner", *exercises]
    lines = [[who, *(cells.get((who, ex), "") for ex in exercises)] for who in learners]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [header, *lines]]
    late = stuck(rows, minutes, now)
    text.append(f"{len(learners)} learners, {len(rows)} checks; stuck for more than {minutes:g} minutes: {len(late)}")
    text += [f"  {s.learner} on {s.exercise}: {s.attempts} tries since {s.since:%H:%M}" for s in late]
    return "\n".join(text)


def grid(rows: list[Check]) -> pd.DataFrame:
    """A learner-by-exercise DataFrame: RIGHT, trying, or empty (not tried yet)."""
    import pandas as pd

    learners, exercises, cells = _cells(rows)
    data = [[cells.get((who, ex), "") for ex in exercises] for who in learners]
    return pd.DataFrame(data, index=pd.Index(learners, name="learner"), columns=exercises)
