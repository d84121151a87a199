"""Loop guard: a pytest plugin that stops a test *before* it uses a loop-bound object (an asyncpg pool, an
SQLAlchemy engine, an aiohttp or httpx client, an asyncio lock...) on an event loop the object is not bound to.

Without it, that mistake surfaces as ``RuntimeError: ... attached to a different loop`` deep in a driver,
then as ``InterfaceError: another operation is in progress`` on every later test, and the connection is
left broken. With it, the test fails at once with a :class:`LoopMismatchError` naming the object, the
fixture or module-level global that holds it, both loops with their scopes and what chose each, and the
fix for the installed pytest-asyncio.

Turn it on (it is off by default and then changes nothing):

* command line: ``pytest --loop-guard`` (:data:`FLAG`);
* ini file: ``loop_guard = true`` (``[tool.pytest.ini_options]`` in pyproject.toml);
* notebook: ``kit.course.notebook.setup(loop_guard=True)``, or ``ipytest.run(kit.diagnose.guard.FLAG)``.

The kit's pytest plugin loads this module; elsewhere load it with ``-p kit.diagnose.guard``.

How it works: after every fixture setup it records which fixture produced each loop-bound object found
in the value, at any depth (:mod:`kit.diagnose.affinity` knows the libraries). Before an async test runs,
and before an async fixture runs, it compares the loop of every bound object in the arguments, and in the
module-level globals the function's code refers to, with the loop of the pytest-asyncio runner that is
about to run the code. Nothing is sent anywhere before that check. A fixture stopped this way caches the
error, as pytest does for any failed fixture: every later test that uses it gets the same report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from kit.diagnose.affinity import Bound, adapter_for, bound_objects, describe, keep_nothing_hint, symptom
from kit.diagnose.causes import describe as describe_error
from kit.diagnose.causes import loop_cause
from kit.diagnose.reads import GlobalRead, globals_read
from kit.diagnose.rules import (
    LoopChoice,
    event_loop_note,
    event_loop_overrides,
    fix_advice,
    fix_advice_for_global,
    is_async_test,
    loop_choice_of_fixture,
    loop_scope_of_test,
    original_function,
    runner_loop,
    source_location,
)

FLAG = "--loop-guard"


class LoopMismatchError(pytest.fail.Exception):
    """A loop-bound object was about to be used on an event loop other than the one it is bound to.

    It is reported without a traceback: the message is the whole diagnosis. ``holders`` names the fixtures
    and module-level globals it blames (what ``kit audit --run`` reads).
    """

    def __init__(self, message: str, holders: tuple[str, ...] = ()) -> None:
        super().__init__(message, pytrace=False)
        self.holders = holders


@dataclass(frozen=True)
class _Origin:
    """A fixture whose value holds loop-bound objects."""

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


@dataclass(frozen=True)
class _LoopSeen:
    """A loop the guard saw a test or fixture run on."""

    loop: object
    scope: str
    decided_by: str
    first: str  # "test 'test_one'" or "fixture 'engine'"


_Table = dict[int, tuple[object, _Origin]]


class _Guard:
    """Per-session record of which fixture created which loop-bound object, which holds what, and the loops seen."""

    def __init__(self) -> None:
        self._created: _Table = {}  # bound object id -> (object, the fixture whose value it was first seen in)
        self._held: _Table = {}  # fixture value id -> (value, its fixture)
        self._owned: dict[int, list[tuple[_Table, int]]] = {}
        self._loops: dict[int, _LoopSeen] = {}
        self._set_up_on: dict[int, tuple[object, _Origin, str]] = {}  # fixturedef id -> (its loop, it, what chose the loop)
        self._ran_on: dict[str, tuple[object, _User]] = {}  # test node id -> (its loop, it)

    def set_up(self, fixturedef: pytest.FixtureDef, loop: object, choice: LoopChoice) -> None:
        """Remember the loop an async fixture is set up on."""
        origin = _Origin(fixturedef.argname, fixturedef.scope, choice.scope, source_location(fixturedef.func))
        self._set_up_on[id(fixturedef)] = (loop, origin, choice.decided_by)

    def ran(self, item: pytest.Item, loop: object, user: _User) -> None:
        """Remember the loop an async test runs on."""
        self._ran_on[item.nodeid] = (loop, user)

    def diagnose(self, item: pytest.Item, error: BaseException) -> LoopMismatchError | None:
        """A :class:`LoopMismatchError` for a test that failed with a known loop error the guard did not foresee,
        naming the fixtures of its closure set up on another loop than its own; ``None`` when there is nothing to add."""
        cause = None if isinstance(error, LoopMismatchError) else loop_cause(error)
        if cause is None or item.nodeid not in self._ran_on:
            return None
        loop, user = self._ran_on[item.nodeid]
        others = []
        for name in item.fixturenames:  # type: ignore[attr-defined]
            defs = item._fixtureinfo.name2fixturedefs.get(name)  # type: ignore[attr-defined]
            seen = self._set_up_on.get(id(defs[-1])) if defs else None
            if seen is not None and seen[0] is not loop:
                others.append(seen)
        if not others:
            return None
        message = _diagnosis(user, describe_error(cause), loop, others, item)
        return LoopMismatchError(message, tuple(origin.fixture for _, origin, _ in others))

    def record(self, fixturedef: pytest.FixtureDef, value: object, loop_scope: str | None, inputs: set[int]) -> None:
        """Remember ``value`` as the value of ``fixturedef``, and the loop-bound objects it created.

        ``inputs`` are the ids of bound objects already reachable from the fixture's arguments:
        the fixture passed those on, it did not create them.
        """
        if value is None or isinstance(value, (str, bytes, int, float)):
            return
        origin = _Origin(fixturedef.argname, fixturedef.scope, loop_scope, source_location(fixturedef.func))
        owned = self._owned.setdefault(id(fixturedef), [])
        found = [bound.obj for bound in bound_objects(value, fixturedef.argname) if id(bound.obj) not in inputs]
        for table, obj in [(self._held, value)] + [(self._created, obj) for obj in found]:
            if id(obj) not in table:
                table[id(obj)] = (obj, origin)
                owned.append((table, id(obj)))

    def forget(self, fixturedef: pytest.FixtureDef) -> None:
        """Drop what a torn-down fixture produced."""
        for table, key in self._owned.pop(id(fixturedef), []):
            table.pop(key, None)

    def check(
        self, user: _User, values: dict[str, object], globals_: dict[str, GlobalRead], running: object, node: pytest.Item
    ) -> None:
        """Raise :class:`LoopMismatchError` if a bound object in ``values`` (arguments, then globals) is on another loop.

        ``running`` is the loop the user is about to run on; ``globals_`` says which of ``values`` are globals.
        """
        self._loops.setdefault(id(running), _LoopSeen(running, user.loop_scope, user.decided_by, f"{user.kind} {user.name!r}"))
        for name, value in values.items():
            for bound in bound_objects(value, name):
                if bound.loop is not running:
                    holder = globals_.get(name) or self._holder(bound)
                    created = self._created.get(id(bound.obj))
                    names = [o.name if isinstance(o, GlobalRead) else o.fixture for o in (created and created[1], holder) if o]
                    raise LoopMismatchError(
                        _message(user, bound, created, holder, self._seen(bound), node), tuple(dict.fromkeys(names))
                    )

    def _holder(self, bound: Bound) -> _Origin | None:
        held = (self._held[id(obj)] for _, obj in reversed(bound.holders) if id(obj) in self._held)
        return next((origin for _, origin in held), None)

    def _seen(self, bound: Bound) -> _LoopSeen | None:
        seen = self._loops.get(id(bound.loop))
        return seen if seen is not None and seen.loop is bound.loop else None


_STATE = pytest.StashKey[_Guard]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--loop-guard`` and the ``loop_guard`` ini option."""
    help_text = "fail at once, before any I/O, when a pool, connection, engine or client is used on another event loop"
    parser.getgroup("loop-guard").addoption(FLAG, action="store_true", default=False, dest="loop_guard", help=help_text)
    parser.addini("loop_guard", type="bool", default=False, help=help_text)


