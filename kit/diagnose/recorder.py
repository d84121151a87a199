"""Record what a pytest run did and on which event loop.

:class:`Recorder` is a pytest plugin object. For every test it keeps the outcome and the *root cause* of a
failure (the "attached to a different loop" error hidden behind the InterfaceError that pytest's summary
shows); for every fixture set-up and every test it notes the event loop the code actually ran on.

An async fixture's loop is observed: the recorder wraps the fixture function in a function of the same
kind that notes ``asyncio.get_running_loop()`` and delegates; pytest-asyncio 1.x wraps that again and
runs it on the runner of the fixture's loop scope, so the noted loop is the one the fixture really used.
An async test's loop is that of the pytest-asyncio runner that runs its body (the runner is one of the
test's fixture values); async tests run by another plugin are wrapped like fixtures. What cannot be
observed is reported as ``"unknown"``; recording never breaks a run.

Use it in-process (``pytest.main(plugins=[Recorder()])``, as :mod:`kit.course.notebook` does through ipytest) or
from the command line: ``pytest -p kit.diagnose.recorder --kit-record=results.json`` writes the same rows as JSON
(``-p kit.timeline`` is the older name). :mod:`kit.course.pictures` draws the timeline.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import json
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kit.diagnose.causes import KNOWN_CAUSES, describe, exception_chain, root_cause, short_message
from kit.diagnose.guard import LoopMismatchError
from kit.diagnose.rules import item_loop_scope, loop_scope_of_fixture, runner_loop

__all__ = ["KNOWN_CAUSES", "NOT_RUN", "NO_LOOP", "RESULT_COLUMNS", "TIMELINE_COLUMNS", "UNKNOWN", "Recorder"]

NO_LOOP = "no loop"  # synchronous code
UNKNOWN = "unknown"  # async, but the loop could not be observed
NOT_RUN = "not run"  # the test body never ran (set-up failed or was skipped)
RESULT_COLUMNS = ["test", "outcome", "duration", "error_type", "message"]
TIMELINE_COLUMNS = ["item", "kind", "scope", "loop_scope", "loop", "test", "start", "end"]
_INTERNAL_MODULES = ("_pytest.", "pytest_asyncio.")


# --- what is recorded --------------------------------------------------------------------------------------


@dataclass
class _Span:
    item: str
    kind: str
    scope: str
    loop_scope: str | None
    loop: str
    test: str
    start: int
    end: int | None = None


@dataclass
class _Result:
    nodeid: str
    outcome: str | None = None
    duration: float = 0.0
    error_type: str | None = None
    message: str | None = None
    phase: str | None = None
    summary: str | None = None
    chain: list[str] = field(default_factory=list)
    longrepr: str | None = None

    def add(self, report: pytest.TestReport | pytest.CollectReport, excinfo: pytest.ExceptionInfo | None) -> None:
        """Fold one phase's report in: the first phase that did not pass decides outcome and message."""
        self.duration += getattr(report, "duration", 0.0)
        when = getattr(report, "when", "collect")
        if report.failed and self.outcome in (None, "passed"):
            self.outcome = "failed" if when == "call" else "error"
            self.phase = when
            self.longrepr = str(report.longrepr)
            if excinfo is not None:
                # the loop guard's report is the diagnosis (its cause, when it has one, is the raw error)
                cause = excinfo.value if isinstance(excinfo.value, LoopMismatchError) else root_cause(excinfo.value)
                self.error_type, self.message = type(cause).__name__, short_message(cause)
                self.summary = describe(excinfo.value)
                self.chain = [describe(exc) for exc in exception_chain(excinfo.value)]
            else:
                self.summary = _crash_line(report)
                error_type, _, message = self.summary.partition(": ")
                self.error_type = error_type if message else None
                self.message = short_message(message or self.summary)
        elif report.skipped and self.outcome is None:
            self.outcome, self.phase = "skipped", when
            self.message = short_message(_skip_reason(report))
        elif report.passed and when == "call" and self.outcome is None:
            self.outcome = "passed"


def _crash_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The error line of a report without an exception object (collection errors): ``Type: message``."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.strip().splitlines()[0] if crash.message.strip() else "error"
    lines = str(report.longrepr).strip().splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return errors[-1] if errors else (lines[0] if lines else "error")


