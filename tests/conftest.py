"""Shared test fixtures: private kit servers for tests that start, kill and stop one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import os

import pytest

from kit.server import ensure_server
from tests.kit_cli import kit, kit_env


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start (or find) the database once, and hand its URL to every subprocess and kernel the tests start."""
    os.environ["DATABASE_URL"] = ensure_server()


@pytest.fixture
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A LOOP_LAB_HOME of its own, whose server (if any) is stopped and removed afterwards."""
    home = tmp_path_factory.mktemp("home")
    yield home
    kit("db", "stop", "--remove", env=kit_env(home))

pytest_plugins = ["pytester"]


async def _kit_connections_left(url: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT datname, usename, application_name, state FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND (application_name = 'loop-lab' OR usename LIKE 'loop\\_lab\\_%')"
        )
    finally:
        await conn.close()
    return [f"{r['usename']}@{r['datname']} ({r['application_name']}, {r['state']})" for r in rows]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No leaks: after the whole suite, the server has no connection left open from the kit."""
    import asyncio
    import time

    deadline = time.monotonic() + 5  # backends of just-closed connections take a moment to exit
    while (left := asyncio.run(_kit_connections_left(os.environ["DATABASE_URL"]))) and time.monotonic() < deadline:
        time.sleep(0.2)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if left:
        if reporter:
            reporter.write_line(f"LEAK: {len(left)} connection(s) from the kit still open after the suite: {left}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line("no leaks: 0 connections from the kit left open (pg_stat_activity)")
