"""Exercise of notebook 08: what would make the test that uses a pool made by top-level ``await`` pass."""

from __future__ import annotations

from kit.course.exercises import exercise
from kit.course.exercises._inspect import blank, normalise

KEY = "08-kernel-pool"
CHOICES = {
    "a": "call nest_asyncio.apply() before nb.run()",
    "b": "run the tests with nb.run(run_in_thread=False)",
    "c": "create the pool in a fixture instead of with await in a cell",
    "d": 'mark the test @pytest.mark.asyncio(loop_scope="session")',
}
_WHY_NOT = {
    "a": (
        "nest_asyncio lets run_until_complete() nest inside a running loop; it does not move kernel_pool's futures to "
        "the test's loop, so the test still gets 'attached to a different loop' (the kernel model above ran with "
        "nest_asyncio: the broken pool failed just the same)."
    ),
    "b": (
        "without its own thread, pytest runs where the kernel's loop is running, and pytest-asyncio's Runner refuses "
        "to start: every async test errors with 'Runner.run() cannot be called from a running event loop'."
    ),
    "d": (
        "the session loop is pytest-asyncio's loop for this nb.run() session, created in pytest's thread: it is not "
        "the kernel's loop either, so kernel_pool's futures are still foreign there."
    ),
}


@exercise(
    KEY,
    question=(
        "test_uses_kernel_pool failed with 'attached to a different loop'. Which ONE change makes it pass? "
        + "; ".join(f"{key}) {text}" for key, text in CHOICES.items())
        + ". Answer with the letter."
    ),
    hint=(
        "Ask which loop kernel_pool belongs to (the one that ran the cell's await) and which loop the test runs on. "
        "Which change puts the pool on the test's loop, rather than moving the test somewhere else?"
    ),
    solution=(
        'answer = "c"\n'
        "# A pool made with await in a cell belongs to the kernel's loop, which no test ever runs on: pytest runs in\n"
        "# its own thread, on loops pytest-asyncio creates. Created in a fixture, the pool is made on the loop of the\n"
        "# tests that use it (function scope: the test's own; loop_scope='session' on fixture and tests: the session's)."
    ),
    praise=(
        "Right: created in a fixture, the pool is made on the loop pytest-asyncio runs the fixture on, which is the "
        "test's loop (or, with loop_scope='session' on both, the session's). Nothing else moves the pool."
    ),
)
def _check_kernel_pool(answer: object) -> str | None:
    if blank(answer) or not isinstance(answer, str):
        return f"answer with one letter, as a string: {', '.join(repr(key) for key in CHOICES)}."
    letter = normalise(answer)
    if letter not in CHOICES:
        return f"{answer!r} is not one of the letters {', '.join(CHOICES)}; answer with one of them."
    return None if letter == "c" else f"not {letter}: {_WHY_NOT[letter]}"
