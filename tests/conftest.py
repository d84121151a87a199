"""Shared test fixtures: private kit servers for tests that start, kill and stop one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.db.server import ensure_server
from kit.db.state import state_dir
from kit.diagnose.isolation import AUTOLOAD_ENV
from tests.support.kit_cli import kit, kit_env
from tests.support.leaks import kit_connections_left

# Imported before any test that uses pytester: pytester drops the modules first imported during such a test,
# and numpy (under pandas) cannot be imported twice in one process. The library's own tests also run without
# the course extra, so without pandas (`make test-pythons`).
with contextlib.suppress(ModuleNotFoundError):
    import pandas  # noqa: F401


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start (or find) the database once, and hand its URL to every subprocess and kernel the tests start.

    The state directory is pinned too: pytester gives its runs a HOME of their own, which would move the
    default one (~/.local/state/loop-lab) away from the server this session uses.
    """
    os.environ.setdefault("LOOP_LAB_HOME", str(state_dir()))
    os.environ["DATABASE_URL"] = ensure_server()


@pytest.fixture
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A LOOP_LAB_HOME of its own, whose server (if any) is stopped and removed afterwards."""
    home = tmp_path_factory.mktemp("home")
    yield home
    kit("db", "stop", "--remove", env=kit_env(home))


pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _inner_runs_load_only_the_kits_plugins(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester's inner runs load pytest-asyncio, pytest-timeout and the kit, and no other installed plugin."""
    if "pytester" in request.fixturenames:
        monkeypatch.setenv(AUTOLOAD_ENV, "1")
        # PYTEST_PLUGINS, not PYTEST_ADDOPTS (pytester clears that), as for every subprocess the tests start
        monkeypatch.setenv("PYTEST_PLUGINS", kit_env()["PYTEST_PLUGINS"])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No leaks: after the whole suite, the server has no connection left open from the kit."""
    left = kit_connections_left(os.environ["DATABASE_URL"])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if left:
        if reporter:
            reporter.write_line(f"LEAK: {len(left)} connection(s) from the kit still open after the suite: {left}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line("no leaks: 0 connections from the kit left open (pg_stat_activity)")
