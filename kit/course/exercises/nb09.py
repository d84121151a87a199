"""Exercise of notebook 09: rewrite a seed-style test module so that the audit is clean and the test passes.

The learner's answer is the source of a whole (small) test module. The check first reads it (a close
that is fire-and-forget or never awaited, a session-scoped async fixture without a loop scope are found
without running anything), then audits it with :func:`kit.diagnose.audit.audit` under the seed project's pytest
settings (a test without the loop_scope marker its fixture needs...), then runs it with pytest against
the kit's database, and says what is still wrong.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kit.course.exercises import exercise
from kit.course.exercises._inspect import blank

# The seed project's settings, as in notebooks/migration/pytest.ini: auto mode, both loop scopes unset.
PYTEST_INI = "[pytest]\nasyncio_mode = auto\n"
MODULE_NAME = "test_exercise_09.py"
_RUN_TIMEOUT = 120

TEMPLATE = """
import asyncpg
import pytest
from kit.db.config import DatabaseConfig


@pytest.fixture(scope="session")
async def pool():
    pool = await asyncpg.create_pool(DatabaseConfig.from_environment().url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.mark.asyncio
async def test_pool_answers(pool):
    assert await pool.fetchval("SELECT 1") == 1
"""

FUNCTION_SCOPE = TEMPLATE.replace('@pytest.fixture(scope="session")', "@pytest.fixture")
SESSION_LOOP = (
    TEMPLATE.replace("import pytest\n", "import pytest\nimport pytest_asyncio\n")
    .replace('@pytest.fixture(scope="session")', '@pytest_asyncio.fixture(scope="session", loop_scope="session")')
    .replace("@pytest.mark.asyncio\n", '@pytest.mark.asyncio(loop_scope="session")\n')
)

SOLUTION = f'''# Either: function scope (the seed's pattern). The pool is created, used and closed on the test's loop.
answer = """{FUNCTION_SCOPE}"""

# Or: keep one pool for the session, on the session's loop, and run the test on that loop too.
answer = """{SESSION_LOOP}"""'''


def _decorator_name(node: ast.expr) -> str:
    """'pytest.fixture', 'pytest_asyncio.fixture', 'pytest.mark.asyncio'... for a decorator expression."""
    target = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(target)


def _keywords(node: ast.expr) -> dict[str, str]:
    """A decorator call's keyword arguments, values as source text."""
    if not isinstance(node, ast.Call):
        return {}
    return {
        k.arg: ast.literal_eval(k.value) if isinstance(k.value, ast.Constant) else ast.unparse(k.value)
        for k in node.keywords
        if k.arg
    }


def _fixtures(tree: ast.Module) -> dict[str, tuple[ast.AST, ast.expr]]:
    """Fixture functions by name, with their fixture decorator."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                if _decorator_name(decorator).endswith("fixture"):
                    found[node.name] = (node, decorator)
    return found


def _close_calls(node: ast.AST) -> list[ast.Call]:
    """Calls of a method whose name contains 'close' inside ``node``."""
    return [n for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and "close" in n.func.attr]


def _static_problem(tree: ast.Module) -> str | None:
    """What is wrong before anything runs: fire-and-forget or missing closes, wrong decorators, missing pieces."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in ("create_task", "ensure_future"):
            return (
                f"fire-and-forget close on line {node.lineno}: {ast.unparse(node.func)}(...) schedules the close and returns "
                "at once, so teardown is 'done' before anything is closed (and the task may never run). "
                "Write `await pool.close()` instead."
            )
    awaited = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Await)}
    for call in _close_calls(tree):
        if id(call) not in awaited:
            return (
                f"{ast.unparse(call)} on line {call.lineno} is never awaited: it only creates a coroutine, which is dropped "
                "('coroutine was never awaited'), and nothing is closed. Write `await " + ast.unparse(call) + "`."
            )
    fixtures = _fixtures(tree)
    for name, (node, decorator) in fixtures.items():
        if _decorator_name(decorator) == "pytest.fixture" and "loop_scope" in _keywords(decorator):
            return (
                f"fixture {name!r}: pytest.fixture has no loop_scope argument (pytest raises a TypeError). "
                "Use @pytest_asyncio.fixture(scope=..., loop_scope=...) and `import pytest_asyncio`."
            )
        yields = [n for n in ast.walk(node) if isinstance(n, ast.Yield)]
        if isinstance(node, ast.AsyncFunctionDef) and yields:
            after = [c for c in _close_calls(node) if c.lineno > yields[0].lineno]
            in_context = any(
                isinstance(n, ast.AsyncWith) and any(isinstance(y, ast.Yield) for y in ast.walk(n)) for n in ast.walk(node)
            )
            if not after and not in_context:
                return (
                    f"fixture {name!r} never closes what it opened: after `yield` write `await pool.close()` "
                    "(or yield inside `async with`), or every test leaves connections behind."
                )
    if "pool" not in fixtures:
        return "keep the fixture called `pool`: the exercise is to fix it, not to remove it."
    if not _tests_using(tree, "pool"):
        return "keep a test that uses the fixture: an async def test_...(pool) such as test_pool_answers."
    return _wide_fixture_without_loop_scope(tree)


