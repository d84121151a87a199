"""Start-up costs: the kit's server from nothing and reused, and the whole course run headless."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kit._files import course_dir
from kit._sync import call_off_loop
from kit.errors import BenchRunError

_EXTERNAL = ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME")
_READY = re.compile(r"([0-9.]+) s\)\s*$", re.MULTILINE)  # "database ready: URL  (kit, 1.10 s)"
_CELL_TIMEOUT_S = 600


def _kit(action: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    began = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kit", "db", *action], env=env, capture_output=True, text=True, timeout=180)
    return time.perf_counter() - began, proc


def server_startup() -> dict[str, Any]:
    """Time ``python -m kit db start`` with a fresh ``LOOP_LAB_HOME`` (initdb included), then again (reuse).

    The private server is stopped and removed afterwards. Times are wall-clock seconds of the
    whole command, interpreter start-up included; ``*_in_process_s`` is what the command reports itself.
    """
    home = tempfile.mkdtemp(prefix="loop-lab-bench-home-")
    env = {k: v for k, v in os.environ.items() if k not in _EXTERNAL}
    env["LOOP_LAB_HOME"] = home
    try:
        cold_s, cold = _kit(["start"], env)
        if cold.returncode != 0:
            raise BenchRunError(
                f"`python -m kit db start` failed with a fresh LOOP_LAB_HOME:\n{(cold.stderr or cold.stdout).strip()}"
            )
        reuse_s, reuse = _kit(["start"], env)
    finally:
        _kit(["stop", "--remove"], env)
        shutil.rmtree(home, ignore_errors=True)
    return {
        "server_cold_s": round(cold_s, 3),
        "server_reuse_s": round(reuse_s, 3),
        "server_cold_in_process_s": _reported(cold.stdout),
        "server_reuse_in_process_s": _reported(reuse.stdout),
    }


def _reported(stdout: str) -> float | None:
    match = _READY.search(stdout)
    return float(match.group(1)) if match else None


def course(notebooks: Path | None = None) -> dict[str, Any]:
    """Execute every notebook of the course in order with nbclient (kernel python3, cwd the course's folder).

    ``notebooks`` defaults to the course, :func:`kit._files.course_dir` (a checkout's or the wheel's).

    Returns ``{"course_s", "ok", "notebooks": [{name, seconds, ok, error}], "note"}``; ``course_s`` is
    None when there is nothing to run, and ``ok`` is False when any notebook failed.
    """
    notebooks = course_dir() if notebooks is None else notebooks
    paths = sorted(notebooks.glob("*.ipynb")) if notebooks.is_dir() else []
    if not paths:
        return {"course_s": None, "ok": None, "notebooks": [], "note": f"no notebooks in {notebooks} yet"}
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as exc:
        return {
            "course_s": None,
            "ok": None,
            "notebooks": [],
            "note": f"cannot run the course: {exc}. Install the test extras: pip install -e '.[test]'",
        }

    def _execute(path: Path) -> dict[str, Any]:
        book = nbformat.read(path, as_version=4)
        client = NotebookClient(
            book, kernel_name="python3", timeout=_CELL_TIMEOUT_S, resources={"metadata": {"path": str(notebooks)}}
        )
        began = time.perf_counter()
        try:
            call_off_loop(client.execute)
            error = None
        except Exception as exc:  # a failing cell, a cell timeout or a dead kernel: reported, the course goes on
            lines = str(exc).strip().splitlines()
            error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
        return {"name": path.name, "seconds": round(time.perf_counter() - began, 2), "ok": error is None, "error": error}

    results = [_execute(path) for path in paths]
    ok = all(r["ok"] for r in results)
    total = round(sum(r["seconds"] for r in results), 2)
    note = None if ok else "a notebook failed: see notebooks[].error"
    return {"course_s": total, "ok": ok, "notebooks": results, "note": note}
