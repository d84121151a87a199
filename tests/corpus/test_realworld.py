"""The corpus of real suites (tests/realworld/): each runs in a subprocess, plain and with --loop-guard, and is
audited (``kit audit``, then ``kit audit --run``).

Every broken suite is flagged by both audits (a row at risk, exit code 1); no fixed one has a row at risk.

A broken suite fails plain and, guarded, every test it lost is stopped by a LoopMismatchError naming the
culprit; a fixed suite passes both ways. The guard may stop more tests than fail plain: unguarded, a failed
test can make its library throw the broken connection away, so the next test passes by luck (redis-py#3048). Every run must finish
within its timeout: a hang fails the test.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.diagnose.guard import FLAG
from tests.support.redis_server import redis_server

CORPUS = Path(__file__).resolve().parents[1] / "realworld"
TIMEOUT = 120  # seconds per run of one suite, session teardown included
# what the libraries raise, unguarded
RAW_FAILURES = (
    "got Future",
    "Timeout context manager should be used inside a task",
    "InterfaceError: cannot perform operation",
    "Event loop is closed",
    "is bound to a different event loop",
    "PoolTimeout: couldn't get a connection",  # psycopg_pool: its workers wait on a loop that is not running
)
# a traceback's "E   RuntimeError: ..." (or psycopg_pool's "E   psycopg_pool.PoolTimeout: ...")
RAW_ERROR_LINE = re.compile(r"^E\s+[\w.]*(Error|Exception|Timeout)\b", re.MULTILINE)


@dataclass(frozen=True)
class Suite:
    library: str
    culprit: str | None  # a line of the guard's report naming the object and its holder; None for a fixed suite


SUITES = {
    "sqlalchemy_session_engine": Suite(
        "SQLAlchemy + asyncpg", "The AsyncEngine: engine, created later, on another loop, inside the value of fixture 'engine'"
    ),
    "sqlalchemy_module_engine": Suite(
        "SQLAlchemy + asyncpg", "The AsyncEngine: engine, held by the module-level global 'engine'"
    ),
    "aiohttp_session_client": Suite("aiohttp", "The ClientSession: client, created by fixture 'client' (scope='session'"),
    "aiohttp_request_closure": Suite(
        "aiohttp", "The ClientSession: make_request.__closure__[0].cell_contents, created by fixture 'session'"
    ),
    "redis_session_pool": Suite(
        "redis.asyncio",
        "The Redis client: redis_client, created later, on another loop, inside the value of fixture 'redis_pool'",
    ),
    "redis_module_client": Suite(
        "redis.asyncio", "The Redis client: client._redis_conn, held by the module-level global 'client'"
    ),
    "asyncio_module_lock": Suite("asyncio", "The Lock: lock, held by the module-level global 'lock'"),
    "fastapi_module_engine": Suite("FastAPI + httpx + SQLAlchemy", "held by the module-level global 'app'"),
    "databases_module_database": Suite(
        "databases + asyncpg", "The Database: database, held by the module-level global 'database'"
    ),
    "psycopg_session_pool": Suite(
        "psycopg_pool", "The AsyncConnectionPool: pgpool, created by fixture 'pgpool' (scope='session'"
    ),
    "fixed_sqlalchemy_nullpool": Suite("SQLAlchemy + asyncpg", None),
    "fixed_sqlalchemy_session_loop": Suite("SQLAlchemy + asyncpg", None),
    "fixed_aiohttp_session_loop": Suite("aiohttp", None),
    "fixed_redis_function_client": Suite("redis.asyncio", None),
    "fixed_fastapi_session_loop": Suite("FastAPI + httpx + SQLAlchemy", None),
    "fixed_databases_function_connect": Suite("databases + asyncpg", None),
    "fixed_psycopg_function_connection": Suite("psycopg", None),
}


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 -- the name http.server calls
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 answering 200 "ok" to every GET (what the suites' clients call)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def services(http_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What the suites call besides the kit's PostgreSQL: the HTTP server and a real redis-server."""
    with redis_server(tmp_path_factory.mktemp("redis")) as redis_url:
        yield {"REALWORLD_HTTP_URL": http_url, "REALWORLD_REDIS_URL": redis_url}


