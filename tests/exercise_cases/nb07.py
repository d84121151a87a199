"""Sample answers to the exercise of notebook 07 (kit.course.exercises.nb07)."""

from __future__ import annotations

CASES = {
    "07-pick-pattern": {
        "right": [
            {"A": "db", "B": "test_connection", "C": "shared_pool"},
            {"a": " DB ", "b": "session_config_connection", "c": "shared_pool()"},
        ],
        "wrong": [
            ({"A": "test_connection", "B": "test_connection", "C": "shared_pool"}, "30-45 s of connecting"),
            ({"A": "session_config_connection", "B": "test_connection", "C": "shared_pool"}, "shares only the settings"),
            ({"A": "shared_pool", "B": "test_connection", "C": "shared_pool"}, "acquire and release add cost"),
            ({"A": "db", "B": "db", "C": "shared_pool"}, "that ends db's transaction"),
            ({"A": "db", "B": "shared_pool", "C": "shared_pool"}, "escapes it"),
            ({"A": "db", "B": "test_connection", "C": "db"}, "db is ONE connection"),
            ({"A": "db", "B": "test_connection", "C": "test_connection"}, "the class expects a pool"),
            ({"A": "db", "B": "test_connection", "C": "session_config_connection"}, "is a single connection per test"),
            ({"A": "db", "B": "test_connection", "C": "session_pool"}, "pool of notebook 01 is never the answer"),
            ({"A": "db", "B": "test_connection", "C": "sqlite"}, "is not one of the four patterns"),
            ({"A": "db", "B": "test_connection"}, "missing: C"),
            (..., "answer with a dict"),
        ],
    },
    "07-where-50ms": {
        "right": ["d", "D", " d) "],
        "wrong": [
            ("a", "TCP and the unix socket"),
            ("b", "hashing a scram-sha-256 password"),
            ("c", "ONE test"),
            ("e", "not one of the choices"),
            (..., "answer with one letter"),
        ],
    },
}
