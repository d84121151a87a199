"""Sample answers to the exercise of notebook 02 (kit.course.exercises.nb02)."""

from __future__ import annotations

CASES = {
    "02-passing-scenarios": {
        "right": [{"E", "F", "H", "I"}, ["I", "H", "F", "E"], "E, F, H, I", "e f h i"],
        "wrong": [
            ({"D", "E", "F", "H", "I"}, "half fix"),
            ({"E", "F", "G", "H", "I"}, "silently ignored"),
            ({"E", "F", "H", "I", "I'"}, "nearest to the test wins"),
            ({"C", "E"}, "ScopeMismatch"),
            ({"B", "E", "F", "H", "I"}, "the other half"),
            ({"A", "E", "F", "H", "I"}, "seed project's setup"),
            ({"F", "H", "I"}, "left out E"),
            ({"E", "H", "I"}, "left out F"),
            ({"E", "F", "I"}, "left out H"),
            ({"E", "F", "H"}, "left out I"),
            ({"E", "F", "H", "I", "Z"}, "no scenario Z"),
            (..., "answer with a set of scenario names"),
        ],
    },
}
