"""Sample answers to the exercise of notebook 08 (kit.course.exercises.nb08)."""

from __future__ import annotations

CASES = {
    "08-notebook-runner": {
        "right": ["run_in_thread", "run_in_thread=True", "ipytest.autoconfig(run_in_thread=True)", "Run in thread"],
        "wrong": [
            ("nest_asyncio", "Runner, whose run() still sees a running loop"),
            ("top-level await", "belongs to the kernel's loop"),
            ("run_in_thread=False", "is the plain ipytest.run()"),
            ("nest_asyncio and run_in_thread", "pick one"),
            ("asyncio.run", "none of the three"),
            (..., "answer with one of"),
        ],
    },
}
