"""kit.diagnose.audit: collect a suite without running it and flag async fixtures whose users run on a narrower loop."""

from __future__ import annotations

import importlib.util
import json
import re
import textwrap
import time
from pathlib import Path

import pytest

from kit.diagnose.audit import AuditError, audit, main
from kit.diagnose.rules import has
from kit.errors import MissingExtraError
from tests.support.asyncio_ini import FIXTURE_SCOPE_INI, SAME_LOOP_FOR, SESSION_FIXTURE_FIX, spelled

pytest_plugins = ["pytester"]

HEADER = """
import asyncio

import pytest
import pytest_asyncio
"""

# Scenario A: session fixture without loop scope (loop scope follows the fixture's scope), bare markers.
SESSION_WITHOUT_LOOP_SCOPE = """
@pytest_asyncio.fixture(scope="session")
async def session_pool():
    yield object()

@pytest.mark.asyncio
async def test_one(session_pool):
    pass

@pytest.mark.asyncio
async def test_two(session_pool):
    pass
"""

# Scenario D: the half fix, loop_scope="session" on the fixture only.
HALF_FIX = """
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_pool():
    yield object()

@pytest.mark.asyncio
async def test_one(session_pool):
    pass
"""

# Scenario E: fixture and tests both on the session loop.
FULL_FIX = """
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_pool():
    yield object()

@pytest.mark.asyncio(loop_scope="session")
async def test_one(session_pool):
    pass
"""

# Scenario I: pytestmark decides, tests unmarked.
PYTESTMARK = """
pytestmark = pytest.mark.asyncio(loop_scope="session")

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_pool():
    yield object()

async def test_one(session_pool):
    pass
"""

# Scenario I': as I, but one test carries a bare marker, which wins.
BARE_MARKER_BEATS_PYTESTMARK = (
    PYTESTMARK
    + """
@pytest.mark.asyncio
async def test_bare(session_pool):
    pass
"""
)

FUNCTION_SCOPED = """
@pytest_asyncio.fixture
async def pool():
    yield object()

@pytest.fixture(scope="session")
def database_config():
    return "postgresql://example/db"

@pytest.mark.asyncio
async def test_one(pool, database_config):
    pass
"""

# The seed's "before": a function-loop fixture uses a session-loop fixture, through a sync fixture too.
FIXTURE_ON_NARROWER_LOOP = """
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def test_database():
    yield object()

@pytest.fixture
def infrastructure(test_database):
    return test_database

@pytest_asyncio.fixture
async def connection_manager(infrastructure):
    yield infrastructure

@pytest.mark.asyncio(loop_scope="session")
async def test_one(connection_manager):
    pass
"""

EVENT_LOOP_OVERRIDE = (
    """
@pytest.fixture(scope="session")
def event_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
"""
    + FULL_FIX
)

