"""Notebook 09 (migrating a real test file) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

import asyncio
import configparser
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.support.notebook_runner import NOTEBOOKS, Pass, committed_without_outputs, execute, no_cell_raises

NAME = "09_migrating_a_test_file.ipynb"
SHIPPED = NOTEBOOKS / "migration" / "test_dependency_analyzer_integration.py"
DIFFERENT_LOOP = "attached to a different loop"
TESTS = ("test_foreign_key_dependencies", "test_view_dependencies", "test_removal_recommendation")
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_raises = no_cell_raises


def _outcomes(run: Pass, cell_id: str) -> dict[str, tuple[str, str]]:
    """nb.run_file()'s table: short test name -> (outcome, message)."""
    return {row["test"].split("::")[-1]: (row["outcome"], row["message"]) for row in run.rows(cell_id)}


def _digest() -> str:
    return hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def passes() -> Iterator[tuple[Pass, Pass]]:
    before = _digest()
    result = execute(NAME)
    assert _digest() == before, "the notebook must not modify the shipped test file"
    yield result


def test_migration_settings_are_the_seeds() -> None:
    ini = configparser.ConfigParser()
    ini.read(NOTEBOOKS / "migration" / "pytest.ini")
    assert ini["pytest"]["asyncio_mode"] == "auto"
    assert not [option for option in ini["pytest"] if option.startswith("asyncio_default_")], "loop scopes stay unset"
    assert not (NOTEBOOKS / "migration" / "conftest.py").exists()


def test_broken_file_fails_with_the_different_loop_error(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _outcomes(run, "broken-run")
        assert set(outcomes) == set(TESTS)
        assert all(outcome == "failed" and DIFFERENT_LOOP in message for outcome, message in outcomes.values()), outcomes
    loops = {row[""]: [row[test] for test in TESTS] for row in passes[0].rows("broken-timeline")}  # fixture -> loop per test
    assert loops["test_database"][0] == "loop 1" and set(loops["test_database"][1:]) == {""}
    assert "loop 1" not in loops["connection_manager"]


def test_audit_flags_the_broken_file_and_passes_the_fixed_copy(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert "3 of 3 rows at risk" in run.text("audit-broken")
        assert {row["fixture"] for row in run.rows("audit-broken")} == {"test_database"}
        assert "DIFF-LOOP" in run.text("audit-broken")
        assert "make 'test_database' function-scoped" in run.text("audit-advice")
        assert "nothing at risk" in run.text("audit-fixed") and "rows at risk: 0" in run.text("audit-fixed")


def test_fixed_copy_passes(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert "-    manager.close_all_connections()" not in run.text("apply-fix")
        assert "+    await manager.close_all_connections()" in run.text("apply-fix")
        outcomes = _outcomes(run, "fixed-run")
        assert len(outcomes) == 3 and {outcome for outcome, _ in outcomes.values()} == {"passed"}
        assert "3 passed" in run.text("fixed-run") and "failed" not in run.text("fixed-run")


def test_exercise_starts_with_the_broken_template(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet: session scope without loop scope" in passes[0].text("ex-fixed-check")
    assert passes[0].cell("ex-fixed-solution").source.startswith("# solution(")


def test_scratch_copy_and_tables_are_gone(passes: tuple[Pass, Pass]) -> None:
    cleanup = passes[1].text("cleanup")
    assert "the shipped file is unchanged: True" in cleanup
    scratch = re.search(r"removed (\S+)", cleanup)
    assert scratch and not Path(scratch.group(1)).exists()

    async def leftover_tables() -> list[str]:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            return [r[0] for r in await conn.fetch("SELECT relname FROM pg_class WHERE left(relname, 9) = 'test_mig_'")]
        finally:
            await conn.close()

    assert asyncio.run(leftover_tables()) == []
