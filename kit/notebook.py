"""Old import path, kept working: the code lives in :mod:`kit.course.notebook` (``docs/architecture.md``)."""

from kit.course.notebook import RunResult, last_run, plot_timeline, run, run_file, setup, timeline
from kit.errors import NotebookError
