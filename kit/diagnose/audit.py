"""Audit a test suite for event-loop risks: ``python -m kit audit PATH...`` (``--run`` runs it once too).

pytest collects the suite (``--collect-only``, in a child process so the audited modules never touch this
interpreter). The audit lists every fixture shared wider than one test (scope or loop scope wider than
``function``) and every module-level global holding loop-bound objects (an engine, pool, client or lock made at
import time, in a test module, a conftest or an app module the tests' code reads), with the tests that use
each, the loop each test runs on and the marker or ini option that chose it. Each row gets a verdict:

* ``at risk``: the shared value (or global) is known to hold loop-bound objects (its fixture makes an engine,
  pool, client or lock; :mod:`kit.diagnose.values` reads the source) and code on another loop uses it; or
  setup itself fails (``ScopeMismatch``, an ignored ``event_loop`` override);
* ``possible``: code on another loop uses it, but what the value holds cannot be told without running;
* ``fine``: one loop for everything, or a plain value (a DSN string).

``--run`` runs the suite once with the recorder and the loop guard, and classifies each row from what
happened (the guard names the fixture or global behind every mismatch), which settles ``possible`` rows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kit.db.frames import data_frame
from kit.diagnose.causes import KNOWN_CAUSES
from kit.diagnose.guard import FLAG, LoopMismatchError
from kit.diagnose.reads import globals_read
from kit.diagnose.rules import (
    asyncio_version,
    event_loop_note,
    event_loop_overrides,
    fix_advice,
    fix_advice_for_global,
    is_async_test,
    loop_scope_of_fixture,
    loop_scope_of_test,
    original_function,
    scope_rank,
    source_location,
)
from kit.diagnose.values import BOUND, PLAIN, fixture_value, global_value
from kit.errors import AuditError

if TYPE_CHECKING:
    import pandas

AT_RISK, POSSIBLE, FINE = "at risk", "possible", "fine"
DEFAULT_TIMEOUT = 120  # seconds for collecting (and, with --run, running) the suite
_CHILD = "import sys, json; from kit.diagnose.audit import _child; sys.exit(_child(sys.argv[1], json.loads(sys.argv[2])))"
_DIFF_LOOP_NOTE = (
    'DIFF-LOOP: "Task got Future attached to a different loop" (or "Event loop is closed") as soon as the '
    "shared value holds a pool, connection, engine or client. Rows marked possible: run `kit audit --run` "
    f"(or the suite with {FLAG}) to see which."
)
_PASS_THROUGH = {"-o": "override_ini", "-p": "plugins", "-c": "inifile", "--rootdir": "rootdir", "-k": "keyword"}


@dataclass(frozen=True)
class Finding:
    """One row: a shared fixture or global, one test that uses it, the verdict and what is at risk ("" when fine)."""

    fixture: str
    scope: str
    loop_scope: str
    test: str
    test_loop_scope: str
    marker: str
    risk: str
    fix: str
    location: str
    verdict: str = FINE
    holds: str = ""  # what the value is known to hold, or why that cannot be told
    seen: str = ""  # with --run: what the run showed for this test


@dataclass(frozen=True)
class AuditResult:
    """Everything the audit found in one suite."""

    findings: list[Finding]
    tests_collected: int
    pytest_asyncio: str | None
    ran: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def risky(self) -> list[Finding]:
        """The rows that are not fine (at risk or possible)."""
        return [finding for finding in self.findings if finding.verdict != FINE]

    @property
    def at_risk(self) -> list[Finding]:
        """The rows at risk."""
        return [finding for finding in self.findings if finding.verdict == AT_RISK]

    def exit_code(self, strict: bool = False) -> int:
        """1 when a row is at risk (with ``strict``, also when one is possible), else 0."""
        return 1 if (self.risky if strict else self.at_risk) else 0

    def to_frame(self) -> pandas.DataFrame:
        """The findings as a pandas DataFrame, one column per :class:`Finding` field."""
        return data_frame((asdict(f) for f in self.findings), [f.name for f in fields(Finding)], caller="AuditResult.to_frame()")

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data: the counts, then one dict per row."""
        counts = {verdict: sum(f.verdict == verdict for f in self.findings) for verdict in (AT_RISK, POSSIBLE, FINE)}
        return {
            "tests_collected": self.tests_collected,
            "pytest_asyncio": self.pytest_asyncio,
            "ran": self.ran,
            "verdicts": counts,
            "findings": [asdict(f) for f in self.findings],
        }

    def to_text(self) -> str:
        """A plain-text report: the table, a summary line, then one fix per risky fixture or global."""
        header = f"kit audit: {self.tests_collected} tests collected, pytest-asyncio {self.pytest_asyncio or 'not installed'}"
        if self.ran:
            header += ", verdicts from one run with the recorder and the loop guard"
        if not self.findings:
            return f"{header}\nNo fixture or global is shared by code on different event loops: nothing at risk."
        columns = ["fixture", "scope", "loop_scope", "test", "test_loop_scope", "marker", "verdict", "risk"]
        columns += ["seen"] if self.ran else []
        table = _table(columns, [[getattr(f, c) or "-" for c in columns] for f in self.findings])
        possible = len(self.risky) - len(self.at_risk)
        lines = [header, "", table, "", f"{len(self.at_risk)} of {len(self.findings)} rows at risk, {possible} possible."]
        lines += self.notes
        if any("DIFF-LOOP" in finding.risk for finding in self.risky):
            lines.append(_DIFF_LOOP_NOTE)
        fixes: dict[tuple[str, str], tuple[str, str]] = {}  # (fixture, location) -> (what it holds, its most detailed fix)
        for finding in self.risky:
            key = (finding.fixture, finding.location)
            fixes[key] = (finding.holds, max(fixes.get(key, ("", ""))[1], finding.fix, key=len))
        for (fixture, location), (holds, fix) in fixes.items():
            lines += ["", f"{fixture} ({location}){': ' + holds if holds else ''}:", fix]
        return "\n".join(lines)


