"""Import paths that notebooks, docs and users' code used before the layers keep working, as plugins too."""

from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points

import pytest

# old module -> (new module, names that must be the very same objects there; "module:name" where it lives elsewhere)
OLD_PATHS = {
    "kit.config": (
        "kit.db.config",
        ["DatabaseConfig", "ConfigError", "mask_url", "kit.db.state:state_dir", "kit.db.state:STATE_FILE", "ServerNotStarted"],
    ),
    "kit.server": (
        "kit.db.server",
        ["ensure_server", "stop_server", "server_status", "find_binaries", "ServerError", "OWNED_COMMENT"],
    ),
    "kit.learners": ("kit.db.learners", ["ensure_learner_database", "database_name", "LearnerError"]),
    "kit.connections": (
        "kit.db.connections",
        ["connect", "create_pool", "ConnectionManager", "DatabaseUnavailable", "APPLICATION_NAME"],
    ),
    "kit.analyzer": ("kit.db.analyzer", ["DependencyAnalyzer", "ImpactLevel", "UnknownTableError", "DependencyReport"]),
    "kit.guard": (
        "kit.diagnose.guard",
        [
            "FLAG",
            "LoopMismatchError",
            "kit.diagnose.rules:fix_advice",
            "kit.diagnose.rules:loop_scope_of_test",
            "kit.diagnose.rules:scope_rank",
        ],
    ),
    "kit.audit": ("kit.diagnose.audit", ["audit", "main", "AuditError", "Finding"]),
    "kit.timeline": (
        "kit.diagnose.recorder",
        ["Recorder", "RESULT_COLUMNS", "TIMELINE_COLUMNS", "root_cause", "exception_chain"],
    ),
    "kit.pytest_plugin": ("kit.plugin", ["ALLOW_CLEANUP_ENV"]),
    "kit.notebook": (
        "kit.course.notebook",
        ["setup", "run", "run_file", "timeline", "plot_timeline", "last_run", "NotebookError"],
    ),
    "kit.scenarios": ("kit.course.scenarios", ["SCENARIOS", "run_scenarios", "classify", "COLUMNS", "ScenarioError"]),
    "kit.doctor": ("kit.course.doctor", ["run_checks", "pins", "format_table"]),
    "kit.patterns": ("kit.course.patterns", ["PATTERNS", "records"]),
    "kit.patterns.broken": ("kit.course.broken", ["session_pool", "session_connection", "FireAndForgetConnectionManager"]),
    "kit.exercises": ("kit.course.exercises", ["check", "hint", "solution"]),
}


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_old_module_re_exports_the_same_objects(old: str) -> None:
    new, names = OLD_PATHS[old]
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    for spec in names:
        where, _, name = spec.rpartition(":")
        home = importlib.import_module(where) if where else new_module
        assert getattr(old_module, name) is getattr(home, name), f"{old}.{name}"


def test_the_kit_entry_point_is_the_plugin() -> None:
    (point,) = [ep for ep in entry_points(group="pytest11") if ep.name == "kit"]
    assert point.load() is importlib.import_module("kit.plugin")


SUITE = """
import pytest


@pytest.mark.asyncio
async def test_connection_answers(test_connection):
    assert await test_connection.fetchval("SELECT 1") == 1
"""


def test_old_plugin_names_still_load(pytester: pytest.Pytester) -> None:
    """`-p kit.timeline --kit-record`, `-p kit.guard --loop-guard` and the entry point's fixtures, together."""
    pytester.makefile(".ini", pytest="[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_old=SUITE)
    out = pytester.path / "record.json"
    result = pytester.runpytest_subprocess("-p", "kit.timeline", f"--kit-record={out}", "-p", "kit.guard", "--loop-guard")
    result.assert_outcomes(passed=1)
    assert [row["outcome"] for row in json.loads(out.read_text())["results"]] == ["passed"]


def test_old_plugin_path_loads_without_autoload(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """With plugin autoloading off, `-p kit.pytest_plugin` still brings the fixtures and the guard."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PYTEST_PLUGINS")  # only what the command line names
    pytester.makefile(".ini", pytest="[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_old=SUITE)
    result = pytester.runpytest_subprocess("-p", "pytest_asyncio.plugin", "-p", "kit.pytest_plugin", "--loop-guard")
    result.assert_outcomes(passed=1)
