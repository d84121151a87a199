"""``loop-lab lab [DEST]``: the course copied out if needed, the kit's server up, JupyterLab opened on the copy."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from kit.course.files import DEFAULT_DEST, copy_course, report
from kit.db.server import ensure_server
from kit.errors import CourseFilesError


def lab_command(dest: Path, options: list[str]) -> list[str]:
    """The JupyterLab command line for ``dest``; ``options`` (any JupyterLab option) come last and win."""
    if importlib.util.find_spec("jupyterlab") is None:
        raise CourseFilesError("JupyterLab is not installed here: pip install 'loop-lab[course]', then run `loop-lab lab` again")
    root = ["--allow-root"] if os.geteuid() == 0 else []  # Jupyter refuses root unless told (containers, CI)
    return [sys.executable, "-m", "jupyterlab", f"--notebook-dir={dest}", *root, *options]


def open_lab(dest: Path = DEFAULT_DEST, options: list[str] | None = None) -> None:
    """Copy the course into ``dest`` (keeping the learner's changes), start the server, and replace this process with JupyterLab."""
    command = lab_command(dest, list(options or []))
    print(report(copy_course(dest)), flush=True)
    os.environ["DATABASE_URL"] = ensure_server()
    os.execv(command[0], command)
