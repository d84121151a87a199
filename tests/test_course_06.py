"""Notebook 06 (the dependency analyzer) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

from tests.support.notebook_runner import Pass, committed_without_outputs, passes_fixture, schema_exists

NAME = "06_dependency_analyzer.ipynb"
passes = passes_fixture(NAME)
test_committed_without_outputs = committed_without_outputs(NAME)


def _column(run: Pass, cell_id: str, key: str, value: str) -> dict[str, str]:
    """Two columns of a cell's table as a dict: the ``key`` column's cells -> the ``value`` column's."""
    return {row[key]: row[value] for row in run.rows(cell_id)}


def test_only_the_restrict_drop_raises_in_both_passes(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.failing_cells() == ["drop-restrict"]
        assert "cannot drop column email of table shop.customers" in run.text("drop-restrict")


def test_report_lists_every_kind_of_dependency_on_email(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        impacts = _column(run, "analyze-email", "object", "impact")
        assert impacts == {
            "shop.contact_list": "HIGH",
            "shop.customer_order_totals": "HIGH",
            "shop.newsletter_audience": "HIGH",
            "customers_normalise_email": "HIGH",
            "customers_email_lower_key": "MEDIUM",
            "customers_staff_idx": "MEDIUM",
            "customers_email_has_at": "MEDIUM",
        }
        assert "recommendation: CAUTION" in run.text("recommendation")


def test_recommendations_per_column(passes: tuple[Pass, Pass]) -> None:
    verdicts = _column(passes[0], "several-columns", "column", "recommendation")
    assert verdicts == {
        "customers.id": "DANGEROUS",
        "customers.account_no": "DANGEROUS",
        "customers.email": "CAUTION",
        "customers.email_verified": "CAUTION",
        "orders.placed_at": "SAFE",
    }
    references = _column(passes[0], "composite-fk", "orders column", "references customers column")
    assert references == {"region": "region", "account_no": "account_no"}
    assert "recommendation: CAUTION" in passes[0].text("verify-customer-id")


def test_text_search_errors_are_shown_against_the_catalog(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert _column(run, "text-search", "view", "verdict") == {
            "contact_list": "both agree",
            "customer_order_totals": "both agree",
            "newsletter_audience": "MISSED by the text search",
            "recovery_contacts": "FALSE POSITIVE (text only)",
            "verification_queue": "FALSE POSITIVE (text only)",
        }
        assert _column(run, "compare-customer-id", "view", "verdict") == {
            "customer_directory": "FALSE POSITIVE (text only)",
            "customer_order_totals": "both agree",
        }
    matches = {(row["text"], row["pattern"]): row["ILIKE matches"] for row in passes[0].rows("underscore")}
    assert matches[("customer.id", "%customer_id%")] == "True"
    assert matches[("customer.id", "%customer\\_id%")] == "False"


def test_restrict_refusal_names_exactly_the_reported_views(passes: tuple[Pass, Pass]) -> None:
    named = _column(passes[0], "drop-detail", "object", "named in the refusal")
    assert {obj for obj, flag in named.items() if flag == "True"} == {
        "shop.contact_list",
        "shop.customer_order_totals",
        "shop.newsletter_audience",
    }
    assert "view shop.newsletter_audience depends on view shop.contact_list" in passes[0].text("drop-detail")
    trigger = passes[0].text("trigger-breaks")
    assert 'record "new" has no field "email"' in trigger
    assert "email is still there: True" in trigger


def test_exercises_start_unanswered(passes: tuple[Pass, Pass]) -> None:
    assert "Not yet" in passes[0].text("ex-recommendation-check")
    assert "Not yet" in passes[0].text("ex-ilike-check")
    assert passes[0].cell("ex-ilike-solution").source.startswith("# solution(")


def test_schema_is_dropped_afterwards(passes: tuple[Pass, Pass]) -> None:
    assert schema_exists("shop") is False
