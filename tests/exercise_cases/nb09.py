"""Sample answers to the exercise of notebook 09 (kit.course.exercises.nb09)."""

from __future__ import annotations

from kit.course.exercises.nb09 import FUNCTION_SCOPE, SESSION_LOOP, TEMPLATE

CASES = {
    "09-fixed-fixture": {
        "right": [FUNCTION_SCOPE, SESSION_LOOP],
        "wrong": [
            (TEMPLATE, "session scope without loop scope"),
            (
                SESSION_LOOP.replace('@pytest.mark.asyncio(loop_scope="session")', "@pytest.mark.asyncio"),
                "missing loop_scope marker on the test",
            ),
            (FUNCTION_SCOPE.replace("await pool.close()", "asyncio.create_task(pool.close())"), "fire-and-forget close"),
            (FUNCTION_SCOPE.replace("await pool.close()", "pool.close()"), "is never awaited"),
            (FUNCTION_SCOPE.replace("    await pool.close()\n", ""), "never closes what it opened"),
            (
                TEMPLATE.replace('(scope="session")', '(scope="session", loop_scope="session")'),
                "pytest.fixture has no loop_scope",
            ),
            (FUNCTION_SCOPE.replace("== 1", "== 2"), "the audit is clean, but test_pool_answers failed"),
            (
                FUNCTION_SCOPE.replace("async def test_pool_answers", "async def check_pool_answers"),
                "keep a test that uses the fixture",
            ),
            ("def broken(:\n", "does not parse"),
            (..., "answer must be the source"),
        ],
    },
}
