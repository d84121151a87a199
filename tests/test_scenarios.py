"""kit.course.scenarios: the ten loop-scope scenarios, run live against the real database, match the measured 1.5.0 column."""

from __future__ import annotations

import pandas as pd
import pytest

from kit.course.scenarios import COLUMNS, DIFFERENT_LOOP, SCENARIOS, ScenarioError, classify, run_scenarios

# The outcomes measured on the pinned pytest-asyncio, as the scenario definitions state them.
EXPECTED = {name: scenario.expected for name, scenario in SCENARIOS.items()}
UNSET_WARNING = 'The configuration option "asyncio_default_fixture_loop_scope" is unset'
SCOPE_KWARG_WARNING = 'The "scope" keyword argument to the asyncio marker has been deprecated'


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return run_scenarios(progress=False)


def test_every_scenario_has_the_measured_outcome(table: pd.DataFrame) -> None:
    assert list(table.columns) == COLUMNS
    assert list(table["scenario"]) == list(SCENARIOS) == list(EXPECTED)
    assert dict(zip(table["scenario"], table["outcome"])) == EXPECTED


def test_counts_and_root_causes_fit_the_outcome(table: pd.DataFrame) -> None:
    for row in table.itertuples():
        assert row.passed + row.failed + row.errors == 3, row
        if row.outcome == "pass":
            assert (row.passed, row.detail) == (3, ""), row
        elif row.outcome == "DIFF-LOOP":
            assert DIFFERENT_LOOP in row.detail and row.detail.startswith("RuntimeError: "), row
            assert row.failed == 3, row  # the failure is in the test body, not at set-up
        else:
            assert row.outcome == "ScopeMismatch" and row.errors == 3 and row.detail.startswith("ScopeMismatch: "), row


def test_warnings_are_reported(table: pd.DataFrame) -> None:
    warnings = dict(zip(table["scenario"], table["warnings"]))
    assert SCOPE_KWARG_WARNING in warnings["F"]
    assert UNSET_WARNING in warnings["A"]
    assert all(UNSET_WARNING not in warnings[name] for name in ("B", "C", "H")), warnings  # they set the option
    assert not any("PytestAssertRewriteWarning" in text for text in warnings.values())


def test_a_process_per_scenario_gives_the_same_outcomes_and_prints_progress(capsys: pytest.CaptureFixture[str]) -> None:
    table = run_scenarios(["I'", "E"], workers=2)
    assert list(table["scenario"]) == ["I'", "E"]  # the order asked, not the order finished
    assert list(table["outcome"]) == [EXPECTED["I'"], EXPECTED["E"]]
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("]")[0] for line in lines] == ["[1/2", "[2/2"]
    assert {line.split()[2] for line in lines} == {"I'", "E"}


def test_an_unreachable_database_is_an_error_outcome() -> None:
    row = run_scenarios("A", progress=False, dsn="postgresql://nobody:pw@127.0.0.1:1/none").iloc[0]
    assert row["outcome"] == "ConnectionRefusedError" and row["errors"] == 3, row.to_dict()


def test_a_scenario_that_runs_too_long_is_a_timeout() -> None:
    row = run_scenarios(["E"], progress=False, timeout=0.01).iloc[0]
    assert (row["outcome"], row["passed"]) == ("timeout", 0)
    assert "0.01 s" in row["detail"]


def test_bad_arguments_say_what_to_pass() -> None:
    with pytest.raises(ScenarioError, match=r"Unknown scenario\(s\) \['Z'\]; pass names from \['A'"):
        run_scenarios(["E", "Z"])
    with pytest.raises(ScenarioError, match="Unknown scenario"):
        run_scenarios([])
    with pytest.raises(ScenarioError, match="at least one worker"):
        run_scenarios(workers=0)


def test_classify_prefers_the_loop_error_over_what_follows_it() -> None:
    records = [
        {"outcome": "failed", "error_type": "InterfaceError", "message": "another operation is in progress", "summary": None},
        {"outcome": "failed", "error_type": "RuntimeError", "message": f"Task got Future {DIFFERENT_LOOP}", "summary": None},
    ]
    assert classify(records) == ("DIFF-LOOP", f"RuntimeError: Task got Future {DIFFERENT_LOOP}")
    assert classify([{"outcome": "error", "error_type": "TypeError", "message": "bad marker"}]) == (
        "TypeError",
        "TypeError: bad marker",
    )
    assert classify([]) == ("no tests", "pytest collected no tests")


def test_each_scenario_is_a_complete_project() -> None:
    for scenario in SCENARIOS.values():
        files = scenario.files()
        assert set(files) == {"pytest.ini", "test_pool.py"}
        assert files["pytest.ini"].startswith("[pytest]\nasyncio_mode = strict\n")
        compile(files["test_pool.py"], f"scenario {scenario.name}", "exec")
        assert files["test_pool.py"].count("async def test_") == 3
    assert "def event_loop" in SCENARIOS["G"].source and "def event_loop" not in SCENARIOS["A"].source
