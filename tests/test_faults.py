"""Faults a workshop meets: a server killed or frozen mid-suite, odd state paths, cells out of order, many clients at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.kit_cli import kit, kit_env

INNER_INI = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"

KILLED_SUITE = """
import os, signal
import pytest

@pytest.mark.asyncio
async def test_1_kills_the_server(test_connection):
    assert await test_connection.fetchval("SELECT 1") == 1
    os.kill(int(os.environ["SERVER_PID"]), signal.{signal})

@pytest.mark.asyncio
async def test_2_needs_the_server(test_connection):
    await test_connection.fetchval("SELECT 1")

@pytest.mark.asyncio
async def test_3_needs_the_server(connection_manager):
    conn = await connection_manager.get_connection()
    await conn.fetchval("SELECT 1")
"""


def _inner_suite(
    tmp_path: Path, source: str, env: dict[str, str], timeout: float = 180
) -> tuple[subprocess.CompletedProcess[str], float]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    (tmp_path / "pytest.ini").write_text(INNER_INI)
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.monotonic() - began


def _state(home: Path) -> dict:
    return json.loads((home / "server.json").read_text())


def test_server_killed_mid_suite_fails_fast_then_recovers(private_home: Path, tmp_path: Path) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    env["SERVER_PID"] = str(_state(private_home)["pid"])
    result, _ = _inner_suite(tmp_path, KILLED_SUITE.replace("{signal}", "SIGKILL"), env)
    out = result.stdout + result.stderr
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("1 failed, 1 passed, 1 error"), out[-3000:]
    assert "python -m kit db start" in out, "the failure must say how to recover"
    restarted = kit("db", "start", env=env)
    assert restarted.returncode == 0, restarted.stderr
    assert kit("db", "status", "--quiet", env=env).returncode == 0


def test_frozen_server_times_out_instead_of_hanging(private_home: Path, tmp_path: Path) -> None:
    env = kit_env(private_home)
    assert kit("db", "start", env=env).returncode == 0
    pid = _state(private_home)["pid"]
    env["SERVER_PID"] = str(pid)
    try:
        result, took = _inner_suite(tmp_path, KILLED_SUITE.replace("{signal}", "SIGSTOP"), env)
    finally:
        os.kill(pid, signal.SIGCONT)
    out = result.stdout + result.stderr
    assert "No answer from PostgreSQL" in out, out[-3000:]
    assert took < 60, f"two connection attempts to a frozen server took {took:.0f} s"


def test_long_state_path_keeps_the_socket_path_short(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("h") / ("d" * 60) / ("e" * 60) / ("f" * 60)
    env = kit_env(home)
    try:
        result = kit("db", "start", env=env)
        assert result.returncode == 0, result.stderr
        socket_file = Path(_state(home)["socket_dir"]) / f".s.PGSQL.{_state(home)['port']}"
        assert len(str(socket_file)) < 100 and socket_file.exists()
    finally:
        kit("db", "stop", "--remove", env=env)


def test_read_only_state_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        home = Path("/sys/kernel/loop-lab")  # root may write anywhere but here
    else:
        home = tmp_path / "ro"
        home.mkdir(mode=0o500)
    result = kit("db", "start", env=kit_env(home))
    assert result.returncode == 2
    assert "cannot write its state directory" in result.stderr and "LOOP_LAB_HOME" in result.stderr
    assert "Traceback" not in result.stderr


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return path


def _execute(path: Path, env: dict[str, str], allow_errors: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=allow_errors)
    with client.setup_kernel(env=env, cwd=str(path.parent)):
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    return nb


def test_cells_out_of_order_get_a_clear_message(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "order.ipynb", "import kit.course.notebook as nb\nnb.run()")
    nb = _execute(path, kit_env(), allow_errors=True)
    error = next(o for o in nb.cells[0].outputs if o.output_type == "error")
    assert error.ename == "NotebookError" and "Call kit.course.notebook.setup() first" in error.evalue


def test_two_notebooks_and_a_test_run_share_one_server(private_home: Path, tmp_path: Path) -> None:
    env = kit_env(private_home)
    code = "import kit.course.notebook as nb\nprint('DSN', nb.setup())"
    notebooks = [_notebook(tmp_path / f"nb{i}.ipynb", code) for i in range(2)]
    (tmp_path / "suite").mkdir()
    with ThreadPoolExecutor(3) as pool:
        kernels = [pool.submit(_execute, path, env) for path in notebooks]
        suite = pool.submit(
            _inner_suite,
            tmp_path / "suite",
            "import pytest\n@pytest.mark.asyncio\nasync def test_q(test_connection):\n"
            "    assert await test_connection.fetchval('SELECT 1') == 1\n",
            env,
        )
        printed = [k.result().cells[0].outputs[0].text for k in kernels]
        result, _ = suite.result()
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(set(printed)) == 1 and printed[0].startswith("DSN postgresql://loop_lab:***@")
    data_dir = _state(private_home)["data_dir"]
    postmasters = subprocess.run(["pgrep", "-f", "--", f"-D {data_dir}"], capture_output=True, text=True).stdout.split()
    assert len(postmasters) == 1, "exactly one server for everyone"
