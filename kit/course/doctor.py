"""``python -m kit doctor``: is this machine ready for the course? One row per check, with the fix."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from packaging.requirements import Requirement

from kit.errors import SetupError

if TYPE_CHECKING:
    import pandas as pd

DISTRIBUTION = "loop-lab"
# "unset" is the course's starting point (notebooks/pytest.ini); "function" is what we recommend afterwards.
_LOOP_SCOPES = ("unset", "function", "class", "module", "package", "session")
SETUP_FIX = "run `make setup` (or `pip install -e .` in the course's environment)"


@dataclass
class Check:
    """One row of the doctor's table."""

    check: str
    ok: bool
    found: str
    expected: str
    fix: str = ""


def pins() -> dict[str, Requirement]:
    """The pinned requirements of the installed kit, by normalised package name (the single source of truth)."""
    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise SetupError(f"The kit is not installed as a package: {SETUP_FIX}.") from None
    found: dict[str, Requirement] = {}
    for line in lines:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            found[req.name.lower()] = req
    return found


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 10)
    return Check(
        "Python", ok, version, ">= 3.10", "" if ok else "install Python 3.10 or newer and recreate .venv (`make clean setup`)"
    )


def _package(name: str, req: Requirement) -> Check:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return Check(f"package {name}", False, "not installed", str(req.specifier), SETUP_FIX)
    ok = req.specifier.contains(version, prereleases=True)
    fix = "" if ok else f"pip install '{name}{req.specifier}' (the lesson's error texts depend on this version), or {SETUP_FIX}"
    return Check(f"package {name}", ok, version, str(req.specifier), fix)


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

    config = _prepareconfig(["-p", "no:cacheprovider"])
    try:
        values = {
            key: config.getini(key)
            for key in ("asyncio_mode", "asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope")
        }
    finally:
        config._ensure_unconfigure()
    where = str(config.inipath) if config.inipath else "no pytest configuration found"
    mode = str(values["asyncio_mode"])
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
    """Run every check and return the rows."""
    rows = [_python()]
    rows += [_package(name, req) for name, req in pins().items()]
    rows.append(_database())
    rows += _pytest_asyncio_settings()
    rows.append(_ipytest())
    return rows


def run_checks() -> pd.DataFrame:
    """The doctor's table as a pandas DataFrame: check, ok, found, expected, fix."""
    import pandas as pd

    return pd.DataFrame([asdict(row) for row in checks()], columns=["check", "ok", "found", "expected", "fix"])


def format_table(frame: pd.DataFrame) -> str:
    """Render the doctor's table as plain text for a terminal, failures marked FAIL."""
    shown = frame.assign(status=frame["ok"].map({True: "ok", False: "FAIL"}))[["status", "check", "found", "expected", "fix"]]
    rows = [list(shown.columns)] + shown.astype(str).values.tolist()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    failed = int((~frame["ok"]).sum())
    verdict = "all checks passed" if failed == 0 else f"{failed} check(s) failed: see the fix column"
    return "\n".join(line.rstrip() for line in lines) + "\n\n" + verdict
