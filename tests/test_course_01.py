"""Notebook 01 (reproduce the failure) runs twice in one kernel and shows the failures and the cleanup it claims."""

from __future__ import annotations

import html
import re

import pytest

from tests.notebook_runner import Pass, execute, stripped

NAME = "01_reproduce_the_failure.ipynb"
DIFFERENT_LOOP = "attached to a different loop"
IN_PROGRESS = "another operation is in progress"
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _table(run: Pass, cell_id: str) -> list[list[str]]:
    """The body rows (index cell first) of the last HTML table a cell displayed."""
    tables = [o.data["text/html"] for o in run.cell(cell_id).outputs if "text/html" in o.get("data", {})]
    assert tables, f"cell {cell_id!r} displayed no table"
    rows = [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[-1])]
    return rows[1:]


def _outcomes(run: Pass, cell_id: str) -> dict[str, tuple[str, str, str]]:
    """nb.run()'s table: test -> (outcome, error_type, message)."""
    return {row[1]: (row[2], row[4], row[5]) for row in _table(run, cell_id)}


@pytest.fixture(scope="module")
def passes() -> tuple[Pass, Pass]:
    return execute(NAME)


def test_committed_without_outputs() -> None:
    assert stripped(NAME)


def test_no_cell_raises(passes: tuple[Pass, Pass]) -> None:
    assert passes[0].failing_cells() == passes[1].failing_cells() == []


def test_the_session_pool_fails_every_test_with_the_loop_error(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _outcomes(run, "broken-run")
        assert set(outcomes) == {"test_select_one", "test_server_is_postgres", "test_database_name"}
        assert all(o[:2] == ("failed", "RuntimeError") and DIFFERENT_LOOP in o[2] for o in outcomes.values()), outcomes
        assert "FAILED" in run.text("broken-run") and "asyncio_default_fixture_loop_scope" in run.text("broken-run")


def test_pytest_summary_shows_the_interface_error_and_the_chain_the_cause(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row[1]: row[2:] for row in _table(run, "summary-vs-cause")}
        summary, cause = rows["test_select_one"]
        assert summary.startswith("InterfaceError: ") and IN_PROGRESS in summary
        assert cause.startswith("RuntimeError: ") and DIFFERENT_LOOP in cause
        chain = run.text("chain")
        assert chain.index(IN_PROGRESS) < chain.index(DIFFERENT_LOOP)


def test_a_single_connection_fails_first_with_the_loop_then_with_interface_errors(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = _outcomes(run, "single-connection")
        assert outcomes["test_first"][:2] == ("failed", "RuntimeError") and DIFFERENT_LOOP in outcomes["test_first"][2]
        for test in ("test_second", "test_third"):
            assert outcomes[test] == ("failed", "InterfaceError", f"cannot perform operation: {IN_PROGRESS}")


def test_fire_and_forget_leaves_the_connection_open_when_teardown_returns(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert {row[1]: row[2] for row in _table(run, "cleanup-run")} == {
            "test_with_seed_manager": "passed",
            "test_with_kit_manager": "passed",
        }
        rows = {row[1].split(":")[0]: row[2:] for row in _table(run, "cleanup-table")}
        _, listed, application, state, closed = rows["seed"]
        assert (listed, application, closed) == ("True", "loop-lab", "False") and state
        _, listed, application, _, closed = rows["kit"]
        assert (listed, application, closed) == ("False", "None", "True")
        later = _table(run, "cleanup-later")[0]
        assert later[1].startswith("seed: after") and later[3] == "False"


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-cause-check")
    assert passes[0].cell("ex-cause-solution").source.startswith("# solution(")
