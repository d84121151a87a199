"""The pytest-asyncio settings that do and do not fix a shared asyncpg pool, run live on the installed version.

Each :class:`Scenario` is a small project: a ``pytest.ini`` and one test module with a session-scoped
asyncpg pool fixture and three async tests that use it. They differ only in where the loop scope is
set (fixture, marker, ``pytestmark``, ini options, an ``event_loop`` override). :func:`run_scenarios`
runs each one as a new pytest session in a temporary directory with its own ``pytest.ini``, in worker
subprocesses (two at a time by default), and classifies what happened::

    from kit.course.scenarios import SCENARIOS, run_scenarios
    print(SCENARIOS["E"].source)      # the test module of scenario E
    run_scenarios()                    # one row per scenario: outcome, root cause, counts, warnings

Outcomes: ``DIFF-LOOP`` (a test failed with "attached to a different loop"), ``ScopeMismatch`` (set-up
refused a session fixture on a narrower loop), ``pass`` (all three tests passed), otherwise the type of
the first error (``TypeError``...), ``timeout`` or ``pytest error``.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.diagnose.isolation import isolated_env, plugin_args
from kit.errors import ScenarioError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "DIFFERENT_LOOP",
    "EXPECTED_ON",
    "SCENARIOS",
    "Scenario",
    "ScenarioError",
    "classify",
    "passing",
    "run_scenarios",
]

COLUMNS = ["scenario", "description", "outcome", "detail", "passed", "failed", "errors", "warnings"]
DIFFERENT_LOOP = "attached to a different loop"
_WARNING = re.compile(r"\b(\w*Warning): (.+)")
_IGNORED_WARNINGS = ("PytestAssertRewriteWarning",)  # about how the kit's modules were imported, not the scenario
# The kit's own plugin is left out: the scenarios use only pytest-asyncio and asyncpg (no other plugin is loaded).
_PYTEST_ARGS = ("-q", "--tb=no", "-p", "no:cacheprovider", *plugin_args(kit=False))

_IMPORTS = "import os\n\nimport asyncpg\nimport pytest\nimport pytest_asyncio\n"

_EVENT_LOOP_OVERRIDE = '''

@pytest.fixture(scope="session")
def event_loop():
    """The pytest-asyncio 0.21 recipe: one loop for the whole session."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
