"""Cells run out of order name the cell to run first (kit.course.order), in a real kernel and on the parser."""

from __future__ import annotations

from kit.course.order import defined_names, fixture_names, where_defined
from tests.support.notebook_runner import execute_some


def test_defined_names_sees_what_a_cell_leaves_behind() -> None:
    source = (
        "%matplotlib inline\nimport os.path\nfrom x import y as z\npool = await make()\n"
        "for i, (a, b) in enumerate([]):\n    pass\nasync def fixture():\n    inner = 1\nclass Thing: ...\n"
        "with open('f') as handle:\n    pass\n"
    )
    assert defined_names(source) == {"os", "z", "pool", "i", "a", "b", "fixture", "Thing", "handle"}
    assert defined_names("def broken(:\n") == set()


def test_fixture_names_are_functions_under_a_fixture_decorator() -> None:
    source = (
        "@pytest_asyncio.fixture(scope='session')\nasync def pool(): ...\n@pytest.fixture\ndef settings(): ...\n"
        "@pytest.mark.usefixtures('clean')\nasync def test_uses(pool): ...\n@fixture\ndef bare(): ...\n"
    )
    assert fixture_names(source) == {"pool", "settings", "bare"}


def test_where_defined_names_the_first_code_cell_and_its_heading() -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "# Title\n## 2. The fix"},
            {"cell_type": "code", "source": "import os"},
            {"cell_type": "code", "source": ["\n", "pool = 1  # the pool\n"]},
            {"cell_type": "code", "source": "pool = 2"},
        ]
    }
    ref = where_defined(notebook, "pool")
    assert (ref.number, ref.heading, ref.first_line) == (2, "## 2. The fix", "pool = 1  # the pool")
    assert ref.describe() == 'code cell 2 (under "## 2. The fix"), the one with `pool = 1  # the pool`'
    assert where_defined(notebook, "nothing") is None


def test_a_cell_run_before_its_set_up_cell_names_that_cell() -> None:
    """Notebook 05: the set-up cell, then the half fix without the cell that defines the pool fixture."""
    run = execute_some("05_sharing_a_loop_on_purpose.ipynb", ["setup", "half-fix"])
    text = run.text("half-fix")
    assert "NotebookError: fixture 'pool' is defined by code cell" in text and "Run that cell first" in text
    assert "the one with `async def pool(database_settings):`" in text
    assert "passed" not in text and "failed" not in text  # stopped before pytest ran


def test_a_name_used_before_its_cell_ran_names_that_cell() -> None:
    """Notebook 03: the set-up cell, then the clean-up cell, which uses the counter cell's names."""
    run = execute_some("03_function_scoped_fix.ipynb", ["setup", "cleanup"])
    text = run.text("cleanup")
    assert "NotebookError: 'conn' is not defined yet in this kernel: code cell" in text and "conn = await connect(DSN)" in text
    assert [o.ename for o in run.cell("cleanup").outputs if o.output_type == "error"] == ["NotebookError"]


def test_a_typo_still_gets_pythons_own_name_error() -> None:
    run = execute_some("00_check_your_setup.ipynb", ["setup"], then="print(defined_nowhere)")
    assert [o.ename for o in run.cell("then").outputs if o.output_type == "error"] == ["NameError"]
    assert "name 'defined_nowhere' is not defined" in run.text("then") and "NotebookError" not in run.text("then")
