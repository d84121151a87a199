"""Exercise of notebook 04: which session-scoped fixtures can tests on their own loops share safely?"""

from __future__ import annotations

from typing import Any

from kit.course.exercises import exercise

KEY = "04-session-safe"
CANDIDATES = ("settings", "pool", "migrated_schema", "connection")
SAFE = frozenset({"settings", "migrated_schema"})

_WHY_UNSAFE = {
    "pool": (
        "pool is an async fixture with scope='session': it runs on the session's event loop, so the pool and its "
        "connections belong to that loop. Each plain @pytest.mark.asyncio test runs on a loop of its own, and its "
        'first query fails with "attached to a different loop".'
    ),
    "connection": (
        "connection is synchronous, but what it returns is not plain data: an asyncpg connection made on the loop "
        'of asyncio.run, which closed before the fixture returned. The first test fails with "Event loop is closed", '
        'the next with "another operation is in progress". A sync def is not enough: the value must not belong to a loop.'
    ),
}
_WHY_SAFE = {
    "settings": (
        "settings is safe to share: a sync fixture runs on no loop, and a DatabaseConfig is plain data "
        "(host, port, user...). Nothing in it belongs to an event loop."
    ),
    "migrated_schema": (
        "migrated_schema is safe to share: asyncio.run starts a loop, runs the migration and closes that loop "
        "before the fixture returns. What it returns is a schema name, a string: nothing tied to a loop survives."
    ),
}


def _names(answer: Any) -> set[str] | str:
    """The answer as a set of names, or what is wrong with its shape."""
    if answer is ...:
        return 'answer with a set of fixture names, e.g. answer = {"settings"}.'
    if isinstance(answer, str):
        return f'answer with a set of names, not one string: answer = {{"{answer}"}} if that is the only one.'
    if not isinstance(answer, (set, frozenset, list, tuple)) or not all(isinstance(name, str) for name in answer):
        return f'answer with a set of fixture names (strings) such as {{"settings"}}; got {answer!r}.'
    return {name.strip() for name in answer}


@exercise(
    KEY,
    question=(
        "Which of the four candidate fixtures (settings, pool, migrated_schema, connection) can be session-scoped "
        "and used safely by tests on their own function loops? Answer with a set of names."
    ),
    hint=(
        "Ask of each fixture: does the value it hands to tests belong to an event loop? An async session fixture "
        "runs on the session loop. asyncio.run runs a loop that is closed when it returns: fine for work done "
        "inside it, fatal for an asyncpg object that comes out of it."
    ),
    solution=(
        'answer = {"settings", "migrated_schema"}\n'
        "# settings: sync, plain data. migrated_schema: asyncio.run finishes its loop inside the fixture; it returns a name.\n"
        "# pool: async, created on the session loop -> 'attached to a different loop' in every test.\n"
        "# connection: sync, but it returns a connection of asyncio.run's closed loop -> 'Event loop is closed'."
    ),
    praise=(
        "Right: settings and migrated_schema hand out plain data. pool and connection hand out asyncpg objects "
        "that belong to a loop the tests do not run on."
    ),
)
def _check_session_safe(answer: Any) -> str | None:
    names = _names(answer)
    if isinstance(names, str):
        return names
    unknown = sorted(names - set(CANDIDATES))
    if unknown:
        return f"{', '.join(map(repr, unknown))}: not among the candidates; choose from {', '.join(CANDIDATES)}."
    for name in ("pool", "connection"):
        if name in names:
            return _WHY_UNSAFE[name]
    for name in ("migrated_schema", "settings"):
        if name not in names:
            return f"you left out a safe one. {_WHY_SAFE[name]}"
    return None
