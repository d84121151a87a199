"""The lessons' inner pytest runs load only the kit's plugins: installed ones (pytest-randomly here) change nothing."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

import kit.course.notebook as nb
from kit.diagnose.isolation import AUTOLOAD_ENV, autoload_disabled, isolated_env, plugin_args

ORDERED = """
import pytest

SEEN = []


@pytest.mark.parametrize("n", range(12))
def test_in_file_order(n, request):
    SEEN.append(n)
    assert SEEN == list(range(n + 1)), "the tests ran out of their file order"
    assert not request.config.pluginmanager.hasplugin("randomly"), "pytest-randomly was loaded"
"""


def test_pytest_randomly_is_installed_here() -> None:
    """The proof below means something only if the plugin is there to be (wrongly) loaded."""
    assert importlib.util.find_spec("pytest_randomly") is not None, "the test extra installs pytest-randomly"


def test_run_file_ignores_installed_plugins_and_pins_the_rootdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "suite" / "test_ordered.py"
    target.parent.mkdir()
    target.write_text(ORDERED)
    monkeypatch.chdir("/")  # test ids are relative to the file's folder, wherever the caller stands
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p randomly")  # a caller's settings do not bring plugins back either
    results = nb.run_file(target, "-q")
    assert list(results["outcome"]) == ["passed"] * 12, results
    assert list(results["test"]) == [f"test_in_file_order[{n}]" for n in range(12)]
    assert nb.last_run().details[0]["nodeid"] == "test_ordered.py::test_in_file_order[0]"


def test_plugin_list_and_environment() -> None:
    args = plugin_args()
    assert args[1::2] == ["pytest_asyncio.plugin", "pytest_timeout", "kit.plugin"] and set(args[::2]) == {"-p"}
    assert "kit.plugin" not in plugin_args(kit=False)
    env = isolated_env({"PYTEST_ADDOPTS": "-p randomly", "PYTEST_PLUGINS": "xdist", "HOME": "/h"})
    assert env == {"HOME": "/h", AUTOLOAD_ENV: "1"}


def test_autoload_disabled_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-x")
    with autoload_disabled():
        assert os.environ[AUTOLOAD_ENV] == "1" and "PYTEST_ADDOPTS" not in os.environ
    assert AUTOLOAD_ENV not in os.environ and os.environ["PYTEST_ADDOPTS"] == "-x"
