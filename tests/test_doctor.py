"""`python -m kit doctor`: a table of checks, exit 0 when all pass, a fix on every failed row."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kit.course import doctor
from kit.db.config import DatabaseConfig
from tests.support.kit_cli import kit, kit_env

ROOT = Path(__file__).resolve().parents[1]


def test_all_green_on_a_set_up_machine() -> None:
    result = kit("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    for row in (
        "Python",
        "package pytest-asyncio",
        "package asyncpg",
        "database",
        "asyncio_default_fixture_loop_scope",
        "ipytest",
    ):
        assert row in result.stdout


def test_the_table_is_a_dataframe_with_the_pins() -> None:
    frame = doctor.run_checks()
    assert list(frame.columns) == ["check", "ok", "found", "expected", "fix"]
    assert frame["ok"].all(), frame[~frame["ok"]].to_string()
    pinned = frame[frame["check"] == "package pytest-asyncio"].iloc[0]
    assert pinned["expected"] == "==1.5.0" and pinned["found"] == "1.5.0"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://someone:pw@127.0.0.1:1/nowhere", "python -m kit db start"),
        ("not a url", "must start with postgresql://"),
        ("postgresql://loop_lab:pw@127.0.0.1:{port}/loop_lab", "rejected the password"),
    ],
)
def test_a_bad_database_fails_with_its_fix(url: str, says: str) -> None:
    own = DatabaseConfig.from_url(os.environ["DATABASE_URL"])
    url = url.format(port=own.port)
    result = kit("doctor", env=kit_env(DATABASE_URL=url))
    assert result.returncode == 1
    database_line = next(line for line in result.stdout.splitlines() if " database " in f" {line} ")
    assert database_line.lstrip().startswith("FAIL") and says in result.stdout
    assert ":pw@" not in result.stdout, "the password must never be printed"
    assert "1 check(s) failed" in result.stdout


def test_a_missing_database_is_named() -> None:
    own = DatabaseConfig.from_url(os.environ["DATABASE_URL"])
    missing = own.url.rsplit("/", 1)[0] + "/no_such_database"
    result = kit("doctor", env=kit_env(DATABASE_URL=missing))
    assert result.returncode == 1 and "does not exist" in result.stdout
    assert own.password not in result.stdout


def test_a_package_off_its_pin_fails_with_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = doctor.metadata.version
    monkeypatch.setattr(doctor.metadata, "version", lambda name: "0.21.2" if name == "pytest-asyncio" else real_version(name))
    row = doctor._package("pytest-asyncio", doctor.pins()["pytest-asyncio"])
    assert not row.ok and "pip install 'pytest-asyncio==1.5.0'" in row.fix


def test_the_pre_flight_runs_before_set_up_on_the_standard_library_alone(tmp_path: Path) -> None:
    bare = tmp_path / "bare"  # a Python with nothing installed: no pandas, no packaging, no pytest, no kit
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", bare], check=True)
    result = subprocess.run(
        [bare / "bin" / "python", "-m", "kit", "doctor"], cwd=ROOT, env=kit_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
    lines = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()[1:] if line.startswith(("ok ", "FAIL "))]
    rows = {cells[1]: "  ".join(cells) for cells in lines}
    assert rows["Python"].startswith("ok")
    assert rows["package pytest-asyncio"].startswith("FAIL") and "not installed  ==1.5.0" in rows["package pytest-asyncio"]
    assert "not checked: asyncpg not installed" in rows["database"]
    assert all("make setup" in line for name, line in rows.items() if name != "Python")
    assert f"{len(rows) - 1} check(s) failed" in result.stdout
