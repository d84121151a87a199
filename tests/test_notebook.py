"""kit.course.notebook in a real Jupyter kernel against the real PostgreSQL, and kit.diagnose.recorder on its own.

One kernel runs one notebook whose cells (a) reproduce the session-pool failure, (d) rerun it,
(b) run the fixed version, draw the timeline, and (e) show what plain ipytest does. Each cell prints
one JSON line prefixed with ``@@``; the assertions live here, so a failure says what differed.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import kit.course.notebook as nb

DIFFERENT_LOOP = "attached to a different loop"

BROKEN_TESTS = """
import os

import asyncpg
import pytest
import pytest_asyncio


@pytest_asyncio.fixture(scope="session")
async def pool():
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.mark.asyncio
async def test_one(pool):
    assert await pool.fetchval("SELECT 1") == 1


@pytest.mark.asyncio
async def test_two(pool):
    assert await pool.fetchval("SELECT 2") == 2


@pytest.mark.asyncio
async def test_three(pool):
    assert await pool.fetchval("SELECT 3") == 3
"""

FIXED_TESTS = """
import os

import asyncpg
import pytest
import pytest_asyncio


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pool():
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_one(pool):
    assert await pool.fetchval("SELECT 1") == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_two(pool):
    assert await pool.fetchval("SELECT 2") == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_three(pool):
    assert await pool.fetchval("SELECT 3") == 3
"""

EMIT_RUN = """
df = nb.run()
emit({"results": df.to_dict("records"), "timeline": nb.timeline().to_dict("records"),
      "summary": nb.last_run().detail("test_one")["summary"]})
"""

CELLS = {
    "setup": """
import json, sys
import ipytest
import kit.course.notebook as nb

def emit(obj):
    print("@@" + json.dumps(obj, default=str))

first = nb.setup()
emit({"executable": sys.executable, "dsn": first, "again": nb.setup()})
""",
    "broken": "ipytest.clean()\n" + BROKEN_TESTS + EMIT_RUN,
    "broken_again": EMIT_RUN,
    "guarded": """
plain_addopts = list(ipytest._config.current_config["addopts"])
nb.setup(loop_guard=True)
guarded_addopts = list(ipytest._config.current_config["addopts"])
nb.setup()
emit({"plain": plain_addopts, "guarded": guarded_addopts, "restored": list(ipytest._config.current_config["addopts"])})
""",
    "fixed": "ipytest.clean()\n" + FIXED_TESTS + EMIT_RUN,
    "plot": """
fig = nb.plot_timeline()
emit({"bars": len(fig.axes[0].patches), "labels": [t.get_text() for t in fig.axes[0].get_yticklabels()]})
fig
""",
    "plain_ipytest": """