def pytest_configure(config: pytest.Config) -> None:
    """Switch the guard on when the flag or the ini option asks for it."""
    if config.getoption("loop_guard") or config.getini("loop_guard"):
        config.stash[_STATE] = _Guard()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> Iterator[None]:
    """Check an async fixture's arguments and globals before it runs; record the loop-bound objects it returns.

    A mismatch is cached as the fixture's result, as pytest caches any failed setup, so every later
    test using the fixture gets the same :class:`LoopMismatchError` (not pytest's bare AssertionError).
    """
    guard = request.config.stash.get(_STATE, None)
    if guard is None:
        return (yield)
    choice = loop_choice_of_fixture(fixturedef, request.config)
    values = {name: request.getfixturevalue(name) for name in fixturedef.argnames if name != "request"}
    if choice is not None:
        user = _User("fixture", fixturedef.argname, choice.scope, choice.decided_by)
        inputs, globals_ = _with_globals(original_function(fixturedef.func), values)
        try:
            running = runner_loop(request.getfixturevalue, choice.scope, request.node)
            guard.set_up(fixturedef, running, choice)
            guard.check(user, inputs, globals_, running, request.node)
        except LoopMismatchError as error:
            fixturedef.cached_result = (None, fixturedef.cache_key(request), (error, error.__traceback__))
            raise
    inputs = {id(bound.obj) for name, value in values.items() for bound in bound_objects(value, name)}
    value = yield
    guard.record(fixturedef, value, None if choice is None else choice.scope, inputs)
    return value


