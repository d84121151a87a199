"""The course copied out of the kit (``loop-lab notebooks [DEST]``) and opened (``loop-lab lab [DEST]``).

The wheel's layout (the course as package data, copied out in a fresh venv) is tested in tests/install/test_packaging.py.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

from kit._files import CHECKOUT, course_dir
from kit.course.files import MANIFEST, copy_course, course_files
from kit.errors import CourseFilesError
from tests.support.kit_cli import kit
from tests.support.lab_server import running_lab

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small course: two notebooks, a folder, and a cache that must not be copied."""
    course = tmp_path / "course"
    (course / "migration").mkdir(parents=True)
    (course / ".pytest_cache").mkdir()
    (course / "00_a.ipynb").write_text("zero\n")
    (course / "01_b.ipynb").write_text("one\n")
    (course / "migration" / "pytest.ini").write_text("[pytest]\n")
    (course / ".pytest_cache" / "README.md").write_text("cache\n")
    return course


def test_in_a_checkout_the_course_is_the_repositorys_notebooks() -> None:
    assert course_dir() == CHECKOUT == ROOT / "notebooks"
    assert "migration/test_dependency_analyzer_integration.py" in course_files(course_dir())
    assert not [name for name in course_files(course_dir()) if ".pytest_cache" in name or "checkpoints" in name]


def test_a_copy_writes_the_course_and_a_second_copy_writes_nothing(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    first = copy_course(dest, source=source)
    assert first.written == ["00_a.ipynb", "01_b.ipynb", "migration/pytest.ini"] and not first.kept
    assert (dest / "migration" / "pytest.ini").read_text() == "[pytest]\n"
    assert not (dest / ".pytest_cache").exists()
    again = copy_course(dest, source=source)
    assert again.written == [] and again.current == first.written


def test_a_changed_file_is_kept_an_untouched_one_is_updated_and_force_overwrites(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    copy_course(dest, source=source)
    (dest / "00_a.ipynb").write_text("my answer\n")
    (source / "00_a.ipynb").write_text("zero, revised\n")
    (source / "01_b.ipynb").write_text("one, revised\n")

    done = copy_course(dest, source=source)
    assert done.kept == ["00_a.ipynb"] and done.written == ["01_b.ipynb"]
    assert (dest / "00_a.ipynb").read_text() == "my answer\n"
    assert (dest / "01_b.ipynb").read_text() == "one, revised\n"
    assert copy_course(dest, source=source).kept == ["00_a.ipynb"], "a kept file must stay the learner's"

    forced = copy_course(dest, source=source, force=True)
    assert forced.written == ["00_a.ipynb"] and (dest / "00_a.ipynb").read_text() == "zero, revised\n"


def test_a_file_in_dest_that_the_kit_never_wrote_is_not_overwritten(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "00_a.ipynb").write_text("something of mine\n")
    assert copy_course(dest, source=source).kept == ["00_a.ipynb"]
    assert (dest / "00_a.ipynb").read_text() == "something of mine\n"


def test_dest_must_be_a_folder(source: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CourseFilesError, match="is a file; give a folder"):
        copy_course(tmp_path / "file", source=source)


def test_loop_lab_notebooks_copies_the_course_and_refuses_to_overwrite_a_change(tmp_path: Path) -> None:
    dest = tmp_path / "course"
    done = kit("notebooks", str(dest))
    assert done.returncode == 0, done.stderr
    assert (dest / "00_check_your_setup.ipynb").read_bytes() == (ROOT / "notebooks" / "00_check_your_setup.ipynb").read_bytes()
    assert set(json.loads((dest / MANIFEST).read_text())) == set(course_files(ROOT / "notebooks"))

    (dest / "01_reproduce_the_failure.ipynb").write_text("{}")
    refused = kit("notebooks", str(dest))
    assert refused.returncode == 1
    assert "kept 1 files you changed" in refused.stdout and "--force" in refused.stdout, refused.stdout
    assert (dest / "01_reproduce_the_failure.ipynb").read_text() == "{}"
    assert kit("notebooks", str(dest), "--force").returncode == 0
    assert (dest / "01_reproduce_the_failure.ipynb").read_bytes() == (
        ROOT / "notebooks" / "01_reproduce_the_failure.ipynb"
    ).read_bytes()


def test_loop_lab_lab_copies_the_course_and_serves_it(tmp_path: Path) -> None:
    dest = tmp_path / "course"
    with running_lab(ROOT, tmp_path / "lab.log", command=[sys.executable, "-m", "kit", "lab", str(dest)]) as lab:
        request = urllib.request.Request(f"{lab.base}/api/contents", headers={"Authorization": f"token {lab.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            listed = {item["name"] for item in json.loads(response.read())["content"]}
    assert {"00_check_your_setup.ipynb", "migration", "pytest.ini"} <= listed, listed
    assert "the course is in" in (tmp_path / "lab.log").read_text()
