"""Notebook 05 (sharing a loop on purpose) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

import asyncio
import html
import os
import re

import asyncpg
import pytest

from tests.notebook_runner import Pass, execute, stripped

NAME = "05_sharing_a_loop_on_purpose.ipynb"
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


def test_full_fix_runs_everything_on_one_loop(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert _outcomes(run, "done-right") == dict.fromkeys(["test_first", "test_second", "test_third"], "passed")
    loops = {row["item"]: row["loop"] for row in _rows(passes[0], "done-right-timeline") if row["loop"] != "no loop"}
    assert set(loops) == {"pool", "test_first", "test_second", "test_third"}
    assert set(loops.values()) == {"loop 1"}


def test_half_fix_still_fails_on_different_loops(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = _rows(run, "half-fix")
        assert [row["outcome"] for row in rows] == ["failed", "failed"]
        assert all("attached to a different loop" in row["message"] for row in rows)
    timeline = _rows(passes[0], "half-fix-timeline")
    pool_loop = next(row["loop"] for row in timeline if row["item"] == "pool")
    assert all(row["loop"] != pool_loop for row in timeline if row["kind"] == "test")


def test_bare_marker_overrides_pytestmark(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row["test"]: row for row in _rows(run, "pytestmark")}
        assert rows["test_marked_by_the_module"]["outcome"] == "passed"
        assert rows["test_also_marked_by_the_module"]["outcome"] == "passed"
        assert rows["test_with_a_leftover_bare_marker"]["outcome"] == "failed"
        assert "attached to a different loop" in rows["test_with_a_leftover_bare_marker"]["message"]


def test_loop_guard_names_the_mistake_and_the_fix(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        half = run.text("guard-half-fix")
        assert [row["error_type"] for row in _rows(run, "guard-half-fix")] == ["LoopMismatchError"]
        assert "created by fixture 'pool' (scope='session', loop_scope='session')" in half
        assert "bare @pytest.mark.asyncio on the test" in half
        assert 'mark the tests: @pytest.mark.asyncio(loop_scope="session")' in half
        bare = run.text("guard-bare-marker")
        assert [row["error_type"] for row in _rows(run, "guard-bare-marker")] == ["LoopMismatchError"]
        assert "overriding pytestmark" in bare
        assert "Remove the bare @pytest.mark.asyncio from the test" in bare


def test_guard_is_off_again_afterwards(passes: tuple[Pass, Pass]) -> None:
    assert "LoopMismatchError" not in passes[0].text("rollback") + passes[0].text("timing")


def test_rollback_isolates_tests_on_one_connection(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert set(_outcomes(run, "rollback", 0).values()) == {"passed"}
        first, second = _rows(run, "rollback")
        assert (first["rows seen"], second["rows seen"]) == ("1", "0")
        assert first["server pid"] == second["server pid"]
        assert first["in a transaction"] == second["in a transaction"] == "True"
        assert "rows in nb05.items after the run: 0" in run.text("rollback-after")


def test_both_timing_groups_pass(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        summary = {row["strategy"]: row for row in _rows(run, "timing")}
        assert set(summary) == {"connect per test", "shared with rollback"}
        assert all((row["tests"], row["passed"]) == ("30", "30") for row in summary.values())
        assert len(_rows(run, "timing-per-test")) == 31  # the column-name row of the pivot, then tests 0..29


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet: a bare @pytest.mark.asyncio" in passes[0].text("ex-session-marker-check")
    assert passes[0].text("ex-session-marker-hint").startswith("Hint: ")
    assert passes[0].cell("ex-session-marker-solution").source.startswith("# solution(")


def test_schema_is_dropped_afterwards(passes: tuple[Pass, Pass]) -> None:
    async def schema_exists() -> bool:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'nb05')")
        finally:
            await conn.close()

    assert asyncio.run(schema_exists()) is False