def _skip_reason(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail: {report.wasxfail}".rstrip(": ")
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return report.longrepr[2].removeprefix("Skipped: ")
    return str(report.longrepr)


def _short_names(nodeids: list[str]) -> Callable[[str], str]:
    """Drop the file part of node ids when every one comes from the same file."""
    files = {nodeid.split("::", 1)[0] for nodeid in nodeids if "::" in nodeid}
    if len(files) == 1 and all("::" in nodeid for nodeid in nodeids):
        return lambda nodeid: nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
    return lambda nodeid: nodeid


# --- the plugin --------------------------------------------------------------------------------------------


class Recorder:
    """pytest plugin: test outcomes with their root cause, and the event loop of every fixture and test.

    Pass an instance to ``pytest.main(plugins=[...])`` or ``ipytest.run(plugins=[...])`` and read
    :meth:`results` and :meth:`timeline` afterwards; with ``output`` set, both are also written there as
    JSON when the session finishes.
    """

    def __init__(self, output: str | Path | None = None) -> None:
        self.output = Path(output) if output is not None else None
        self.exit_code: int | None = None
        self._order = itertools.count()
        self._results: dict[str, _Result] = {}
        self._spans: list[_Span] = []
        self._open_fixtures: dict[int, _Span] = {}
        self._tests: dict[str, _Span] = {}
        self._loops: dict[int, tuple[asyncio.AbstractEventLoop, str]] = {}  # holds loops so ids stay unique
        self._current: str = ""

    # results

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        report = yield
        self._results.setdefault(item.nodeid, _Result(item.nodeid)).add(report, call.excinfo)
        return report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._results.setdefault(report.nodeid or "<collection>", _Result(report.nodeid or "<collection>")).add(report, None)

    # loops

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> object:
        self._current = item.nodeid
        span = _Span(item.nodeid, "test", "function", item_loop_scope(item), NOT_RUN, item.nodeid, next(self._order))
        self._spans.append(span)
        self._tests[item.nodeid] = span
        try:
            return (yield)
        finally:
            span.end = next(self._order)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        span = self._tests.get(item.nodeid)
        original = getattr(item, "obj", None)
        if span is None or original is None:
            return (yield)
        if span.loop_scope:  # pytest-asyncio runs the body on its runner for that loop scope
            span.loop = self._runner_loop(item, span.loop_scope)
            return (yield)
        if not inspect.iscoroutinefunction(original):
            span.loop = NO_LOOP
            return (yield)
        item.obj = self._observing(original, span)  # another plugin (anyio, say) runs it
        try:
            return (yield)
        finally:
            item.obj = original

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> object:
        original = fixturedef.func
        if getattr(original, "__module__", "").startswith(_INTERNAL_MODULES):
            return (yield)
        is_async = inspect.iscoroutinefunction(original) or inspect.isasyncgenfunction(original)
        span = _Span(
            fixturedef.argname,
            "fixture",
            fixturedef.scope,
            loop_scope_of_fixture(fixturedef, request.config),
            UNKNOWN if is_async else NO_LOOP,
            self._current,
            next(self._order),
        )
        self._spans.append(span)
        self._open_fixtures[id(fixturedef)] = span
        if is_async:
            fixturedef.func = self._observing(original, span)
        try:
            return (yield)
        finally:
            fixturedef.func = original

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
        span = self._open_fixtures.pop(id(fixturedef), None)
        if span is not None:
            span.end = next(self._order)

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> object:
        result = yield  # session-scoped fixtures left over (for example after -x) are torn down inside
        self.exit_code = int(exitstatus)
        if self.output is not None:
            self.output.write_text(json.dumps(self.to_json(), indent=1))
        return result

    # reading

    def results(self) -> list[dict[str, Any]]:
        """One dict per test: ``test, outcome, duration, error_type, message`` plus the details."""
        name = _short_names(list(self._results))
        return [{"test": name(r.nodeid), **asdict(r)} for r in self._results.values()]

    def timeline(self) -> list[dict[str, Any]]:
        """One dict per fixture set-up and per test, in start order, with the loop's label."""
        name = _short_names([s.test for s in self._spans if s.kind == "test"])
        rows = []
        for span in self._spans:
            row = asdict(span)
            row["test"] = name(span.test) if span.test else ""
            row["item"] = name(span.item) if span.kind == "test" else span.item
            rows.append({column: row[column] for column in TIMELINE_COLUMNS})
        return rows

    def to_json(self) -> dict[str, Any]:
        """Everything recorded, as JSON-ready data."""
        return {"exit_code": self.exit_code, "results": self.results(), "timeline": self.timeline()}

    # helpers

    def _label(self, loop: asyncio.AbstractEventLoop) -> str:
        """A stable label per distinct loop, numbered in the order loops are first seen."""
        known = self._loops.get(id(loop))
        if known is None:
            known = self._loops[id(loop)] = (loop, f"loop {len(self._loops) + 1}")
        return known[1]

    def _note_running_loop(self, span: _Span) -> None:
        try:
            span.loop = self._label(asyncio.get_running_loop())
        except RuntimeError:
            span.loop = UNKNOWN

    def _observing(self, func: Callable[..., Any], span: _Span) -> Callable[..., Any]:
        """A function of the same kind as ``func`` that notes the running loop, then runs ``func``."""
        if isinstance(func, types.MethodType):
            return types.MethodType(self._observing(func.__func__, span), func.__self__)
        note = functools.partial(self._note_running_loop, span)
        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def observed_gen(*args: Any, **kwargs: Any) -> Any:
                note()
                async for value in func(*args, **kwargs):
                    yield value

            return observed_gen

        @functools.wraps(func)
        async def observed(*args: Any, **kwargs: Any) -> Any:
            note()
            return await func(*args, **kwargs)

        return observed

    def _runner_loop(self, item: pytest.Item, loop_scope: str) -> str:
        """The loop of the pytest-asyncio runner that runs ``item``'s body, or ``"unknown"``."""
        try:
            return self._label(runner_loop(item.funcargs.__getitem__, loop_scope, item))  # type: ignore[attr-defined]
        except Exception:
            return UNKNOWN


# --- command-line plugin: pytest -p kit.diagnose.recorder --kit-record=PATH ------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("loop-lab").addoption(
        "--kit-record",
        metavar="PATH",
        help="write each test's outcome and root cause, and the event loop of every fixture and test, to PATH as JSON",
    )


def pytest_configure(config: pytest.Config) -> None:
    output = config.getoption("kit_record")
    if output:
        config.pluginmanager.register(Recorder(output), "kit-timeline-recorder")
