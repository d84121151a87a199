"""Old import path, kept working: the code lives in :mod:`kit.course.exercises` (``docs/architecture.md``)."""

from kit.course.exercises import Exercise, Verdict, check, exercise, get, hint, solution
