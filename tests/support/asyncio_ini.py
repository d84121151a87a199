"""The test suites' pytest-asyncio spelling, for the installed version (kit.diagnose.rules says what it has).

pytest-asyncio 1.x spells "async fixtures get the loop of their own scope" as
``asyncio_default_fixture_loop_scope = fixture-scope``; 0.24 to 0.26 reject that value (``KeyError:
'fixture-scope'``) and do the same when the option is unset (with a deprecation warning). 0.23 has no
``loop_scope`` at all: :func:`spelled` writes a suite (or an expected line of advice) as 0.23 says it.
"""

from __future__ import annotations

import re

import pytest

from kit.diagnose.rules import default_fixture_loop_setting, has, marker_loop_keyword

FIXTURE_SCOPE_INI = "asyncio_default_fixture_loop_scope = fixture-scope" if has("fixture-scope") else ""
# how the guard names that setting
FIXTURE_SCOPE_SETTING = default_fixture_loop_setting("fixture-scope" if has("fixture-scope") else None)


# the session fixture's part of the fix advice (0.23: the fixture is on its session loop already, only the tests move)
SESSION_FIXTURE_FIX = (
    '@pytest_asyncio.fixture(scope="session", loop_scope="session")'
    if has("loop_scope")
    else "an async fixture runs on the loop of its own scope"
)
# the advice for a narrower fixture between the session fixture and the tests (0.23 cannot put it on their loop)
SAME_LOOP_FOR = "give fixture {!r} the same loop" if has("loop_scope") else "Fixture {!r} cannot join them"


def fixture_loop_choice(fixture: str, scope: str) -> str:
    """What chose the loop of ``fixture``, declared ``scope=SCOPE, loop_scope=SCOPE`` (spelled for 0.23 without it)."""
    if has("loop_scope"):
        return f"loop_scope={scope!r} on fixture {fixture!r}"
    return f"no loop_scope, {FIXTURE_SCOPE_SETTING} -> the fixture's scope={scope!r}"


def refused_loop_scope(result: pytest.RunResult) -> bool:
    """Whether the installed pytest-asyncio refused the suite's ``loop_scope=`` (0.23 has none: a TypeError at
    collection, checked here); the tests of a fixture on a loop wider than its scope stop there on 0.23."""
    if has("loop_scope"):
        return False
    result.stdout.fnmatch_lines(["*TypeError: *unexpected keyword argument 'loop_scope'*"])
    return True


# scope="S", loop_scope="S" on a fixture: before 0.24 the same fixture says scope="S" alone
_SAME_LOOP = re.compile(r"""scope=(["'])(\w+)\1,\s*loop_scope=\1\2\1""")
_MARKER = re.compile(r"(pytest\.mark\.asyncio\()loop_scope=")


def spelled(source: str) -> str:
    """``source`` (a suite, or an expected line of advice) in the installed pytest-asyncio's words.

    Before 0.24: the asyncio marker's ``loop_scope=`` is ``scope=``, and a fixture on the loop of its own scope
    drops ``loop_scope=``. A fixture on a loop wider than its scope keeps it: 0.23 cannot say that (a
    ``TypeError`` at collection, which the tests for it expect).
    """
    if has("loop_scope"):
        return source
    return _MARKER.sub(rf"\g<1>{marker_loop_keyword()}=", _SAME_LOOP.sub(r"scope=\1\2\1", source))
