"""Debian's Chromium for pytest-playwright (never a browser downloaded by `playwright install`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("LOOP_LAB_CHROMIUM", "/usr/bin/chromium"))
# --no-sandbox: Chromium's sandbox refuses root (CI and containers). The rest keep a headless run quiet and
# offline: without them Chromium phones home at start-up, and a closed network refuses it many times over.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_options() -> dict[str, Any]:
    """Playwright's launch options for Chromium from ``LOOP_LAB_CHROMIUM`` (default /usr/bin/chromium)."""
    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError(
            f"No Chromium at {CHROMIUM}. Install Debian's: apt-get install -y chromium "
            "(or set LOOP_LAB_CHROMIUM to another Chromium or Chrome executable)."
        )
    # Playwright gives every launch a new, empty --user-data-dir of its own.
    return {"executable_path": str(CHROMIUM), "args": FLAGS}
