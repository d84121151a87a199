"""Exercise of notebook 03: write the function-scoped ``test_connection`` fixture yourself."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from kit._sync import run_sync
from kit.course.exercises import exercise
from kit.course.exercises._inspect import FixtureDefinition, fixture_definition, source

KEY = "03-test-connection"

_SOLUTION = '''\
@pytest_asyncio.fixture
async def test_connection(database_config):
    """A new connection for this test, on the test's own event loop; closed, awaited, afterwards."""
    conn = await connect(database_config)
    try:
        await conn.fetchval("SELECT 1")
        yield conn
    finally:
        await conn.close()


answer = test_connection
# No scope: function scope, so the connection lives on the loop of the test that uses it.
# yield, then await conn.close(): teardown returns only when the connection is really closed.'''


def _fixture(answer: Any) -> FixtureDefinition | str:
    """The definition of the learner's fixture, or what is wrong with ``answer``."""
    if answer is ...:
        return "define your fixture in the cell, then set answer = test_connection (the fixture itself, not a call)."
    fixture = fixture_definition(answer)
    if fixture is None:
        if inspect.isfunction(answer):
            return (
                f"{answer.__name__} is a plain function, not a fixture: decorate it with @pytest_asyncio.fixture "
                "so pytest can hand its value to tests."
            )
        return f"answer should be your fixture function; got a {type(answer).__name__}."
    return fixture


def _static_problem(fixture: FixtureDefinition) -> str | None:
    """What reading the fixture's definition already shows to be wrong."""
    func, scope, loop_scope = fixture.func, fixture.scope, fixture.loop_scope
    if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
        return "the fixture is synchronous: opening an asyncpg connection must be awaited, so write async def."
    if not fixture.asyncio:
        return (
            "@pytest.fixture on an async def: in strict mode pytest-asyncio ignores it, and pytest 9 refuses the test "
            '("requested an async fixture ... with no plugin or hook that handled it"). Use @pytest_asyncio.fixture.'
        )
    if scope != "function":
        return (
            f"scope={scope!r}: the connection is then created once, on the {scope}'s event loop, but each plain "
            "@pytest.mark.asyncio test runs on a loop of its own, so its first query fails with "
            '"attached to a different loop". Leave scope out: one connection per test, on the test\'s loop.'
        )
    if loop_scope not in (None, "function"):
        return (
            f"loop_scope={loop_scope!r} creates each connection on the {loop_scope} loop while plain "
            '@pytest.mark.asyncio tests run on their own loop: "attached to a different loop". Leave loop_scope out.'
        )
    text = source(func)
    if "create_task" in text:
        return (
            "asyncio.create_task(conn.close()) only schedules the close and returns at once: teardown says done "
            "while the connection is still open, and an error in the close is never seen. Write await conn.close()."
        )
    if not inspect.isasyncgenfunction(func):
        return (
            "the fixture returns the connection: nothing runs after the test, so it is never closed. "
            "yield the connection instead, and await conn.close() after the yield."
        )
    if text and ".close(" not in text and ".terminate(" not in text:
        return "nothing after the yield closes the connection: add await conn.close() after yield (in a finally: block)."
    return None


async def _exercise(func: Any, dsn: str) -> str | None:
    """Run the fixture's set-up and teardown once, as pytest would; say what went wrong, if anything."""
    params = list(inspect.signature(func).parameters)
    if params != ["database_config"]:
        return f"the fixture takes ({', '.join(params)}); it should take exactly one argument, database_config (the DSN)."
    steps: AsyncIterator[Any] = func(dsn)
    conn = await anext(steps)
    if not isinstance(conn, asyncpg.Connection):
        return f"the fixture yields a {type(conn).__name__}; it should yield the asyncpg connection."
    try:
        if await conn.fetchval("SELECT 1") != 1:
            return "the connection it yields does not answer SELECT 1 with 1."
        try:
            await anext(steps)
        except StopAsyncIteration:
            pass
        else:
            return "the fixture yields more than once; yield the connection exactly once."
        if not conn.is_closed():
            return (
                "after the test the connection was still open: is the close awaited? conn.close() without await "
                "only creates a coroutine that never runs."
            )
        return None
    finally:
        if not conn.is_closed():
            conn.terminate()


@exercise(
    KEY,
    question=(
        "Write the fixture test_connection(database_config): a new asyncpg connection for each test, checked with "
        "SELECT 1, handed to the test, and closed afterwards. Then set answer = test_connection."
    ),
    hint=(
        "Four things: @pytest_asyncio.fixture (strict mode), no scope= (function scope: the test's own loop), "
        "an async generator (yield the connection), and await conn.close() after the yield, in a finally: block. "
        "connect() from kit.db.connections works like asyncpg.connect with timeouts."
    ),
    solution=_SOLUTION,
    praise=(
        "Right: a function-scoped async fixture on the test's own loop, whose teardown returns only once the "
        "connection is closed."
    ),
)
def _check_test_connection(answer: Any) -> str | None:
    fixture = _fixture(answer)
    if isinstance(fixture, str):
        return fixture
    problem = _static_problem(fixture)
    if problem is not None:
        return problem
    from kit.db.server import ensure_server

    try:
        return run_sync(_exercise(fixture.func, ensure_server()))
    except Exception as exc:  # the learner's code failed: say how
        return f"running your fixture raised {type(exc).__name__}: {exc}"
