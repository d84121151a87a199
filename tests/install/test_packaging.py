"""The built distributions: the sdist is complete (its tests run), the wheel is a library.

A project that already has pytest-asyncio 0.24, 0.25 or an older 1.x runs ``pip install loop_lab-*.whl``: its
version stays, and the loop guard catches a session pool used on a function loop in that project's own suite.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from kit.course.files import course_files

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# A project's suite: a session-scoped pool used by a test on its own function loop, and a correct test.
SUITE = """
import os

import asyncpg
import pytest
import pytest_asyncio

DSN = os.environ["DATABASE_URL"]


@pytest_asyncio.fixture(scope="session")
async def session_pool():
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=1)
    yield pool
    await pool.close()


@pytest.mark.asyncio
async def test_uses_the_session_pool(session_pool):
    assert await session_pool.fetchval("SELECT 1") == 1


@pytest.mark.asyncio
async def test_opens_its_own_connection():
    conn = await asyncpg.connect(DSN)
    try:
        assert await conn.fetchval("SELECT 2") == 2
    finally:
        await conn.close()
"""


def _run(*cmd: str | Path, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it, of this tree (``uv build``, the way a release is built)."""
    assert UV, "uv is missing: it is in the test extra (`make install`)"
    out = tmp_path_factory.mktemp("dist")
    _run(UV, "build", "--quiet", "--out-dir", out, ROOT)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (built,) = dist.glob("loop_lab-*.whl")
    return built


def test_the_sdist_holds_what_the_tests_need_and_its_tests_run(dist: Path, tmp_path: Path) -> None:
    (sdist,) = dist.glob("loop_lab-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.iterdir()
    names = {path.relative_to(unpacked).as_posix() for path in unpacked.rglob("*")}
    for needed in ("tests/conftest.py", "tests/support/notebook_runner.py", "tests/exercise_cases/nb00.py", "Makefile"):
        assert needed in names, f"the sdist lacks {needed}: add it to MANIFEST.in"
    assert {f"notebooks/{path.name}" for path in (ROOT / "notebooks").glob("*.ipynb")} <= names
    assert not [name for name in names if "__pycache__" in name or ".pytest_cache" in name]
    # The unpacked kit, not this checkout's, is the one imported: the rootdir comes first on sys.path.
    tests = ("tests/test_layers.py", "tests/test_course_structure.py", "tests/test_pins.py")
    done = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests, cwd=unpacked, timeout=300)
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout


def test_the_wheel_carries_the_license_the_lock_and_the_type_marker(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (meta_name,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(archive.read(meta_name))
        lock = archive.read("kit/course/lock.txt").decode()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), sorted(names)
    assert {"kit/py.typed", "kit/course/lock.txt"} <= names
    assert (ROOT / "kit" / "course" / "lock.txt").read_text() == lock
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier")
    assert all(f"Programming Language :: Python :: {version}" in classifiers for version in PYTHONS), classifiers
    assert any(url.startswith("Source, https://github.com/loop-lab/loop-lab") for url in meta.get_all("Project-URL"))
    core = [req for req in meta.get_all("Requires-Dist") if "extra ==" not in req]
    assert core and not [req for req in core if "==" in req], f"the library must not pin: {core}"


@pytest.mark.parametrize("series", ["0.24", "0.25", "1.0"])
def test_it_installs_beside_a_projects_pytest_asyncio_and_the_guard_works_there(wheel: Path, tmp_path: Path, series: str) -> None:
    venv = tmp_path / "project-venv"
    _run(UV, "venv", "--quiet", "--seed", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    _run(UV, "pip", "install", "--quiet", "--python", python, f"pytest-asyncio=={series}.*")
    before = _run(python, "-c", "import pytest_asyncio; print(pytest_asyncio.__version__)").stdout.strip()
    assert before.startswith(f"{series}.")

    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    after = _run(python, "-c", "import pytest_asyncio; print(pytest_asyncio.__version__)").stdout.strip()
    assert after == before, f"installing the wheel changed pytest-asyncio from {before} to {after}"
    _run(venv / "bin" / "loop-lab", "notebooks", tmp_path / "course", cwd=tmp_path)
    assert (tmp_path / "course" / "00_check_your_setup.ipynb").is_file(), "loop-lab notebooks did not write the course"

    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    (project / "test_project.py").write_text(textwrap.dedent(SUITE))
    done = subprocess.run(
        [python, "-m", "pytest", "--loop-guard", "-p", "no:cacheprovider", "-q"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = done.stdout + done.stderr
    assert done.returncode == 1 and "1 failed, 1 passed" in text, text
    assert "LoopMismatchError" in text and "test 'test_uses_the_session_pool' would use an asyncpg Pool" in text, text
    assert f"How to fix it (pytest-asyncio {before})" in text, text


def test_pyproject_lists_every_package_under_kit() -> None:
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "kit").rglob("__init__.py")}
    assert listed == found | {"kit._notebooks", "kit._notebooks.migration", "kit._notebooks.instructor"}, (
        "list each package of kit/ in pyproject.toml's [tool.setuptools] packages"
    )


def test_the_wheel_carries_the_course_and_loop_lab_notebooks_copies_it_out(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    shipped = {f"kit/_notebooks/{name}" for name in course_files(ROOT / "notebooks")}
    wanted = {"kit/_notebooks/pytest.ini", "kit/_notebooks/migration/pytest.ini", "kit/_notebooks/instructor/room.ipynb"}
    assert wanted <= shipped <= names, sorted(shipped - names)

    venv = tmp_path / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    _run(UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel)
    where = _run(
        venv / "bin" / "python",
        "-c",
        "from kit._files import course_dir; from kit.course.syllabus import lessons; from kit.bench.startup import course\n"
        "print(course_dir()); print(len(lessons())); print(course()['note'])",
        cwd=tmp_path,
    ).stdout.splitlines()
    assert Path(where[0]).is_relative_to(venv) and where[0].endswith("site-packages/kit/_notebooks"), where
    assert int(where[1]) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert where[2].startswith("cannot run the course: No module named"), "bench --course must find the notebooks"

    dest = tmp_path / "course"
    _run(venv / "bin" / "loop-lab", "notebooks", dest, cwd=tmp_path)
    for name in ("00_check_your_setup.ipynb", "pytest.ini", "migration/test_dependency_analyzer_integration.py"):
        assert (dest / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes(), name
    (dest / "00_check_your_setup.ipynb").write_text("{}")
    kept = subprocess.run([venv / "bin" / "loop-lab", "notebooks", dest], capture_output=True, text=True, timeout=60)
    assert kept.returncode == 1 and "00_check_your_setup.ipynb" in kept.stdout, kept.stdout + kept.stderr
    assert (dest / "00_check_your_setup.ipynb").read_text() == "{}"
    _run(venv / "bin" / "loop-lab", "notebooks", "--force", dest, cwd=tmp_path)
    assert (dest / "00_check_your_setup.ipynb").read_bytes() == (ROOT / "notebooks" / "00_check_your_setup.ipynb").read_bytes()
