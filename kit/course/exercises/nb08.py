"""Exercise of notebook 08: what lets pytest-asyncio 1.x tests run inside a Jupyter kernel."""

from __future__ import annotations

from kit.course.exercises import exercise
from kit.course.exercises._inspect import blank, normalise

CHOICES = ("run_in_thread", "nest_asyncio", "top-level await")


@exercise(
    "08-notebook-runner",
    question=(
        "Which one lets pytest-asyncio 1.x tests run in a notebook: 'run_in_thread', 'nest_asyncio' or "
        "'top-level await'? Answer with one of the three."
    ),
    hint=(
        "pytest-asyncio 1.x runs every async test and fixture with asyncio.Runner, and Runner.run() refuses to start "
        "when the calling thread already has a running loop. Which choice gives pytest a thread without one?"
    ),
    solution=(
        'answer = "run_in_thread"\n'
        "# ipytest.autoconfig(run_in_thread=True) (kit.course.notebook.setup() does it) runs pytest in a new thread. That thread\n"
        "# has no running loop, so pytest-asyncio's Runner can create and run the loops it wants.\n"
        "# nest_asyncio patches the kernel's loop, but Runner.run() still sees a running loop and refuses.\n"
        "# Top-level await runs a coroutine on the kernel's loop: fine for exploring, but it does not run pytest."
    ),
    praise=(
        "Right: run_in_thread=True. pytest runs in a fresh thread with no running loop, so pytest-asyncio's Runner "
        "can create the loops it needs."
    ),
)
def _check_notebook_runner(answer: object) -> str | None:
    if blank(answer):
        return f"answer with one of {', '.join(repr(c) for c in CHOICES)} as a string."
    text = normalise(answer)
    named = [choice for choice, key in zip(CHOICES, ("runinthread", "nest", "await")) if key in text]
    if len(named) > 1:
        return f"pick one: your answer names {' and '.join(named)}. Only one of them is needed (and works)."
    if named == ["run_in_thread"]:
        if text.endswith("false"):
            return (
                "run_in_thread=False is the plain ipytest.run(): pytest runs in the kernel's thread, where the kernel's "
                "loop is running, and every async test fails with 'Runner.run() cannot be called from a running event loop'."
            )
        return None
    if named == ["nest_asyncio"]:
        return (
            "nest_asyncio patches the kernel's loop so that run_until_complete() may nest, but pytest-asyncio 1.x uses "
            "asyncio.Runner, whose run() still sees a running loop: every async test still fails with "
            "'Runner.run() cannot be called from a running event loop', correctly fixed loop_scope='session' tests included. "
            "And the patch stays in the kernel until it restarts."
        )
    if named == ["top-level await"]:
        return (
            "top-level await runs a coroutine on the kernel's own loop: good for exploring (await conn.fetchval(...) in "
            "a cell), but it does not run pytest. A pool created that way belongs to the kernel's loop, and a test on its "
            "own loop that uses it gets 'attached to a different loop'."
        )
    return f"{answer!r} is none of the three; answer with one of {', '.join(repr(c) for c in CHOICES)}."
