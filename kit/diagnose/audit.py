"""Audit a test suite for event-loop risks without running it: ``python -m kit audit PATH...``.

pytest collects the suite (``--collect-only``, in a child process so the audited modules never
touch this interpreter). For every async fixture whose scope or loop scope is wider than
``function``, the audit lists the tests that use it, the loop each test runs on and the marker
that chose it (the nearest ``asyncio`` marker wins: a bare ``@pytest.mark.asyncio`` on a test
beats the module's ``pytestmark``), and says what is at risk:

* a test, or an async fixture, that runs on a narrower loop than the fixture it uses
  ("attached to a different loop" as soon as the value holds a pool or connection);
* a fixture whose loop scope is narrower than its own scope (``ScopeMismatch`` at setup);
* an ``event_loop`` fixture override (ignored by pytest-asyncio 1.x).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kit.diagnose.rules import (
    asyncio_version,
    event_loop_note,
    event_loop_overrides,
    fix_advice,
    is_async_test,
    loop_scope_of_fixture,
    loop_scope_of_test,
    scope_rank,
    source_location,
)
from kit.errors import AuditError

if TYPE_CHECKING:
    import pandas

_COLLECT_TIMEOUT = 600
_CHILD = "import sys; from kit.diagnose.audit import _collect; sys.exit(_collect(sys.argv[1], sys.argv[2:]))"
_DIFF_LOOP_NOTE = (
    'DIFF-LOOP: "Task got Future attached to a different loop" as soon as the fixture\'s value holds an '
    "asyncpg pool or connection (run the suite with --loop-guard to see which)."
)


@dataclass(frozen=True)
class Finding:
    """One row: a wide async fixture, one test that uses it, and what is at risk ("" when nothing)."""

    fixture: str
    scope: str
    loop_scope: str
    test: str
    test_loop_scope: str
    marker: str
    risk: str
    fix: str
    location: str


@dataclass(frozen=True)
class AuditResult:
    """Everything the audit found in one suite."""

    findings: list[Finding]
    tests_collected: int
    pytest_asyncio: str | None

    @property
    def risky(self) -> list[Finding]:
        """The rows with a risk."""
        return [finding for finding in self.findings if finding.risk]

    def to_frame(self) -> pandas.DataFrame:
        """The findings as a pandas DataFrame, one column per :class:`Finding` field."""
        import pandas

        return pandas.DataFrame([asdict(f) for f in self.findings], columns=[f.name for f in fields(Finding)])

    def to_text(self) -> str:
        """A plain-text report: the table, a summary line, then one fix per risky fixture."""
        header = f"kit audit: {self.tests_collected} tests collected, pytest-asyncio {self.pytest_asyncio or 'not installed'}"
        if not self.findings:
            return f"{header}\nNo async fixture has a scope or loop scope wider than 'function': nothing at risk."
        columns = ["fixture", "scope", "loop_scope", "test", "test_loop_scope", "marker", "risk"]
        table = _table(columns, [[getattr(f, c) or ("-" if c != "risk" else "ok") for c in columns] for f in self.findings])
        lines = [header, "", table, "", f"{len(self.risky)} of {len(self.findings)} rows at risk."]
        if any("DIFF-LOOP" in finding.risk for finding in self.risky):
            lines.append(_DIFF_LOOP_NOTE)
        fixes: dict[tuple[str, str], str] = {}  # (fixture, location) -> its most detailed fix
        for finding in self.risky:
            key = (finding.fixture, finding.location)
            fixes[key] = max(fixes.get(key, ""), finding.fix, key=len)
        for (fixture, location), fix in fixes.items():
            lines += ["", f"{fixture} ({location}):", fix]
        return "\n".join(lines)


def audit(paths: list[str] | str) -> AuditResult:
    """Collect the tests under ``paths`` (files or directories) without running them and find loop risks.

    Raises :class:`AuditError` when a path does not exist or pytest cannot collect the suite.
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
    data = _collect_in_child([os.path.abspath(p) if "::" not in p else p for p in paths])
    version = asyncio_version()
    findings = [f for f in map(_event_loop_finding, data["event_loop"], [version] * len(data["event_loop"])) if f]
    for test in data["tests"]:
        findings += _test_findings(test, data["fixtures"], version)
    return AuditResult(findings, len(data["tests"]), version)


