"""Time the lesson's fixture strategies as real pytest sessions, each in its own subprocess.

For every strategy a temporary directory gets a ``pytest.ini`` (strict mode, both default loop
scopes ``function``), a ``conftest.py`` with the fixtures the kit's plugin does not have, a test
file of N generated tests and a timing plugin (``-p _bench_timer``) that records when each test
starts. Sessions load only pytest-asyncio, the kit's plugin and pytest-timeout (plugin autoloading
is off), so other installed plugins neither slow their start-up nor add work to every test. A test's cost is the time from its start to the next test's start (set-up, call, tear-down,
reporting: everything pytest does for it). Tests 2 .. N-1 are the steady state: the first test's
set-up and the last test's tear-down carry the session's one-time work and are left out, and so are
interpreter start-up and collection. The typical test is the median of those costs; a busy machine
delays a few tests by milliseconds and the median, unlike the mean, does not move with them.
Sessions are interleaved (every strategy once, then again in the reverse order) and each strategy
is compared with the baseline session of the same round, so drift in a noisy machine cancels out.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.bench.schema import Progress
from kit.diagnose.isolation import isolated_env, plugin_args
from kit.errors import BenchRunError


@dataclass(frozen=True)
class Strategy:
    """One way to give tests a database connection, as the generated tests use it."""

    name: str
    label: str
    fixture: str | None
    session_loop: bool = False
    needs_socket: bool = False

    @property
    def baseline(self) -> str:
        """The empty-test session this strategy is compared with: the one on the same event loop."""
        return "baseline_session_loop" if self.session_loop else "baseline"


# Session order within a round (reversed every other round): each strategy runs next to its baseline.
STRATEGIES = (
    Strategy("baseline", "empty async test on its own loop (no database)", None),
    Strategy("connect_per_test_tcp", "new connection per test, TCP (test_connection)", "test_connection"),
    Strategy("connect_per_test_socket", "new connection per test, unix socket", "socket_connection", needs_socket=True),
    Strategy(
        "session_config_per_test", "session config, connection per test (session_config_connection)", "session_config_connection"
    ),
    Strategy("baseline_session_loop", "empty async test on the session loop (no database)", None, session_loop=True),
    Strategy("session_loop_rollback", "session-loop connection, rollback per test (db)", "db", session_loop=True),
    Strategy("session_loop_pool", "session-loop pool, acquire + rollback per test", "pooled_db", session_loop=True),
)
BASELINES = ("baseline", "baseline_session_loop")

SOCKET_ENV = "LOOP_LAB_BENCH_SOCKET_URL"
_RESULT_ENV = "LOOP_LAB_BENCH_RESULT"
_SESSION_TIMEOUT_S = 600
_RATIO_FLOOR_MS = 0.02  # below this the cheapest per-test cost is noise, and ratios to it are left out

_PYTEST_INI = """[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
"""

# Fixtures the kit's plugin does not provide, written in the same style as its own.
_CONFTEST = f'''"""Benchmark fixtures that the kit's plugin does not provide."""
import os

import pytest_asyncio

from kit.db.connections import connect


@pytest_asyncio.fixture
async def socket_connection():
    """Like the plugin's test_connection (connect, SELECT 1, close), over the unix socket."""
    conn = await connect(os.environ["{SOCKET_ENV}"])
    try:
        await conn.fetchval("SELECT 1")
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pooled_db(shared_pool):
    """A connection acquired from the session pool, inside a transaction rolled back after the test."""
    async with shared_pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            yield conn
        finally:
            await transaction.rollback()
'''

_TIMER = f'''"""Record when each test started, when the last one ended, and the outcomes."""
import json
import os
import statistics
import time

import pytest

_starts = []
_state = {{"last_end": None, "tests": 0, "passed": 0, "failed": 0}}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _starts.append(time.perf_counter())
    yield
    _state["last_end"] = time.perf_counter()
    _state["tests"] += 1


def pytest_runtest_logreport(report):
    if report.failed:
        _state["failed"] += 1
    elif report.when == "call" and report.passed:
        _state["passed"] += 1


def pytest_sessionfinish(session):
    result = {{k: _state[k] for k in ("tests", "passed", "failed")}}
    if _state["tests"]:
        # elapsed_s: first setup to last teardown. Steady state: tests 2 .. N-1, each from its start to the next start.
        result["elapsed_s"] = _state["last_end"] - _starts[0]
        steady = [later - earlier for earlier, later in zip(_starts[1:-1], _starts[2:])]
        if steady:
            result["steady_s"] = sum(steady)
            result["steady_median_s"] = statistics.median(steady)
    with open(os.environ["{_RESULT_ENV}"], "w") as handle:
        json.dump(result, handle)
'''


def _test_module(strategy: Strategy, tests: int) -> str:
    marker = '@pytest.mark.asyncio(loop_scope="session")' if strategy.session_loop else "@pytest.mark.asyncio"
    lines = [f'"""{tests} generated tests: {strategy.label}."""', "import pytest", ""]
    for i in range(tests):
        lines.append(marker)
        if strategy.fixture is None:
            lines += [f"async def test_{i:05d}():", "    pass", ""]
        else:
            lines += [
                f"async def test_{i:05d}({strategy.fixture}):",
                f'    assert await {strategy.fixture}.fetchval("SELECT 1") == 1',
                "",
            ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Session:
    """One pytest session's timings, in seconds: the whole run, and its steady state (tests 2 .. N-1)."""

    elapsed_s: float
    per_test_mean_s: float
    per_test_median_s: float


def _run_session(workdir: Path, strategy: Strategy, env: dict[str, str], tests: int) -> Session:
    """Run one pytest session of ``tests`` tests and return its timings."""
    result_file = workdir / f"{strategy.name}.json"
    result_file.unlink(missing_ok=True)
    # pytest-asyncio, the kit's fixtures and pytest-timeout (the kit's tests get a timeout, as in a real suite), no others
    plugins = [*plugin_args(), "-p", "_bench_timer"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins, f"test_{strategy.name}.py"]
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=dict(env, **{_RESULT_ENV: str(result_file)}),
            capture_output=True,
            text=True,
            timeout=_SESSION_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise BenchRunError(f"the {strategy.name} session did not finish within {_SESSION_TIMEOUT_S} s") from None
    outcome = json.loads(result_file.read_text()) if result_file.exists() else {}
    if proc.returncode != 0 or outcome.get("failed") or outcome.get("elapsed_s") is None:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BenchRunError(f"the {strategy.name} session failed (pytest exit {proc.returncode}):\n{tail}")
    elapsed = float(outcome["elapsed_s"])
    if "steady_s" not in outcome:  # fewer than 3 tests: no steady state, only the whole run
        return Session(elapsed, elapsed / tests, elapsed / tests)
    return Session(elapsed, float(outcome["steady_s"]) / (tests - 2), float(outcome["steady_median_s"]))


def _child_env(dsn: str, socket_url: str | None) -> dict[str, str]:
    # only plugin_args()'s plugins: other installed ones would slow every start-up
    env = isolated_env({k: v for k, v in os.environ.items() if not k.startswith(("DB_", "PYTEST_"))})
    env["DATABASE_URL"] = dsn
    if socket_url:
        env[SOCKET_ENV] = socket_url
    return env


def _rounds(strategies: list[Strategy], repeats: int) -> list[list[Strategy]]:
    """The order of sessions: every strategy once per round, every other round reversed."""
    return [strategies if number % 2 == 0 else strategies[::-1] for number in range(repeats)]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _baseline_row(strategy: Strategy, sessions: list[Session], tests: int) -> dict[str, Any]:
    total = statistics.median(s.elapsed_s for s in sessions)
    mean = statistics.median(s.per_test_mean_s for s in sessions)
    return {
        "name": strategy.name,
        "label": strategy.label,
        "per_test_ms": _ms(statistics.median(s.per_test_median_s for s in sessions)),
        "per_test_mean_ms": _ms(mean),
        "session_setup_ms": _cost_ms(total - mean * tests),
        "session_s_median": round(total, 4),
        "session_s_samples": [round(s.elapsed_s, 4) for s in sessions],
    }


def _cost_ms(seconds: float) -> float:
    """A one-time cost in ms: a difference of medians, so noise can make it dip below zero; it reads as 0."""
    return max(0.0, round(seconds * 1000, 1))


def _strategy_row(strategy: Strategy, sessions: list[Session], base: list[Session], tests: int) -> dict[str, Any]:
    above = [s.per_test_median_s - b.per_test_median_s for s, b in zip(sessions, base)]  # paired by round
    total, base_total = (statistics.median(x.elapsed_s for x in runs) for runs in (sessions, base))
    mean, base_mean = (statistics.median(x.per_test_mean_s for x in runs) for runs in (sessions, base))
    return {
        "name": strategy.name,
        "label": strategy.label,
        "compared_with": strategy.baseline,
        "per_test_ms": _ms(statistics.median(above)),
        "per_test_ms_samples": [_ms(value) for value in above],
        "per_test_mean_ms": _ms(mean - base_mean),
        "amortized_per_test_ms": _ms((total - base_total) / tests),
        "session_setup_ms": _cost_ms((total - mean * tests) - (base_total - base_mean * tests)),
        "absolute_per_test_ms": _ms(statistics.median(s.per_test_median_s for s in sessions)),
        "session_s_median": round(total, 4),
        "session_s_samples": [round(s.elapsed_s, 4) for s in sessions],
    }


def measure(dsn: str, socket_url: str | None, *, tests: int, repeats: int, progress: bool = True) -> dict[str, Any]:
    """Run every strategy ``repeats`` times with ``tests`` tests each; per-test costs above the baselines.

    ``per_test_ms`` is what one more test costs above an empty async test on the same event loop
    (``compared_with``: ``baseline`` for tests on their own loop, ``baseline_session_loop`` for tests
    on the session loop): per round, the median steady-state test of the strategy's session minus the
    median test of that baseline's session in the same round; the median over rounds. ``per_test_mean_ms``
    is the same with means (a busy machine pushes it up). The session's one-time set-up and tear-down
    are ``session_setup_ms``; ``amortized_per_test_ms`` spreads them over the N tests. Returns
    ``{"fixture_strategies", "baseline", "baseline_session_loop", "skipped", "tests", "repeats"}``;
    see docs/benchmarks.md.
    """
    strategies = [s for s in STRATEGIES if socket_url or not s.needs_socket]
    skipped = [
        {"name": s.name, "reason": "the database has no unix socket the kit knows of (an external DATABASE_URL)"}
        for s in STRATEGIES
        if s.needs_socket and not socket_url
    ]
    samples: dict[str, list[Session]] = {s.name: [] for s in strategies}
    env = _child_env(dsn, socket_url)
    bar = Progress(repeats * len(strategies), f"fixture strategies ({tests} tests)", enabled=progress)
    with tempfile.TemporaryDirectory(prefix="loop-lab-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "pytest.ini").write_text(_PYTEST_INI)
        (workdir / "conftest.py").write_text(_CONFTEST)
        (workdir / "_bench_timer.py").write_text(_TIMER)
        for strategy in strategies:
            (workdir / f"test_{strategy.name}.py").write_text(_test_module(strategy, tests))
        for number, order in enumerate(_rounds(strategies, repeats)):
            for strategy in order:
                samples[strategy.name].append(_run_session(workdir, strategy, env, tests))
                bar.step(f"{strategy.name} {number + 1}/{repeats}")
    rows = [_strategy_row(s, samples[s.name], samples[s.baseline], tests) for s in strategies if s.name not in BASELINES]
    for row in rows:  # the baseline for every strategy (docs/benchmarks.md): the plainest async test, on its own loop
        paired = zip(samples[row["name"]], samples["baseline"])
        row["per_test_ms_vs_empty_test"] = _ms(statistics.median(s.per_test_median_s - b.per_test_median_s for s, b in paired))
    cheapest = min(row["per_test_ms"] for row in rows)
    for row in rows:  # a ratio to a cost lost in the noise (~0 or below) would mean nothing
        row["ratio_to_cheapest"] = round(row["per_test_ms"] / cheapest, 2) if cheapest >= _RATIO_FLOOR_MS else None
    result: dict[str, Any] = {"fixture_strategies": rows, "skipped": skipped, "tests": tests, "repeats": repeats}
    for strategy in strategies:
        if strategy.name in BASELINES:
            result[strategy.name] = _baseline_row(strategy, samples[strategy.name], tests)
    return result