def _no_loop_scope(fixture: str, scope: str, test: str) -> str:
    """The message for a wide async fixture without a loop scope, used by a test on its own loop."""
    return (
        f"{scope} scope without loop scope: fixture {fixture!r} is {scope}-scoped, so with the loop scopes unset it "
        f"runs on the {scope} loop while {test} runs on its own function loop: 'attached to a different loop'. "
        f"Drop scope=... (function scope), or declare loop_scope={scope!r} and run the test on that loop too."
    )


def _wide_fixture_without_loop_scope(tree: ast.Module) -> str | None:
    """The seed's mistake, found without collecting: an async fixture wider than function, no loop_scope, used by a test."""
    for name, (node, decorator) in _fixtures(tree).items():
        keywords = _keywords(decorator)
        scope = keywords.get("scope", "function")
        if isinstance(node, ast.AsyncFunctionDef) and scope != "function" and "loop_scope" not in keywords:
            users = [test.name for test in _tests_using(tree, name)]
            if users:
                return _no_loop_scope(name, scope, users[0])
    return None


def _tests_using(tree: ast.Module, fixture: str) -> list[ast.AST]:
    """Test functions that take ``fixture`` as an argument."""
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        and n.name.startswith("test")
        and fixture in [a.arg for a in n.args.args]
    ]


def _declared_loop_scope(tree: ast.Module, fixture: str) -> str | None:
    """The loop_scope written in the fixture's decorator, if any."""
    found = _fixtures(tree).get(fixture)
    return _keywords(found[1]).get("loop_scope") if found else None


def _audit_problem(tree: ast.Module, path: Path) -> str | None:
    """Audit the module and turn the first risk into a sentence about the learner's code."""
    from kit.diagnose.audit import AuditError, audit

    try:
        result = audit(str(path))
    except AuditError as exc:
        lines = [line for line in str(exc).splitlines() if "Error" in line] or str(exc).splitlines()
        return f"pytest cannot collect your module: {lines[-1].strip()}"
    if not result.tests_collected:
        return "pytest collected no test: keep an async def test_...(pool) function at the top level of the module."
    if not result.risky:
        return None
    finding = result.risky[0]
    test = finding.test.split("::")[-1]
    if "ScopeMismatch" in finding.risk:
        return (
            f"fixture {finding.fixture!r} is {finding.scope}-scoped but runs on the {finding.loop_scope} loop: a loop "
            f"narrower than the fixture fails with ScopeMismatch at setup. Use loop_scope={finding.scope!r}, "
            "or drop scope=... to make it function-scoped."
        )
    declared = _declared_loop_scope(tree, finding.fixture)
    if declared is None:
        return _no_loop_scope(finding.fixture, finding.scope, test)
    if "the test runs" in finding.risk:
        return (
            f"missing loop_scope marker on the test: fixture {finding.fixture!r} now lives on the {declared} loop, but "
            f"{test} still runs on its own {finding.test_loop_scope} loop ({finding.marker}). Mark it "
            f"@pytest.mark.asyncio(loop_scope={declared!r}), or set pytestmark = pytest.mark.asyncio(loop_scope={declared!r})."
        )
    return f"the audit still finds a risk: {finding.risk}. {finding.fix}"


def _run_problem(path: Path) -> str | None:
    """Run the module with pytest against the kit's database; say which test failed and why."""
    from kit.db.server import ensure_server

    record = path.parent / "record.json"
    env = dict(os.environ, DATABASE_URL=ensure_server())
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(path),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "kit.diagnose.recorder",
        f"--kit-record={record}",
    ]
    try:
        subprocess.run(command, cwd=path.parent, env=env, capture_output=True, text=True, timeout=_RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"the audit is clean, but the test did not finish within {_RUN_TIMEOUT} s: is something waiting forever?"
    if not record.exists():
        return "the audit is clean, but pytest recorded nothing when it ran the module: run it yourself to see the error."
    results = json.loads(record.read_text())["results"]
    bad = [r for r in results if r["outcome"] != "passed"]
    if bad:
        first = bad[0]
        return (
            f"the audit is clean, but {first['test']} {first['outcome']} when it runs: "
            f"{first['error_type'] or 'error'}: {first['message']}"
        )
    return None


@exercise(
    "09-fixed-fixture",
    question=(
        "Rewrite the seed-style module in `answer` (a session-scoped asyncpg pool used by a plain async test) so that "
        "`kit audit` finds nothing at risk and the test passes. Keep the fixture `pool` and a test that uses it."
    ),
    hint=(
        'Two ways out. Function scope: drop scope="session", and each test gets its own pool on its own loop. Or one '
        'pool for the session: @pytest_asyncio.fixture(scope="session", loop_scope="session") AND '
        '@pytest.mark.asyncio(loop_scope="session") on the test. Either way, close with `await pool.close()`.'
    ),
    solution=SOLUTION,
    praise="Right: the audit finds nothing at risk, and the test passes against the database.",
)
def _check_fixed_module(answer: object) -> str | None:
    if blank(answer):
        return "answer must be the source of the whole test module, as a string: edit the template in the cell above."
    try:
        tree = ast.parse(answer)
    except SyntaxError as exc:
        return f"the module does not parse: line {exc.lineno}: {exc.msg}."
    problem = _static_problem(tree)
    if problem:
        return problem
    with tempfile.TemporaryDirectory(prefix="loop-lab-ex09-") as scratch:
        directory = Path(scratch)
        (directory / "pytest.ini").write_text(PYTEST_INI)
        path = directory / MODULE_NAME
        path.write_text(answer)
        return _audit_problem(tree, path) or _run_problem(path)
