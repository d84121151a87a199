"""Sample answers to the exercise of notebook 01 (kit.course.exercises.nb01)."""

from __future__ import annotations

CASES = {
    "01-summary-vs-cause": {
        "right": [
            ("InterfaceError", "RuntimeError"),
            ("asyncpg.exceptions._base.InterfaceError", "RuntimeError"),
            ["asyncpg.InterfaceError", "builtins.RuntimeError"],
            ("InterfaceError", RuntimeError),
        ],
        "wrong": [
            (("RuntimeError", "InterfaceError"), "swapped"),
            (("InterfaceError", "InterfaceError"), "is not the cause"),
            (("RuntimeError", "RuntimeError"), "the FAILED lines of the two later tests do show it"),
            (("ScopeMismatch", "RuntimeError"), "set-up error"),
            (("ValueError", "KeyError"), "neither"),
            (("InterfaceError", "KeyError"), "the summary type is right"),
            (("TimeoutError", "RuntimeError"), "the root cause is right"),
            ("InterfaceError", "a tuple of two exception names"),
            (..., "replace the ..."),
        ],
    },
}
