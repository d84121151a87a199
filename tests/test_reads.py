"""kit.diagnose.reads: the module-level globals a test's code reads, on real modules written to disk and imported."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from kit.diagnose.reads import globals_read

APP = """
import json

engine = object()
settings = {"dsn": "x"}


def helper():
    return engine


def make_getter():
    pool = object()
    return lambda: pool


get_pool = make_getter()


class Repo:
    pass
"""

TESTS = """
import json

import reads_app
from reads_app import Repo, get_pool, helper

LOCAL = [1]


async def test_direct():
    return LOCAL, reads_app.settings, json.dumps({})


async def test_through_helpers():
    return helper(), get_pool(), Repo


async def test_argument_hides_global(LOCAL):
    return LOCAL
"""


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, ModuleType]]:
    """``reads_app`` and ``reads_tests``, imported from files (so that line numbers are real)."""
    (tmp_path / "reads_app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "reads_tests.py").write_text(textwrap.dedent(TESTS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("reads_app"), importlib.import_module("reads_tests")
    for name in ("reads_app", "reads_tests"):
        sys.modules.pop(name, None)


def test_direct_reads_and_module_attributes(modules):
    app, tests = modules
    reads = globals_read(tests.test_direct)
    assert set(reads) == {"LOCAL", "reads_app.settings"}  # modules themselves and json's internals are not reads
    assert reads["reads_app.settings"].value is app.settings
    assert reads["reads_app.settings"].location.endswith("reads_app.py:5")
    assert reads["LOCAL"].location.endswith("reads_tests.py:7")


def test_helpers_of_other_modules_are_followed(modules):
    app, tests = modules
    reads = globals_read(tests.test_through_helpers)
    assert reads["reads_app.engine"].value is app.engine  # helper() reads it in its own module
    assert reads["get_pool"].value is app.get_pool  # a closure: what it holds counts
    assert "Repo" not in reads and "helper" not in reads  # classes, and functions without a closure


def test_an_argument_is_not_a_global(modules):
    _, tests = modules
    assert globals_read(tests.test_argument_hides_global) == {}