df = nb.run(run_in_thread=False)
emit({"results": df.to_dict("records")})
""",
}


def _emitted(cell: Any) -> Any:
    lines = [
        line[2:]
        for output in cell.outputs
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
        for line in output["text"].splitlines()
        if line.startswith("@@")
    ]
    assert len(lines) == 1, f"expected one @@ line from the cell, got {lines}; outputs: {cell.outputs}"
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the whole notebook once in a fresh kernel; return each cell's emitted JSON (and the cells)."""
    folder = tmp_path_factory.mktemp("notebook")
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(textwrap.dedent(source)) for source in CELLS.values()]
    client = NotebookClient(
        book, kernel_name="python3", timeout=180, startup_timeout=120, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    cells = dict(zip(CELLS, book.cells))
    emitted = {name: _emitted(cell) for name, cell in cells.items()}
    emitted["_cells"] = cells
    return emitted


def _loops(timeline: list[dict[str, Any]]) -> tuple[str, list[str]]:
    (fixture,) = [row["loop"] for row in timeline if row["kind"] == "fixture" and row["item"] == "pool"]
    tests = [row["loop"] for row in timeline if row["kind"] == "test"]
    return fixture, tests


def test_kernel_is_the_venv_python_and_setup_is_idempotent(notebook: dict[str, Any]) -> None:
    setup = notebook["setup"]
    assert Path(setup["executable"]).resolve() == Path(sys.executable).resolve()
    assert setup["dsn"] == setup["again"]
    assert setup["dsn"].startswith("postgresql://")
    assert ":***@" in setup["dsn"] or "@" not in setup["dsn"], "the DSN setup() returns must be masked"


def test_setup_loop_guard_adds_the_flag_and_setup_again_removes_it(notebook: dict[str, Any]) -> None:
    addopts = notebook["guarded"]
    assert "--loop-guard" not in addopts["plain"]
    assert addopts["guarded"] == addopts["plain"] + ["--loop-guard"]
    assert addopts["restored"] == addopts["plain"]


def test_broken_pool_reports_the_different_loop_root_cause(notebook: dict[str, Any]) -> None:
    results = notebook["broken"]["results"]
    assert [row["test"] for row in results] == ["test_one", "test_two", "test_three"]
    assert {row["outcome"] for row in results} == {"failed"}
    assert all(row["error_type"] == "RuntimeError" for row in results), results
    assert all(DIFFERENT_LOOP in row["message"] for row in results), results
    assert all(isinstance(row["duration"], float) for row in results)
    # pytest's own summary for the first test names the InterfaceError; the table must not.
    assert notebook["broken"]["summary"].startswith("InterfaceError: cannot perform operation: another operation is in progress")
    assert "InterfaceError" not in results[0]["message"]


def test_broken_timeline_puts_the_session_fixture_on_another_loop(notebook: dict[str, Any]) -> None:
    fixture, tests = _loops(notebook["broken"]["timeline"])
    assert fixture == "loop 1"
    assert len(tests) == 3 and len(set(tests)) == 3, tests
    assert fixture not in tests


def test_rerunning_the_same_cell_gives_the_same_table(notebook: dict[str, Any]) -> None:
    def outcomes(run: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(row["test"], row["outcome"], row["error_type"]) for row in run["results"]]

    assert outcomes(notebook["broken_again"]) == outcomes(notebook["broken"])
    assert _loops(notebook["broken_again"]["timeline"])[0] == "loop 1"


def test_fixed_pool_passes_on_one_loop(notebook: dict[str, Any]) -> None:
    results = notebook["fixed"]["results"]
    assert [(row["test"], row["outcome"], row["error_type"], row["message"]) for row in results] == [
        (name, "passed", None, None) for name in ("test_one", "test_two", "test_three")
    ]
    fixture, tests = _loops(notebook["fixed"]["timeline"])
    assert tests == [fixture] * 3


def test_plot_timeline_draws_one_bar_per_row_and_displays(notebook: dict[str, Any]) -> None:
    plot = notebook["plot"]
    assert plot["bars"] == 4  # the pool fixture and three tests
    assert plot["labels"][0] == "test test_one" and "fixture pool (session)" in plot["labels"]
    shown = [output for output in notebook["_cells"]["plot"].outputs if output.get("output_type") == "execute_result"]
    assert shown and "image/png" in shown[0]["data"], "the returned figure must display as an image"


def test_plain_ipytest_without_a_thread_fails_with_the_runner_error(notebook: dict[str, Any]) -> None:
    results = notebook["plain_ipytest"]["results"]
    assert len(results) == 3
    assert all(row["outcome"] in ("error", "failed") for row in results), results
    assert all("Runner.run() cannot be called from a running event loop" in row["message"] for row in results), results


# --- run_file: pytest in a subprocess --------------------------------------------------------------------


def test_run_file_reports_root_cause_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "test_pool.py"
    path.write_text(BROKEN_TESTS + "\n\ndef test_sync():\n    pass\n")
    df = nb.run_file(path, "-q")
    assert list(df.columns) == ["test", "outcome", "duration", "error_type", "message"]
    assert df["outcome"].tolist() == ["failed", "failed", "failed", "passed"]
    assert df["error_type"].tolist()[:3] == ["RuntimeError"] * 3
    assert df["message"].str.contains(DIFFERENT_LOOP).tolist()[:3] == [True] * 3
    run = nb.last_run()
    assert run.exit_code == 1 and "3 failed, 1 passed" in run.output
    assert run.detail("test_one")["chain"][0].startswith("InterfaceError")
    timeline = nb.timeline()
    fixture = timeline.loc[timeline["item"] == "pool", "loop"].item()
    test_loops = timeline.loc[timeline["kind"] == "test", "loop"].tolist()
    assert fixture == "loop 1" and test_loops == ["loop 2", "loop 3", "loop 4", "no loop"]


def test_run_file_reports_setup_errors_and_skips(tmp_path: Path) -> None:
    path = tmp_path / "test_setup_error.py"
    path.write_text(
        textwrap.dedent("""
        import pytest

        @pytest.fixture
        def broken():
            raise LookupError("no such row")

        def test_uses_broken(broken):
            pass

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass
    """)
    )
    df = nb.run_file(path)
    assert df.to_dict("records")[0] | {"duration": 0} == {
        "test": "test_uses_broken",
        "outcome": "error",
        "duration": 0,
        "error_type": "LookupError",
        "message": "no such row",
    }
    assert df.loc[1, ["outcome", "message"]].tolist() == ["skipped", "not today"]


def test_run_file_reports_a_collection_error_as_a_row(tmp_path: Path) -> None:
    path = tmp_path / "test_import_error.py"
    path.write_text("import no_such_module_for_loop_lab\n\ndef test_never():\n    pass\n")
    df = nb.run_file(path)
    assert df.to_dict("records") == [
        {
            "test": "test_import_error.py",
            "outcome": "error",
            "duration": 0.0,
            "error_type": "ModuleNotFoundError",
            "message": "No module named 'no_such_module_for_loop_lab'",
        }
    ]


def test_run_file_refuses_missing_files_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nb.run_file(tmp_path / "nope.py")
    path = tmp_path / "test_ok.py"
    path.write_text("def test_ok():\n    pass\n")
    with pytest.raises(nb.NotebookError, match="usage error"):
        nb.run_file(path, "--no-such-option")


def test_setup_and_run_refuse_outside_a_notebook() -> None:
    with pytest.raises(nb.NotebookError, match="inside a Jupyter/IPython kernel"):
        nb.setup()
    with pytest.raises(nb.NotebookError, match=r"setup\(\) first"):
        nb.run()


def test_timelines_hide_the_kits_internal_fixtures() -> None:
    span = {"kind": "fixture", "scope": "session", "loop_scope": None, "loop": "no loop", "test": "t", "start": 0, "end": 3}
    recorded = {
        "exit_code": 0,
        "results": [],
        "timeline": [{**span, "item": "_loop_lab_dsn"}, {**span, "item": "database_config", "start": 1}],
    }
    assert list(nb._remember(recorded, output="").timeline["item"]) == ["database_config"]