def main(argv: list[str] | None = None) -> int:
    """CLI: print the audit of the given paths; exit 1 when something is at risk, 0 when clean, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m kit audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="test files or directories to audit")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage or the help
        return 0 if exc.code == 0 else 2
    try:
        result = audit(args.paths)
    except AuditError as exc:
        print(f"kit audit: {exc}", file=sys.stderr)
        return 2
    print(result.to_text())
    return 1 if result.risky else 0


# ---- analysis (parent process) ---------------------------------------------------------------------


def _test_findings(test: dict[str, Any], fixtures: dict[str, dict[str, Any]], version: str | None) -> list[Finding]:
    used = {name: fixtures[key] for name, key in test["closure"].items()}
    # (consumer fixture name or None for the test itself, its loop scope, the fixtures it asks for)
    consumers = [(name, f["loop_scope"], f["argnames"]) for name, f in used.items() if f["loop_scope"]]
    if test["async"]:
        consumers.insert(0, (None, test["loop_scope"], test["argnames"]))
    rows = []
    for name, fixture in used.items():
        loop = fixture["loop_scope"]
        if loop is None or (fixture["scope"] == "function" and loop == "function"):
            continue
        risks, consumer_fixture = [], None
        if scope_rank(loop) < scope_rank(fixture["scope"]):
            risks.append(f"ScopeMismatch at setup: a {fixture['scope']}-scoped fixture on the {loop} loop")
        for consumer, consumer_loop, argnames in consumers:
            if name in _reached(argnames, used) and scope_rank(consumer_loop) < scope_rank(loop):
                label = "the test" if consumer is None else f"fixture {consumer!r}"
                risks.append(f"DIFF-LOOP: {label} runs on the {consumer_loop} loop, the fixture on the {loop} loop")
                consumer_fixture = consumer_fixture or consumer
        fix = ""
        if risks:
            fix = fix_advice(
                name,
                fixture["scope"],
                loop,
                consumer_fixture=consumer_fixture,
                marker_override=test["overrides_marker"],
                version=version,
            )
        rows.append(
            Finding(
                fixture=name,
                scope=fixture["scope"],
                loop_scope=loop,
                test=test["nodeid"],
                test_loop_scope=test["loop_scope"] or "",
                marker=test["marker"],
                risk="; ".join(risks),
                fix=fix,
                location=fixture["location"],
            )
        )
    return rows


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
    return Finding("event_loop", "-", "-", "(every test)", "", "", risk, note, location)


def _table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in [column, *(row[i] for row in rows)]) for i, column in enumerate(columns)]
    lines = [columns, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in lines)


# ---- collection (child process) ----------------------------------------------------------------------


def _collect_in_child(paths: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kit-audit-") as tmp:
        out = Path(tmp) / "collected.json"
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, str(out), *paths],
                capture_output=True,
                text=True,
                timeout=_COLLECT_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            message = f"collecting {' '.join(paths)} took longer than {_COLLECT_TIMEOUT} s; audit a smaller part of the suite."
            raise AuditError(message) from None
        if proc.returncode not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) or not out.exists():
            output = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
            raise AuditError(
                f"pytest could not collect {' '.join(paths)} (exit code {proc.returncode}). "
                f"Fix the errors below, check them with `pytest --collect-only`, then audit again.\n{output}"
            )
        return json.loads(out.read_text())


def _collect(out: str, paths: list[str]) -> int:
    """Child process entry: collect ``paths`` and write what the audit needs to ``out`` as JSON."""
    # The suite's own plugins stay (it is the user's suite), except one that reorders the report: pytest-randomly.
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *paths]
    return int(pytest.main(args, plugins=[_Collector(Path(out))]))


class _Collector:
    """pytest plugin object: records tests, their loop markers and the fixtures they use."""

    def __init__(self, out: Path) -> None:
        self.out = out

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        root = session.config.rootpath
        tests, fixtures, overrides = [], {}, set()
        for item in session.items:
            info = getattr(item, "_fixtureinfo", None)
            if info is None:
                continue
            closure = {}
            for name in item.fixturenames:
                defs = info.name2fixturedefs.get(name)
                if not defs:
                    continue
                fixturedef = defs[-1]
                location = _relative(source_location(fixturedef.func), root)
                key = closure[name] = f"{name}@{location}"
                fixtures.setdefault(
                    key,
                    {
                        "scope": fixturedef.scope,
                        "loop_scope": loop_scope_of_fixture(fixturedef, session.config),
                        "argnames": [a for a in fixturedef.argnames if a != name],
                        "location": location,
                    },
                )
            is_async = is_async_test(item)
            scope, marker, overrides_marker = loop_scope_of_test(item) if is_async else (None, "sync test", False)
            tests.append(
                {
                    "nodeid": item.nodeid,
                    "async": is_async,
                    "loop_scope": scope,
                    "marker": marker,
                    "overrides_marker": overrides_marker,
                    "argnames": list(info.argnames),
                    "closure": closure,
                }
            )
            overrides.update(_relative(loc, root) for loc in event_loop_overrides(item))
        self.out.write_text(json.dumps({"tests": tests, "fixtures": fixtures, "event_loop": sorted(overrides)}))


def _relative(location: str, root: Path) -> str:
    path, _, line = location.rpartition(":")
    try:
        return f"{Path(path).relative_to(root)}:{line}"
    except ValueError:
        return location
