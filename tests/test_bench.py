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

from kit import bench, bench_schema
from kit.bench_result import SCHEMA_VERSION, BenchResult

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
    assert {"schema_version", "settings", "machine", "fixture_strategies", "baseline", "skipped", "analyzer", "startup", "targets"} <= data.keys()
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["settings"]["tests"] == 5 and data["settings"]["quick"] is True


def test_fixture_strategies_have_numbers_and_ratios(cli_run: dict[str, Any]) -> None:
    rows = cli_run["data"]["fixture_strategies"]
    names = {row["name"] for row in rows}
    assert STRATEGY_NAMES <= names
    skipped = {s["name"] for s in cli_run["data"]["skipped"]}
    assert names | skipped == STRATEGY_NAMES | {"connect_per_test_socket"}  # the socket run is measured or explained
    for row in rows:
        assert isinstance(row["per_test_ms"], NUMBER) and math.isfinite(row["per_test_ms"])
        assert isinstance(row["ratio_to_cheapest"], NUMBER)
        assert len(row["session_s_samples"]) == cli_run["data"]["settings"]["repeats"]
    assert min(row["ratio_to_cheapest"] for row in rows) == pytest.approx(1.0, abs=0.01)


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
    assert STRATEGY_NAMES | {"baseline"} <= set(frame.index)
    assert frame.loc["baseline", "per_test_ms"] == 0.0
    assert "information_schema foreign keys (baseline)" in result.analyzer_frame().index
    figure = result.plot()
    assert len(figure.axes) == 2
    assert cli_run["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(result.to_json(tmp_path / "again.json").read_text()) == cli_run["data"]


def test_schema_is_reused_when_its_shape_matches(cli_run: dict[str, Any]) -> None:
    from kit._sync import run_sync
    from kit.connections import connect
    from kit.server import ensure_server

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

    from kit import bench_startup

    nbformat.write(new_notebook(cells=[new_code_cell("import os\nopen('ran-first', 'w').write(os.getcwd())")]), tmp_path / "01-first.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("1 / 0")]), tmp_path / "02-broken.ipynb")
    ran = bench_startup.course(tmp_path)
    assert [n["name"] for n in ran["notebooks"]] == ["01-first.ipynb", "02-broken.ipynb"]
    assert (tmp_path / "ran-first").read_text() == str(tmp_path)  # cwd is the notebooks directory
    assert [n["ok"] for n in ran["notebooks"]] == [True, False] and ran["ok"] is False
    assert "ZeroDivisionError" in ran["notebooks"][1]["error"]
    assert isinstance(ran["course_s"], float)


def test_course_without_notebooks_reports_none_with_a_note(tmp_path: Path) -> None:
    from kit import bench_startup

    ran = bench_startup.course(tmp_path)
    assert ran["course_s"] is None and ran["ok"] is None and "no notebooks" in ran["note"]
