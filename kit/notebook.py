"""pytest inside a notebook, with results as pandas DataFrames.

In a notebook::

    import kit.notebook as nb
    nb.setup()              # ipytest runs tests in a thread (async tests need it); the database is up
    ...define fixtures and tests in cells...
    nb.run()                # one row per test: test, outcome, duration, error_type, message
    nb.plot_timeline()      # which event loop ran each fixture and test

``message`` shows the root cause of a failure: for a session-scoped asyncpg pool used from
function-scoped tests it is the ``attached to a different loop`` RuntimeError, not the InterfaceError
that pytest's short summary shows. :func:`last_run` keeps everything else (pytest's summary line, the
whole exception chain, the full report). :func:`run_file` does the same for a test file on disk, in a
pytest subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.timeline import RESULT_COLUMNS, TIMELINE_COLUMNS, Recorder

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

# The kernel imports pytest-asyncio and the kit before pytest starts, so pytest cannot rewrite their
# asserts and says so on every run; that warning is noise for a learner.
_DEFAULT_ADDOPTS = ("-q", "--color=yes", "-W", "ignore::pytest.PytestAssertRewriteWarning")
_REFUSED_EXIT_CODES = {3: "an internal error", 4: "a usage error"}  # pytest.ExitCode.INTERNAL_ERROR, USAGE_ERROR


class NotebookError(RuntimeError):
    """The notebook helpers were used in a way that cannot work; the message says how to fix it."""


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything about one run: the results table, the loop timeline, per-test details, pytest's exit code."""

    results: pd.DataFrame
    timeline: pd.DataFrame
    details: list[dict[str, Any]] = field(repr=False)
    exit_code: int
    output: str = field(default="", repr=False)

    def detail(self, test: str) -> dict[str, Any]:
        """The full record of one test: pytest's ``summary`` line, the exception ``chain``, the ``longrepr``."""
        for record in self.details:
            if record["test"] == test:
                return record
        raise KeyError(f"No test named {test!r} in the last run; known: {[r['test'] for r in self.details]}")


_state: dict[str, Any] = {"dsn": None, "last": None}


def setup(*, loop_guard: bool = False, **ipytest_options: Any) -> str:
    """Configure ipytest for async tests and make sure the database is up; return the masked DSN.

    Calls ``ipytest.autoconfig(run_in_thread=True, raise_on_error=False, **ipytest_options)`` (the kernel's
    own loop is running in the cell's thread, so pytest-asyncio needs a thread of its own), starts or finds
    the database with :func:`kit.server.ensure_server`, checks it answers, and exports ``DATABASE_URL``
    for the tests. ``loop_guard=True`` adds ``--loop-guard`` to pytest's options. Calling it again is harmless.
    """
    import ipytest
    from IPython import get_ipython

    from kit.config import mask_url
    from kit.server import ensure_server

    if get_ipython() is None:
        raise NotebookError(
            "kit.notebook.setup() configures ipytest and must run inside a Jupyter/IPython kernel. "
            "Outside a notebook, use kit.notebook.run_file(path) or plain pytest."
        )
    addopts = ipytest_options.pop("addopts", _DEFAULT_ADDOPTS)
    if isinstance(addopts, str):
        raise TypeError(f"setup(addopts=...) takes a list of pytest options such as ['-q', '-x'], not the string {addopts!r}.")
    addopts = tuple(addopts)
    if loop_guard and "--loop-guard" not in addopts:
        addopts += ("--loop-guard",)
    options = {"run_in_thread": True, "raise_on_error": False, **ipytest_options}
    ipytest.autoconfig(addopts=addopts, **options)
    dsn = ensure_server()
    _check_database(dsn)
    os.environ["DATABASE_URL"] = dsn
    _state["dsn"] = mask_url(dsn)
    return _state["dsn"]


def _check_database(dsn: str) -> None:
    """Open one connection and run ``SELECT 1``; the kit's connect() explains any failure."""
    from kit._sync import run_sync
    from kit.connections import connect

    async def ping() -> None:
        connection = await connect(dsn)
        try:
            await connection.fetchval("SELECT 1")
        finally:
            await connection.close()

    run_sync(ping())


