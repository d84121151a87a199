"""Old import path, kept working: the code lives in :mod:`kit.course.broken` (``docs/architecture.md``)."""

from kit.course.broken import (
    FireAndForgetConnectionManager,
    event_loop,
    fire_and_forget_manager,
    session_connection,
    session_pool,
)
