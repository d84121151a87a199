"""Exercise of notebook 10: which two changes fix a suite whose SQLAlchemy engine is created at import time."""

from __future__ import annotations

import re

from kit.course.exercises import exercise

KEY = "10-which-fixes"
RIGHT = frozenset({"a", "d"})
_WHY_NOT = {
    "b": (
        "b moves only the fixtures to the session loop; the tests still run on loops of their own, and the engine's "
        "pooled connection is used from each of them: still 'attached to a different loop'. It needs "
        "asyncio_default_test_loop_scope = session too, which is d."
    ),
    "c": (
        "nest_asyncio lets a loop's run_until_complete() nest; it moves no connection to another loop. The second "
        "test still awaits a connection of the first test's loop."
    ),
}
_MISSED = {
    "a": (
        "you left out a: with poolclass=NullPool the engine keeps no connection between uses, so each test opens "
        "its own, on its own loop (the fixed_sqlalchemy_nullpool suite of the kit's corpus shows it)."
    ),
    "d": "you left out d: with both ini defaults set to session, every fixture and test shares one loop (Fix 2).",
}


def _letters(answer: object) -> set[str] | None:
    if isinstance(answer, str):
        return set(re.findall(r"\b([a-z])\b", answer.lower()))
    if isinstance(answer, (set, frozenset, list, tuple)) and all(isinstance(part, str) for part in answer):
        return {part.strip().lower().strip("()") for part in answer}
    return None


@exercise(
    KEY,
    question=(
        "Without touching test_shop.py, which two changes make the broken suite pass: a) poolclass=NullPool, "
        "b) asyncio_default_fixture_loop_scope = session alone, c) nest_asyncio.apply() in a conftest, d) both ini "
        'defaults = session? Answer with a set of letters, e.g. {"a", "b"}.'
    ),
    hint=(
        "The second test fails because it gets a connection made on the first test's loop. One change keeps no "
        "connection between tests at all; another puts every test on the same loop. Fixtures alone are not enough."
    ),
    solution=(
        'answer = {"a", "d"}\n'
        "# a) NullPool: the engine keeps no connection between uses; every test connects anew, on its own loop.\n"
        "# d) both ini defaults = session: the engine's connection and every test live on one loop.\n"
        "# b) moves only the fixtures: the tests still run on loops of their own. c) nest_asyncio moves nothing."
    ),
    praise=(
        "Right: NullPool keeps no connection to share, and one session loop shares it on the same loop. b moves "
        "only the fixtures, and nest_asyncio moves nothing."
    ),
)
def _check_which_fixes(answer: object) -> str | None:
    letters = _letters(answer)
    if answer is ... or letters is None:
        return 'answer with a set of letters, e.g. answer = {"a", "b"}.'
    unknown = sorted(letters - {"a", "b", "c", "d"})
    if unknown:
        return f"there is no option {', '.join(unknown)}: the options are a, b, c and d."
    for letter in ("b", "c"):
        if letter in letters:
            return _WHY_NOT[letter]
    for letter in ("a", "d"):
        if letter not in letters:
            return _MISSED[letter]
    return None
