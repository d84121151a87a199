"""Notebook 07 (what it costs) runs twice in one kernel and shows the benchmark's tables, never asserting timings."""

from __future__ import annotations

from tests.support.notebook_runner import Pass, committed_without_outputs, no_cell_raises, passes_fixture

NAME = "07_what_it_costs.ipynb"
STRATEGIES = (
    "baseline",
    "baseline_session_loop",
    "connect_per_test_tcp",
    "connect_per_test_socket",
    "session_config_per_test",
    "session_loop_rollback",
    "session_loop_pool",
)


def _rows(run: Pass, cell_id: str) -> dict[str, list[str]]:
    """A cell's table body as {index: the other cells} (header rows left out)."""
    return {row[0]: row[1:] for row in run.table(cell_id) if row and row[0] and any(row[1:])}


passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)
test_no_cell_fails_in_either_pass = no_cell_raises


def test_setup_shows_a_masked_dsn(passes: tuple[Pass, Pass]) -> None:
    text = passes[0].text("setup")
    assert "postgresql://" in text and "***" in text


def test_benchmark_reports_progress_and_what_it_measured(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        text = run.text("run-bench")
        assert "fixture strategies (20 tests)" in text and "100%" in text  # the progress bar reached the end
        assert "measured in" in text and "PostgreSQL" in text


def test_strategy_table_lists_every_strategy_with_numbers(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        rows = _rows(run, "strategies-table")
        assert set(STRATEGIES) <= set(rows)
        header = run.table("strategies-table")[0]
        assert {"per_test_ms", "ratio_to_cheapest", "absolute_per_test_ms"} <= set(header)
        column = {name: index - 1 for index, name in enumerate(header)}  # body rows lack the index header cell
        assert rows["session_loop_rollback"][column["compared_with"]] == "baseline_session_loop"
        assert rows["connect_per_test_tcp"][column["compared_with"]] == "baseline"
        for name in ("baseline", "baseline_session_loop"):
            assert float(rows[name][column["per_test_ms"]]) == 0.0
        for name in STRATEGIES:  # md-03: three rounds, their spread shown; no cost below zero
            if not name.startswith("baseline"):
                assert float(rows[name][column["spread_ms"]]) >= 0.0
            assert float(rows[name][column["session_setup_ms"]]) >= 0.0


def test_chart_is_an_image(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert any("image/png" in o.get("data", {}) for o in run.cell("chart").outputs)


def test_connection_anatomy_times_every_step(passes: tuple[Pass, Pass]) -> None:
    rows = _rows(passes[0], "connection-anatomy")
    assert len(rows) == 5
    assert any(step.startswith("new connection") for step in rows)
    assert all(float(values[0]) > 0 for values in rows.values())
    estimate = _rows(passes[0], "remote-estimate")
    assert {"this machine (measured)", "same data centre", "another region or a cloud database"} <= set(estimate)


def test_analyzer_agrees_with_information_schema(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert "same_result: True: both found 40 foreign keys" in run.text("analyzer-table")
        rows = _rows(run, "analyzer-table")
        assert rows["analyze_column_dependencies (full report)"][-1] == "True"
        assert rows["information_schema foreign keys (baseline)"][-1] == "True"


def test_targets_show_what_was_not_measured(passes: tuple[Pass, Pass]) -> None:
    rows = _rows(passes[0], "targets")
    assert rows["analyzer finds the same foreign keys"][-1] == "True"
    assert rows["whole course headless"][-1] == "None"  # the course part is not run here
    assert rows["server ready from nothing (cold)"][-1] == "None"


def test_exercises_start_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-pick-check")
    assert "Not yet" in passes[0].text("ex-latency-check")
    assert "Hint:" in passes[0].text("ex-pick-hint")
    for cell_id in ("ex-pick-solution", "ex-latency-solution"):
        assert passes[0].cell(cell_id).source.startswith("# solution(")
