"""``python -m kit doctor``: is this machine ready for the course? One row per check, with the fix.

The Python and package rows need only the standard library, so the doctor also works as the pre-flight
before set-up (``python3 -m kit doctor`` in a fresh clone): it then says what is missing, and the checks
that need an installed package become one failed row each instead of an ImportError.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from typing import TYPE_CHECKING

from kit.errors import SetupError

if TYPE_CHECKING:
    import pandas as pd

DISTRIBUTION = "loop-lab"
# The exact versions the lessons were written against, shipped in the package (kit/course/lock.txt).
LOCK = "lock.txt"
# "unset" is the course's starting point (notebooks/pytest.ini); "function" is what we recommend afterwards.
_LOOP_SCOPES = ("unset", "function", "class", "module", "package", "session")
SETUP_FIX = "run `make setup` (or `pip install -c kit/course/lock.txt -e '.[course]'`)"


@dataclass
class Check:
    """One row of the doctor's table."""

    check: str
    ok: bool
    found: str
    expected: str
    fix: str = ""


def pins() -> dict[str, str]:
    """The exact version of each package in the lock the lessons were written against, by normalised name."""
    try:
        text = resources.files(__package__).joinpath(LOCK).read_text()
    except FileNotFoundError:
        raise SetupError(f"kit/course/{LOCK} is missing from the installed kit: reinstall it ({SETUP_FIX}).") from None
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = (part.strip() for part in line.partition("=="))
        if not (sep and name and version):
            raise SetupError(f"kit/course/{LOCK}, line {number}: {raw!r} is not `name==version`; write one exact pin a line.")
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def outside_the_course() -> set[str]:
    """The locked packages only the tests (``loop-lab[test]``) or the room's hub (``[hub]``) need.

    A learner's set-up (the course extra, as on Binder) lacks them by design, so the doctor does not check them.

    Read from the installed distribution's metadata with the standard library alone (the doctor runs before set-up).
    """
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return set()

    def needed(*extras: str) -> set[str]:
        found = set()
        for line in declared:
            extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", line)
            if (extra.group(1) if extra else "") in extras:
                found.add(re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", line).group()).lower())
        return found

    return needed("test", "hub") - needed("", "course") - {DISTRIBUTION}


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 10)
    return Check(
        "Python", ok, version, ">= 3.10", "" if ok else "install Python 3.10 or newer and recreate .venv (`make clean setup`)"
    )


def _package(name: str, pinned: str) -> Check:
    expected = f"=={pinned}"
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return Check(f"package {name}", False, "not installed", expected, SETUP_FIX)
    ok = version == pinned
    fix = "" if ok else f"pip install '{name}{expected}' (the lesson's error texts depend on this version), or {SETUP_FIX}"
    return Check(f"package {name}", ok, version, expected, fix)


def _once_installed(check: str, expected: str, modules: tuple[str, ...], run: Callable[[], list[Check]]) -> list[Check]:
    """``run()``'s rows, or one failed row naming what is missing when one of ``modules`` is not installed."""
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        return [Check(check, False, f"not checked: {', '.join(missing)} not installed", expected, SETUP_FIX)]
    return run()


def _database() -> Check:
    from kit._sync import run_sync
    from kit.db import server
    from kit.db.config import DatabaseConfig, mask_url
    from kit.db.connections import ping

    try:
        url = server.ensure_server()
        version = run_sync(ping(url, "SHOW server_version"))
        source = DatabaseConfig.from_environment().source
    except Exception as exc:  # every failure becomes a row; the kit's errors already say how to fix them
        return Check("database", False, type(exc).__name__, "reachable", str(exc))
    return Check("database", True, f"PostgreSQL {version} at {mask_url(url)} ({source})", "reachable")


def _pytest_asyncio_settings() -> list[Check]:
    from _pytest.config import _prepareconfig  # the pinned pytest: read the ini the notebooks' tests will see

    from kit.diagnose.rules import asyncio_ini

    config = _prepareconfig(["-p", "no:cacheprovider"])
    try:
        values = {
            key: asyncio_ini(config, key)
            for key in ("asyncio_mode", "asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope")
        }
    finally:
        config._ensure_unconfigure()
    where = str(config.inipath) if config.inipath else "no pytest configuration found"
    mode = str(values["asyncio_mode"] or "strict")  # pytest-asyncio's default
    rows = [
        Check(
            "pytest-asyncio mode",
            mode == "strict",
            f"{mode} ({where})",
            "strict",
            ""
            if mode == "strict"
            else "the lessons mark async tests explicitly: set asyncio_mode = strict in pytest's configuration",
        )
    ]
    for key in ("asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope"):
        value = str(values[key] or "unset")
        ok = value in _LOOP_SCOPES
        rows.append(
            Check(
                key,
                ok,
                value,
                "unset or " + "/".join(_LOOP_SCOPES[1:]),
                "" if ok else f"set {key} to one of {', '.join(_LOOP_SCOPES[1:])} in pytest's configuration",
            )
        )
    return rows


def _ipytest() -> Check:
    from ipytest._config import current_config
    from IPython import get_ipython

    in_kernel = getattr(get_ipython(), "kernel", None) is not None  # a Jupyter kernel, not just ipykernel imported
    threaded = bool(current_config.get("run_in_thread"))
    if not in_kernel:
        return Check(
            "ipytest runs tests in a thread", True, f"run_in_thread={threaded} (not in a notebook)", "True in notebooks", ""
        )
    return Check(
        "ipytest runs tests in a thread",
        threaded,
        f"run_in_thread={threaded}",
        "True",
        ""
        if threaded
        else "run `kit.course.notebook.setup()` in the notebook: async tests cannot run on the kernel's own running loop",
    )


def checks() -> list[Check]:
    """Run every check and return the rows; works before set-up too (the standard library is enough)."""
    rows = [_python()]
    others = outside_the_course()
    rows += [_package(name, version) for name, version in pins().items() if name not in others]
    rows += _once_installed("database", "reachable", ("asyncpg",), lambda: [_database()])
    rows += _once_installed("pytest-asyncio settings", "strict", ("pytest", "pytest_asyncio"), _pytest_asyncio_settings)
    rows += _once_installed("ipytest runs tests in a thread", "True", ("ipytest", "IPython"), lambda: [_ipytest()])
    return rows


def run_checks() -> pd.DataFrame:
    """The doctor's table as a pandas DataFrame: check, ok, found, expected, fix."""
    import pandas as pd

    return pd.DataFrame([asdict(row) for row in checks()], columns=["check", "ok", "found", "expected", "fix"])


def format_table(rows: list[Check]) -> str:
    """Render the doctor's rows as plain text for a terminal, failures marked FAIL, with a verdict line."""
    table = [["status", "check", "found", "expected", "fix"]]
    table += [["ok" if row.ok else "FAIL", row.check, row.found, row.expected, row.fix] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[-1] for line in table]
    failed = sum(not row.ok for row in rows)
    verdict = "all checks passed" if failed == 0 else f"{failed} check(s) failed: see the fix column"
    return "\n".join(line.rstrip() for line in lines) + "\n\n" + verdict
