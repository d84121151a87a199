"""pytest-asyncio's rules, as the kit reads them: the only module that knows pytest-asyncio's internals.

Which event loop a fixture or a test runs on and which marker or ini option chose it (the nearest
``asyncio`` marker wins), the runner whose loop a scope uses, and how to fix a fixture whose loop its
users do not share, worded for the installed version (0.23 to 1.x). The guard, the audit and the
recorder ask here instead of reading pytest-asyncio themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any, NamedTuple

import pytest

SCOPES = ("function", "class", "module", "package", "session")
# The collector whose stash names a scope's event loop fixture in pytest-asyncio 0.23 to 0.26.
_SCOPE_ROOTS = {"class": pytest.Class, "module": pytest.Module, "package": pytest.Package, "session": pytest.Session}
_NOT_INSTALLED = "pytest-asyncio is not installed: pip install 'pytest-asyncio>=0.24' (the course is written against 1.5.0)."


def asyncio_version() -> str | None:
    """The installed pytest-asyncio version, or ``None`` when it is not installed."""
    try:
        return _dist_version("pytest-asyncio")
    except PackageNotFoundError:
        return None


# What came (and went) with which pytest-asyncio version: (first version with it, first without it or None).
# The plugin and the tests ask has() instead of comparing versions.
_VERSIONS = tuple[tuple[int, int], "tuple[int, int] | None"]
FEATURES: dict[str, _VERSIONS] = {
    "loop_scope": ((0, 24), None),  # loop_scope= on pytest_asyncio.fixture and the asyncio marker (0.23: scope=)
    "fixture_loop_scope_ini": ((0, 24), None),  # the ini option asyncio_default_fixture_loop_scope
    "test_loop_scope_ini": ((0, 26), None),  # the ini option asyncio_default_test_loop_scope
    "fixture-scope": ((1, 0), None),  # asyncio_default_fixture_loop_scope = fixture-scope (0.24-0.26 reject it)
    # a test on a wider loop using an async fixture on a narrower one: MultipleEventLoopsRequestedError at collection
    "refuses_narrower_fixture_loops": ((0, 24), (1, 0)),
    "no_event_loop_fixture": ((1, 0), None),  # event_loop is gone: an override of it decides nothing
}


def has(feature: str, version: str | None = None) -> bool:
    """Whether pytest-asyncio ``version`` (default: the installed one) has ``feature``, a key of :data:`FEATURES`."""
    version = version or asyncio_version()
    if version is None:
        return False
    since, until = FEATURES[feature]
    return since <= _major_minor(version) and (until is None or _major_minor(version) < until)


def fixture_loop_kwargs(scope: str, loop_scope: str, version: str | None = None) -> dict[str, str] | None:
    """The keywords for ``pytest_asyncio.fixture`` that run an async fixture of ``scope`` on the ``loop_scope`` loop.

    ``None`` when the version cannot: before 0.24 an async fixture runs on the loop of its own scope, so only
    ``loop_scope == scope`` can be had there (with ``scope=`` alone).
    """
    kwargs = {} if scope == "function" else {"scope": scope}
    if has("loop_scope", version):
        return {**kwargs, "loop_scope": loop_scope}
    return kwargs if loop_scope == scope else None


def marker_loop_keyword(version: str | None = None) -> str:
    """The asyncio marker's keyword that picks a test's loop: ``loop_scope``, or ``scope`` before 0.24."""
    return "loop_scope" if has("loop_scope", version) else "scope"


def asyncio_ini(config: pytest.Config, name: str) -> str | None:
    """pytest-asyncio's ini option ``name``, or ``None`` when it is unset or the installed version has no such option.

    ``asyncio_default_fixture_loop_scope`` came with 0.24, ``asyncio_default_test_loop_scope`` with 0.26.
    """
    try:
        return config.getini(name) or None
    except ValueError:  # pytest: "unknown configuration value"
        return None


def scope_rank(scope: str) -> int:
    """Order of pytest scopes: function (0) is the narrowest, session (4) the widest."""
    return SCOPES.index(scope)


def loop_scope_of_fixture(fixturedef: pytest.FixtureDef, config: pytest.Config) -> str | None:
    """The scope of the event loop pytest-asyncio runs this fixture on; ``None`` if it does not run it.

    Same rule as pytest-asyncio 1.x: the fixture's ``loop_scope``, else
    ``asyncio_default_fixture_loop_scope``, else (unset or ``fixture-scope``) the fixture's own scope.
    """
    choice = loop_choice_of_fixture(fixturedef, config)
    return None if choice is None else choice.scope


def loop_choice_of_fixture(fixturedef: pytest.FixtureDef, config: pytest.Config) -> LoopChoice | None:
    """The loop scope pytest-asyncio runs this fixture on and what chose it; ``None`` if it does not run it."""
    func = getattr(fixturedef.func, "__func__", fixturedef.func)
    target = original_function(func)
    if not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)):
        return None
    if not getattr(func, "_force_asyncio_fixture", False) and _asyncio_mode(config) != "auto":
        return None
    own = _declared_loop_scope(func)
    if own:
        return LoopChoice(own, f"loop_scope={own!r} on fixture {fixturedef.argname!r}", False)
    default = asyncio_ini(config, "asyncio_default_fixture_loop_scope")
    if default and default != "fixture-scope":
        return LoopChoice(default, f"no loop_scope -> asyncio_default_fixture_loop_scope={default!r}", False)
    text = f"no loop_scope, {default_fixture_loop_setting(default)} -> the fixture's scope={fixturedef.scope!r}"
    return LoopChoice(fixturedef.scope, text, False)


def default_fixture_loop_setting(value: str | None = None, version: str | None = None) -> str:
    """How a report names the ``asyncio_default_fixture_loop_scope`` setting that leaves a fixture on its own scope's loop."""
    if not has("fixture_loop_scope_ini", version):
        return f"pytest-asyncio {version or asyncio_version()} has no asyncio_default_fixture_loop_scope"
    return f"asyncio_default_fixture_loop_scope {'unset' if not value else repr(value)}"


