"""Exercise of notebook 05: mark a test so that it runs on the session loop, where ``db`` lives."""

from __future__ import annotations

import inspect
from typing import Any

from kit.course.exercises import exercise
from kit.course.exercises._inspect import asyncio_marks

KEY = "05-session-marker"


@exercise(
    KEY,
    question=(
        "The test test_on_the_session_loop(db) uses the kit's db fixture, which lives on the session loop. "
        "Change its marker so that it runs on that loop, then set answer = test_on_the_session_loop."
    ),
    hint=(
        "The marker takes a keyword that names the scope of the loop the test runs on. Since pytest-asyncio 0.24 "
        "it is called loop_scope, and db's loop is the session's."
    ),
    solution=(
        '@pytest.mark.asyncio(loop_scope="session")\n'
        "async def test_on_the_session_loop(db):\n"
        '    assert await db.fetchval("SELECT 1") == 1\n\n\n'
        "answer = test_on_the_session_loop\n"
        '# Or once per module: pytestmark = pytest.mark.asyncio(loop_scope="session"), with no marker on the test.'
    ),
    praise="Right: the test now runs on the session loop, the same loop as db's shared connection.",
)
def _check_session_marker(answer: Any) -> str | None:
    if answer is ...:
        return "set answer = test_on_the_session_loop (the test function itself, after you changed its marker)."
    if not inspect.isfunction(answer):
        return f"answer should be your test function; got a {type(answer).__name__}."
    if not inspect.iscoroutinefunction(answer):
        return f"{answer.__name__} is not async: write async def, so that it can await db.fetchval(...)."
    if "db" not in inspect.signature(answer).parameters:
        return f"{answer.__name__} does not take the db fixture: add db as a parameter, e.g. async def {answer.__name__}(db)."
    marks = asyncio_marks(answer)
    if not marks:
        return (
            "the test has no asyncio marker. In strict mode pytest-asyncio runs only marked tests, and pytest fails an "
            "unmarked async test. Give it an asyncio marker that puts it on db's loop."
        )
    if len(marks) > 1:
        return "the test carries more than one asyncio marker, and only the nearest counts: keep exactly one."
    mark = marks[0]
    if mark.args:
        return f'pass the loop scope by keyword, loop_scope="session", not as a positional argument {mark.args!r}.'
    if "scope" in mark.kwargs:
        return (
            f"scope={mark.kwargs['scope']!r} is the pytest-asyncio 0.23 spelling: 1.x still accepts it but warns that it "
            'is deprecated. Write loop_scope="session".'
        )
    loop_scope = mark.kwargs.get("loop_scope")
    if loop_scope is None:
        return (
            "a bare @pytest.mark.asyncio runs the test on the default test loop scope, function (it is unset here): "
            "a loop of its own, while db's connection lives on the session loop. The test would fail with "
            '"attached to a different loop". Which keyword of the marker chooses the loop, and which loop is db\'s? '
            "(hint() if you are stuck.)"
        )
    if loop_scope == "session":
        return None
    if loop_scope in ("function", "class", "module", "package"):
        return (
            f"loop_scope=\"{loop_scope}\" runs the test on the {loop_scope}'s loop, a different loop from the session's, "
            'where db\'s connection lives: "attached to a different loop". The loop scopes must match: "session".'
        )
    return f"loop_scope={loop_scope!r} is not a scope; use one of function, class, module, package, session (here: session)."
