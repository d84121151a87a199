"""The course's first two notebooks, run through JupyterLab's UI in headless Chromium, render what they promise.

Run with `make test-browser` (not part of plain `pytest`). Screenshots: artifacts/browser-00.png, artifacts/browser-01.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ROOT
from tests.browser.notebook_ui import html_table, open_notebook, restart_and_run_all, screenshot, wait_until_all_cells_ran
from tests.support.lab_server import Lab

NOTEBOOKS = ROOT / "notebooks"
SETUP = "00_check_your_setup.ipynb"
FAILURE = "01_reproduce_the_failure.ipynb"
RUN_TIMEOUT = 600  # seconds for a whole notebook on a busy 2-core machine
FAILURE_TEXT = "attached to a different loop"

pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 300)  # the suite's default (120 s) is for unit tests


@contextmanager
def _run_through_the_ui(page: Page, lab: Lab, name: str, shot: Path, *, show: Locator) -> Iterator[None]:
    """Open ``name``, restart its kernel and run all cells from the menu, wait for every cell; screenshot at the end.

    The screenshot is taken however the run ends, scrolled to ``show``; the notebook file must be unchanged.
    """
    before = (NOTEBOOKS / name).read_bytes()
    try:
        open_notebook(page, lab, name)
        restart_and_run_all(page)
        wait_until_all_cells_ran(page, timeout=RUN_TIMEOUT)
        yield
    finally:
        screenshot(page, shot, show=show)
    assert (NOTEBOOKS / name).read_bytes() == before, f"running {name} in the browser changed the file in notebooks/"


def _row(table: Locator, column: str, text: str) -> dict[str, str]:
    """The first body row of ``table`` whose ``column`` cell contains ``text``, as {header: cell text}."""
    headers = [h.strip() for h in table.locator("thead tr").first.locator("th").all_text_contents() if h.strip()]
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_text_contents()]
        values = dict(zip(headers[-len(cells) :], cells))
        if text in values.get(column, ""):
            return values
    raise AssertionError(f"no row with {text!r} in column {column!r}; columns: {headers}")


def test_setup_notebook_shows_the_doctor_table(page: Page, lab: Lab, artifacts: Path) -> None:
    doctor = html_table(page, "pytest-asyncio", "database").first
    with _run_through_the_ui(page, lab, SETUP, artifacts / "browser-00.png", show=doctor):
        expect(doctor).to_be_visible()
        database = _row(doctor, "check", "database")
        assert list(database) == ["check", "ok", "found", "expected", "fix"]
        assert database["found"].startswith("PostgreSQL "), f"the kernel did not reach the database: {database}"
        assert _row(doctor, "check", "pytest-asyncio")["found"]


def test_failure_notebook_shows_the_different_loop_failure(page: Page, lab: Lab, artifacts: Path) -> None:
    results = html_table(page, FAILURE_TEXT).first
    with _run_through_the_ui(page, lab, FAILURE, artifacts / "browser-01.png", show=results):
        expect(results).to_be_visible()
        failed = _row(results, "message", FAILURE_TEXT)
        assert failed["outcome"] in {"failed", "error"}, failed
