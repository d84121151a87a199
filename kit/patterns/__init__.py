"""Old import path, kept working: the code lives in :mod:`kit.course.patterns` (``docs/architecture.md``)."""

from kit.course.patterns import PATTERNS, Pattern, records
