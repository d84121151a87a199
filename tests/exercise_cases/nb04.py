"""Sample answers to the exercise of notebook 04 (kit.course.exercises.nb04)."""

from __future__ import annotations

from kit.course.exercises.nb04 import KEY

CASES = {
    KEY: {
        "right": [{"settings", "migrated_schema"}, ["migrated_schema", "settings"]],
        "wrong": [
            (..., "answer with a set of fixture names"),
            ("settings", "not one string"),
            ({"settings", "event_loop"}, "not among the candidates"),
            ({"settings", "migrated_schema", "pool"}, "pool is an async fixture"),
            ({"settings", "migrated_schema", "connection"}, "connection is synchronous"),
            ({"settings"}, "migrated_schema is safe to share"),
            ({"migrated_schema"}, "settings is safe to share"),
        ],
    }
}