'''

_FIXTURE = """

@pytest_asyncio.fixture({arguments})
async def pool():
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2)
    yield pool
    await pool.close()
"""

_TESTS = """

{marker}async def test_select_one(pool):
    assert await pool.fetchval("SELECT 1") == 1


{marker}async def test_select_two(pool):
    assert await pool.fetchval("SELECT 2") == 2


{marker}async def test_select_three(pool):
    assert await pool.fetchval("SELECT 3") == 3
"""


@dataclass(frozen=True)
class Scenario:
    """One small project: pytest.ini options (besides ``asyncio_mode = strict``) and a test module.

    ``expected`` is the outcome measured on the pytest-asyncio version the course pins (see
    :data:`EXPECTED_ON`): the tests, notebook 02 and its exercise all read it from here.
    """

    name: str
    description: str
    ini: tuple[tuple[str, str], ...]
    source: str
    expected: str

    @property
    def ini_text(self) -> str:
        """The scenario's ``pytest.ini``."""
        lines = ["[pytest]", "asyncio_mode = strict", *(f"{key} = {value}" for key, value in self.ini)]
        return "\n".join(lines) + "\n"

    def files(self) -> dict[str, str]:
        """File name -> content of the project, as written to disk by :func:`run_here`."""
        return {"pytest.ini": self.ini_text, "test_pool.py": self.source}


def _module(
    fixture: str = 'scope="session"', marker: str = "@pytest.mark.asyncio", *, module_mark: str = "", event_loop: bool = False
) -> str:
    """The test module: imports, optional ``pytestmark`` and ``event_loop`` override, the pool, three tests."""
    parts = ["import asyncio\n" + _IMPORTS if event_loop else _IMPORTS]
    if module_mark:
        parts.append(f"\npytestmark = {module_mark}\n")
    if event_loop:
        parts.append(_EVENT_LOOP_OVERRIDE)
    parts.append(_FIXTURE.format(arguments=fixture))
    parts.append(_TESTS.format(marker=f"{marker}\n" if marker else ""))
    return "".join(parts)


_SESSION_LOOP_FIXTURE = 'scope="session", loop_scope="session"'
_MODULE_MARK = 'pytest.mark.asyncio(loop_scope="session")'

# The pytest-asyncio version the scenarios' ``expected`` outcomes were measured on (the course's pin).
EXPECTED_ON = "1.5.0"

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("A", 'fixture scope="session", tests @pytest.mark.asyncio, no loop settings', (), _module(), "DIFF-LOOP"),
        Scenario(
            "B",
            "only asyncio_default_fixture_loop_scope = session",
            (("asyncio_default_fixture_loop_scope", "session"),),
            _module(),
            "DIFF-LOOP",
        ),
        Scenario(
            "C",
            "only asyncio_default_fixture_loop_scope = function",
            (("asyncio_default_fixture_loop_scope", "function"),),
            _module(),
            "ScopeMismatch",
        ),
        Scenario("D", 'fixture loop_scope="session" only (half fix)', (), _module(_SESSION_LOOP_FIXTURE), "DIFF-LOOP"),
        Scenario(
            "E",
            'fixture loop_scope="session" + tests @pytest.mark.asyncio(loop_scope="session")',
            (),
            _module(_SESSION_LOOP_FIXTURE, '@pytest.mark.asyncio(loop_scope="session")'),
            "pass",
        ),
        Scenario(
            "F",
            '0.23 style: tests @pytest.mark.asyncio(scope="session")',
            (),
            _module(marker='@pytest.mark.asyncio(scope="session")'),
            "pass",
        ),
        Scenario("G", "override event_loop as a session fixture (the 0.21 recipe)", (), _module(event_loop=True), "DIFF-LOOP"),
        Scenario(
            "H",
            "ini sets both default loop scopes to session",
            (("asyncio_default_fixture_loop_scope", "session"), ("asyncio_default_test_loop_scope", "session")),
            _module(),
            "pass",
        ),
        Scenario(
            "I",
            'pytestmark = asyncio(loop_scope="session") + fixture loop_scope="session", tests unmarked',
            (),
            _module(_SESSION_LOOP_FIXTURE, "", module_mark=_MODULE_MARK),
            "pass",
        ),
        Scenario(
            "I'",
            "as I, but each test also carries a bare @pytest.mark.asyncio",
            (),
            _module(_SESSION_LOOP_FIXTURE, module_mark=_MODULE_MARK),
            "DIFF-LOOP",
        ),
    )
}


def passing() -> frozenset[str]:
    """The names of the scenarios expected to pass (on :data:`EXPECTED_ON`)."""
    return frozenset(name for name, scenario in SCENARIOS.items() if scenario.expected == "pass")


def classify(results: list[dict[str, Any]]) -> tuple[str, str]:
    """The outcome label and the root cause's first line, from the per-test records of :mod:`kit.diagnose.recorder`."""
    problems = [r for r in results if r.get("outcome") not in ("passed", "skipped")]
    if not results:
        return "no tests", "pytest collected no tests"
    if not problems:
        return "pass", ""
    texts = [f"{r.get('error_type') or ''}: {r.get('message') or ''} {r.get('summary') or ''}" for r in problems]
    first = problems[0]
    detail = f"{first['error_type']}: {first['message']}" if first.get("error_type") else str(first.get("message") or "")
    for problem, text in zip(problems, texts):
        if DIFFERENT_LOOP in text:
            return "DIFF-LOOP", f"{problem['error_type']}: {problem['message']}"
    for problem, text in zip(problems, texts):
        if "ScopeMismatch" in text:
            return "ScopeMismatch", str(problem.get("message") or problem.get("summary"))
    return first.get("error_type") or first.get("outcome") or "failed", detail


def _warnings(output: str) -> str:
    """The distinct warnings pytest and pytest-asyncio printed, each as ``Category: first sentence``."""
    found: list[str] = []
    for category, message in _WARNING.findall(output):
        if category in _IGNORED_WARNINGS:
            continue
        sentence = message.strip()
        end = sentence.find(". ")
        text = f"{category}: {sentence[: end + 1] if end > 0 else sentence}"
        if text not in found:
            found.append(text)
    return "; ".join(found)


def _row(scenario: Scenario, results: list[dict[str, Any]], output: str) -> dict[str, Any]:
    """The table row of one finished scenario."""
    outcome, detail = classify(results)
    counts = {kind: sum(r["outcome"] == kind for r in results) for kind in ("passed", "failed", "error")}
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "outcome": outcome,
        "detail": detail,
        "passed": counts["passed"],
        "failed": counts["failed"],
        "errors": counts["error"],
        "warnings": _warnings(output),
    }


def _unfinished(scenario: Scenario, outcome: str, detail: str) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "outcome": outcome,
        "detail": detail,
        "passed": 0,
        "failed": 0,
        "errors": 0,
        "warnings": "",
    }


def run_here(scenario: Scenario) -> dict[str, Any]:
    """Run one scenario with ``pytest.main`` in this process, in a temporary directory; return its table row.

    Its pytest session is a new one, with the scenario's own ``pytest.ini`` as configuration; pytest's
    output is captured, not shown. :func:`run_scenarios` calls this in worker subprocesses, never in a kernel.
    """
    import pytest

    from kit.diagnose.recorder import Recorder

    recorder = Recorder()
    output = io.StringIO()
    saved_path, saved_cwd = list(sys.path), os.getcwd()
    with tempfile.TemporaryDirectory(prefix="loop-lab-scenario-") as scratch:
        for name, text in scenario.files().items():
            (Path(scratch) / name).write_text(text)
        os.chdir(scratch)
        try:
            with warnings.catch_warnings(record=True) as caught, redirect_stdout(output), redirect_stderr(output):
                warnings.simplefilter("always")
                pytest.main([*_PYTEST_ARGS, "test_pool.py"], plugins=[recorder])
        finally:
            os.chdir(saved_cwd)
            sys.path[:] = saved_path
            sys.modules.pop("test_pool", None)  # the next scenario's module has the same name
    config_warnings = "".join(f"\n{w.category.__name__}: {w.message}" for w in caught)
    return _row(scenario, recorder.results(), output.getvalue() + config_warnings)


def _run_batch(batch: list[Scenario], dsn: str, timeout: float, report: Callable[[dict[str, Any]], None]) -> None:
    """Run ``batch`` one after another in one worker subprocess; ``report`` every row, even when the worker dies."""
    reported: set[str] = set()

    def report_once(row: dict[str, Any]) -> None:
        reported.add(row["scenario"])
        report(row)

    try:
        fate, detail = _drive_worker(batch, dsn, timeout, report_once)
    except Exception as exc:  # the rows still arrive, so run_scenarios() never waits forever
        fate, detail = "pytest error", f"the worker could not run: {type(exc).__name__}: {exc}"
    for scenario in batch:
        if scenario.name not in reported:
            report(_unfinished(scenario, fate, detail))


def _drive_worker(batch: list[Scenario], dsn: str, timeout: float, report: Callable[[dict[str, Any]], None]) -> tuple[str, str]:
    """Start the worker, pass on each row it prints; return the outcome and detail for rows it did not print."""
    env = isolated_env({**os.environ, "DATABASE_URL": dsn})
    killed = threading.Event()
    with tempfile.TemporaryFile(mode="w+") as errors:
        worker = subprocess.Popen(
            [sys.executable, "-m", "kit.course.scenarios", *(s.name for s in batch)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )

        def kill() -> None:
            killed.set()
            worker.terminate()  # the worker exits cleanly (temporary directory removed) ...
            last_resort = threading.Timer(5, worker.kill)  # ... or is killed
            last_resort.daemon = True
            last_resort.start()

        timer = threading.Timer(timeout * len(batch), kill)
        timer.start()
        try:
            for line in worker.stdout or ():
                if line.startswith("{"):  # anything else is not a row
                    report(json.loads(line))
            worker.wait()
        finally:
            timer.cancel()
        errors.seek(0)
        lines = errors.read().strip().splitlines()
    if killed.is_set():
        return "timeout", f"did not finish within {timeout:g} s per scenario"
    return "pytest error", lines[-1] if lines else f"the worker exited with code {worker.returncode}"


def _selected(names: Iterable[str] | str | None) -> list[Scenario]:
    if names is None:
        return list(SCENARIOS.values())
    names = [names] if isinstance(names, str) else list(names)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise ScenarioError(f"Unknown scenario(s) {unknown}; pass names from {list(SCENARIOS)}, or None for all of them.")
    return [SCENARIOS[name] for name in names]


def run_scenarios(
    names: Iterable[str] | str | None = None,
    *,
    progress: bool = True,
    dsn: str | None = None,
    workers: int = 2,
    timeout: float = 120,
) -> pd.DataFrame:
    """Run the named scenarios (all by default) and return one row each, in the order asked.

    Columns: ``scenario, description, outcome, detail, passed, failed, errors, warnings``; ``detail`` is
    the first line of the root cause, ``warnings`` what pytest and pytest-asyncio warned about.
    The scenarios are shared out over ``workers`` Python subprocesses running at the same time; each
    subprocess runs its share one after another, each scenario a new pytest session in a temporary
    directory with its own ``pytest.ini``. ``workers=len(names)`` gives every scenario a process of its
    own. ``dsn`` defaults to :func:`kit.db.server.ensure_server`; ``timeout`` bounds each scenario (seconds).
    With ``progress``, a line is printed as each scenario finishes.
    """
    import pandas as pd

    chosen = _selected(names)
    if workers < 1:
        raise ScenarioError(f"workers={workers}: at least one worker process is needed (the default is 2).")
    if dsn is None:
        from kit.db.server import ensure_server

        dsn = ensure_server()
    started = time.perf_counter()
    finished: queue.Queue[dict[str, Any]] = queue.Queue()
    batches = [chosen[i::workers] for i in range(min(workers, len(chosen)))]
    threads = [threading.Thread(target=_run_batch, args=(batch, dsn, timeout, finished.put), daemon=True) for batch in batches]
    for thread in threads:
        thread.start()
    rows: dict[str, dict[str, Any]] = {}
    while len(rows) < len(chosen):
        row = finished.get()
        rows[row["scenario"]] = row
        if progress:
            print(
                f"[{len(rows)}/{len(chosen)}] scenario {row['scenario']:<2} {row['outcome']:<13} "
                f"({time.perf_counter() - started:.1f} s)",
                flush=True,
            )
    for thread in threads:
        thread.join()
    return pd.DataFrame([rows[scenario.name] for scenario in chosen], columns=COLUMNS)


def _worker(names: list[str]) -> None:
    """Entry point of a worker subprocess: run each named scenario here, print its row as a JSON line."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"stopped by signal {signum}"))
    for name in names:
        row = run_here(SCENARIOS[name])
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _worker(sys.argv[1:])
