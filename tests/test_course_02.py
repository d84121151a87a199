"""Notebook 02 (why loops collide) runs twice in one kernel and shows the loops and the live scenario table."""

from __future__ import annotations

from kit.course.scenarios import SCENARIOS
from tests.support.notebook_runner import Pass, committed_without_outputs, passes_fixture

NAME = "02_why_loops_collide.ipynb"
DIFFERENT_LOOP = "attached to a different loop"
EXPECTED = {name: scenario.expected for name, scenario in SCENARIOS.items()}
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)


def _loops(run: Pass, cell_id: str) -> dict[str, str]:
    """nb.timeline()'s table: item -> loop."""
    return {row["item"]: row["loop"] for row in run.rows(cell_id)}


def test_only_the_foreign_future_cell_raises(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.failing_cells() == ["different-loop"]
        error = run.text("different-loop")
        assert error.startswith("RuntimeError: ") and DIFFERENT_LOOP in error
        assert "resolved on loop A" in run.text("same-loop")


def test_the_broken_suite_runs_the_pool_and_each_test_on_different_loops(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        outcomes = {row["test"]: (row["outcome"], row["message"]) for row in run.rows("broken-suite")}
        assert all(outcome == "failed" and DIFFERENT_LOOP in message for outcome, message in outcomes.values()), outcomes
        loops = _loops(run, "broken-timeline")
        assert loops["pool"] == "loop 1"
        assert len({loops["pool"], loops["test_one"], loops["test_two"]}) == 3, loops
        assert "image/png" in run.cell("broken-plot").outputs[-1].data


def test_the_fixed_suite_shares_one_loop_and_passes(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.outcomes("fixed-suite") == {"test_one": "passed", "test_two": "passed"}
        assert set(_loops(run, "fixed-timeline").values()) == {"loop 1"}
        assert "image/png" in run.cell("fixed-plot").outputs[-1].data


def test_the_live_scenario_table_matches_the_measured_version(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = {row["scenario"]: row for row in run.rows("scenarios-run")}
        assert {name: row["outcome"] for name, row in rows.items()} == EXPECTED
        assert "scope" in rows["F"]["warnings"] and "deprecated" in rows["F"]["warnings"]
        assert DIFFERENT_LOOP in rows["D"]["detail"]
        assert "[10/10] scenario" in run.text("scenarios-run")
        assert not any(row["warnings"].endswith("...") for row in rows.values()), "the warnings are shown in full"
    assert "asyncio_mode = strict" in passes[0].text("scenario-source")


def test_exercise_starts_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-scenarios-check")
    assert passes[0].cell("ex-scenarios-solution").source.startswith("# solution(")
