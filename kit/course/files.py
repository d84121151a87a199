"""Copy the course out of the installed kit: ``loop-lab notebooks [DEST]`` and ``loop-lab lab [DEST]``.

A pip user's course lives inside site-packages; learners work on a copy. ``DEST/.loop-lab-course.json``
records what each file was when it was copied, so a later copy updates the files the learner left alone
and keeps the ones the learner changed (unless ``force``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kit._files import course_dir
from kit.errors import CourseFilesError

DEFAULT_DEST = Path("loop-lab-course")
MANIFEST = ".loop-lab-course.json"


@dataclass
class Copied:
    """What one copy did: files written, files already up to date, and files kept because the learner changed them."""

    dest: Path
    written: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def course_files(source: Path) -> list[str]:
    """The course's files under ``source``, relative and sorted; caches and hidden files left out."""
    return sorted(
        path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file() and not any(part.startswith((".", "__pycache__")) for part in path.relative_to(source).parts)
    )


def _manifest(dest: Path) -> dict[str, str]:
    path = dest / MANIFEST
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (ValueError, TypeError):
        raise CourseFilesError(f"{path} is not the kit's JSON record of the copied course; delete it and copy again") from None


def copy_course(dest: Path = DEFAULT_DEST, *, force: bool = False, source: Path | None = None) -> Copied:
    """Copy the course into ``dest``: new and untouched files are written, files the learner changed are kept unless ``force``."""
    source = course_dir() if source is None else source
    if dest.exists() and not dest.is_dir():
        raise CourseFilesError(f"{dest} is a file; give a folder to copy the course into, e.g. {DEFAULT_DEST}")
    recorded = _manifest(dest)
    dest.mkdir(parents=True, exist_ok=True)
    done = Copied(dest)
    for name in course_files(source):
        target, shipped = dest / name, _digest(source / name)
        if target.exists():
            present = _digest(target)
            if present == shipped:
                done.current.append(name)
                recorded[name] = shipped
                continue
            if present != recorded.get(name) and not force:
                done.kept.append(name)
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)
        recorded[name] = shipped
        done.written.append(name)
    (dest / MANIFEST).write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    return done


def report(done: Copied) -> str:
    """A few lines saying where the course is and which changed files were kept (and how to overwrite them)."""
    lines = [f"the course is in {done.dest}: {len(done.written)} files written, {len(done.current)} already up to date"]
    if done.kept:
        lines.append(f"kept {len(done.kept)} files you changed (run `loop-lab notebooks {done.dest} --force` to overwrite them):")
        lines += [f"  {name}" for name in done.kept]
    return "\n".join(lines)
