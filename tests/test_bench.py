"""`python -m kit bench` against the real server: the JSON schema, the analyzer's agreement, bad input.

Timings are never asserted (the machines are shared and noisy); only shapes, types and correctness.
One quick run with a tiny N is shared by the schema tests.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from kit import bench
from kit.bench import schema as bench_schema
from kit.bench import strategies as bench_fixtures
from kit.bench.result import SCHEMA_VERSION, BenchResult

NUMBER = (int, float)
STRATEGY_NAMES = {"connect_per_test_tcp", "session_config_per_test", "session_loop_rollback", "session_loop_pool"}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `kit bench --quick --tests 5` run writing JSON and PNG; its exit code, output and files."""
    out = tmp_path_factory.mktemp("bench")
    json_path, png_path = out / "bench.json", out / "bench.png"
    code = bench.main(["--quick", "--tests", "5", "--json", str(json_path), "--png", str(png_path), "--no-progress"])
    return {"code": code, "json": json_path, "png": png_path, "data": json.loads(json_path.read_text())}


def test_json_has_the_documented_top_level_keys(cli_run: dict[str, Any]) -> None:
    data = cli_run["data"]
    assert {
        "schema_version",
        "settings",
        "machine",
        "fixture_strategies",
        "baseline",
        "baseline_session_loop",
        "skipped",
        "analyzer",
        "startup",
        "targets",
    } <= data.keys()
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["settings"]["tests"] == 5 and data["settings"]["quick"] is True
    assert data["settings"]["parts"] == ["fixtures", "analyzer", "startup"]  # --quick leaves out the course


def test_fixture_strategies_have_numbers_and_ratios(cli_run: dict[str, Any]) -> None:
    rows = cli_run["data"]["fixture_strategies"]
    names = {row["name"] for row in rows}
    assert STRATEGY_NAMES <= names
    skipped = {s["name"] for s in cli_run["data"]["skipped"]}
    assert names | skipped == STRATEGY_NAMES | {"connect_per_test_socket"}  # the socket run is measured or explained
    repeats = cli_run["data"]["settings"]["repeats"]
    for row in rows:
        assert isinstance(row["per_test_ms"], NUMBER) and math.isfinite(row["per_test_ms"])
        assert isinstance(row["per_test_mean_ms"], NUMBER) and math.isfinite(row["per_test_mean_ms"])
        assert row["ratio_to_cheapest"] is None or isinstance(row["ratio_to_cheapest"], NUMBER)
        assert len(row["session_s_samples"]) == len(row["per_test_ms_samples"]) == repeats
        # each strategy is compared with the empty test on its own kind of loop
        assert row["compared_with"] == ("baseline_session_loop" if row["name"].startswith("session_loop") else "baseline")
    ratios = [row["ratio_to_cheapest"] for row in rows if row["ratio_to_cheapest"] is not None]
    assert not ratios or min(ratios) == pytest.approx(1.0, abs=0.01)
    for key in ("baseline", "baseline_session_loop"):
        base = cli_run["data"][key]
        assert base["name"] == key and base["per_test_ms"] > 0 and len(base["session_s_samples"]) == repeats


def test_analyzer_agrees_with_information_schema_on_the_large_schema(cli_run: dict[str, Any]) -> None:
    analyzer = cli_run["data"]["analyzer"]
    assert analyzer["same_result"] is True
    assert analyzer["foreign_keys_found"] == analyzer["information_schema_foreign_keys_found"] == 40
    assert analyzer["schema"] == {"tables": 1050, "foreign_keys": 2000, "views": 250, "indexes": 3200}
    for key in ("report_ms_median", "information_schema_fk_ms_median", "speedup", "build_s"):
        assert isinstance(analyzer[key], NUMBER) and analyzer[key] > 0, key
    assert set(analyzer["finders_ms_median"]) == {"foreign_keys", "views", "triggers", "indexes", "constraints"}
    assert analyzer["dependencies"]["view"] == 5  # views v_000, v_050, ... join main_00.id


