"""Run ``python -m kit`` in a subprocess with a controlled environment (shared by the tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kit.diagnose.isolation import KIT_PLUGIN, isolated_env, plugin_args

EXTERNAL = ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME")
# pytest prints whole messages in its short summary when one of these is set (as on a CI runner): inner runs
# print the same everywhere, so the tests that count lines in their output see the same text on CI
CI_MARKERS = ("CI", "BUILD_NUMBER")
# Inner runs load the kit's plugin by its module name, kit.plugin: pytest < 8.4 does not resolve an entry point's
# name ("kit") in PYTEST_PLUGINS. Registered under that name, it is blocked by "-p no:kit.plugin", not by
# "-p no:kit" alone (which blocks the entry point): an inner run without the kit blocks both.
WITHOUT_KIT = ("-p", "no:kit", "-p", f"no:{KIT_PLUGIN}")


def kit_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The current environment without database settings, with an optional private LOOP_LAB_HOME.

    A pytest started with it loads pytest-asyncio, pytest-timeout and the kit, and no other installed plugin
    (pytest-randomly would reorder an inner suite whose outcome depends on its order).
    """
    env = {k: v for k, v in isolated_env().items() if k not in EXTERNAL + CI_MARKERS}
    env["PYTEST_PLUGINS"] = ",".join(plugin_args()[1::2])  # pytest-asyncio, pytest-timeout, kit.plugin
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