# Scenario C: the ini default puts a session fixture on function loops.
SCOPE_MISMATCH = """
@pytest_asyncio.fixture(scope="session")
async def session_pool():
    yield object()

def test_sync(session_pool):
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester):
    """Write a test module (HEADER + body) and an ini file; return the directory."""

    def _suite(body: str, ini: str = FIXTURE_SCOPE_INI) -> str:
        pytester.makeini(f"[pytest]\nasyncio_mode = strict\nasyncio_default_test_loop_scope = function\n{ini}\n")
        pytester.makepyfile(test_suite=spelled(HEADER + textwrap.dedent(body)))
        return str(pytester.path)

    return _suite


def _rows(result, test: str) -> list:
    return [f for f in result.findings if f.test.endswith(test)]


def test_session_fixture_without_loop_scope_is_flagged(suite):
    result = audit([suite(SESSION_WITHOUT_LOOP_SCOPE)])
    assert result.tests_collected == 2
    assert [f.test for f in result.risky] == ["test_suite.py::test_one", "test_suite.py::test_two"]
    row = result.risky[0]
    assert (row.fixture, row.scope, row.loop_scope, row.test_loop_scope) == ("session_pool", "session", "session", "function")
    assert row.marker.startswith("bare @pytest.mark.asyncio on the test")
    assert "DIFF-LOOP: the test runs on the function loop, the fixture on the session loop" in row.risk
    assert spelled('@pytest.mark.asyncio(loop_scope="session")') in row.fix


def test_half_fix_is_flagged(suite):
    result = audit([suite(HALF_FIX, ini="asyncio_default_fixture_loop_scope = function")])
    assert len(result.risky) == 1
    assert result.risky[0].loop_scope == "session" and result.risky[0].test_loop_scope == "function"


def test_bare_marker_beats_pytestmark(suite):
    result = audit([suite(BARE_MARKER_BEATS_PYTESTMARK)])
    [bare] = _rows(result, "::test_bare")
    [marked] = _rows(result, "::test_one")
    assert bare.test_loop_scope == "function" and bare.risk
    assert spelled("overriding pytestmark = pytest.mark.asyncio(loop_scope='session') in test_suite.py") in bare.marker
    assert "Remove the bare @pytest.mark.asyncio from the test" in bare.fix
    assert marked.test_loop_scope == "session" and not marked.risk
    assert marked.marker == spelled("pytestmark = pytest.mark.asyncio(loop_scope='session') in test_suite.py")


@pytest.mark.parametrize("body", [FULL_FIX, PYTESTMARK], ids=["E-markers", "I-pytestmark"])
def test_correct_session_patterns_are_listed_but_not_risky(suite, body):
    result = audit([suite(body)])
    assert [(f.fixture, f.test_loop_scope, f.risk) for f in result.findings] == [("session_pool", "session", "")]
    assert result.risky == []


def test_function_scoped_suite_has_nothing_to_list(suite):
    result = audit([suite(FUNCTION_SCOPED)])
    assert result.tests_collected == 1
    assert result.findings == []


def test_fixture_on_a_narrower_loop_than_its_dependency(suite):
    path = suite(FIXTURE_ON_NARROWER_LOOP, ini="asyncio_default_fixture_loop_scope = function")
    if has("refuses_narrower_fixture_loops"):  # 0.24 to 0.26 refuse the suite at collection
        with pytest.raises(AuditError, match="could not collect") as refused:
            audit([path])
        assert "MultipleEventLoopsRequestedError" in str(refused.value)
        return
    result = audit([path])
    [row] = result.risky
    assert row.fixture == "test_database" and row.test_loop_scope == "session"
    assert "fixture 'connection_manager' runs on the function loop, the fixture on the session loop" in row.risk
    assert SAME_LOOP_FOR.format("connection_manager") in row.fix


def test_event_loop_override_is_flagged(suite):
    result = audit([suite(EVENT_LOOP_OVERRIDE)])
    [row] = result.risky
    assert row.fixture == "event_loop" and row.location == "test_suite.py:6"
    assert ("ignored by pytest-asyncio >= 1.0" if has("no_event_loop_fixture") else "deprecated since 0.23") in row.risk


def test_loop_scope_narrower_than_fixture_scope_is_flagged(suite):
    result = audit([suite(SCOPE_MISMATCH, ini="asyncio_default_fixture_loop_scope = function")])
    if not has("fixture_loop_scope_ini"):  # 0.23 has no such option: the fixture runs on its own session loop
        assert result.risky == []
        return
    [row] = result.risky
    assert row.test_loop_scope == "" and row.marker == "sync test"
    assert row.risk == "ScopeMismatch at setup: a session-scoped fixture on the function loop"


def test_to_frame_has_the_documented_columns_or_names_the_missing_pandas(suite):
    result = audit([suite(SESSION_WITHOUT_LOOP_SCOPE)])
    if importlib.util.find_spec("pandas") is None:  # the library alone (make test-pythons): a clear error, not a traceback
        with pytest.raises(MissingExtraError, match=r"AuditResult.to_frame\(\) needs pandas.*pip install 'loop-lab\[course\]'"):
            result.to_frame()
        return
    frame = result.to_frame()
    for column in ("fixture", "scope", "loop_scope", "test", "test_loop_scope", "marker", "risk", "fix"):
        assert column in frame.columns
    assert len(frame) == 2


def test_main_exits_1_and_prints_the_table_when_at_risk(suite, capsys):
    assert main([suite(SESSION_LOCK)]) == 1
    captured = capsys.readouterr()
    assert "fixture       scope    loop_scope  test" in captured.out
    assert "2 of 2 rows at risk, 0 possible." in captured.out
    assert re.search(r"^session_lock \(test_suite.py:\d+\): made by asyncio Lock \(asyncio.Lock\):$", captured.out, re.M)
    assert SESSION_FIXTURE_FIX in captured.out
    assert "kit audit: collecting" in captured.err and "(at most 120 s)..." in captured.err  # said before collecting


def test_main_exits_0_when_clean(suite, capsys):
    assert main([suite(FULL_FIX)]) == 0
    assert "0 of 1 rows at risk, 0 possible." in capsys.readouterr().out


# A session fixture whose value is known to be loop-bound (asyncio.Lock is made by a class an adapter knows).
SESSION_LOCK = """
@pytest_asyncio.fixture(scope="session")
async def session_lock():
    lock = asyncio.Lock()
    yield lock

@pytest.mark.asyncio
async def test_one(session_lock):
    pass

@pytest.mark.asyncio
async def test_two(session_lock):
    pass
"""

# A session fixture that makes its pool, closes it itself and yields only the DSN: nothing loop-bound is shared.
DSN_ONLY = """
import asyncpg

@pytest_asyncio.fixture(scope="session")
async def database_url():
    pool = await asyncpg.create_pool("postgresql://example/db")
    await pool.close()
    yield f"postgresql://example/{'db'}"

@pytest.mark.asyncio
async def test_one(database_url):
    pass