class LoopChoice(NamedTuple):
    """The loop an async test runs on and why."""

    scope: str
    decided_by: str
    overrides_marker: bool  # a bare marker on the test hides a wider class or module marker


def loop_scope_of_test(item: pytest.Item) -> LoopChoice:
    """The scope of the loop an async test runs on, and a short note on which marker or setting decided it.

    The nearest ``asyncio`` marker wins (test, then class, then module ``pytestmark``); a marker
    without ``loop_scope`` means ``asyncio_default_test_loop_scope``.
    """
    default = asyncio_ini(item.config, "asyncio_default_test_loop_scope") or "function"
    found = list(item.iter_markers_with_node("asyncio"))
    if not found:
        return LoopChoice(default, f"no asyncio marker -> asyncio_default_test_loop_scope={default!r}", False)
    scope = _marker_loop_scope(found[0][1])
    text = _marker_text(item, *found[0])
    if not scope:
        text += f" -> asyncio_default_test_loop_scope={default!r}"
    wider = [(node, mark) for node, mark in found[1:] if _marker_loop_scope(mark)]
    overrides = bool(wider) and _marker_loop_scope(wider[0][1]) != (scope or default)
    if overrides:
        text += f", overriding {_marker_text(item, *wider[0])} (the nearest marker wins)"
    return LoopChoice(scope or default, text, overrides and not scope)


