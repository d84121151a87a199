"""Loop guard: a pytest plugin that stops a test *before* it uses an asyncpg pool or connection
on an event loop the object does not belong to.

Without it, that mistake surfaces as ``RuntimeError: ... attached to a different loop`` deep in
asyncpg, then as ``InterfaceError: another operation is in progress`` on every later test, and the
connection is left broken. With it, the test fails at once with a :class:`LoopMismatchError` naming
the fixture that created the object, its scope and loop scope, the loop the test runs on and the
marker that chose it, and the fix for the installed pytest-asyncio.

Turn it on (it is off by default and then changes nothing):

* command line: ``pytest --loop-guard`` (:data:`FLAG`);
* ini file: ``loop_guard = true`` (``[tool.pytest.ini_options]`` in pyproject.toml);
* notebook: ``kit.notebook.setup(loop_guard=True)``, or ``ipytest.run(kit.guard.FLAG)``.

The kit's pytest plugin loads this module; elsewhere load it with ``-p kit.guard``.

How it works: after every fixture setup it records which fixture produced each asyncpg
``Pool``/``Connection`` found in the value (the value itself, containers, and objects up to two
attribute levels deep, e.g. ``analyzer.connection_manager._connection``). Before an async test
runs, and before an async fixture runs, it compares the loop of every asyncpg object in the
arguments (``obj._loop``) with the loop of the pytest-asyncio runner that is about to run the
code. Nothing is sent to the server before that check.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version as _dist_version
from itertools import islice
from typing import Any, NamedTuple

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy

FLAG = "--loop-guard"
SCOPES = ("function", "class", "module", "package", "session")

_MAX_DEPTH = 2  # attribute levels searched below a fixture value
_MAX_OBJECTS = 2000  # objects visited per fixture value, whatever its shape
_MAX_ITEMS = 200  # items looked at per list, set or dict
_OPAQUE_PACKAGES = {"builtins", "_pytest", "pytest", "pluggy", "pytest_asyncio", "asyncio", "asyncpg", "typing", "types"}


class LoopMismatchError(pytest.fail.Exception):
    """An asyncpg object was about to be used on an event loop other than the one it was created on.

    It is reported without a traceback: the message is the whole diagnosis.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, pytrace=False)


@dataclass(frozen=True)
class _Origin:
    fixture: str
    scope: str
    loop_scope: str | None
    location: str


@dataclass(frozen=True)
class _User:
    """The test or fixture about to run, and the loop it runs on."""

    kind: str  # "test" or "fixture"
    name: str
    loop_scope: str
    decided_by: str
    marker_override: bool = False


_Table = dict[int, tuple[object, _Origin]]


class _Guard:
    """Per-session record of which fixture created which asyncpg object (and which fixture holds what)."""

    def __init__(self) -> None:
        self._created: _Table = {}  # asyncpg object id -> (object, the fixture whose value it was first seen in)
        self._held: _Table = {}  # fixture value id -> (value, its fixture)
        self._owned: dict[int, list[tuple[_Table, int]]] = {}

    def record(self, fixturedef: pytest.FixtureDef, value: object, loop_scope: str | None, inputs: set[int]) -> None:
        """Remember ``value`` as the value of ``fixturedef``, and the asyncpg objects it created.

        ``inputs`` are the ids of asyncpg objects already reachable from the fixture's arguments:
        the fixture passed those on, it did not create them.
        """
        if value is None or isinstance(value, (str, bytes, int, float)):
            return
        origin = _Origin(fixturedef.argname, fixturedef.scope, loop_scope, source_location(fixturedef.func))
        owned = self._owned.setdefault(id(fixturedef), [])
        found = [obj for _, obj, _ in _asyncpg_objects(value, fixturedef.argname) if id(obj) not in inputs]
        for table, obj in [(self._held, value)] + [(self._created, obj) for obj in found]:
            if id(obj) not in table:
                table[id(obj)] = (obj, origin)
                owned.append((table, id(obj)))

    def forget(self, fixturedef: pytest.FixtureDef) -> None:
        """Drop what a torn-down fixture produced."""
        for table, key in self._owned.pop(id(fixturedef), []):
            table.pop(key, None)

    def check(self, user: _User, values: dict[str, object], loop: Callable[[], object], node: pytest.Item) -> None:
        """Raise :class:`LoopMismatchError` if any asyncpg object in ``values`` lives on another loop."""
        running = None
        for name, value in values.items():
            for path, obj, holders in _asyncpg_objects(value, name):
                home = _home_loop(obj)
                if home is None:
                    continue
                running = running or loop()
                if home is not running:
                    created = self._created.get(id(obj))
                    held = next((self._held[id(h)] for h in reversed(holders) if id(h) in self._held), None)
                    raise LoopMismatchError(_message(user, path, obj, created and created[1], held and held[1], node))