def audit(
    paths: list[str] | str, *, run: bool = False, pytest_args: list[str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> AuditResult:
    """Collect the tests under ``paths`` (files or directories) and find loop risks; with ``run``, also run them once.

    ``pytest_args`` go to pytest unchanged (``-o``, ``-p``, ``-c``, ``--rootdir``, ``-k``). Raises
    :class:`AuditError` when a path does not exist, pytest cannot collect the suite, or it takes longer than
    ``timeout`` seconds.
    """
    paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    if not paths:
        raise AuditError("no path given. Name the test files or directories to audit, e.g. `python -m kit audit tests/`.")
    for path in paths:
        if not Path(path.split("::")[0]).exists():
            raise AuditError(
                f"path {path!r} does not exist (relative paths start at {os.getcwd()}). "
                "Name existing test files or directories, e.g. `python -m kit audit tests/`."
            )
    targets = [os.path.abspath(p) if "::" not in p else p for p in paths]
    data = _in_child(targets, list(pytest_args or []), run, timeout)
    version = asyncio_version()
    findings = [f for f in map(_event_loop_finding, data["event_loop"], [version] * len(data["event_loop"])) if f]
    for test in data["tests"]:
        findings += _test_findings(test, data["fixtures"], version)
    findings += _global_findings(data["tests"], data["globals"], version)
    if not run:
        return AuditResult(findings, len(data["tests"]), version)
    findings, notes = _from_run(findings, data["run"])
    return AuditResult(findings, len(data["tests"]), version, ran=True, notes=notes)


def main(argv: list[str] | None = None) -> int:
    """CLI: print the audit of the given paths; exit 1 when a row is at risk (``--strict``: or possible), 0 when
    not, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m kit audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="test files or directories to audit")
    parser.add_argument("--run", action="store_true", help="run the suite once with the recorder and the loop guard")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 for possible rows too")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S", help=f"give up after S seconds (default {DEFAULT_TIMEOUT})"
    )
    for option, dest in _PASS_THROUGH.items():
        parser.add_argument(option, dest=dest, action="append", default=[], metavar="ARG", help=f"passed to pytest as {option}")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage or the help
        return 0 if exc.code == 0 else 2
    pytest_args = [part for option, dest in _PASS_THROUGH.items() for value in getattr(args, dest) for part in (option, value)]
    doing = "collecting and running" if args.run else "collecting"
    print(f"kit audit: {doing} {' '.join(args.paths)} (at most {args.timeout:g} s)...", file=sys.stderr, flush=True)
    try:
        result = audit(args.paths, run=args.run, pytest_args=pytest_args, timeout=args.timeout)
    except AuditError as exc:
        print(f"kit audit: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), indent=1) if args.json else result.to_text())
    return result.exit_code(args.strict)


# ---- analysis (parent process) ---------------------------------------------------------------------


def _test_findings(test: dict[str, Any], fixtures: dict[str, dict[str, Any]], version: str | None) -> list[Finding]:
    used = {name: fixtures[key] for name, key in test["closure"].items()}
    consumers = [(c["name"], c["loop_scope"], c["argnames"]) for c in test["consumers"]]
    rows = []
    for name, fixture in used.items():
        loop = fixture["loop_scope"]
        wide = loop or fixture["scope"]  # a sync fixture's value binds on the loop of whoever uses it first
        if wide == "function" and fixture["scope"] == "function":
            continue
        risks, consumer_fixture = [], None
        if loop is not None and scope_rank(loop) < scope_rank(fixture["scope"]):
            risks.append(f"ScopeMismatch at setup: a {fixture['scope']}-scoped fixture on the {loop} loop")
        for consumer, consumer_loop, argnames in consumers:
            if name in _reached(argnames, used) and scope_rank(consumer_loop) < scope_rank(wide):
                label = "the test" if consumer is None else f"fixture {consumer!r}"
                where = f"the {loop} loop" if loop else f"no loop (a sync {fixture['scope']}-scoped fixture)"
                risks.append(f"DIFF-LOOP: {label} runs on the {consumer_loop} loop, the fixture on {where}")
                consumer_fixture = consumer_fixture or consumer
        kind, holds = _value_of(name, used)
        if loop is None and (not risks or kind == PLAIN):
            continue  # a sync fixture nobody on a narrower loop uses, or a plain value: nothing to list
        verdict = FINE
        if any(risk.startswith("ScopeMismatch") for risk in risks):
            verdict = AT_RISK
        elif risks:
            verdict = {BOUND: AT_RISK, PLAIN: FINE}.get(kind, POSSIBLE)
        fix = ""
        if verdict != FINE:
            fix = fix_advice(
                name,
                fixture["scope"],
                loop,
                consumer_fixture=consumer_fixture,
                marker_override=test["overrides_marker"],
                sync_fixture=loop is None,
                version=version,
            )
        rows.append(
            Finding(
                fixture=name,
                scope=fixture["scope"],
                loop_scope=loop or "-",
                test=test["nodeid"],
                test_loop_scope=test["loop_scope"] or "",
                marker=test["marker"],
                risk="; ".join(risks) if verdict != FINE else "",
                fix=fix,
                location=fixture["location"],
                verdict=verdict,
                holds=holds,
            )
        )
    return rows


def _value_of(name: str, used: dict[str, dict[str, Any]], depth: int = 0) -> tuple[str, str]:
    """(kind, reason) of a fixture's value, through the fixtures it passes on."""
    value = used[name]["value"]
    if value["kind"] == BOUND or depth > 10:
        return value["kind"], value["reason"]
    for passed in value["passes_on"]:
        if passed in used and _value_of(passed, used, depth + 1)[0] == BOUND:
            return BOUND, f"holds the value of fixture {passed!r} ({_value_of(passed, used, depth + 1)[1]})"
    return value["kind"], value["reason"]


def _global_findings(tests: list[dict[str, Any]], globals_: dict[str, dict[str, Any]], version: str | None) -> list[Finding]:
    """One row per test that uses a loop-bound global; at risk when the users of the global run on more than one loop."""
    loops: dict[str, set[str]] = {}
    for test in tests:
        for key, _, loop_key in test["globals"]:
            loops.setdefault(key, set()).add(loop_key)
    rows = []
    for test in tests:
        for key in dict.fromkeys(key for key, _, _ in test["globals"]):
            info, shared = globals_[key], len(loops[key])
            users = sorted({consumer or "the test" for k, consumer, _ in test["globals"] if k == key})
            risk = f"DIFF-LOOP: module-level global {info['name']!r}, used here by {', '.join(users)}, is used on {shared} event loops"
            at_risk = shared > 1
            rows.append(
                Finding(
                    fixture=info["name"],
                    scope="global",
                    loop_scope="-",
                    test=test["nodeid"],
                    test_loop_scope=test["loop_scope"] or "",
                    marker=test["marker"],
                    risk=risk if at_risk else "",
                    fix=fix_advice_for_global(info["name"], version, keep_nothing=info["keep_nothing"]) if at_risk else "",
                    location=info["location"],
                    verdict=AT_RISK if at_risk else FINE,
                    holds=info["reason"],
                )
            )
    return rows


def _from_run(findings: list[Finding], run: dict[str, dict[str, Any]]) -> tuple[list[Finding], list[str]]:
    """The rows with verdicts from what one run showed, plus rows for what the guard blamed and nothing listed."""
    rows, listed = [], set()
    for finding in findings:
        outcome = run.get(finding.test)
        listed.add((finding.test, finding.fixture))
        if outcome is None or finding.risk.startswith(("ScopeMismatch", "event_loop")):
            rows.append(finding)
            continue
        if finding.fixture in outcome["holders"]:
            rows.append(
                replace(finding, verdict=AT_RISK, seen=outcome["seen"], risk=finding.risk or "DIFF-LOOP (seen in the run)")
            )
        elif outcome["loop_error"]:
            rows.append(replace(finding, seen=outcome["seen"]))  # a loop error the guard did not pin on this row
        else:
            rows.append(replace(finding, verdict=FINE, risk="", fix="", seen=outcome["seen"]))
    for test, outcome in run.items():
        for holder in outcome["holders"]:
            if (test, holder) not in listed:
                rows.append(
                    Finding(
                        holder,
                        "-",
                        "-",
                        test,
                        "",
                        "",
                        "DIFF-LOOP (seen in the run)",
                        outcome["message"],
                        "-",
                        AT_RISK,
                        "",
                        outcome["seen"],
                    )
                )
    unblamed = sorted(test for test, outcome in run.items() if outcome["loop_error"] and not outcome["holders"])
    notes = [f"A loop error no fixture or global could be blamed for: {', '.join(unblamed)}."] if unblamed else []
    return rows, notes


def _reached(argnames: list[str], used: dict[str, dict[str, Any]]) -> set[str]:
    """Fixture names a consumer gets values from: its arguments, and through sync fixtures, theirs."""
    reached, todo = set(), list(argnames)
    while todo:
        name = todo.pop()
        if name in reached or name not in used:
            continue
        reached.add(name)
        if used[name]["loop_scope"] is None:
            todo += used[name]["argnames"]
    return reached


def _event_loop_finding(location: str, version: str | None) -> Finding | None:
    note = event_loop_note(location, version)
    if not note:
        return None
    risk = "event_loop override: " + ("ignored by pytest-asyncio >= 1.0" if "ignored" in note else "deprecated since 0.23")
    return Finding("event_loop", "-", "-", "(every test)", "", "", risk, note, location, AT_RISK)


def _table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in [column, *(row[i] for row in rows)]) for i, column in enumerate(columns)]
    lines = [columns, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in lines)