def fix_advice(
    fixture: str,
    scope: str,
    loop_scope: str | None = None,
    *,
    consumer_fixture: str | None = None,
    marker_override: bool = False,
    sync_fixture: bool = False,
    version: str | None = None,
) -> str:
    """How to fix a fixture whose loop its users do not share, worded for a pytest-asyncio version.

    ``version`` defaults to the installed one. ``consumer_fixture`` names an async fixture that runs
    on a narrower loop than ``fixture``; ``marker_override`` says a bare test marker hides a wider
    module or class marker; ``sync_fixture`` says ``fixture`` is a plain (sync) fixture whose value
    holds objects created later, on the loop of whichever test used them first.
    """
    version = version or asyncio_version()
    if version is None:
        return _NOT_INSTALLED
    major_minor = _major_minor(version)
    loop = scope if loop_scope is None or scope_rank(loop_scope) < scope_rank(scope) else loop_scope
    if scope == "function":
        alternative = (
            f"  2. Or drop loop_scope from {fixture!r}: it then runs on each test's own loop "
            f"(and must not use fixtures of the {loop} loop)."
        )
        share = f"  1. Run everything that uses {fixture!r} on the {loop} loop:"
    else:
        alternative = (
            f"  2. Or make {fixture!r} function-scoped (drop scope=...): every test then gets its own, "
            "created on the test's loop (a few ms per test)."
        )
        share = f"  1. Keep one {fixture!r} for the {scope} and run everything that uses it on the {loop} loop:"
    if major_minor < (0, 23):
        return "\n".join(
            [
                f"How to fix it (pytest-asyncio {version}), either:",
                f"  1. Share one loop for the whole {scope}: override event_loop with the same scope",
                f'       @pytest.fixture(scope="{scope}")',
                "       def event_loop():",
                "           loop = asyncio.new_event_loop()",
                "           yield loop",
                "           loop.close()",
                "     (pytest-asyncio >= 0.24 replaces this with loop_scope=...; upgrading is better).",
                alternative,
            ]
        )
    if not has("loop_scope", version):
        lines = [
            f"How to fix it (pytest-asyncio {version}), either:",
            f'  1. Run the tests that use {fixture!r} on the {loop} loop: @pytest.mark.asyncio(scope="{loop}")',
            "     on each of them (0.23 has no loop_scope; an async fixture runs on the loop of its own scope).",
        ]
        if consumer_fixture:  # 0.23 runs a function-scoped async fixture on the test's function loop, whatever the marker
            lines.append(
                f"     Fixture {consumer_fixture!r} cannot join them: 0.23 runs it on each test's own loop whatever the "
                f"test's marker, so give it the {loop} scope too, or take 2."
            )
        if marker_override:
            lines.append(_BARE_MARKER)
        return "\n".join([*lines, alternative])
    lines = [f"How to fix it (pytest-asyncio {version}), either:", share]
    if not sync_fixture:
        scope_arg = "" if scope == "function" else f'scope="{scope}", '
        lines += [f'       @pytest_asyncio.fixture({scope_arg}loop_scope="{loop}")', f"       async def {fixture}(...): ..."]
    if consumer_fixture:
        lines.append(f'     and give fixture {consumer_fixture!r} the same loop: @pytest_asyncio.fixture(loop_scope="{loop}"),')
    lines += [
        f'     and mark the tests: @pytest.mark.asyncio(loop_scope="{loop}")',
        f'     (or once per module: pytestmark = pytest.mark.asyncio(loop_scope="{loop}")).',
    ]
    if marker_override:
        lines.append(_BARE_MARKER)
    if has("test_loop_scope_ini", version):
        lines.append(_ini_defaults(loop))
    lines.append(alternative)
    return "\n".join(lines)


def fix_advice_for_global(name: str, version: str | None = None, *, keep_nothing: str = "") -> str:
    """How to fix a module-level object (made at import time) that tests on different loops share.

    It binds to the loop of the first test that uses it; the tests must then share one loop (the
    session's), or the object must be made per test in a fixture. ``keep_nothing`` is how the object's library
    makes one that keeps nothing loop-bound between tests (an SQLAlchemy engine with ``NullPool``), if it can.
    """
    version = version or asyncio_version()
    if version is None:
        return _NOT_INSTALLED
    keyword = marker_loop_keyword(version)
    lines = [
        f"How to fix it (pytest-asyncio {version}), either:",
        f"  1. Run every test and async fixture that uses {name!r} on the session loop:",
        f'     @pytest.mark.asyncio({keyword}="session") on each test, or once per module:',
        f'     pytestmark = pytest.mark.asyncio({keyword}="session").',
    ]
    if has("test_loop_scope_ini", version):
        lines.append(_ini_defaults("session"))
    also = f"; {keep_nothing}" if keep_nothing else ""
    lines.append(
        f"  2. Or create {name!r} in a fixture instead of at import time (function-scoped: one per test, on the "
        f"test's loop){also}."
    )
    return "\n".join(lines)


_BARE_MARKER = (
    "     Remove the bare @pytest.mark.asyncio from the test: the nearest marker wins, "
    "so it overrides the module's or class's loop_scope."
)


def _ini_defaults(loop: str) -> str:
    return (
        f"     For a whole suite, the ini options asyncio_default_fixture_loop_scope = {loop} and "
        f"asyncio_default_test_loop_scope = {loop} do the same."
    )


def event_loop_note(location: str, version: str | None = None) -> str:
    """What an ``event_loop`` fixture override does under a pytest-asyncio version ("" when it still works)."""
    version = version or asyncio_version()
    if version is None or _major_minor(version) < (0, 23):
        return ""
    if has("no_event_loop_fixture", version):
        return (
            f"Your event_loop fixture ({location}) is ignored: pytest-asyncio 1.0 removed event_loop, "
            "so it no longer decides any loop. Delete it and give fixtures and tests a loop_scope instead."
        )
    instead = (
        "give fixtures and tests a loop_scope" if has("loop_scope", version) else "mark the tests @pytest.mark.asyncio(scope=...)"
    )
    return (
        f"Your event_loop fixture ({location}) is deprecated since pytest-asyncio 0.23 and does not give "
        f"session fixtures and tests one shared loop. Delete it and {instead} instead."
    )