_STATE = pytest.StashKey[_Guard]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--loop-guard`` and the ``loop_guard`` ini option."""
    help_text = "fail at once, before any query, when an asyncpg pool or connection is used on another event loop"
    parser.getgroup("loop-guard").addoption(FLAG, action="store_true", default=False, dest="loop_guard", help=help_text)
    parser.addini("loop_guard", type="bool", default=False, help=help_text)


def pytest_configure(config: pytest.Config) -> None:
    """Switch the guard on when the flag or the ini option asks for it."""
    if config.getoption("loop_guard") or config.getini("loop_guard"):
        config.stash[_STATE] = _Guard()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> Iterator[None]:
    """Check an async fixture's arguments before it runs; record the asyncpg objects it returns."""
    guard = request.config.stash.get(_STATE, None)
    if guard is None:
        return (yield)
    loop_scope = loop_scope_of_fixture(fixturedef, request.config)
    values = {name: request.getfixturevalue(name) for name in fixturedef.argnames if name != "request"}
    if loop_scope is not None:
        user = _User("fixture", fixturedef.argname, loop_scope, f"fixture scope={fixturedef.scope!r}")
        guard.check(user, values, lambda: _runner_loop(request.getfixturevalue, loop_scope), request.node)
    inputs = {id(obj) for name, value in values.items() for _, obj, _ in _asyncpg_objects(value, name)}
    value = yield
    guard.record(fixturedef, value, loop_scope, inputs)
    return value


def pytest_fixture_post_finalizer(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> None:
    """Forget the objects of a fixture that has been torn down."""
    guard = request.config.stash.get(_STATE, None)
    if guard is not None:
        guard.forget(fixturedef)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    """Check an async test's arguments against the loop it is about to run on."""
    guard = pyfuncitem.config.stash.get(_STATE, None)
    if guard is not None and _is_async_test(pyfuncitem):
        scope, decided_by, overrides = loop_scope_of_test(pyfuncitem)
        user = _User("test", pyfuncitem.name, scope, decided_by, overrides)
        funcargs = pyfuncitem.funcargs
        values = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames if name in funcargs}
        guard.check(user, values, lambda: _runner_loop(funcargs.__getitem__, scope), pyfuncitem)
    return (yield)


# ---- what pytest-asyncio decides (shared with kit.audit) -------------------------------------------


def asyncio_version() -> str | None:
    """The installed pytest-asyncio version, or ``None`` when it is not installed."""
    try:
        return _dist_version("pytest-asyncio")
    except PackageNotFoundError:
        return None


def scope_rank(scope: str) -> int:
    """Order of pytest scopes: function (0) is the narrowest, session (4) the widest."""
    return SCOPES.index(scope)


