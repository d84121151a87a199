"""Sample answers to the exercise of notebook 10 (kit.course.exercises.nb10)."""

from __future__ import annotations

from kit.course.exercises.nb10 import KEY

CASES = {
    KEY: {
        "right": [{"a", "d"}, ["D", "a"], "a and d", "(a), (d)"],
        "wrong": [
            ({"a", "b"}, "moves only the fixtures"),
            ({"c", "d"}, "moves no connection"),
            ({"d"}, "you left out a"),
            ({"a"}, "you left out d"),
            ({"a", "e"}, "there is no option e"),
            (..., "answer with a set of letters"),
        ],
    }
}
