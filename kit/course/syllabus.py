"""The course's syllabus: each notebook's title, minutes and path, read from the notebook's own metadata.

Each numbered notebook carries ``metadata["loop_lab"] = {"minutes": N, "path": "core" | "extended"}``: the one
source for its time budget. Its header, the README's course table and the instructor guide say the same (the
course tests check it), and the core path must leave a 90-minute workshop at least ten minutes to spare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kit._files import course_dir
from kit.errors import NotebookError

PATHS = ("core", "extended")
WORKSHOP_MINUTES = 90
SPARE_MINUTES = 10


@dataclass(frozen=True)
class Lesson:
    """One numbered notebook of the course."""

    number: str
    name: str
    title: str
    minutes: int
    path: str


def lessons(directory: Path | None = None) -> list[Lesson]:
    """The numbered notebooks in ``directory`` (default: the course, :func:`kit._files.course_dir`), in order, with the budget each one's metadata gives."""
    directory = course_dir() if directory is None else directory
    found = []
    for file in sorted(directory.glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(file.read_text())
        budget = notebook.get("metadata", {}).get("loop_lab", {})
        minutes, path = budget.get("minutes"), budget.get("path")
        if not isinstance(minutes, int) or path not in PATHS:
            raise NotebookError(
                f"{file.name}: its metadata needs loop_lab = {{'minutes': <int>, 'path': 'core' or 'extended'}}, "
                f"got {budget!r}. Edit it in JupyterLab (Property Inspector > Notebook metadata)."
            )
        heading = next((c for c in notebook["cells"] if c["cell_type"] == "markdown"), {"source": ""})
        first_line = "".join(heading["source"]).splitlines()[0] if heading["source"] else file.stem
        title = first_line.lstrip("# ").split("·", 1)[-1].strip()
        found.append(Lesson(file.name[:2], file.stem, title, minutes, path))
    return found


def core_minutes(course: list[Lesson]) -> int:
    """Minutes of the core path: what a workshop covers."""
    return sum(lesson.minutes for lesson in course if lesson.path == "core")
