"""Exercise of notebook 02: which of the scenarios pass on pytest-asyncio 1.5.0 (the version the course pins)."""

from __future__ import annotations

import re

from kit.course.exercises import exercise
from kit.course.scenarios import SCENARIOS, passing

PASSING = passing()  # the scenario table of notebook 02, on the pinned pytest-asyncio

# Why a scenario that does NOT pass was picked, most instructive first.
_NOT_PASSING = {
    "D": (
        'D is the half fix: loop_scope="session" puts the pool on the session loop, but the tests, with a bare '
        '@pytest.mark.asyncio, still run on loops of their own: DIFF-LOOP. The tests need loop_scope="session" too.'
    ),
    "G": (
        "G overrides event_loop, the pytest-asyncio 0.21 recipe. pytest-asyncio 1.0 removed that fixture: nothing "
        "requests your override any more, so it is silently ignored, and the tests fail with DIFF-LOOP."
    ),
    "I'": (
        "I' puts a bare @pytest.mark.asyncio on each test. The marker nearest to the test wins over the module's "
        "pytestmark, so each test runs on a function loop of its own again: DIFF-LOOP."
    ),
    "C": (
        "C sets asyncio_default_fixture_loop_scope = function: a session-scoped fixture cannot use a function-scoped "
        "loop, so every test errors at set-up with ScopeMismatch."
    ),
    "B": (
        "B moves only the fixtures to the session loop (asyncio_default_fixture_loop_scope = session); the tests "
        "still run on function loops: DIFF-LOOP. asyncio_default_test_loop_scope is the other half."
    ),
    "A": "A is the seed project's setup, the failure of notebook 01: DIFF-LOOP.",
}
_MISSED = {
    "E": 'you left out E, the official fix: loop_scope="session" on the fixture AND on the tests\' markers.',
    "F": (
        'you left out F: the 0.23 spelling @pytest.mark.asyncio(scope="session") still works on 1.5.0, with a '
        "deprecation warning (see the warnings column)."
    ),
    "H": "you left out H: with both ini defaults set to session, fixtures and tests share the session loop.",
    "I": "you left out I: pytestmark puts the session-loop marker on every test of the module.",
}


def _names(answer: object) -> set[str] | None:
    """The scenario names in an answer: a set/list/tuple of names, or a string such as "E, F, H, I"."""
    if isinstance(answer, str):
        parts = re.findall(r"[A-Ia-i]['’]?", answer)
    elif isinstance(answer, (set, frozenset, list, tuple)) and all(isinstance(part, str) for part in answer):
        parts = [part.strip() for part in answer]
    else:
        return None
    return {part.upper().replace("’", "'") for part in parts}


@exercise(
    "02-passing-scenarios",
    question=(
        "Which scenarios pass on this version of pytest-asyncio? Answer with a set of names, "
        'e.g. answer = {"A", "B"} (write I\' as "I\'").'
    ),
    hint=(
        "Read the outcome column of the scenario table. For each row that passes, ask which loop the pool ran on "
        "and which loop the tests ran on."
    ),
    solution=(
        'answer = {"E", "F", "H", "I"}\n'
        "# E: loop_scope='session' on fixture and tests (the official fix). F: the deprecated scope='session' marker.\n"
        "# H: both ini defaults = session. I: pytestmark with loop_scope='session' and no marker on the tests.\n"
        "# D (half fix), G (event_loop override ignored) and I' (bare marker wins) still fail with DIFF-LOOP."
    ),
    praise=(
        "Right: E, F, H and I. Each puts the pool AND the tests on the same (session) loop; D, G and I' look "
        "similar but leave the tests on function loops."
    ),
)
def _check_passing(answer: object) -> str | None:
    names = _names(answer)
    if answer is ... or names is None or not names:
        return 'answer with a set of scenario names, e.g. {"A", "B"}.'
    unknown = sorted(names - set(SCENARIOS))
    if unknown:
        return f"there is no scenario {', '.join(unknown)}; the scenarios are {', '.join(SCENARIOS)}."
    for name, message in _NOT_PASSING.items():
        if name in names:
            return message
    for name, message in _MISSED.items():
        if name not in names:
            return message
    return None
