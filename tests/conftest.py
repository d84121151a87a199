"""Shared test fixtures: private kit servers for tests that start, kill and stop one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.db.config import DatabaseConfig
from kit.db.server import ensure_server
from kit.db.state import state_dir
from kit.db.workers import drop_run_databases, worker_config
from kit.diagnose.isolation import AUTOLOAD_ENV
from kit.plugin import xdist_worker
from tests.support.kit_cli import CI_MARKERS, kit, kit_env
from tests.support.leaks import kit_connections_left

# Imported before any test that uses pytester: pytester drops the modules first imported during such a test,
# and numpy (under pandas) cannot be imported twice in one process. The library's own tests also run without
# the course extra, so without pandas (`make test-pythons`).
with contextlib.suppress(ModuleNotFoundError):
    import pandas  # noqa: F401


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start (or find) the database once, and hand its URL to every subprocess and kernel the tests start.

    The state directory is pinned too: pytester gives its runs a HOME of their own, which would move the
    default one (~/.local/state/loop-lab) away from the server this session uses. Under pytest-xdist, each
    worker hands on a database of its own (kit.db.workers, dropped at the run's end), so the inner suites of
    two workers (clean_test_schema, fixed table names) never share a table.
    """
    os.environ.setdefault("LOOP_LAB_HOME", str(state_dir()))
    url = ensure_server()
    worker = xdist_worker(session.config)
    if worker is not None:
        url = worker_config(DatabaseConfig.from_url(url, source="kit"), *worker).url
    os.environ["DATABASE_URL"] = url


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """In xdist's controller: remember the run's id, to drop the workers' databases at its end."""
    node.config.stash[_RUN_ID] = node.workerinput["testrunuid"]


@pytest.fixture
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A LOOP_LAB_HOME of its own, whose server (if any) is stopped and removed afterwards."""
    home = tmp_path_factory.mktemp("home")
    yield home
    kit("db", "stop", "--remove", env=kit_env(home))


pytest_plugins = ["pytester"]
_RUN_ID = pytest.StashKey[str]()
_LEAKS = pytest.StashKey[list[str]]()


@pytest.fixture(autouse=True)
def _inner_runs_load_only_the_kits_plugins(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester's inner runs load pytest-asyncio, pytest-timeout and the kit, and no other installed plugin."""
    if "pytester" in request.fixturenames:
        monkeypatch.setenv(AUTOLOAD_ENV, "1")
        # PYTEST_PLUGINS, not PYTEST_ADDOPTS (pytester clears that), as for every subprocess the tests start
        monkeypatch.setenv("PYTEST_PLUGINS", kit_env()["PYTEST_PLUGINS"])
        for name in CI_MARKERS:
            monkeypatch.delenv(name, raising=False)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In xdist's controller: collect the leaks a worker found (its connections closed when it exited)."""
    node.config.stash.setdefault(_LEAKS, []).extend(getattr(node, "workeroutput", {}).get("loop_lab_leaks", []))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No leaks: after the whole suite, the server has no connection left open from the kit.

    An xdist worker checks its own database (the other worker is still at work), hands what it found to the
    controller, and drops its database; the controller reports the workers' leaks with its own and drops
    whatever a crashed worker left.
    """
    worker = xdist_worker(session.config)
    url = os.environ["DATABASE_URL"]
    left = kit_connections_left(url, this_database=worker is not None)
    if worker is not None:
        session.config.workeroutput["loop_lab_leaks"] = left
        own = DatabaseConfig.from_url(ensure_server(), source="kit")
        drop_run_databases(own, worker[0], only=DatabaseConfig.from_url(url).database)
        return
    left += session.config.stash.get(_LEAKS, [])
    if _RUN_ID in session.config.stash:
        drop_run_databases(DatabaseConfig.from_url(url, source="kit"), session.config.stash[_RUN_ID])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if left:
        if reporter:
            reporter.write_line(f"LEAK: {len(left)} connection(s) from the kit still open after the suite: {left}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line("no leaks: 0 connections from the kit left open (pg_stat_activity)")
