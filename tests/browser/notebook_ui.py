"""Drive a notebook through JupyterLab's own UI in Playwright: open it, restart and run all, wait, look."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Locator, Page

from tests.support.lab_server import Lab

_RAN = re.compile(r"^\[\d+\]:$")
_KERNEL_IDLE = re.compile(r"^(?!No Kernel).+ \| Idle$")  # the status bar's "Python 3 (ipykernel) | Idle"
_PROMPTS = "Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'), e => e.textContent.trim())"


def open_notebook(page: Page, lab: Lab, name: str, *, timeout: float = 120) -> None:
    """Open ``name`` (relative to the notebook directory) alone in a fresh workspace; wait until its kernel is idle.

    If JupyterLab asks which kernel to start (it does when the kernel list arrives late), the default is accepted.
    """
    page.goto(lab.url(f"/lab/workspaces/{Path(name).stem}/tree/{name}", "reset"))
    ready, choose = kernel_idle(page), page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    ready.or_(choose).first.wait_for(timeout=timeout * 1000)
    if choose.count():
        choose.locator(".jp-Dialog-button.jp-mod-accept").click()
        ready.wait_for(timeout=timeout * 1000)


def kernel_idle(page: Page) -> Locator:
    """The status bar's kernel item, when it says that the notebook has a kernel and the kernel is idle."""
    return page.locator("#jp-main-statusbar").get_by_text(_KERNEL_IDLE)


def restart_and_run_all(page: Page) -> None:
    """Kernel menu > "Restart Kernel and Run All Cells…", then confirm the dialog."""
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name="Restart Kernel and Run All Cells…").click()
    page.get_by_role("button", name="Confirm Kernel Restart").click()


def code_cell_prompts(page: Page) -> list[str]:
    """The execution prompt of every code cell, in order: ``[ ]:`` not run, ``[*]:`` queued or running, ``[3]:`` done."""
    return page.evaluate(_PROMPTS)


def wait_until_all_cells_ran(page: Page, *, timeout: float, settle: float = 10) -> None:
    """Wait until every code cell has an execution count and the kernel is idle again.

    Fails early when the run has stopped short (kernel idle for ``settle`` seconds, nothing queued, some
    cells never run): Run All stops at an error in a cell that is not tagged raises-exception.
    """
    deadline = time.monotonic() + timeout
    stalled_since: float | None = None
    while True:
        prompts = code_cell_prompts(page)
        ran = [bool(_RAN.match(p)) for p in prompts]
        idle = kernel_idle(page).count() == 1
        if prompts and all(ran) and idle:
            return
        stalled = idle and any(ran) and "[*]:" not in prompts
        stalled_since = (stalled_since or time.monotonic()) if stalled else None
        waiting = {i + 1: p for i, (p, done) in enumerate(zip(prompts, ran)) if not done}
        if stalled_since is not None and time.monotonic() - stalled_since > settle:
            raise AssertionError(
                f"Run All stopped before these code cells (number: prompt): {waiting}. A cell that is not tagged "
                "raises-exception raised an error; the screenshot shows which."
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"After {timeout:.0f} s, code cells still not done (number: prompt): {waiting}; '[*]' is queued or running."
            )
        time.sleep(1)


def outputs(page: Page) -> Locator:
    """Every rendered output of the open notebook."""
    return page.locator(".jp-NotebookPanel .jp-OutputArea-output")


def html_table(page: Page, *texts: str) -> Locator:
    """Rendered HTML tables (pandas DataFrames) in the outputs that contain all of ``texts``."""
    tables = outputs(page).locator("table")
    for text in texts:
        tables = tables.filter(has_text=text)
    return tables


def screenshot(page: Page, path: Path, *, show: Locator | None = None) -> None:
    """Save a screenshot of the window to ``path``, scrolled so that ``show`` (if it exists) is in view."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if show is not None and show.count():
        show.first.scroll_into_view_if_needed()
    page.screenshot(path=str(path))
