"""Time the lesson's fixture strategies as real pytest sessions, each in its own subprocess.

For every strategy a temporary directory gets a ``pytest.ini`` (strict mode, both default loop
scopes ``function``), a ``conftest.py`` with the fixtures the kit's plugin does not have, a test
file of N generated tests and a timing plugin (``-p _bench_timer``) that records the time from the
first test's setup to the last test's teardown, and the steady state between the end of the first
test and the start of the last (no session-scoped set-up or tear-down in it), so interpreter
start-up and collection are never counted. Session repeats are interleaved (all strategies once, then again) so drift in a noisy
machine spreads over every strategy.
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

from kit.bench_schema import Progress


class BenchRunError(RuntimeError):
    """A benchmark session failed; the message carries the end of its output."""


@dataclass(frozen=True)
class Strategy:
    """One way to give tests a database connection, as the generated tests use it."""

    name: str
    label: str
    fixture: str | None
    session_loop: bool = False
    needs_socket: bool = False


STRATEGIES = (
    Strategy("baseline", "empty async test (no database)", None),
    Strategy("connect_per_test_tcp", "new connection per test, TCP (test_connection)", "test_connection"),
    Strategy("connect_per_test_socket", "new connection per test, unix socket", "socket_connection", needs_socket=True),
    Strategy("session_config_per_test", "session config, connection per test (session_config_connection)", "session_config_connection"),
    Strategy("session_loop_rollback", "session-loop connection, rollback per test (db)", "db", session_loop=True),
    Strategy("session_loop_pool", "session-loop pool, acquire + rollback per test", "pooled_db", session_loop=True),
)

SOCKET_ENV = "LOOP_LAB_BENCH_SOCKET_URL"
_RESULT_ENV = "LOOP_LAB_BENCH_RESULT"
_SESSION_TIMEOUT_S = 600

_PYTEST_INI = """[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
"""

# Fixtures the kit's plugin does not provide, written in the same style as its own.
_CONFTEST = f'''"""Benchmark fixtures that the kit's plugin does not provide."""
import os

import pytest_asyncio

from kit.connections import connect


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

_TIMER = f'''"""Record when the tests ran (first setup to last teardown; steady state between) and their outcomes."""
import json
import os
import time

import pytest

_state = {{"first_start": None, "first_end": None, "last_start": None, "last_end": None, "tests": 0, "passed": 0, "failed": 0}}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    now = time.perf_counter()
    if _state["first_start"] is None:
        _state["first_start"] = now
    _state["last_start"] = now
    yield
    _state["last_end"] = time.perf_counter()
    if _state["first_end"] is None:
        _state["first_end"] = _state["last_end"]
    _state["tests"] += 1


def pytest_runtest_logreport(report):
    if report.failed:
        _state["failed"] += 1
    elif report.when == "call" and report.passed:
        _state["passed"] += 1


def pytest_sessionfinish(session):
    result = {{k: _state[k] for k in ("tests", "passed", "failed")}}
    if _state["tests"]:
        # elapsed_s: the whole run of the tests; steady_s: tests 2 .. N-1, without the session's one-time set-up and tear-down
        result["elapsed_s"] = _state["last_end"] - _state["first_start"]
        result["steady_s"] = _state["last_start"] - _state["first_end"]
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
            lines += [f"async def test_{i:05d}({strategy.fixture}):",
                      f'    assert await {strategy.fixture}.fetchval("SELECT 1") == 1', ""]
    return "\n".join(lines)


def _run_session(workdir: Path, strategy: Strategy, env: dict[str, str]) -> tuple[float, float]:
    """Run one pytest session; return (seconds from first setup to last teardown, seconds of tests 2 .. N-1)."""
    result_file = workdir / f"{strategy.name}.json"
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_bench_timer", f"test_{strategy.name}.py"]
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=dict(env, **{_RESULT_ENV: str(result_file)}),
                              capture_output=True, text=True, timeout=_SESSION_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchRunError(f"the {strategy.name} session did not finish within {_SESSION_TIMEOUT_S} s") from None
    outcome = json.loads(result_file.read_text()) if result_file.exists() else {}
    if proc.returncode != 0 or outcome.get("failed") or outcome.get("elapsed_s") is None:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BenchRunError(f"the {strategy.name} session failed (pytest exit {proc.returncode}):\n{tail}")
    return float(outcome["elapsed_s"]), float(outcome["steady_s"])


def _child_env(dsn: str, socket_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "PYTEST_"))}
    env["DATABASE_URL"] = dsn
    if socket_url:
        env[SOCKET_ENV] = socket_url
    return env


def _costs(total_s: float, steady_s: float, tests: int) -> tuple[float, float]:
    """(steady per-test seconds, one-time session seconds) of one strategy's median session."""
    per_test = steady_s / (tests - 2) if tests >= 3 else total_s / tests
    return per_test, total_s - per_test * tests


def measure(dsn: str, socket_url: str | None, *, tests: int, repeats: int, progress: bool = True) -> dict[str, Any]:
    """Run every strategy ``repeats`` times with ``tests`` tests each; per-test costs above the baseline.

    ``per_test_ms`` is the steady-state cost of one more test (tests 2 .. N-1, so the session's one-time
    set-up and tear-down are left out and reported as ``session_setup_ms``); ``amortized_per_test_ms``
    spreads the one-time part over the N tests. Returns ``{"fixture_strategies", "baseline", "skipped",
    "tests", "repeats"}``; see docs/benchmarks.md.
    """
    strategies = [s for s in STRATEGIES if socket_url or not s.needs_socket]
    skipped = [{"name": s.name, "reason": "the database has no unix socket the kit knows of (an external DATABASE_URL)"}
               for s in STRATEGIES if s.needs_socket and not socket_url]
    samples: dict[str, list[tuple[float, float]]] = {s.name: [] for s in strategies}
    env = _child_env(dsn, socket_url)
    bar = Progress(repeats * len(strategies), f"fixture strategies ({tests} tests)", enabled=progress)
    with tempfile.TemporaryDirectory(prefix="loop-lab-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "pytest.ini").write_text(_PYTEST_INI)
        (workdir / "conftest.py").write_text(_CONFTEST)
        (workdir / "_bench_timer.py").write_text(_TIMER)
        for strategy in strategies:
            (workdir / f"test_{strategy.name}.py").write_text(_test_module(strategy, tests))
        for repeat in range(repeats):
            for strategy in strategies:
                samples[strategy.name].append(_run_session(workdir, strategy, env))
                bar.step(f"{strategy.name} {repeat + 1}/{repeats}")
    totals = {name: statistics.median(t for t, _ in values) for name, values in samples.items()}
    costs = {name: _costs(totals[name], statistics.median(s for _, s in values), tests) for name, values in samples.items()}
    base_test, base_once = costs["baseline"]
    rows = []
    for strategy in strategies[1:]:
        per_test, once = costs[strategy.name]
        rows.append({
            "name": strategy.name,
            "label": strategy.label,
            "per_test_ms": round((per_test - base_test) * 1000, 3),
            "amortized_per_test_ms": round((totals[strategy.name] - totals["baseline"]) / tests * 1000, 3),
            "session_setup_ms": round((once - base_once) * 1000, 1),
            "absolute_per_test_ms": round(per_test * 1000, 3),
            "session_s_median": round(totals[strategy.name], 4),
            "session_s_samples": [round(t, 4) for t, _ in samples[strategy.name]],
        })
    cheapest = max(min(row["per_test_ms"] for row in rows), 1e-3)  # noise can push a cost to ~0
    for row in rows:
        row["ratio_to_cheapest"] = round(row["per_test_ms"] / cheapest, 2)
    baseline = {"name": "baseline", "label": strategies[0].label, "per_test_ms": round(base_test * 1000, 3),
                "session_setup_ms": round(base_once * 1000, 1), "session_s_median": round(totals["baseline"], 4),
                "session_s_samples": [round(t, 4) for t, _ in samples["baseline"]]}
    return {"fixture_strategies": rows, "baseline": baseline, "skipped": skipped, "tests": tests, "repeats": repeats}
