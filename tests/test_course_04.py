"""Notebook 04 (the synchronous session-config alternative) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

import asyncio
import html
import os
import re

import asyncpg
import pytest

from tests.notebook_runner import Pass, execute, stripped

NAME = "04_sync_session_config.ipynb"
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _rows(run: Pass, cell_id: str, which: int = -1) -> list[dict[str, str]]:
    """The body rows of one HTML table a cell displayed (the last by default), as dicts keyed by the column headers."""
    tables = [o.data["text/html"] for o in run.cell(cell_id).outputs if "text/html" in o.get("data", {})]
    assert tables, f"cell {cell_id!r} displayed no table"
    rows = [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[which])]
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


def _outcomes(run: Pass, cell_id: str, which: int = -1) -> dict[str, str]:
    return {row["test"]: row["outcome"] for row in _rows(run, cell_id, which)}


@pytest.fixture(scope="module")
def passes() -> tuple[Pass, Pass]:
    return execute(NAME)


def test_committed_without_outputs() -> None:
    assert stripped(NAME)


def test_no_cell_raises(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.failing_cells() == []


def test_seed_alternative_passes_with_config_resolved_once(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert set(_outcomes(run, "alternative").values()) == {"passed"}
        assert len(_outcomes(run, "alternative")) == 3
        assert "database_config ran 1 time(s) for 3 tests" in run.text("alternative")
        assert "devpw" not in run.text("alternative") and "***" in run.text("alternative")


def test_sync_session_fixture_runs_on_no_loop(passes: tuple[Pass, Pass]) -> None:
    rows = _rows(passes[0], "alternative-timeline")
    config = [row for row in rows if row["item"] == "database_config"]
    assert [(row["scope"], row["loop"]) for row in config] == [("session", "no loop")]
    connection_loops = [row["loop"] for row in rows if row["item"] == "test_connection"]
    assert len(connection_loops) == len(set(connection_loops)) == 3
    assert any("image/png" in o.get("data", {}) for o in passes[0].cell("alternative-plot").outputs)


def test_migration_runs_once_outside_any_test_loop(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert set(_outcomes(run, "migration").values()) == {"passed"}
        assert "migrated_schema ran 1 time(s) for 3 tests" in run.text("migration")
    migration = [row for row in _rows(passes[0], "migration-timeline") if row["item"] == "migrated_schema"]
    assert [(row["scope"], row["loop"]) for row in migration] == [("session", "no loop")]


def test_only_loop_free_values_are_safe_to_share(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row["test"]: row for row in _rows(run, "candidates")}
        for n in (1, 2):
            assert rows[f"test_settings[{n}]"]["outcome"] == "passed"
            assert rows[f"test_migrated_schema[{n}]"]["outcome"] == "passed"
            assert rows[f"test_pool[{n}]"]["outcome"] == "failed"
            assert "attached to a different loop" in rows[f"test_pool[{n}]"]["message"]
            assert rows[f"test_connection_from_asyncio_run[{n}]"]["outcome"] == "failed"
        assert "Event loop is closed" in rows["test_connection_from_asyncio_run[1]"]["message"]


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-session-safe-check")
    assert passes[0].text("ex-session-safe-hint").startswith("Hint: ")
    assert passes[0].cell("ex-session-safe-solution").source.startswith("# solution(")


def test_schema_is_dropped_afterwards(passes: tuple[Pass, Pass]) -> None:
    async def schema_exists() -> bool:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'nb04')")
        finally:
            await conn.close()

    assert asyncio.run(schema_exists()) is False