def event_loop_overrides(item: pytest.Item) -> list[str]:
    """Locations of ``event_loop`` fixtures visible to ``item`` that the user (not pytest-asyncio) defined."""
    defs = item.session._fixturemanager.getfixturedefs("event_loop", item) or ()
    return [source_location(d.func) for d in defs if not getattr(d.func, "__module__", "").startswith("pytest_asyncio")]


def source_location(func: Callable[..., Any]) -> str:
    """``file:line`` where a (fixture) function is defined."""
    code = getattr(original_function(func), "__code__", None)
    if code is None:
        return "<unknown location>"
    return f"{code.co_filename}:{code.co_firstlineno}"


# ---- private helpers -------------------------------------------------------------------------------


def runner_loop(getvalue: Callable[[str], Any], scope: str, node: pytest.Item | pytest.Collector) -> object:
    """The event loop pytest-asyncio runs ``scope``'s code on, seen from ``node`` (the test, or the fixture's node).

    1.1 and later: the loop of its runner fixture (``_function_scoped_runner`` ...); 1.0: the loop fixture
    ``_function_event_loop`` ...; 0.23 to 0.26: the ``event_loop`` fixture for function scope, else the loop
    fixture whose name the scope's collector keeps in its stash. ``getvalue`` maps a fixture name to its value
    (``request.getfixturevalue``, ``item.funcargs.__getitem__``); a name it does not know raises a LookupError
    (KeyError, or pytest's FixtureLookupError).
    """
    try:
        return getvalue(f"_{scope}_scoped_runner").get_loop()
    except LookupError:
        pass
    try:
        return getvalue(f"_{scope}_event_loop")
    except LookupError:
        pass
    if scope == "function":
        return getvalue("event_loop")
    from pytest_asyncio.plugin import _event_loop_fixture_id

    root = next(n for n in reversed(node.listchain()) if isinstance(n, _SCOPE_ROOTS[scope]))
    return getvalue(root.stash[_event_loop_fixture_id])


def is_async_test(item: pytest.Item) -> bool:
    """Whether pytest-asyncio runs this test (an ``async def`` test it collected)."""
    from pytest_asyncio import is_async_test as _is_async

    return _is_async(item)


def _asyncio_mode(config: pytest.Config) -> str:
    return config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")


def original_function(func: Callable[..., Any]) -> Callable[..., Any]:
    """The user's own function behind a fixture or test (pytest-asyncio and decorators wrap it)."""
    while hasattr(func, "__wrapped__"):
        func = func.__wrapped__
    return getattr(func, "__func__", func)


def _declared_loop_scope(func: Callable[..., Any]) -> str | None:
    """The ``loop_scope`` given to ``pytest_asyncio.fixture``, if any.

    During setup pytest-asyncio wraps the fixture in a synchronizer carrying the *resolved* loop scope; the
    innermost function in the ``__wrapped__`` chain that has ``_loop_scope`` holds what the user declared.
    """
    declared = None
    current: Any = func
    while current is not None:
        current = getattr(current, "__func__", current)
        if hasattr(current, "_loop_scope"):
            declared = current._loop_scope
        current = getattr(current, "__wrapped__", None)
    return declared


def _marker_loop_scope(mark: pytest.Mark) -> str | None:
    return mark.kwargs.get("loop_scope") or mark.kwargs.get("scope")


def _marker_text(item: pytest.Item, node: object, mark: pytest.Mark) -> str:
    """Render an asyncio marker and where it sits, e.g. ``@pytest.mark.asyncio on the test``."""
    args = ", ".join(f"{key}={value!r}" for key, value in mark.kwargs.items())
    decorator = f"pytest.mark.asyncio({args})" if args else "pytest.mark.asyncio"
    if node is item:
        declared = getattr(getattr(item, "function", None), "pytestmark", [])
        if mark not in declared and _asyncio_mode(item.config) == "auto":
            return "asyncio_mode=auto"
        return f"{'@' + decorator if args else 'bare @' + decorator} on the test"
    if isinstance(node, pytest.Class):
        return f"@{decorator} on class {node.name}"
    if isinstance(node, pytest.Module):
        return f"pytestmark = {decorator} in {node.path.name}"
    return f"{decorator} on {node}"


def _major_minor(version: str) -> tuple[int, int]:
    parts = (version.split(".") + ["0"])[:2]
    return tuple(int("".join(ch for ch in part if ch.isdigit()) or 0) for part in parts)  # type: ignore[return-value]


def item_loop_scope(item: pytest.Item) -> str | None:
    """The loop scope pytest-asyncio runs ``item`` in, or ``None`` for tests it does not run."""
    try:
        return getattr(item, "_loop_scope", None)
    except Exception:  # a malformed asyncio marker: pytest-asyncio reports it itself
        return None