def run(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """Run the notebook's tests with ``ipytest.run(*args, **kwargs)``; return one row per test.

    Columns: ``test, outcome, duration, error_type, message``; ``outcome`` is passed, failed, error
    (set-up or teardown failed) or skipped, and ``message`` is the root cause's first line.
    """
    import ipytest

    if _state["dsn"] is None:
        raise NotebookError(
            "Call kit.notebook.setup() first: it makes ipytest run async tests in a thread and starts the database."
        )
    recorder = Recorder()
    plugins = [*kwargs.pop("plugins", ()), recorder]
    exit_code = ipytest.run(*args, plugins=plugins, **kwargs)
    _refuse(exit_code, "ipytest.run", "the pytest output above")
    return _remember(recorder.to_json(), output="").results


def run_file(path: str | os.PathLike[str], *pytest_args: str, timeout: float = 600) -> pd.DataFrame:
    """Run a test file (or directory) on disk with pytest in a subprocess; return the same table as :func:`run`.

    pytest's output is printed and kept in ``last_run().output``; ``timeout`` (seconds) bounds the run.
    """
    target = Path(path)
    if not target.exists():
        raise FileNotFoundError(f"run_file(): {target} does not exist (looked from {Path.cwd()}). Pass the path of a test file.")
    with tempfile.TemporaryDirectory(prefix="loop-lab-") as scratch:
        record = Path(scratch) / "record.json"
        command = [sys.executable, "-m", "pytest", str(target), "-p", "kit.timeline", f"--kit-record={record}", *pytest_args]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise NotebookError(
                f"pytest on {target} did not finish within {timeout:g} s; pass a larger timeout= or look for a hanging test."
            ) from exc
        output = completed.stdout + completed.stderr
        print(output, end="")
        _refuse(completed.returncode, f"pytest {target}", "the output above")
        if not record.exists():
            raise NotebookError(f"pytest on {target} exited with code {completed.returncode} and recorded nothing; see the output above.")
        return _remember(json.loads(record.read_text()), output=output).results


def last_run() -> RunResult:
    """The most recent :func:`run` or :func:`run_file`: results, timeline, per-test details and exit code."""
    if _state["last"] is None:
        raise NotebookError("No tests have run yet in this kernel: call kit.notebook.run() or kit.notebook.run_file(path) first.")
    return _state["last"]


def timeline() -> pd.DataFrame:
    """Which event loop ran each fixture set-up and each test in the last run, in start order.

    Columns: ``item, kind, scope, loop_scope, loop, test, start, end``; ``loop`` is ``loop 1``,
    ``loop 2``... per distinct loop (``no loop`` for synchronous code, ``not run`` for a test body
    that never ran, ``unknown`` when it could not be observed).
    """
    return last_run().timeline


def plot_timeline(df: pd.DataFrame | None = None) -> Figure:
    """A matplotlib figure of :func:`timeline` (or of ``df``): one bar per fixture and test, coloured by loop."""
    from kit.timeline import plot

    figure = plot(timeline() if df is None else df)
    _display_figures_as_png()
    return figure


def _display_figures_as_png() -> None:
    """Let the kernel show a returned Figure as an image even if pyplot was never imported."""
    from IPython import get_ipython
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(Figure)
    except KeyError:
        formatter.for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))


def _refuse(exit_code: int, what: str, where: str) -> None:
    if exit_code in _REFUSED_EXIT_CODES:
        raise NotebookError(
            f"{what} stopped with {_REFUSED_EXIT_CODES[exit_code]} (exit code {exit_code}) before running tests; see {where}. "
            "If pytest calls --loop-guard unrecognised, the kit's guard plugin (kit.guard) is not installed yet."
        )


def _remember(recorded: dict[str, Any], *, output: str) -> RunResult:
    import pandas as pd

    details = recorded["results"]
    results = pd.DataFrame(details, columns=RESULT_COLUMNS)
    results["duration"] = results["duration"].astype(float)
    result = RunResult(
        results=results,
        timeline=pd.DataFrame(recorded["timeline"], columns=TIMELINE_COLUMNS).astype({"start": int, "end": "Int64"}),
        details=details,
        exit_code=int(recorded["exit_code"]) if recorded["exit_code"] is not None else -1,
        output=output,
    )
    _state["last"] = result
    return result
