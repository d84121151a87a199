"""Sample answers to the exercise of notebook 06 (kit.course.exercises.nb06)."""

from __future__ import annotations

CASES = {
    "06-recommendation": {
        "right": ["CAUTION", "caution", " Caution\n"],
        "wrong": [
            ("DANGEROUS", "goes the other way"),
            ("REVIEW", "a view is HIGH"),
            ("SAFE", "SAFE would mean"),
            ("MEDIUM", "not a recommendation"),
            (..., "answer with one of"),
        ],
    },
    "06-ilike-miss": {
        "right": ["newsletter_audience", "shop.newsletter_audience", "Newsletter_Audience"],
        "wrong": [
            ("contact_list", "never says email at all"),
            ("verification_queue", "contains email_verified"),
            ("recovery_contacts", "contains backup_email"),
            ("customer_order_totals", "reads pg_matviews"),
            ("customer_directory", "matches the '.'"),
            ("orders", "has no view called"),
            (..., "answer with the name"),
        ],
    },
}