def pytest_fixture_post_finalizer(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> None:
    """Forget the objects of a fixture that has been torn down."""
    guard = request.config.stash.get(_STATE, None)
    if guard is not None:
        guard.forget(fixturedef)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    """Check an async test's arguments and the globals its code uses against the loop it is about to run on."""
    guard = pyfuncitem.config.stash.get(_STATE, None)
    if guard is not None and is_async_test(pyfuncitem):
        choice: LoopChoice = loop_scope_of_test(pyfuncitem)
        user = _User("test", pyfuncitem.name, choice.scope, choice.decided_by, choice.overrides_marker)
        funcargs = pyfuncitem.funcargs
        values = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames if name in funcargs}
        inputs, globals_ = _with_globals(original_function(pyfuncitem.obj), values)
        running = runner_loop(funcargs.__getitem__, choice.scope, pyfuncitem)
        guard.ran(pyfuncitem, running, user)
        guard.check(user, inputs, globals_, running, pyfuncitem)
    return (yield from _diagnosed(guard, pyfuncitem))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Turn a known loop error at teardown ("Event loop is closed") into the guard's report, when fixtures of the
    test were set up on another loop than its own."""
    return (yield from _diagnosed(item.config.stash.get(_STATE, None), item))


def _diagnosed(guard: _Guard | None, item: pytest.Item) -> Iterator[None]:
    """Run the wrapped hook; a loop error the guard did not foresee becomes its report, the raw error its cause."""
    try:
        return (yield)
    except Exception as error:
        diagnosis = None if guard is None else guard.diagnose(item, error)
        if diagnosis is None:
            raise
        raise diagnosis from error


# ---- private helpers -------------------------------------------------------------------------------


def _with_globals(func: Callable[..., object], values: dict[str, object]) -> tuple[dict[str, object], dict[str, GlobalRead]]:
    """The arguments, then the globals ``func`` reads (an argument of the same name hides a global)."""
    reads = {name: read for name, read in globals_read(func).items() if name not in values}
    return {**values, **{name: read.value for name, read in reads.items()}}, reads


def _message(
    user: _User,
    bound: Bound,
    created: tuple[object, _Origin] | None,
    holder: _Origin | GlobalRead | None,
    seen: _LoopSeen | None,
    node: pytest.Item,
) -> str:
    path, named = bound.named()
    kind = _kind(named)
    subject = f"test {user.name!r}" if user.kind == "test" else f"fixture {user.name!r}"
    origin = created[1] if created else holder
    if created is not None:
        made = f"created by fixture {_describe(created[1])}"
    elif isinstance(holder, GlobalRead):
        made = f"held by the module-level global {holder.name!r} ({holder.location}), bound on the first loop that used it"
    elif holder is not None:
        made = f"created later, on another loop, inside the value of fixture {_describe(holder)}"
    else:
        made = "created on another event loop, outside any fixture"
    lines = [
        f"{subject} would use {_article(describe(named))} on an event loop it was not created on.",
        f"  The {kind}: {path}, {made}.",
    ]
    if named is not bound.obj:
        lines.append(f"  It is bound through {bound.path} ({describe(bound.obj)}).")
    lines += [
        f"  Its loop: {_loop_text(bound.loop, seen)}.",
        f"  The {user.kind}: runs on the {user.loop_scope}-scoped loop ({user.decided_by}).",
        f"  Stopped before any query was sent (or any other I/O): the {kind} is not damaged. Unguarded, this shows up as",
        f"  {symptom(bound.obj)}.",
    ]
    lines += [f"  {note}" for note in map(event_loop_note, event_loop_overrides(node)) if note]
    lines.append(f"  (LoopMismatchError from kit.diagnose.guard; run without {FLAG} to see the raw failure.)")
    if origin is None:
        return "\n".join(lines + ["How to fix it: create it in a fixture, on the loop of the tests that use it."])
    if isinstance(origin, GlobalRead):
        return "\n".join(lines + [fix_advice_for_global(origin.name, keep_nothing=keep_nothing_hint(named))])
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


def _diagnosis(user: _User, raw: str, loop: object, others: list[tuple[object, _Origin, str]], node: pytest.Item) -> str:
    """The report for a known loop error the guard did not foresee: the raw error, and the fixtures on other loops."""
    lines = [
        f"test {user.name!r} failed with an event-loop error the loop guard could not foresee:",
        f"  {raw}",
        f"  The test: runs on the {user.loop_scope}-scoped loop ({user.decided_by}).",
        "  Set up on another loop than the test's, in its fixtures:",
    ]
    for other_loop, origin, decided_by in others:
        state = "now closed" if getattr(other_loop, "is_closed", lambda: False)() else "still open"
        lines.append(f"    fixture {_describe(origin)}: on the {origin.loop_scope}-scoped loop ({decided_by}), {state}.")
    lines += [f"  {note}" for note in map(event_loop_note, event_loop_overrides(node)) if note]
    lines.append("  (LoopMismatchError from kit.diagnose.guard; the raw error is kept as its cause: run without")
    lines.append(f"  {FLAG} to see its traceback.)")
    first = others[0][1]
    fix = fix_advice(first.fixture, first.scope, first.loop_scope, marker_override=user.marker_override)
    return "\n".join([*lines, fix])


def _loop_text(loop: object, seen: _LoopSeen | None) -> str:
    state = "now closed" if getattr(loop, "is_closed", lambda: False)() else "still open"
    if seen is None:
        return f"a loop no test or async fixture ran on (made outside pytest-asyncio, e.g. at import time), {state}"
    return f"the {seen.scope}-scoped loop that {seen.first} ran on earlier ({seen.decided_by}), {state}"


def _describe(origin: _Origin) -> str:
    loop = f"loop_scope={origin.loop_scope!r}" if origin.loop_scope else "a sync fixture, no loop of its own"
    return f"{origin.fixture!r} (scope={origin.scope!r}, {loop}) at {origin.location}"


def _kind(obj: object) -> str:
    """``Pool``, ``AsyncEngine``, ``ClientSession``: the object's kind without its library."""
    return describe(obj).split(" ", 1)[1] if adapter_for(obj) is not None else type(obj).__name__


def _article(text: str) -> str:
    return f"an {text}" if text[:1].lower() in "aeiou" else f"a {text}"
