"""Fixtures for the browser tests: one JupyterLab from `make lab`; pytest-playwright's browser, on Debian's Chromium.

pytest-playwright provides ``page`` (a fresh context per test); with the options `make test-browser` passes, a
failing test leaves its trace (``playwright show-trace``) and a screenshot in ``artifacts/playwright/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium import launch_options
from tests.support.lab_server import Lab, running_lab

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The git-ignored folder where screenshots and JupyterLab's log are kept."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def lab(artifacts: Path) -> Iterator[Lab]:
    """JupyterLab started by `make lab` on the course's notebooks/, headless, with a token."""
    with running_lab(ROOT, artifacts / "browser-lab.log") as running:
        yield running


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options (``--headed``, ``--slowmo``...) on Debian's Chromium."""
    return {**browser_type_launch_args, **launch_options()}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Every test's browser context: a window large enough for the tables."""
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}
