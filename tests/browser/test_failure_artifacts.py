"""A failing browser test leaves its Playwright trace and a screenshot behind (`make test-browser`'s options)."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

from tests.browser.conftest import ROOT

FAILING = """
def test_a_heading_that_is_not_there(page):
    page.set_content("<h1>Loop Lab</h1>")
    assert page.locator("h1").inner_text() == "a heading that is not there"
"""


def test_a_failing_test_keeps_its_trace_and_screenshot(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.browser.conftest import browser_context_args, browser_type_launch_args\n")
    (tmp_path / "test_failing.py").write_text(FAILING)
    out = tmp_path / "out"
    args = f"-p no:cacheprovider -p no:randomly --output {out}"  # this test's own output folder, not artifacts/playwright
    done = subprocess.run(
        ["make", "--no-print-directory", "test-browser", f"BROWSER_TESTS={tmp_path / 'test_failing.py'}", f"PYTEST_ARGS={args}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "1 failed" in done.stdout, done.stdout + done.stderr
    (kept,) = out.iterdir()
    names = {path.name for path in kept.iterdir()}
    assert "trace.zip" in names and any(name.endswith(".png") for name in names), names
    with zipfile.ZipFile(kept / "trace.zip") as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())
