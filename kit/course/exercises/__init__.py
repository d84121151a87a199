"""Exercises for the course: a check that says what is wrong, a hint, and a solution shown only on request.

In a notebook::

    from kit.course.exercises import check, hint, solution
    check("01-root-cause", my_answer)   # prints what is right or exactly what is wrong
    hint("01-root-cause")               # a nudge
    solution("01-root-cause")           # the answer, only when you ask for it

Each notebook's exercises live in their own module (``kit.course.exercises.nb01`` ...) and register
themselves with :func:`exercise`.
"""

from __future__ import annotations

import html
import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kit.db.room import ROOM_ENV
from kit.errors import ExerciseError, KitError

Checker = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Exercise:
    """One exercise: its checker returns None when the answer is right, else what is wrong with it."""

    key: str
    question: str
    checker: Checker
    hint: str
    solution: str
    praise: str = "Correct."


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: ``ok`` and the message shown to the learner."""

    key: str
    ok: bool
    message: str

    @property
    def mark(self) -> str:
        """``RIGHT`` or ``TRY AGAIN``: plain text, so it shows without an emoji font."""
        return "RIGHT" if self.ok else "TRY AGAIN"

    def __str__(self) -> str:
        return f"{self.mark} [{self.key}] {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#b3261e"  # green / red, with the word itself for colour-blind readers
        return (
            f'<p><b style="color:{colour}">{self.mark}</b> <code>[{html.escape(self.key)}]</code> {html.escape(self.message)}</p>'
        )


_REGISTRY: dict[str, Exercise] = {}


def exercise(key: str, question: str, hint: str, solution: str, praise: str = "Correct.") -> Callable[[Checker], Checker]:
    """Register the decorated function as the checker of exercise ``key``."""

    def register(checker: Checker) -> Checker:
        if key in _REGISTRY:
            raise ExerciseError(f"exercise {key!r} is registered twice")
        _REGISTRY[key] = Exercise(key, question, checker, hint, solution, praise)
        return checker

    return register


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def get(key: str) -> Exercise:
    """The exercise registered under ``key``; an unknown key lists the known ones."""
    _load_all()
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ExerciseError(f"No exercise called {key!r}. Known exercises: {', '.join(sorted(_REGISTRY))}") from None


def check(key: str, answer: Any) -> Verdict:
    """Check ``answer``; the returned verdict shows as what is right or exactly what is wrong."""
    item = get(key)
    problem = item.checker(answer)
    verdict = Verdict(key, problem is None, item.praise if problem is None else f"Not yet: {problem}")
    _record(verdict)
    return verdict


def _record(verdict: Verdict) -> None:
    """In a room (``LOOP_LAB_ROOM``), record the exercise and the verdict for the instructor, and say so.

    The row is written through the learner's own role (``DATABASE_URL``); a room that cannot be reached leaves
    the verdict as it is, with one line saying why.
    """
    room = os.environ.get(ROOM_ENV)
    if not room:
        return
    from kit._sync import run_sync
    from kit.db.room import record

    try:
        run_sync(record(os.environ.get("DATABASE_URL", ""), room, verdict.key, verdict.ok))
    except KitError as exc:
        print(f"(room {room!r}: this check was not recorded: {exc})")
        return
    print(f"(recorded for the instructor of room {room!r}: you, {verdict.key}, {verdict.mark}, the time; nothing else)")


def hint(key: str) -> None:
    """Print the hint of exercise ``key``."""
    print(f"Hint: {get(key).hint}")


def solution(key: str) -> None:
    """Print the solution of exercise ``key`` (only call it once you have tried)."""
    print(get(key).solution)