def loop_scope_of_fixture(fixturedef: pytest.FixtureDef, config: pytest.Config) -> str | None:
    """The scope of the event loop pytest-asyncio runs this fixture on; ``None`` if it does not run it.

    Same rule as pytest-asyncio 1.x: the fixture's ``loop_scope``, else
    ``asyncio_default_fixture_loop_scope``, else (unset or ``fixture-scope``) the fixture's own scope.
    """
    func = getattr(fixturedef.func, "__func__", fixturedef.func)
    target = _unwrap(func)
    if not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)):
        return None
    if not getattr(func, "_force_asyncio_fixture", False) and _asyncio_mode(config) != "auto":
        return None
    default = config.getini("asyncio_default_fixture_loop_scope")
    if default == "fixture-scope":
        default = None
    return getattr(func, "_loop_scope", None) or default or fixturedef.scope


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
    default = item.config.getini("asyncio_default_test_loop_scope") or "function"
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
        return "pytest-asyncio is not installed: pip install 'pytest-asyncio>=1.0' (the kit pins 1.5.0)."
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
        return "\n".join([
            f"How to fix it (pytest-asyncio {version}), either:",
            f"  1. Share one loop for the whole {scope}: override event_loop with the same scope",
            f'       @pytest.fixture(scope="{scope}")',
            "       def event_loop():",
            "           loop = asyncio.new_event_loop()",
            "           yield loop",
            "           loop.close()",
            "     (pytest-asyncio >= 0.24 replaces this with loop_scope=...; upgrading is better).",
            alternative,
        ])
    if major_minor < (0, 24):
        return "\n".join([
            f"How to fix it (pytest-asyncio {version}), either:",
            f'  1. Run the tests that use {fixture!r} on the {loop} loop: @pytest.mark.asyncio(scope="{loop}")',
            "     on each of them (0.23 has no loop_scope; an async fixture runs on the loop of its own scope).",
            alternative,
        ])
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
        lines.append(
            "     Remove the bare @pytest.mark.asyncio from the test: the nearest marker wins, "
            "so it overrides the module's or class's loop_scope."
        )
    if major_minor >= (0, 26):
        lines.append(
            f"     For a whole suite, the ini options asyncio_default_fixture_loop_scope = {loop} and "
            f"asyncio_default_test_loop_scope = {loop} do the same."
        )
    lines.append(alternative)
    return "\n".join(lines)


def event_loop_note(location: str, version: str | None = None) -> str:
    """What an ``event_loop`` fixture override does under a pytest-asyncio version ("" when it still works)."""
    version = version or asyncio_version()
    if version is None or _major_minor(version) < (0, 23):
        return ""
    if _major_minor(version) >= (1, 0):
        return (
            f"Your event_loop fixture ({location}) is ignored: pytest-asyncio 1.0 removed event_loop, "
            "so it no longer decides any loop. Delete it and give fixtures and tests a loop_scope instead."
        )
    return (
        f"Your event_loop fixture ({location}) is deprecated since pytest-asyncio 0.23 and does not give "
        "session fixtures and tests one shared loop. Delete it and give fixtures and tests a loop_scope instead."
    )


def event_loop_overrides(item: pytest.Item) -> list[str]:
    """Locations of ``event_loop`` fixtures visible to ``item`` that the user (not pytest-asyncio) defined."""
    defs = item.session._fixturemanager.getfixturedefs("event_loop", item) or ()
    return [source_location(d.func) for d in defs if not getattr(d.func, "__module__", "").startswith("pytest_asyncio")]


def source_location(func: Callable[..., Any]) -> str:
    """``file:line`` where a (fixture) function is defined."""
    code = getattr(_unwrap(func), "__code__", None)
    if code is None:
        return "<unknown location>"
    return f"{code.co_filename}:{code.co_firstlineno}"


# ---- private helpers -------------------------------------------------------------------------------


def _message(
    user: _User, path: str, obj: object, created: _Origin | None, held: _Origin | None, node: pytest.Item
) -> str:
    kind = _kind(obj)
    subject = f"test {user.name!r}" if user.kind == "test" else f"fixture {user.name!r}"
    origin = created or held
    if created is not None:
        made = f"created by fixture {_describe(created)}"
    elif held is not None:
        made = f"created later, on another loop, inside the value of fixture {_describe(held)}"
    else:
        made = "created on another event loop, outside any fixture"
    lines = [
        f"{subject} would use an asyncpg {kind} on an event loop it was not created on.",
        f"  The {kind}: {path}, {made}.",
        f"  The {user.kind}: runs on the {user.loop_scope}-scoped loop ({user.decided_by}).",
        f"  Stopped before any query was sent: the {kind} is not damaged. Unguarded, this shows up as",
        '  "RuntimeError: ... attached to a different loop", then "InterfaceError: ... another operation is in progress".',
    ]
    lines += [f"  {note}" for note in map(event_loop_note, event_loop_overrides(node)) if note]
    lines.append(f"  (LoopMismatchError from kit.guard; run without {FLAG} to see the raw asyncpg failure.)")
    if origin is None:
        return "\n".join(lines + ["How to fix it: create it in a fixture, on the loop of the tests that use it."])
    consumer = user.name if user.kind == "fixture" else None
    fix = fix_advice(
        origin.fixture,
        origin.scope,
        origin.loop_scope,
        consumer_fixture=consumer,
        marker_override=user.marker_override,
        sync_fixture=origin.loop_scope is None,
    )
    return "\n".join(lines + [fix])


