"""Exercises of notebook 06: reading a dependency report, and what a text search of view definitions misses."""

from __future__ import annotations

import re

from kit.course.exercises import exercise
from kit.course.exercises._inspect import blank

VERDICTS = ("SAFE", "LOW_RISK", "REVIEW", "CAUTION", "DANGEROUS")
SHOP_VIEWS = (
    "contact_list",
    "newsletter_audience",
    "verification_queue",
    "recovery_contacts",
    "customer_directory",
    "customer_order_totals",
)


def _word(answer: object) -> str | None:
    """The answer as one upper-case word (spaces and dashes read as underscores), or None if it is not a string."""
    if not isinstance(answer, str):
        return None
    return re.sub(r"[\s-]+", "_", answer.strip()).upper()


@exercise(
    "06-recommendation",
    question=(
        "Before you run it: what does get_removal_recommendation() say for dropping shop.orders.customer_id? "
        "Answer with one word: SAFE, LOW_RISK, REVIEW, CAUTION or DANGEROUS."
    ),
    hint=(
        "List what depends on orders.customer_id: the foreign key it belongs to (orders -> customers) and any view "
        "that reads it. Then apply the rule: any CRITICAL -> DANGEROUS, else any HIGH -> CAUTION, else any MEDIUM -> REVIEW. "
        "Is a foreign key that the column itself owns CRITICAL?"
    ),
    solution=(
        'answer = "CAUTION"\n'
        "# The materialized view customer_order_totals joins on o.customer_id: a view is HIGH, so CAUTION.\n"
        "# orders_customer_id_fkey is orders' own outgoing foreign key: it is dropped with the column and breaks\n"
        "# nothing else, so it is a CONSTRAINT (MEDIUM). CRITICAL is for foreign keys that REFERENCE the column,\n"
        "# as orders_customer_id_fkey references customers.id (analyze customers.id: DANGEROUS)."
    ),
    praise=(
        "Right: CAUTION. The materialized view customer_order_totals (HIGH) decides it; the column's own foreign key "
        "is only a MEDIUM constraint that goes away with it."
    ),
)
def _check_recommendation(answer: object) -> str | None:
    word = _word(answer)
    if answer is ... or word is None:
        return f'answer with one of {", ".join(VERDICTS)} as a string, e.g. answer = "REVIEW".'
    if word == "CAUTION":
        return None
    if word == "DANGEROUS":
        return (
            "DANGEROUS needs a CRITICAL dependency: a foreign key that REFERENCES the column. orders_customer_id_fkey "
            "goes the other way: it is orders' own key, dropped together with customer_id, so the analyzer lists it as "
            "a CONSTRAINT with MEDIUM impact. customers.id is the DANGEROUS one."
        )
    if word == "REVIEW":
        return (
            "REVIEW means the worst dependency is MEDIUM. The foreign key constraint is MEDIUM, but the materialized view "
            "customer_order_totals joins on o.customer_id, and a view is HIGH."
        )
    if word in ("SAFE", "LOW_RISK"):
        return (
            f"{word} would mean nothing (or only LOW items) depends on the column. Two objects do: orders' own foreign key "
            "constraint and the materialized view customer_order_totals, which joins on o.customer_id."
        )
    return f"{answer!r} is not a recommendation the analyzer gives; it answers one of {', '.join(VERDICTS)}."


@exercise(
    "06-ilike-miss",
    question=(
        "The text search (definition ILIKE '%email%') and the catalog disagree about customers.email. Which view does the "
        "text search MISS, although dropping customers.email would take it away? Answer with the view's name."
    ),
    hint=(
        "A view that never writes the word email can still depend on the column: through another view. "
        "Look at the comparison table for a row the catalog found and the text search did not."
    ),
    solution=(
        'answer = "newsletter_audience"\n'
        "# newsletter_audience selects id and full_name FROM shop.contact_list: its definition never says email, so\n"
        "# ILIKE cannot find it. contact_list reads customers.email, so dropping the column drops contact_list, and\n"
        "# newsletter_audience with it. pg_depend records view -> view dependencies; the analyzer follows them (depth 2)."
    ),
    praise=(
        "Right: newsletter_audience is built on contact_list, never mentions email, and is dropped with it "
        "(the analyzer reports it at depth 2)."
    ),
)
def _check_ilike_miss(answer: object) -> str | None:
    if blank(answer):
        return 'answer with the name of one view in schema shop as a string, e.g. answer = "contact_list".'
    name = answer.strip().strip('"').lower().removeprefix("shop.")
    if name == "newsletter_audience":
        return None
    if name == "contact_list":
        return (
            "the text search finds contact_list: its definition selects email. The missed view is one whose "
            "definition never says email at all."
        )
    if name in ("verification_queue", "recovery_contacts"):
        column = "email_verified" if name == "verification_queue" else "backup_email"
        return (
            f"{name} is the opposite mistake, a false positive: the text search finds it because its definition "
            f"contains {column}, but it does not use customers.email at all."
        )
    if name == "customer_order_totals":
        return (
            "the text search finds customer_order_totals: the materialized view's definition contains c.email "
            "(the search reads pg_matviews as well as pg_views)."
        )
    if name == "customer_directory":
        return (
            "customer_directory does not use email, and neither method lists it for email. It is the '_' example: "
            "the text search for customer_id finds it because '_' matches the '.' in customer.id."
        )
    return f"schema shop has no view called {answer!r}; its views are {', '.join(SHOP_VIEWS)}."
