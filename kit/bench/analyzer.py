"""Time :class:`kit.db.analyzer.DependencyAnalyzer` on the large schema against an information_schema baseline.

The baseline is the usual way to find the foreign keys that reference a column (DataFlow's among
them): ``table_constraints`` joined to ``key_column_usage`` and ``constraint_column_usage`` by
constraint name, and ``referential_constraints`` for the ON DELETE / ON UPDATE rules the analyzer
reports too. Both must find the same (constraint, source table, source column) triples.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

import kit.bench.schema as bench_schema
from kit.db.analyzer import DependencyAnalyzer, DependencyType

TABLE = bench_schema.main_table(0)
COLUMN = "id"

INFORMATION_SCHEMA_FK_SQL = """
SELECT DISTINCT tc.constraint_name, tc.table_name AS source_table, kcu.column_name AS source_column,
       rc.delete_rule, rc.update_rule
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu
  ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
JOIN information_schema.constraint_column_usage ccu
  ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
JOIN information_schema.referential_constraints rc
  ON rc.constraint_name = tc.constraint_name AND rc.constraint_schema = tc.table_schema
WHERE tc.constraint_type = 'FOREIGN KEY'
  AND ccu.table_schema = $1 AND ccu.table_name = $2 AND ccu.column_name = $3
ORDER BY tc.constraint_name
"""


async def _median_ms(
    call: Callable[[], Awaitable[Any]], repeats: int, budget_s: float, *, warm_up: bool = True
) -> tuple[float, int]:
    """Median wall time of ``call`` in ms, after one warm-up run unless ``warm_up`` is false (it ran already).

    Stops early (after 3 runs) past ``budget_s``.
    """
    if warm_up:
        await call()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < repeats and (len(samples) < 3 or time.perf_counter() < deadline):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), len(samples)


async def information_schema_foreign_keys(
    conn: asyncpg.Connection, schema: str, table: str, column: str
) -> set[tuple[str, str, str]]:
    """The baseline: (constraint, source table, source column) of foreign keys referencing the column."""
    rows = await conn.fetch(INFORMATION_SCHEMA_FK_SQL, schema, table, column)
    return {(r["constraint_name"], r["source_table"], r["source_column"]) for r in rows}


async def measure(
    conn: asyncpg.Connection, *, repeats: int = 20, baseline_repeats: int = 10, budget_s: float = 15.0
) -> dict[str, Any]:
    """Time one column's full report, each finder, and the information_schema baseline, on ``conn``.

    ``conn`` should be warm (already used); the large schema must exist (see :func:`kit.bench.schema.ensure`).
    """
    analyzer = DependencyAnalyzer(schema=bench_schema.SCHEMA)
    args = (TABLE, COLUMN)
    report = await analyzer.analyze_column_dependencies(*args, connection=conn)
    found = {(d.constraint_name, d.source_table, d.source_column) for d in report.dependencies[DependencyType.FOREIGN_KEY]}
    baseline = await information_schema_foreign_keys(conn, bench_schema.SCHEMA, *args)

    # Both queries ran once above (the comparison): that was their warm-up.
    report_ms, report_runs = await _median_ms(
        lambda: analyzer.analyze_column_dependencies(*args, connection=conn), repeats, budget_s, warm_up=False
    )
    finders = {
        "foreign_keys": analyzer.find_foreign_key_dependencies,
        "views": analyzer.find_view_dependencies,
        "triggers": analyzer.find_trigger_dependencies,
        "indexes": analyzer.find_index_dependencies,
        "constraints": analyzer.find_constraint_dependencies,
    }
    finder_ms = {}
    for name, finder in finders.items():
        finder_ms[name], _ = await _median_ms(lambda finder=finder: finder(*args, connection=conn), repeats, budget_s / 5)
    baseline_ms, baseline_runs = await _median_ms(
        lambda: information_schema_foreign_keys(conn, bench_schema.SCHEMA, *args), baseline_repeats, budget_s, warm_up=False
    )
    return {
        "table": f"{bench_schema.SCHEMA}.{TABLE}",
        "column": COLUMN,
        "report_ms_median": round(report_ms, 3),
        "finders_ms_median": {name: round(ms, 3) for name, ms in finder_ms.items()},
        "information_schema_fk_ms_median": round(baseline_ms, 3),
        "speedup": round(baseline_ms / report_ms, 1) if report_ms > 0 else None,
        "same_result": found == baseline,
        "foreign_keys_found": len(found),
        "information_schema_foreign_keys_found": len(baseline),
        "dependencies": {kind.value: len(items) for kind, items in report.dependencies.items()},
        "repeats": {"report": report_runs, "information_schema": baseline_runs},
    }