def test_startup_machine_and_targets(cli_run: dict[str, Any]) -> None:
    data = cli_run["data"]
    startup = data["startup"]
    assert isinstance(startup["server_cold_s"], float) and isinstance(startup["server_reuse_s"], float)
    assert startup["course_s"] is None and "skipped" in startup["course_note"]  # --quick without --course
    machine = data["machine"]
    assert isinstance(machine["python"], str) and isinstance(machine["cpus"], int) and machine["postgres"]
    assert "***" in machine["database"] or "@" not in machine["database"]  # no password in the file
    for target in data["targets"]:
        assert {"name", "target", "measured", "ok"} <= target.keys()
        assert target["ok"] in (True, False, None)
    course = next(t for t in data["targets"] if "course" in t["name"])
    assert course["ok"] is None
    missed = [t for t in data["targets"] if t["ok"] is False]
    assert cli_run["code"] == (1 if missed else 0)


def test_result_gives_frames_a_chart_and_json(cli_run: dict[str, Any], tmp_path: Path) -> None:
    result = BenchResult(cli_run["data"])
    frame = result.to_frame()
    assert STRATEGY_NAMES | {"baseline", "baseline_session_loop"} <= set(frame.index)
    assert list(frame.index[:2]) == ["baseline", "baseline_session_loop"]
    assert frame.loc["baseline", "per_test_ms"] == frame.loc["baseline_session_loop", "per_test_ms"] == 0.0
    assert frame.loc["session_loop_rollback", "compared_with"] == "baseline_session_loop"
    assert result.analyzer_frame().loc["information_schema foreign keys (baseline)", "same_result"] is True
    assert "information_schema foreign keys (baseline)" in result.analyzer_frame().index
    figure = result.plot()
    assert len(figure.axes) == 2
    assert cli_run["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(result.to_json(tmp_path / "again.json").read_text()) == cli_run["data"]


def test_schema_is_reused_when_its_shape_matches(cli_run: dict[str, Any]) -> None:
    from kit._sync import run_sync
    from kit.db.connections import connect
    from kit.db.server import ensure_server

    async def _ensure() -> dict[str, Any]:
        conn = await connect(ensure_server())
        try:
            return await bench_schema.ensure(conn, progress=False)
        finally:
            await conn.close()

    again = run_sync(_ensure())
    assert again["reused"] is True
    assert again["build_s"] == cli_run["data"]["analyzer"]["build_s"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--json", "/nonexistent-loop-lab-dir/out.json"], "does not exist"),
        (["--json", "/proc/loop-lab-bench.json"], "cannot write"),
        (["--png", "/nonexistent-loop-lab-dir/out.png"], "does not exist"),
        (["--tests", "0"], "whole number from 1"),
        (["--tests", "many"], "whole number from 1"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(argv) == 2
    assert message in capsys.readouterr().err


def test_json_to_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_run_rejects_a_bad_test_count() -> None:
    with pytest.raises(bench.BenchError, match="tests must be a whole number from 1"):
        bench.run(quick=True, tests=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parts": {"fixtures", "speed"}}, "unknown part(s) 'speed': choose one or more of fixtures, analyzer, startup, course"),
        ({"parts": []}, "no part chosen"),
        ({"parts": {"fixtures"}, "course": True}, "course=True contradicts parts=['fixtures']"),
    ],
)
def test_run_rejects_bad_parts(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(bench.BenchError) as caught:
        bench.run(quick=True, **kwargs)
    assert message in str(caught.value)


def test_cli_rejects_a_bad_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--parts", "fixtures,speed"]) == 2
    assert "unknown part(s) 'speed'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def analyzer_only() -> BenchResult:
    """A run of the analyzer part alone (the large schema is reused from cli_run or built here)."""
    return bench.run(quick=True, parts="analyzer", progress=False)


def test_a_run_of_some_parts_leaves_the_others_unmeasured(analyzer_only: BenchResult) -> None:
    data = analyzer_only.data
    assert data["settings"]["parts"] == ["analyzer"] and data["settings"]["course"] is False
    assert data["fixture_strategies"] == [] and data["baseline"] is None and data["baseline_session_loop"] is None
    assert data["startup"]["server_cold_s"] is None and data["startup"]["course_s"] is None
    assert data["analyzer"]["same_result"] is True
    by_name = {t["name"]: t["ok"] for t in data["targets"]}
    assert by_name["session-loop rollback, per test above an empty async test"] is None
    assert by_name["server ready from nothing (cold)"] is None
    assert by_name["analyzer finds the same foreign keys"] is True
    assert len(analyzer_only.plot().axes) == 1  # only the analyzer's panel
    with pytest.raises(bench.BenchError, match="did not measure the fixtures part .it measured: analyzer."):
        analyzer_only.to_frame()


def test_per_test_cost_is_the_median_paired_with_the_same_rounds_baseline() -> None:
    session = bench_fixtures.Session
    rollback = next(s for s in bench_fixtures.STRATEGIES if s.name == "session_loop_rollback")
    # three rounds; in the second the machine was busy and both sessions of that round were 5 ms slower per test
    base = [session(1.0, 0.0010, 0.0010), session(2.0, 0.0060, 0.0060), session(1.0, 0.0011, 0.0011)]
    runs = [session(1.2, 0.0019, 0.0018), session(2.2, 0.0080, 0.0069), session(1.2, 0.0020, 0.0019)]
    row = bench_fixtures._strategy_row(rollback, runs, base, tests=100)
    assert row["compared_with"] == "baseline_session_loop"
    assert row["per_test_ms_samples"] == [0.8, 0.9, 0.8]
    assert row["per_test_ms"] == 0.8
    assert row["per_test_mean_ms"] == pytest.approx(0.9)  # median of the means (2.0 ms) minus the baseline's (1.1 ms)
    assert row["absolute_per_test_ms"] == 1.9


def test_rounds_alternate_their_order() -> None:
    names = [s.name for s in bench_fixtures.STRATEGIES]
    rounds = bench_fixtures._rounds(list(bench_fixtures.STRATEGIES), 3)
    assert [[s.name for s in r] for r in rounds] == [names, names[::-1], names]
    assert all(names.index(s.baseline) < names.index(s.name) for s in bench_fixtures.STRATEGIES if s.fixture)


def test_progress_bar_prints_plain_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    bar = bench_schema.Progress(8, "building", stream=stream)
    for step in range(8):
        bar.step(f"step {step}")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 5 and lines[-1].startswith("building [" + "#" * 30 + "]")


def test_course_runs_notebooks_in_order_and_reports_failures(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from kit.bench import startup as bench_startup

    nbformat.write(
        new_notebook(cells=[new_code_cell("import os\nopen('ran-first', 'w').write(os.getcwd())")]), tmp_path / "01-first.ipynb"
    )
    nbformat.write(new_notebook(cells=[new_code_cell("1 / 0")]), tmp_path / "02-broken.ipynb")
    ran = bench_startup.course(tmp_path)
    assert [n["name"] for n in ran["notebooks"]] == ["01-first.ipynb", "02-broken.ipynb"]
    assert (tmp_path / "ran-first").read_text() == str(tmp_path)  # cwd is the notebooks directory
    assert [n["ok"] for n in ran["notebooks"]] == [True, False] and ran["ok"] is False
    assert "ZeroDivisionError" in ran["notebooks"][1]["error"]
    assert isinstance(ran["course_s"], float)


def test_course_without_notebooks_reports_none_with_a_note(tmp_path: Path) -> None:
    from kit.bench import startup as bench_startup

    ran = bench_startup.course(tmp_path)
    assert ran["course_s"] is None and ran["ok"] is None and "no notebooks" in ran["note"]