def run_audit(name: str, services: dict[str, str], *args: str, corpus: Path = CORPUS) -> tuple[int, dict]:
    """``python -m kit audit --json`` on one corpus suite, its ini and rootdir passed through; (exit code, result)."""
    suite = corpus / name
    env = {**os.environ, **services, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "kit", "audit", "--json", "-c", str(suite / "pytest.ini"), "--rootdir", str(suite)]
    command += ["-p", "no:randomly", "-o", "timeout=60", *args, str(suite)]
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"kit audit {' '.join(args)} {name} did not finish within {TIMEOUT} s:\n{hung.stderr}", pytrace=False)
    assert proc.returncode in (0, 1), f"kit audit {' '.join(args)} {name} exited {proc.returncode}:\n{proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)


def run_suite(
    name: str, services: dict[str, str], tmp_path: Path, *args: str, corpus: Path = CORPUS
) -> dict[str, tuple[str, str]]:
    """Run one corpus suite; return ``{test name: (outcome, report text)}`` from its JUnit XML."""
    suite = corpus / name
    xml = tmp_path / f"{name}{'-guarded' if args else ''}.xml"
    env = {**os.environ, **services, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-c", str(suite / "pytest.ini"), "--rootdir", str(suite), str(suite)]
    # In file order: which tests a broken suite loses depends on it (the test extra installs pytest-randomly).
    command += ["-p", "no:cacheprovider", "-p", "no:randomly", "-o", "timeout=60", f"--junitxml={xml}", *args]
    try:
        subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"{name} {' '.join(args)} did not finish within {TIMEOUT} s:\n{hung.stdout}", pytrace=False)
    results = {}
    for case in ET.parse(xml).iter("testcase"):
        problem = next((child for child in case if child.tag in ("failure", "error")), None)
        outcome = "passed" if problem is None else problem.tag
        results[case.get("name")] = (outcome, "" if problem is None else f"{problem.get('message')}\n{problem.text}")
    assert results, f"{name}: no test ran"
    return results


@pytest.mark.parametrize("name", sorted(SUITES))
def test_corpus_suite(name: str, services: dict[str, str], tmp_path: Path) -> None:
    expected = SUITES[name]
    plain = run_suite(name, services, tmp_path)
    guarded = run_suite(name, services, tmp_path, FLAG)
    assert plain.keys() == guarded.keys()
    for args in ((), ("--run",)):
        code, audited = run_audit(name, services, *args)
        at_risk = audited["verdicts"]["at risk"]
        assert code == (1 if at_risk else 0), audited
        if expected.culprit is None:
            assert at_risk == 0, f"kit audit {' '.join(args)} flags the fixed suite {name}: {audited['findings']}"
        else:
            assert at_risk > 0, f"kit audit {' '.join(args)} misses the broken suite {name}: {audited['findings']}"
    if expected.culprit is None:
        assert {test: outcome for test, (outcome, _) in plain.items()} == dict.fromkeys(plain, "passed"), plain
        assert {test: outcome for test, (outcome, _) in guarded.items()} == dict.fromkeys(guarded, "passed"), guarded
        return
    lost = {test for test, (outcome, _) in plain.items() if outcome != "passed"}
    stopped = {test for test, (outcome, _) in guarded.items() if outcome != "passed"}
    assert lost, f"{name} passes unguarded: it is no longer a broken suite"
    assert any(raw in text for _, text in plain.values() for raw in RAW_FAILURES)
    assert all(RAW_ERROR_LINE.search(plain[test][1]) for test in lost)  # what the guard's reports must not show
    assert lost <= stopped, f"plain lost {sorted(lost)}, the guard stopped {sorted(stopped)}"
    for test in stopped:
        text = guarded[test][1]
        assert "LoopMismatchError" in text and expected.culprit in text, f"{test}:\n{text}"
        assert "Its loop: the " in text and "How to fix it" in text, f"{test}:\n{text}"
        assert not RAW_ERROR_LINE.search(text), f"{test}: a raw error came through\n{text}"


# ---- the fix advice, checked: each kind of advice the audit gives, applied to a copy of a broken suite ----------

