"""Old import path, kept working: the code lives in :mod:`kit.course.doctor` (``docs/architecture.md``)."""

from kit.course.doctor import DISTRIBUTION, SETUP_FIX, Check, checks, format_table, pins, run_checks