def _describe(origin: _Origin) -> str:
    loop = f"loop_scope={origin.loop_scope!r}" if origin.loop_scope else "a sync fixture, no loop of its own"
    return f"{origin.fixture!r} (scope={origin.scope!r}, {loop}) at {origin.location}"


def _asyncpg_objects(value: object, name: str) -> Iterator[tuple[str, object, tuple[object, ...]]]:
    """Yield ``(path, obj, holders)`` for asyncpg pools and connections in ``value``, two attribute levels deep.

    ``holders`` are the objects on the way from ``value`` (first) to ``obj``.
    """
    seen: set[int] = set()
    stack: list[tuple[object, str, int, tuple[object, ...]]] = [(value, name, 0, ())]
    while stack and len(seen) < _MAX_OBJECTS:
        obj, path, depth, holders = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float)):
            continue
        seen.add(id(obj))
        if isinstance(obj, (asyncpg.Pool, asyncpg.Connection)):
            yield path, obj, holders
            continue
        if isinstance(obj, dict):
            children = [(v, f"{path}[{k!r}]", depth) for k, v in islice(obj.items(), _MAX_ITEMS)]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = [(v, f"{path}[{i}]", depth) for i, v in enumerate(islice(obj, _MAX_ITEMS))]
        elif depth < _MAX_DEPTH and type(obj).__module__.split(".")[0] not in _OPAQUE_PACKAGES:
            children = [(v, f"{path}.{attr}", depth + 1) for attr, v in _attributes(obj)]
        else:
            continue
        # reversed: visit in declaration order, so `_connection` is reported before `_connections[0]`
        stack += [(child, child_path, d, (*holders, obj)) for child, child_path, d in reversed(children)]


def _attributes(obj: object) -> list[tuple[str, object]]:
    found = list(getattr(obj, "__dict__", {}).items())
    for cls in type(obj).__mro__:
        slots = getattr(cls, "__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                found.append((slot, getattr(obj, slot)))
    return found


def _home_loop(obj: object) -> object | None:
    """The loop an open asyncpg object belongs to; ``None`` when it is closed (nothing to protect)."""
    if isinstance(obj, asyncpg.Pool):
        return None if obj._closed or obj._closing else obj._loop
    if isinstance(obj, PoolConnectionProxy):
        obj = obj._con
        if obj is None:
            return None
    return None if obj.is_closed() else obj._loop


def _kind(obj: object) -> str:
    if isinstance(obj, asyncpg.Pool):
        return "Pool"
    return "pooled Connection" if isinstance(obj, PoolConnectionProxy) else "Connection"


def _runner_loop(getvalue: Callable[[str], Any], scope: str) -> object:
    """The loop of pytest-asyncio's runner fixture for ``scope`` (``_function_scoped_runner`` ...)."""
    return getvalue(f"_{scope}_scoped_runner").get_loop()


def _is_async_test(item: pytest.Function) -> bool:
    from pytest_asyncio import is_async_test

    return is_async_test(item)


def _asyncio_mode(config: pytest.Config) -> str:
    return config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")


def _unwrap(func: Callable[..., Any]) -> Callable[..., Any]:
    while hasattr(func, "__wrapped__"):
        func = func.__wrapped__
    return getattr(func, "__func__", func)


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