SESSION_LOOP_INI = "asyncio_default_fixture_loop_scope = session\nasyncio_default_test_loop_scope = session\n"
PYTESTMARK = '\nimport pytest as _pytest\n\npytestmark = _pytest.mark.asyncio(loop_scope="session")\n'


@dataclass(frozen=True)
class Advice:
    suite: str
    says: str  # what the audit's fix for the suite says (a line of it)
    file: str  # the file the change goes to
    old: str  # "" appends ``new`` to the file
    new: str


ADVICE = {
    "fixture-and-tests-on-its-loop": Advice(
        "aiohttp_session_client",
        '@pytest_asyncio.fixture(scope="session", loop_scope="session")',
        "test_suite.py",
        '@pytest.fixture(scope="session")',
        'pytestmark = pytest.mark.asyncio(loop_scope="session")\n\n\n'
        '@__import__("pytest_asyncio").fixture(scope="session", loop_scope="session")',
    ),
    # psycopg_session_pool fixed: the pool grows on the session loop, where its workers run, and the test that
    # holds three connections at once passes
    "pool-and-tests-on-its-loop": Advice(
        "psycopg_session_pool",
        '@pytest_asyncio.fixture(scope="session", loop_scope="session")',
        "test_suite.py",
        '@pytest_asyncio.fixture(scope="session")',
        'pytestmark = __import__("pytest").mark.asyncio(loop_scope="session")\n\n\n'
        '@pytest_asyncio.fixture(scope="session", loop_scope="session")',
    ),
    "fixture-per-test": Advice(
        "aiohttp_session_client",
        "Or make 'client' function-scoped (drop scope=...)",
        "test_suite.py",
        '@pytest.fixture(scope="session")',
        "@pytest.fixture",
    ),
    "sync-fixture-tests-on-its-loop": Advice(
        "redis_session_pool", 'mark the tests: @pytest.mark.asyncio(loop_scope="session")', "test_suite.py", "", PYTESTMARK
    ),
    "global-tests-on-the-session-loop": Advice(
        "sqlalchemy_module_engine", 'pytestmark = pytest.mark.asyncio(loop_scope="session")', "test_suite.py", "", PYTESTMARK
    ),
    "global-nullpool": Advice(
        "sqlalchemy_module_engine",
        "an SQLAlchemy engine made with poolclass=NullPool",
        "test_suite.py",
        '"postgresql+asyncpg://", 1))',
        '"postgresql+asyncpg://", 1), poolclass=__import__("sqlalchemy.pool").pool.NullPool)',
    ),
    "ini-defaults-global": Advice(
        "fastapi_module_engine",
        "asyncio_default_fixture_loop_scope = session and asyncio_default_test_loop_scope = session",
        "pytest.ini",
        "asyncio_default_fixture_loop_scope = function\n",
        SESSION_LOOP_INI,
    ),
    "ini-defaults-fixtures": Advice(
        "sqlalchemy_session_engine",
        "asyncio_default_fixture_loop_scope = session and asyncio_default_test_loop_scope = session",
        "pytest.ini",
        "",
        SESSION_LOOP_INI,
    ),
}


@pytest.mark.parametrize("kind", sorted(ADVICE))
def test_the_advice_applied_makes_the_loops_agree(kind: str, services: dict[str, str], tmp_path: Path) -> None:
    advice = ADVICE[kind]
    _, audited = run_audit(advice.suite, services)
    fixes = "\n".join(row["fix"] for row in audited["findings"] if row["verdict"] == "at risk")
    assert advice.says in fixes, f"the audit no longer gives this advice for {advice.suite}:\n{fixes}"
    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS / advice.suite, copy / advice.suite)
    target = copy / advice.suite / advice.file
    text = target.read_text()
    assert not advice.old or advice.old in text, f"{advice.file} of {advice.suite} changed: {advice.old!r} is gone"
    target.write_text(text.replace(advice.old, advice.new, 1) if advice.old else text + advice.new)
    results = run_suite(advice.suite, services, tmp_path, FLAG, corpus=copy)
    assert {test: outcome for test, (outcome, _) in results.items()} == dict.fromkeys(results, "passed"), results
    code, after = run_audit(advice.suite, services, corpus=copy)
    assert (code, after["verdicts"]["at risk"]) == (0, 0), after["findings"]
