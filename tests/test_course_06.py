"""Notebook 06 (the dependency analyzer) runs twice in one kernel and shows what it claims."""

from __future__ import annotations

import asyncio
import html
import os
import re

import asyncpg
import pytest

from tests.notebook_runner import Pass, execute, stripped

NAME = "06_dependency_analyzer.ipynb"
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _table(run: Pass, cell_id: str) -> list[list[str]]:
    """The rows (header and index cells included) of the last HTML table a cell displayed."""
    tables = [o.data["text/html"] for o in run.cell(cell_id).outputs if "text/html" in o.get("data", {})]
    assert tables, f"cell {cell_id!r} displayed no table"
    return [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[-1])]


def _column(run: Pass, cell_id: str, key: int, value: int) -> dict[str, str]:
    """Two columns of a cell's table as a dict (body rows only; 0 is the index column)."""
    return {row[key]: row[value] for row in _table(run, cell_id)[1:]}


@pytest.fixture(scope="module")
def passes() -> tuple[Pass, Pass]:
    return execute(NAME)


def test_committed_without_outputs() -> None:
    assert stripped(NAME)


def test_only_the_restrict_drop_raises_in_both_passes(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert run.failing_cells() == ["drop-restrict"]
        assert "cannot drop column email of table shop.customers" in run.text("drop-restrict")


def test_report_lists_every_kind_of_dependency_on_email(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        impacts = _column(run, "analyze-email", 2, 3)
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
    verdicts = _column(passes[0], "several-columns", 1, 2)
    assert verdicts == {
        "customers.id": "DANGEROUS",
        "customers.account_no": "DANGEROUS",
        "customers.email": "CAUTION",
        "customers.email_verified": "CAUTION",
        "orders.placed_at": "SAFE",
    }
    assert _column(passes[0], "composite-fk", 1, 2) == {"region": "region", "account_no": "account_no"}
    assert "recommendation: CAUTION" in passes[0].text("verify-customer-id")


def test_text_search_errors_are_shown_against_the_catalog(passes: tuple[Pass, Pass]) -> None:
    for run in passes:
        assert _column(run, "text-search", 1, 4) == {
            "contact_list": "both agree",
            "customer_order_totals": "both agree",
            "newsletter_audience": "MISSED by the text search",
            "recovery_contacts": "FALSE POSITIVE (text only)",
            "verification_queue": "FALSE POSITIVE (text only)",
        }
        assert _column(run, "compare-customer-id", 1, 4) == {
            "customer_directory": "FALSE POSITIVE (text only)",
            "customer_order_totals": "both agree",
        }
    matches = {(row[1], row[2]): row[3] for row in _table(passes[0], "underscore")[1:]}
    assert matches[("customer.id", "%customer_id%")] == "True"
    assert matches[("customer.id", "%customer\\_id%")] == "False"


def test_restrict_refusal_names_exactly_the_reported_views(passes: tuple[Pass, Pass]) -> None:
    named = _column(passes[0], "drop-detail", 2, 4)
    assert {obj for obj, flag in named.items() if flag == "True"} == {
        "shop.contact_list", "shop.customer_order_totals", "shop.newsletter_audience",
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
    async def schema_exists() -> bool:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'shop')")
        finally:
            await conn.close()

    assert asyncio.run(schema_exists()) is False
