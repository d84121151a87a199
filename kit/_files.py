"""Where the course's notebooks are: the one locator, for ``kit.course`` and ``kit.bench`` alike.

In a checkout (``make setup``, an editable install) the course is the repository's ``notebooks/``; in an
installed wheel it is the package data ``kit/_notebooks/`` (the same files, ``pyproject.toml`` maps them).
It sits below both layers because course and bench must not import each other.
"""

from __future__ import annotations

from pathlib import Path

from kit.errors import CourseFilesError

PACKAGED = Path(__file__).resolve().parent / "_notebooks"
CHECKOUT = Path(__file__).resolve().parents[1] / "notebooks"


def course_dir() -> Path:
    """The folder holding the course's notebooks: the wheel's package data, else the checkout's ``notebooks/``."""
    for candidate in (PACKAGED, CHECKOUT):
        if any(candidate.glob("00_*.ipynb")):
            return candidate
    raise CourseFilesError(
        f"the course's notebooks are neither in {PACKAGED} (an installed wheel) nor in {CHECKOUT} (a checkout). "
        "Reinstall loop-lab (pip install --force-reinstall loop-lab) or run from a clone of the repository."
    )
