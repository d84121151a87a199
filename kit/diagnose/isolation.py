"""Inner pytest runs the kit starts itself (a lesson's tests, the scenarios, the benchmark's sessions).

They load an explicit list of plugins and nothing else: installed plugins such as pytest-randomly (which
reorders tests), pytest-xdist or pytest-cov would otherwise change what a learner sees, or what is measured.
Suites the kit inspects for the user (``kit audit``) keep the user's own plugins instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator, Mapping

AUTOLOAD_ENV = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
# pytest-asyncio runs the async tests; pytest-timeout serves the kit plugin's per-test timeouts when installed.
_BASE_PLUGINS = ("pytest_asyncio.plugin", "pytest_timeout")
KIT_PLUGIN = "kit.plugin"
_INHERITED = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")  # the caller's settings would bring their plugins back


def plugin_args(*, kit: bool = True) -> list[str]:
    """``-p`` options for the plugins an inner run loads: pytest-asyncio, pytest-timeout (if installed), the kit's."""
    names = [name for name in _BASE_PLUGINS if importlib.util.find_spec(name.split(".")[0]) is not None]
    if kit:
        names.append(KIT_PLUGIN)
    return [arg for name in names for arg in ("-p", name)]


def isolated_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: this process's environment) in which pytest autoloads no plugin."""
    env = {key: value for key, value in (os.environ if base is None else base).items() if key not in _INHERITED}
    env[AUTOLOAD_ENV] = "1"
    return env


@contextlib.contextmanager
def autoload_disabled() -> Iterator[None]:
    """For an in-process ``pytest.main``: no plugin autoloading while the block runs; the environment restored after."""
    saved = {key: os.environ.get(key) for key in (AUTOLOAD_ENV, *_INHERITED)}
    os.environ.update(isolated_env({}))
    for key in _INHERITED:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
