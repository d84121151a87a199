"""Shared test fixtures: private kit servers for tests that start, kill and stop one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit_cli import kit, kit_env


@pytest.fixture
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A LOOP_LAB_HOME of its own, whose server (if any) is stopped and removed afterwards."""
    home = tmp_path_factory.mktemp("home")
    yield home
    kit("db", "stop", "--remove", env=kit_env(home))

pytest_plugins = ["pytester"]