# ---- collection and the run (child process) -----------------------------------------------------------


def _in_child(paths: list[str], pytest_args: list[str], run: bool, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kit-audit-") as tmp:
        out = Path(tmp) / "collected.json"
        request = {"paths": paths, "pytest_args": pytest_args, "run": run}
        command = [sys.executable, "-c", _CHILD, str(out), json.dumps(request)]
        # its own process group: on a timeout, whatever a conftest forked is stopped with it
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, _ = proc.communicate()
                doing = "collecting and running" if run else "collecting"
                last = "\n".join(stdout.splitlines()[-10:])
                raise AuditError(
                    f"{doing} {' '.join(paths)} took longer than {timeout:g} s and was stopped. A module that hangs at "
                    "import (a network call, a server it waits for) or a conftest that forks keeps pytest from "
                    "finishing: check with `pytest --collect-only`, audit a smaller part of the suite, or give more "
                    "time with --timeout." + (f"\nIts last output:\n{last}" if last else "")
                ) from None
        done = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) + ((pytest.ExitCode.TESTS_FAILED,) if run else ())
        if proc.returncode not in done or not out.exists():
            output = "\n".join((stdout + stderr).strip().splitlines()[-30:])
            raise AuditError(
                f"pytest could not collect {' '.join(paths)} (exit code {proc.returncode}). "
                f"Fix the errors below, check them with `pytest --collect-only`, then audit again.\n{output}"
            )
        return json.loads(out.read_text())