"""


def test_three_verdicts(suite):
    assert {f.verdict for f in audit([suite(SESSION_LOCK)]).findings} == {"at risk"}
    [possible, _] = audit([suite(SESSION_WITHOUT_LOOP_SCOPE)]).findings
    assert possible.verdict == "possible" and possible.holds == "the result of object"
    [fine] = audit([suite(DSN_ONLY)]).findings
    assert (fine.verdict, fine.risk, fine.fix) == ("fine", "", "")


def test_possible_exits_0_unless_strict(suite, capsys):
    path = suite(SESSION_WITHOUT_LOOP_SCOPE)
    assert main([path]) == 0
    assert "0 of 2 rows at risk, 2 possible." in capsys.readouterr().out
    assert main([path, "--strict"]) == 1


def test_a_dsn_only_session_fixture_is_not_at_risk(suite, capsys):
    assert main([suite(DSN_ONLY)]) == 0
    assert "0 of 1 rows at risk, 0 possible." in capsys.readouterr().out


def test_json_output(suite, capsys):
    assert main([suite(SESSION_LOCK), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdicts"] == {"at risk": 2, "possible": 0, "fine": 0}
    assert [row["test"] for row in data["findings"]] == ["test_suite.py::test_one", "test_suite.py::test_two"]
    assert data["findings"][0]["holds"] == "made by asyncio Lock (asyncio.Lock)"


def test_pytest_options_are_passed_through(suite, capsys):
    path = suite(SESSION_LOCK)
    assert main([path, "-k", "test_two", "--json"]) == 1
    assert [row["test"] for row in json.loads(capsys.readouterr().out)["findings"]] == ["test_suite.py::test_two"]
    moved = has("test_loop_scope_ini")  # before 0.26 the option is unknown: the tests stay on their function loops
    assert main([path, "-o", "asyncio_default_test_loop_scope=session", "-p", "no:randomly"]) == (0 if moved else 1)
    assert ("0 of 2 rows at risk" if moved else "2 of 2 rows at risk") in capsys.readouterr().out


def test_a_module_level_lock_in_an_app_module_is_found(pytester):
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    pytester.makepyfile(
        app_module="import asyncio\n\nlock = asyncio.Lock()\n\n\nasync def refresh():\n    async with lock:\n        return 1\n",
        test_suite="from app_module import refresh\n\n\nasync def test_a():\n    await refresh()\n\n\nasync def test_b():\n    await refresh()\n",
    )
    result = audit([str(pytester.path)])
    assert [(f.fixture, f.scope, f.verdict, f.location) for f in result.findings] == [
        ("app_module.lock", "global", "at risk", "app_module.py:3")
    ] * 2
    assert "is used on 2 event loops" in result.findings[0].risk
    assert "Run every test and async fixture that uses 'app_module.lock' on the session loop" in result.findings[0].fix
    assert "NullPool" not in result.findings[0].fix  # a lock is no SQLAlchemy engine


def test_run_settles_possible_rows(suite):
    result = audit([suite(SESSION_WITHOUT_LOOP_SCOPE)], run=True)
    assert result.ran
    assert [(f.verdict, f.seen) for f in result.findings] == [("fine", "passed"), ("fine", "passed")]


def test_a_hanging_import_is_reported_within_the_timeout(pytester, capsys):
    pytester.makeconftest("import time\ntime.sleep(60)\n")
    pytester.makepyfile(test_suite="def test_a():\n    pass\n")
    started = time.monotonic()
    assert main([str(pytester.path), "--timeout", "3"]) == 2
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert "kit audit: collecting" in err
    assert "took longer than 3 s and was stopped" in err and "--timeout" in err


def test_main_exits_2_for_a_missing_path(tmp_path, capsys):
    missing = tmp_path / "no_such_tests"
    assert main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"path '{missing}' does not exist" in err
    assert "python -m kit audit tests/" in err


def test_main_exits_2_without_paths(capsys):
    assert main([]) == 2
    assert "PATH" in capsys.readouterr().err


def test_collection_error_is_bad_input(suite):
    with pytest.raises(AuditError, match=r"pytest could not collect .*exit code 2(.|\n)*SyntaxError"):
        audit([suite("def broken(:\n    pass\n")])


def test_a_forking_conftest_is_stopped_with_its_children(pytester, capsys):
    pids = pytester.path / "pids"
    pytester.makeconftest(
        "import os, time\n"
        f"open({str(pids)!r}, 'w').write(str(os.getpid()))\n"
        "if os.fork() == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(60)\n"
    )
    pytester.makepyfile(test_suite="def test_a():\n    pass\n")
    started = time.monotonic()
    # 8 s: time for the inner pytest to reach the conftest on a loaded machine; both sleep far longer
    assert main([str(pytester.path), "--timeout", "8"]) == 2
    assert time.monotonic() - started < 40
    assert "took longer than 8 s and was stopped" in capsys.readouterr().err
    time.sleep(0.5)
    for pid in _children_of(int(pids.read_text())) | {int(pids.read_text())}:
        assert _gone(pid), f"process {pid} of the audited conftest is still running"


def _children_of(pid: int) -> set[int]:
    """The processes of the process group ``pid`` leads (the audit's child: what its conftest forked is in it)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pid:  # field 5 of /proc/PID/stat: the process group
                found.add(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"
