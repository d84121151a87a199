"""The catalogue of fixture patterns the lesson runs: which fixtures, where they live, what happens.

The working patterns are fixtures of the kit's pytest plugin (:mod:`kit.plugin`, always
registered); the broken ones live in :mod:`kit.course.broken` and must be enabled on purpose.
``pandas.DataFrame(records())`` shows the catalogue as a table. Outcomes are those measured with
pytest-asyncio 1.5.0 and asyncpg 0.32.0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Pattern:
    """One fixture pattern: its fixtures, the marker its tests need, and what happens when tests use it."""

    name: str
    module: str
    fixtures: tuple[str, ...]
    test_marker: str
    works: bool
    outcome: str
    replaced_by: str = ""


_PLUGIN = "kit.plugin"
_BROKEN = "kit.course.broken"
_PLAIN = "@pytest.mark.asyncio"
_SESSION = '@pytest.mark.asyncio(loop_scope="session")'

PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "function scope (the seed's recommendation)",
        _PLUGIN,
        ("database_config", "test_connection", "connection_manager", "dependency_analyzer", "clean_test_schema"),
        _PLAIN,
        True,
        "passes; a new connection per test (about 5-9 ms each on a local server)",
    ),
    Pattern(
        "sync session config (the seed's alternative)",
        _PLUGIN,
        ("database_settings", "session_config_connection"),
        _PLAIN,
        True,
        "passes; only loop-free settings are shared, connections are per test",
    ),
    Pattern(
        "session loop + rollback per test",
        _PLUGIN,
        ("shared_connection", "shared_pool", "db"),
        _SESSION,
        True,
        "passes; about 10x cheaper per test, each test's writes rolled back",
    ),
    Pattern(
        "session pool, function-loop tests",
        _BROKEN,
        ("session_pool",),
        _PLAIN,
        False,
        "RuntimeError: ... attached to a different loop, then InterfaceError: another operation is in progress",
        "shared_pool with loop_scope='session' tests, or test_connection",
    ),
    Pattern(
        "single session connection",
        _BROKEN,
        ("session_connection",),
        _PLAIN,
        False,
        "first test: attached to a different loop; later tests: another operation is in progress",
        "db, or test_connection",
    ),
    Pattern(
        "fire-and-forget cleanup",
        _BROKEN,
        ("fire_and_forget_manager",),
        _PLAIN,
        False,
        "close_all_connections() returns with the connection still open; closes only if the loop runs again",
        "connection_manager (close awaited)",
    ),
    Pattern(
        "session event_loop override (0.21 recipe)",
        _BROKEN,
        ("event_loop", "session_pool"),
        _PLAIN,
        False,
        "override silently ignored since pytest-asyncio 1.0: still attached to a different loop",
        "loop_scope='session' on fixture and tests",
    ),
)


def records() -> list[dict[str, object]]:
    """The catalogue as a list of dicts, one per pattern, ready for ``pandas.DataFrame``."""
    return [dict(asdict(p), fixtures=", ".join(p.fixtures)) for p in PATTERNS]
