"""Exercise of notebook 00: the ipytest option that lets async tests run inside a notebook."""

from __future__ import annotations

from kit.course.exercises import exercise
from kit.course.exercises._inspect import blank, normalise

_WRONG = {
    "nestasyncio": (
        "nest_asyncio is not an ipytest option but a package that patches the kernel's running loop so that "
        "run_until_complete() may nest. pytest-asyncio 1.x runs tests with asyncio.Runner, and Runner.run() still "
        "sees the running loop and refuses: 'Runner.run() cannot be called from a running event loop'."
    ),
    "asynciomode": (
        "asyncio_mode is a pytest-asyncio setting (strict or auto): it decides WHICH async tests and fixtures "
        "pytest-asyncio handles, not WHERE they run. In the kernel's thread every one of them still meets the "
        "kernel's running loop."
    ),
    "raiseonerror": (
        "raise_on_error only decides whether a failing run raises in the cell (kit.course.notebook.setup() turns it off "
        "so that nb.run() can return a table). It does not change the thread the tests run in."
    ),
    "addopts": (
        "addopts passes command-line options to pytest (such as -q or --tb=short); no pytest option moves pytest "
        "out of the kernel's thread, which already runs a loop."
    ),
}


@exercise(
    "00-run-in-thread",
    question=(
        "Which option of ipytest.autoconfig() lets async tests run in this notebook? "
        'Answer with its name as a string, e.g. answer = "some_option".'
    ),
    hint=(
        "Look at the kernel-loop cell: the kernel's loop is running in the cell's thread. pytest-asyncio needs to "
        "start loops of its own. What could give pytest a thread where no loop runs yet?"
    ),
    solution=(
        'answer = "run_in_thread"\n'
        "# ipytest.autoconfig(run_in_thread=True) (kit.course.notebook.setup() does it for you) runs pytest in a new thread.\n"
        "# That thread has no running loop, so pytest-asyncio can create and run the loops its tests need."
    ),
    praise=(
        "Right: run_in_thread=True. The kernel's loop keeps running in the cell's thread; pytest gets a thread of "
        "its own where pytest-asyncio can start its loops."
    ),
)
def _check_run_in_thread(answer: object) -> str | None:
    if blank(answer):
        return 'answer with the option\'s name as a string, e.g. answer = "some_option".'
    text = normalise(answer)
    if "runinthread" in text:
        if text.endswith("false"):
            return (
                "run_in_thread=False is ipytest's default: pytest runs in the cell's thread, where the kernel's loop "
                "is running, and every async test errors with 'Runner.run() cannot be called from a running event loop'."
            )
        return None
    for key, message in _WRONG.items():
        if key in text:
            return message
    return f"{answer!r} is not an ipytest option that helps here; look at what kit.course.notebook.setup() passes to ipytest.autoconfig()."
