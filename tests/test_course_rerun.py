"""Every code cell of every notebook can be run twice in a row: only tagged cells raise, and they raise both times."""

from __future__ import annotations

import pytest

from tests.support.notebook_runner import NOTEBOOKS, execute_each_cell_twice

COURSE = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("name", COURSE)
def test_every_cell_runs_twice_in_a_row(name: str) -> None:
    problems = execute_each_cell_twice(name)
    assert not problems, f"{name}:\n" + "\n".join(problems)
