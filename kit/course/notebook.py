"""pytest inside a notebook, with results as pandas DataFrames.

In a notebook::

    import kit.course.notebook as nb
    nb.setup()              # ipytest runs tests in a thread (async tests need it); the database is up
    ...define fixtures and tests in cells...
    nb.run()                # one row per test: test, outcome, duration, error_type, message
    nb.plot_timeline()      # which event loop ran each fixture and test
    nb.loop_guard(True)     # the loop guard on for the next runs (False: off again)

``message`` shows the root cause of a failure: for a session-scoped asyncpg pool used from
function-scoped tests it is the ``attached to a different loop`` RuntimeError, not the InterfaceError
that pytest's short summary shows. :func:`last_run` keeps everything else (pytest's summary line, the
whole exception chain, the full report). :func:`run_file` does the same for a test file on disk, in a
pytest subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.course import order
from kit.diagnose.guard import FLAG as GUARD_FLAG
from kit.diagnose.isolation import autoload_disabled, isolated_env, plugin_args
from kit.diagnose.recorder import RESULT_COLUMNS, TIMELINE_COLUMNS, Recorder
from kit.errors import NotebookError, NotebookFileError, NotebookUsageError, UnknownTestError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

# The kernel imports pytest-asyncio and the kit before pytest starts, so pytest cannot rewrite their
# asserts and says so on every run; that warning is noise for a learner.
_DEFAULT_ADDOPTS = ("-q", "--color=yes", "-W", "ignore::pytest.PytestAssertRewriteWarning")
# notebooks/pytest.ini leaves asyncio_default_fixture_loop_scope unset on purpose; notebook 00 shows the warning
# once and explains it, the other notebooks hide it.
_UNSET_LOOP_SCOPE_FILTER = (
    "-W",
    'ignore:The configuration option "asyncio_default_fixture_loop_scope" is unset:pytest.PytestDeprecationWarning',
)
_REFUSED_EXIT_CODES = {3: "an internal error", 4: "a usage error"}  # pytest.ExitCode.INTERNAL_ERROR, USAGE_ERROR


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
        raise UnknownTestError(f"No test named {test!r} in the last run; known: {[r['test'] for r in self.details]}")


_state: dict[str, Any] = {"dsn": None, "last": None, "addopts": (), "options": {}}


def setup(*, loop_guard: bool = False, show_loop_scope_warning: bool = False, **ipytest_options: Any) -> str:
    """Configure ipytest for async tests and make sure the database is up; return the masked DSN.

    Calls ``ipytest.autoconfig(run_in_thread=True, raise_on_error=False, **ipytest_options)`` (the kernel's
    own loop is running in the cell's thread, so pytest-asyncio needs a thread of its own), starts or finds
    the database with :func:`kit.db.server.ensure_server`, checks it answers, and exports ``DATABASE_URL``
    for the tests. ``loop_guard=True`` adds ``--loop-guard`` to pytest's options. pytest-asyncio's warning that
    ``asyncio_default_fixture_loop_scope`` is unset is hidden unless ``show_loop_scope_warning=True`` (notebook 00
    explains it once). Calling it again is harmless.
    """
    import ipytest
    from IPython import get_ipython

    from kit.db.config import mask_url
    from kit.db.server import ensure_server

    if get_ipython() is None:
        raise NotebookError(
            "kit.course.notebook.setup() configures ipytest and must run inside a Jupyter/IPython kernel. "
            "Outside a notebook, use kit.course.notebook.run_file(path) or plain pytest."
        )
    addopts = ipytest_options.pop("addopts", _DEFAULT_ADDOPTS)
    if isinstance(addopts, str):
        raise NotebookUsageError(
            f"setup(addopts=...) takes a list of pytest options such as ['-q', '-x'], not the string {addopts!r}."
        )
    addopts = tuple(addopts) + (() if show_loop_scope_warning else _UNSET_LOOP_SCOPE_FILTER)
    if loop_guard and GUARD_FLAG not in addopts:
        addopts += (GUARD_FLAG,)
    options = {"run_in_thread": True, "raise_on_error": False, **ipytest_options}
    order.install(get_ipython())  # a cell run before the cell it needs names that cell
    ipytest.autoconfig(addopts=addopts, **options)
    _state["addopts"], _state["options"] = addopts, options
    dsn = ensure_server()
    _check_database(dsn)
    os.environ["DATABASE_URL"] = dsn
    _state["dsn"] = mask_url(dsn)
    return _state["dsn"]


def _check_database(dsn: str) -> None:
    """Open one connection and run ``SELECT 1``; the kit's connect() explains any failure."""
    from kit._sync import run_sync
    from kit.db.connections import ping

    run_sync(ping(dsn))


def loop_guard(enabled: bool = True) -> None:
    """Turn the loop guard on (or off) for the next :func:`run` calls, keeping the rest of :func:`setup`'s options."""
    import ipytest

    if _state["dsn"] is None:
        raise NotebookError("Call kit.course.notebook.setup() first; then loop_guard(True) or loop_guard(False).")
    addopts = tuple(opt for opt in _state["addopts"] if opt != GUARD_FLAG)
    _state["addopts"] = addopts + ((GUARD_FLAG,) if enabled else ())
    ipytest.autoconfig(addopts=_state["addopts"], **_state["options"])


def clean(*keep: str) -> None:
    """``ipytest.clean()``, which forgets every ``test*`` name in the notebook, but keeps the names in ``keep``.

    A fixture called ``test_connection`` starts with ``test`` too: ``nb.clean("test_connection")`` keeps it.
    """
    import ipytest
    from IPython import get_ipython

    shell = get_ipython()
    namespace = shell.user_ns if shell is not None else {}
    kept = {name: namespace[name] for name in keep if name in namespace}
    ipytest.clean()
    namespace.update(kept)


def pg_row(moment: str, connection: Any, pid: int) -> dict[str, Any]:
    """What ``pg_stat_activity`` says about server process ``pid`` right now, next to ``connection.is_closed()``.

    It is read on a connection of its own, on another loop in another thread: the caller waits, so nothing
    scheduled on the caller's loop runs meanwhile and the row shows the state at the moment of asking.
    """
    from kit._sync import call_off_loop
    from kit.db.connections import kit_connections

    rows = call_off_loop(lambda: asyncio.run(kit_connections(_dsn(), only=[pid])))
    row = rows[0] if rows else None
    return {
        "moment": moment,
        "pid": pid,
        "in pg_stat_activity": row is not None,
        "application_name": row["application_name"] if row else None,
        "state": row["state"] if row else None,
        "conn.is_closed()": connection.is_closed(),
    }


def open_connections(pids: list[int] | None = None, *, exclude: Any = ()) -> int:
    """How many kit connections to this database are open now (only those with server ``pids``, if given).

    ``exclude`` leaves out connections (or server pids), such as the notebook's own query connection. The
    count runs in another thread and blocks the cell, so the kernel's own loop does not run meanwhile.
    """
    from kit._sync import call_off_loop
    from kit.db.connections import kit_connections

    left_out = [item if isinstance(item, int) else item.get_server_pid() for item in _as_list(exclude)]
    rows = call_off_loop(lambda: asyncio.run(kit_connections(_dsn(), this_database=True, exclude=left_out, only=pids)))
    return len(rows)


def loops_by_test() -> pd.DataFrame:
    """The last run's timeline as a grid: which loop each fixture (and each test body) ran on, one column per test."""
    frame = timeline()
    frame["test"] = frame["test"].str.split("::").str[-1]
    frame["item"] = frame["item"].where(frame["kind"] == "fixture", "(the test itself)")
    grid = frame.pivot_table(index=["item", "scope"], columns="test", values="loop", aggfunc="first", sort=False)
    return grid.fillna("")


def _refuse_missing_set_up() -> None:
    """Stop before pytest runs when a cell above this one defines a fixture that is missing in this kernel."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    current = shell.user_ns.get("_ih", [""])[-1]
    missing = order.missing_fixtures(order.notebook_of(shell), current, shell.user_ns)
    if missing:
        name, ref = missing[0]
        raise NotebookError(
            f"fixture {name!r} is defined by {ref.describe()}, which has not run in this kernel (was it restarted?). "
            "Without it pytest would quietly use another fixture of that name. Run that cell first "
            "(Run > Run All Above Selected Cell), then this one again."
        )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _dsn() -> str:
    if _state["dsn"] is None or not os.environ.get("DATABASE_URL"):
        raise NotebookError(
            "Run the notebook's first cell (it calls nb.setup()): it starts the database and exports DATABASE_URL."
        )
    return os.environ["DATABASE_URL"]


def run(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """Run the notebook's tests with ``ipytest.run(*args, **kwargs)``; return one row per test.

    Columns: ``test, outcome, duration, error_type, message``; ``outcome`` is passed, failed, error
    (set-up or teardown failed) or skipped, and ``message`` is the root cause's first line.
    """
    import ipytest

    if _state["dsn"] is None:
        raise NotebookError(
            "Call kit.course.notebook.setup() first: it makes ipytest run async tests in a thread and starts the database."
        )
    _refuse_missing_set_up()
    recorder = Recorder()
    plugins = [*kwargs.pop("plugins", ()), recorder]
    with autoload_disabled():  # only the lesson's plugins: pytest-randomly and friends would change what you see
        exit_code = ipytest.run(*plugin_args(), *args, plugins=plugins, **kwargs)
    _refuse(exit_code, "ipytest.run", "the pytest output above")
    return _remember(recorder.to_json(), output="").results


def run_file(path: str | os.PathLike[str], *pytest_args: str, timeout: float = 600) -> pd.DataFrame:
    """Run a test file (or directory) on disk with pytest in a subprocess; return the same table as :func:`run`.

    pytest's output is printed and kept in ``last_run().output``; ``timeout`` (seconds) bounds the run.
    """
    target = Path(path)
    if not target.exists():
        raise NotebookFileError(f"run_file(): {target} does not exist (looked from {Path.cwd()}). Pass the path of a test file.")
    with tempfile.TemporaryDirectory(prefix="loop-lab-") as scratch:
        record = Path(scratch) / "record.json"
        rootdir = target.resolve() if target.is_dir() else target.resolve().parent  # test ids relative to it, wherever it is
        command = [sys.executable, "-m", "pytest", str(target), f"--rootdir={rootdir}", *plugin_args()]
        command += ["-p", "kit.diagnose.recorder", f"--kit-record={record}", *pytest_args]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=isolated_env())
        except subprocess.TimeoutExpired as exc:
            raise NotebookError(
                f"pytest on {target} did not finish within {timeout:g} s; pass a larger timeout= or look for a hanging test."
            ) from exc
        output = completed.stdout + completed.stderr
        print(output, end="")
        _refuse(completed.returncode, f"pytest {target}", "the output above")
        if not record.exists():
            raise NotebookError(
                f"pytest on {target} exited with code {completed.returncode} and recorded nothing; see the output above."
            )
        return _remember(json.loads(record.read_text()), output=output).results


def last_run() -> RunResult:
    """The most recent :func:`run` or :func:`run_file`: results, timeline, per-test details and exit code."""
    if _state["last"] is None:
        raise NotebookError(
            "No tests have run yet in this kernel: call kit.course.notebook.run() or kit.course.notebook.run_file(path) first."
        )
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
    from kit.course.pictures import plot

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
            "If pytest calls --loop-guard unrecognised, the kit's guard plugin (kit.diagnose.guard) is not installed yet."
        )


def _remember(recorded: dict[str, Any], *, output: str) -> RunResult:
    import pandas as pd

    details = recorded["results"]
    results = pd.DataFrame(details, columns=RESULT_COLUMNS)
    # Fixtures whose names start with "_" (the kit's _loop_lab_dsn...) are plumbing, not part of the lesson.
    spans = [row for row in recorded["timeline"] if not (row["kind"] == "fixture" and row["item"].startswith("_"))]
    results["duration"] = results["duration"].astype(float)
    result = RunResult(
        results=results,
        timeline=pd.DataFrame(spans, columns=TIMELINE_COLUMNS).astype({"start": int, "end": "Int64"}),
        details=details,
        exit_code=int(recorded["exit_code"]) if recorded["exit_code"] is not None else -1,
        output=output,
    )
    _state["last"] = result
    return result
