"""Old import path, kept working: the code lives in :mod:`kit.diagnose.guard` (``docs/architecture.md``)."""

from kit.diagnose.guard import FLAG, LoopMismatchError
from kit.diagnose.rules import (
    SCOPES,
    LoopChoice,
    asyncio_version,
    event_loop_note,
    event_loop_overrides,
    fix_advice,
    loop_scope_of_fixture,
    loop_scope_of_test,
    scope_rank,
    source_location,
)

pytest_plugins = ["kit.diagnose.guard"]  # `-p kit.guard` loads the guard plugin
