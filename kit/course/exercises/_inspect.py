"""Reading a learner's answer for the exercise checkers: text answers, fixtures and asyncio markers.

The only place in the exercises that reads pytest's and pytest-asyncio's private attributes
(``_fixture_function_marker``, ``_loop_scope``, ``_force_asyncio_fixture``...): an upgrade that renames
them is fixed here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


def blank(answer: object) -> bool:
    """True unless ``answer`` is a string with some text in it (``...``, None, numbers, "  " are blank)."""
    return not isinstance(answer, str) or not answer.strip()


def normalise(answer: str) -> str:
    """Lower case, letters and digits only: 'run_in_thread=True' -> 'runinthreadtrue'."""
    return re.sub(r"[^a-z0-9]", "", answer.lower())


@dataclass(frozen=True)
class FixtureDefinition:
    """What a fixture decorator recorded about the function it wraps."""

    func: Callable[..., Any]
    scope: str  # "dynamic" when the scope is a callable
    loop_scope: str | None  # pytest-asyncio's loop_scope=..., None when not given
    asyncio: bool  # made by @pytest_asyncio.fixture (strict mode ignores an async def under @pytest.fixture)


def fixture_definition(answer: object) -> FixtureDefinition | None:
    """The definition behind a pytest fixture object, or None when ``answer`` is not a fixture."""
    marker = getattr(answer, "_fixture_function_marker", None)
    if marker is None:
        return None
    func = answer._get_wrapped_function()  # type: ignore[attr-defined]
    return FixtureDefinition(
        func=func,
        scope=marker.scope if isinstance(marker.scope, str) else "dynamic",
        loop_scope=getattr(func, "_loop_scope", None),
        asyncio=bool(getattr(func, "_force_asyncio_fixture", False)),
    )


def source(func: Any) -> str:
    """The source code of ``func``, or "" when Python cannot find it (defined in a REPL, built-in...)."""
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return ""


def asyncio_marks(test: Any) -> list[pytest.Mark]:
    """The ``asyncio`` marks on a test function, nearest (innermost decorator) first."""
    return [mark for mark in getattr(test, "pytestmark", []) if getattr(mark, "name", None) == "asyncio"]
