"""Sample answers to the exercise of notebook 08 (kit.course.exercises.nb08)."""

from __future__ import annotations

from kit.course.exercises.nb08 import KEY

CASES = {
    KEY: {
        "right": ["c", "C", " (c) "],
        "wrong": [
            ("a", "does not move kernel_pool's futures"),
            ("b", "Runner.run() cannot be called from a running event loop"),
            ("d", "not the kernel's loop either"),
            ("e", "is not one of the letters"),
            (..., "answer with one letter"),
        ],
    },
}
