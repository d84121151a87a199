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
