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
* notebook: ``kit.course.notebook.setup(loop_guard=True)``, or ``ipytest.run(kit.diagnose.guard.FLAG)``.

The kit's pytest plugin loads this module; elsewhere load it with ``-p kit.diagnose.guard``.

How it works: after every fixture setup it records which fixture produced each asyncpg
``Pool``/``Connection`` found in the value (the value itself, containers, and objects up to two
attribute levels deep, e.g. ``analyzer.connection_manager._connection``). Before an async test
runs, and before an async fixture runs, it compares the loop of every asyncpg object in the
arguments (``obj._loop``) with the loop of the pytest-asyncio runner that is about to run the
code. Nothing is sent to the server before that check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy

from kit.diagnose.rules import (
    event_loop_note,
    event_loop_overrides,
    fix_advice,
    is_async_test,
    loop_scope_of_fixture,
    loop_scope_of_test,
    runner_loop,
    source_location,
)

FLAG = "--loop-guard"

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
        guard.check(user, values, lambda: runner_loop(request.getfixturevalue, loop_scope, request.node), request.node)
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
    if guard is not None and is_async_test(pyfuncitem):
        scope, decided_by, overrides = loop_scope_of_test(pyfuncitem)
        user = _User("test", pyfuncitem.name, scope, decided_by, overrides)
        funcargs = pyfuncitem.funcargs
        values = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames if name in funcargs}
        guard.check(user, values, lambda: runner_loop(funcargs.__getitem__, scope, pyfuncitem), pyfuncitem)
    return (yield)


# ---- private helpers -------------------------------------------------------------------------------


def _message(user: _User, path: str, obj: object, created: _Origin | None, held: _Origin | None, node: pytest.Item) -> str:
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
    lines.append(f"  (LoopMismatchError from kit.diagnose.guard; run without {FLAG} to see the raw asyncpg failure.)")
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
