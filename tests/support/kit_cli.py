"""Run ``python -m kit`` in a subprocess with a controlled environment (shared by the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXTERNAL = ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME")


def kit_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The current environment without database settings, with an optional private LOOP_LAB_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in EXTERNAL}
    if home is not None:
        env["LOOP_LAB_HOME"] = str(home)
    env.update(extra)
    return env


def kit(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kit ARGS`` and return the completed process (never raises on a non-zero exit)."""
    return subprocess.run(
        [sys.executable, "-m", "kit", *args],
        env=env if env is not None else kit_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