def _child(out: str, request: dict[str, Any]) -> int:
    """Child process entry: collect (and with ``run``, run) the suite and write what the audit needs to ``out``."""
    from kit.diagnose.recorder import Recorder

    # The suite's own plugins stay (it is the user's suite), except one that reorders the report: pytest-randomly.
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", *request["pytest_args"]]
    collector = _Collector(Path(out))
    plugins: list[object] = [collector]
    if request["run"]:
        collector.recorder = Recorder()
        plugins.append(collector.recorder)
        args += ["-p", "kit.diagnose.guard", FLAG]
    else:
        args.append("--collect-only")
    return int(pytest.main([*args, *request["paths"]], plugins=plugins))


class _Collector:
    """pytest plugin object: records tests, their loops, the fixtures and globals they use; with a run, what it showed."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.recorder: Any = None
        self.data: dict[str, Any] = {}
        self.holders: dict[str, list[str]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        root = session.config.rootpath
        tests, fixtures, globals_, overrides = [], {}, {}, set()
        for item in session.items:
            info = getattr(item, "_fixtureinfo", None)
            if info is None:
                continue
            is_async = is_async_test(item)
            scope, marker, overrides_marker = loop_scope_of_test(item) if is_async else (None, "sync test", False)
            closure, consumers, used_globals = {}, [], []
            if is_async:
                consumers.append({"name": None, "loop_scope": scope, "argnames": list(info.argnames)})
                used_globals += _globals(item, None, scope, item.obj, globals_, root)
            for name in item.fixturenames:
                defs = info.name2fixturedefs.get(name)
                if not defs:
                    continue
                fixturedef = defs[-1]
                location = _relative(source_location(fixturedef.func), root)
                key = closure[name] = f"{name}@{location}"
                loop = loop_scope_of_fixture(fixturedef, session.config)
                argnames = [a for a in fixturedef.argnames if a != name]
                if key not in fixtures:
                    guess = fixture_value(original_function(fixturedef.func))
                    value = {"kind": guess.kind, "reason": guess.reason, "passes_on": list(guess.passes_on)}
                    fixtures[key] = {
                        "scope": fixturedef.scope,
                        "loop_scope": loop,
                        "argnames": argnames,
                        "location": location,
                        "value": value,
                    }
                if loop is not None:
                    consumers.append({"name": name, "loop_scope": loop, "argnames": argnames})
                    used_globals += _globals(item, name, loop, fixturedef.func, globals_, root)
            tests.append(
                {
                    "nodeid": item.nodeid,
                    "loop_scope": scope,
                    "marker": marker,
                    "overrides_marker": overrides_marker,
                    "consumers": consumers,
                    "closure": closure,
                    "globals": used_globals,
                }
            )
            overrides.update(_relative(loc, root) for loc in event_loop_overrides(item))
        self.data = {"tests": tests, "fixtures": fixtures, "globals": globals_, "event_loop": sorted(overrides), "run": {}}
        self.out.write_text(json.dumps(self.data))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        report = yield
        if call.excinfo is not None and isinstance(call.excinfo.value, LoopMismatchError):
            self.holders.setdefault(item.nodeid, []).extend(call.excinfo.value.holders)
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.recorder is None or not self.data:
            return
        for row in self.recorder.results():
            nodeid = row["nodeid"]
            holders = list(dict.fromkeys(self.holders.get(nodeid, [])))
            message = row["message"] or ""
            loop_error = bool(holders) or any(cause in message for cause in KNOWN_CAUSES)
            seen = row["outcome"] or "not run"
            if row["outcome"] not in (None, "passed", "skipped"):
                seen = f"{row['outcome']}: {'stopped by the loop guard' if holders else (row['error_type'] or 'error')}"
            self.data["run"][nodeid] = {"seen": seen, "holders": holders, "loop_error": loop_error, "message": message}
        self.out.write_text(json.dumps(self.data))


def _globals(item: pytest.Item, consumer: str | None, loop: str, func: Any, globals_: dict[str, Any], root: Path) -> list:
    """``[global key, consumer, loop key]`` for each global holding loop-bound objects that ``func``'s code reads."""
    found = []
    for name, read in globals_read(original_function(func)).items():
        key = f"{name}@{read.location}"
        if key not in globals_:
            guess = global_value(read.value, name)
            globals_[key] = {
                "name": name,
                "location": _relative(read.location, root),
                "bound": guess.kind == BOUND,
                "reason": guess.reason,
                "keep_nothing": guess.keep_nothing,
            }
        if globals_[key]["bound"]:
            found.append([key, consumer, _loop_key(item, loop)])
    return found


def _loop_key(item: pytest.Item, scope: str) -> str:
    """Which loop of ``scope`` runs ``item`` (one per test, class, module, package; one for the session)."""
    kinds = {"class": pytest.Class, "module": pytest.Module, "package": pytest.Package}
    if scope == "session":
        return "session"
    if scope == "function":
        return item.nodeid
    node = next((n for n in reversed(item.listchain()) if isinstance(n, kinds[scope])), None)
    return item.nodeid if node is None else node.nodeid


def _relative(location: str, root: Path) -> str:
    path, _, line = location.rpartition(":")
    try:
        return f"{Path(path).relative_to(root)}:{line}"
    except ValueError:
        return location
