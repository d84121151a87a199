"""Sample answers to the exercise of notebook 00 (kit.course.exercises.nb00)."""

from __future__ import annotations

CASES = {
    "00-run-in-thread": {
        "right": ["run_in_thread", "run_in_thread=True", "ipytest.autoconfig(run_in_thread=True)"],
        "wrong": [
            ("nest_asyncio", "not an ipytest option"),
            ("asyncio_mode", "decides WHICH async tests"),
            ("raise_on_error", "only decides whether a failing run raises"),
            ("addopts", "passes command-line options"),
            ("run_in_thread=False", "ipytest's default"),
            ("magic", "not an ipytest option that helps"),
            (..., "answer with the option's name"),
        ],
    },
}
