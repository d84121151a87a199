"""Old import path, kept working: the code lives in :mod:`kit.diagnose.recorder` (``docs/architecture.md``)."""

from kit.course.pictures import plot
from kit.diagnose.causes import KNOWN_CAUSES, exception_chain, root_cause, short_message
from kit.diagnose.recorder import NO_LOOP, NOT_RUN, RESULT_COLUMNS, TIMELINE_COLUMNS, UNKNOWN, Recorder

pytest_plugins = ["kit.diagnose.recorder"]  # `-p kit.timeline --kit-record=PATH` loads the recorder plugin
