"""Every exercise: the right answers pass, and each wrong answer gets its own specific message."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import kit.course.exercises as exercises
import kit.course.exercises.nb05  # noqa: F401  (exercises.nb05 below)
import tests.exercise_cases as exercise_cases
import tests.exercise_cases.nb05  # noqa: F401


def _cases() -> list[tuple[str, dict]]:
    found = []
    for module_info in pkgutil.iter_modules(exercise_cases.__path__):
        module = importlib.import_module(f"tests.exercise_cases.{module_info.name}")
        found += [(key, cases) for key, cases in module.CASES.items()]
    return found


CASES = _cases()


def test_every_registered_exercise_has_cases() -> None:
    exercises._load_all()
    assert set(exercises._REGISTRY) == {key for key, _ in CASES}


@pytest.mark.parametrize(("key", "cases"), CASES, ids=[key for key, _ in CASES])
def test_right_and_wrong_answers(key: str, cases: dict) -> None:
    assert cases["right"], f"{key}: give at least one right answer"
    assert len(cases["wrong"]) >= 2, f"{key}: give at least two wrong answers"
    for answer in cases["right"]:
        verdict = exercises.check(key, answer)
        assert verdict.ok, f"{key}: a right answer was refused: {verdict.message}"
    messages = []
    for answer, fragment in cases["wrong"]:
        verdict = exercises.check(key, answer)
        assert not verdict.ok, f"{key}: the wrong answer {answer!r} was accepted"
        assert fragment in verdict.message, f"{key}: expected {fragment!r} in {verdict.message!r}"
        messages.append(verdict.message)
    assert len(set(messages)) == len(messages), f"{key}: each wrong answer needs its own message"


def test_unknown_exercise_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="Known exercises"):
        exercises.check("no-such-exercise", 1)


def test_hint_and_solution_print(capsys: pytest.CaptureFixture[str]) -> None:
    key = CASES[0][0]
    exercises.hint(key)
    exercises.solution(key)
    out = capsys.readouterr().out
    assert out.startswith("Hint: ") and len(out) > 20


def test_verdicts_show_a_word_and_a_colour_not_an_emoji() -> None:
    key, cases = CASES[0]
    right, wrong = exercises.check(key, cases["right"][0]), exercises.check(key, cases["wrong"][0][0])
    assert str(right).startswith(f"RIGHT [{key}] ") and str(wrong).startswith(f"TRY AGAIN [{key}] Not yet: ")
    for verdict in (right, wrong):
        assert str(verdict).split(" [")[0].isascii()
    assert 'style="color:#1a7f37"' in right._repr_html_() and 'style="color:#b3261e"' in wrong._repr_html_()
    assert "<script>" not in exercises.Verdict("k", False, "<script>")._repr_html_()


def test_the_first_try_of_exercise_05_does_not_give_the_answer_away() -> None:
    """The notebook's cell starts with a bare marker: the first check explains, the hint and solution tell."""
    bare = dict(exercise_cases.nb05.CASES[exercises.nb05.KEY]["wrong"])
    first = next(answer for answer in bare if getattr(answer, "__name__", "") == "_bare")
    message = exercises.check(exercises.nb05.KEY, first).message
    assert "attached to a different loop" in message and 'loop_scope="session"' not in message
