"""Notebook 09 (migrating a real test file) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

import asyncio
import configparser
import hashlib
import html
import os
import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.notebook_runner import NOTEBOOKS, Pass, execute, stripped

NAME = "09_migrating_a_test_file.ipynb"
SHIPPED = NOTEBOOKS / "migration" / "test_dependency_analyzer_integration.py"
DIFFERENT_LOOP = "attached to a different loop"
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _table(run: Pass, cell_id: str) -> list[list[str]]:
    """The rows (header and index cells included) of the last HTML table a cell displayed."""
    tables = [o.data["text/html"] for o in run.cell(cell_id).outputs if "text/html" in o.get("data", {})]
    assert tables, f"cell {cell_id!r} displayed no table"
    return [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[-1])]


def _outcomes(run: Pass, cell_id: str) -> dict[str, tuple[str, str]]:
    """nb.run_file()'s table: short test name -> (outcome, message)."""
    return {row[1].split("::")[-1]: (row[2], row[5]) for row in _table(run, cell_id)[1:]}


def _digest() -> str:
    return hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def passes() -> Iterator[tuple[Pass, Pass]]:
    before = _digest()
    result = execute(NAME)
    assert _digest() == before, "the notebook must not modify the shipped test file"
    yield result


def test_committed_without_outputs() -> None:
    assert stripped(NAME)


def test_migration_settings_are_the_seeds() -> None:
    ini = configparser.ConfigParser()
    ini.read(NOTEBOOKS / "migration" / "pytest.ini")
    assert ini["pytest"]["asyncio_mode"] == "auto"
    assert not [option for option in ini["pytest"] if option.startswith("asyncio_default_")], "loop scopes stay unset"
    assert not (NOTEBOOKS / "migration" / "conftest.py").exists()


def test_no_cell_raises(passes: tuple[Pass, Pass]) -> None:
    assert passes[0].failing_cells() == passes[1].failing_cells() == []


def test_broken_file_fails_with_the_different_loop_error(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _outcomes(run, "broken-run")
        assert set(outcomes) == {"test_foreign_key_dependencies", "test_view_dependencies", "test_removal_recommendation"}
        assert all(outcome == "failed" and DIFFERENT_LOOP in message for outcome, message in outcomes.values()), outcomes
    loops = {row[0]: row[2:] for row in _table(passes[0], "broken-timeline") if row and row[0] in ("test_database", "connection_manager")}
    assert loops["test_database"][0] == "loop 1" and set(loops["test_database"][1:]) == {""}
    assert "loop 1" not in loops["connection_manager"]


def test_audit_flags_the_broken_file_and_passes_the_fixed_copy(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert "3 of 3 rows at risk" in run.text("audit-broken")
        assert {row[1] for row in _table(run, "audit-broken")[1:]} == {"test_database"}
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
