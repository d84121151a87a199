"""The benchmark's large schema: the size of DataFlow's large-schema test, built once and reused.

50 main tables, 1,000 dependent tables with two foreign keys each (both to a main table's primary
key, so every ``main_NN.id`` has 40 foreign keys pointing at it), 250 views and 3,200 indexes, in
the dedicated schema :data:`SCHEMA`. The DDL is generated here and sent in a few large batches
(one round trip each); the schema's comment records that the build finished and how long it took,
so a later run reuses it when the comment and the object counts match.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

import asyncpg

from kit.errors import BenchSchemaError

SCHEMA = "loop_lab_bench"
MAIN_TABLES = 50
DEPENDENT_TABLES = 1_000
VIEWS = 250
# Per main table: primary key, UNIQUE (code), two plain indexes; per dependent table: primary key and
# one index per foreign key column.
EXPECTED = {
    "tables": MAIN_TABLES + DEPENDENT_TABLES,
    "foreign_keys": 2 * DEPENDENT_TABLES,
    "views": VIEWS,
    "indexes": 4 * MAIN_TABLES + 3 * DEPENDENT_TABLES,
}
_MARK = "loop-lab bench schema "  # followed by JSON; a schema without it is not ours and is never dropped
_VERSION = 1
_BATCH = 100  # dependent tables per round trip

# Fresh planner statistics for the catalogs the build grew ~10x. Without them, queries over
# information_schema plan as if the catalogs were tiny and take minutes until autovacuum catches up.
_ANALYZE_CATALOGS = "ANALYZE " + ", ".join(
    f"pg_catalog.{name}"
    for name in ("pg_class", "pg_attribute", "pg_constraint", "pg_depend", "pg_namespace", "pg_index", "pg_rewrite", "pg_type")
)

_SHAPE_SQL = """
SELECT n.oid IS NOT NULL AS present,
       obj_description(n.oid, 'pg_namespace') AS comment,
       (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'r') AS tables,
       (SELECT count(*) FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
         WHERE c.relnamespace = n.oid AND con.contype = 'f') AS foreign_keys,
       (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'v') AS views,
       (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'i') AS indexes
FROM (SELECT $1::text AS nspname) AS q LEFT JOIN pg_namespace n ON n.nspname = q.nspname
"""


def main_table(index: int) -> str:
    """Name of main table ``index`` (0-based)."""
    return f"main_{index:02d}"


def _main_ddl(i: int) -> str:
    t = main_table(i)
    # varchar(n) keeps rows bounded: no TOAST tables, so fewer relations (and locks) per table.
    return (
        f"CREATE TABLE {SCHEMA}.{t} (id integer PRIMARY KEY, code integer NOT NULL UNIQUE, "
        f"name varchar(40) NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n"
        f"CREATE INDEX {t}_name_idx ON {SCHEMA}.{t} (name);\n"
        f"CREATE INDEX {t}_created_at_idx ON {SCHEMA}.{t} (created_at);\n"
    )


def _dependent_ddl(i: int) -> str:
    t, a, b = f"dep_{i:04d}", main_table(i % MAIN_TABLES), main_table((i + 1) % MAIN_TABLES)
    return (
        f"CREATE TABLE {SCHEMA}.{t} (id integer PRIMARY KEY, main_a_id integer NOT NULL REFERENCES {SCHEMA}.{a} (id), "
        f"main_b_id integer REFERENCES {SCHEMA}.{b} (id), payload varchar(40));\n"
        f"CREATE INDEX {t}_main_a_id_idx ON {SCHEMA}.{t} (main_a_id);\n"
        f"CREATE INDEX {t}_main_b_id_idx ON {SCHEMA}.{t} (main_b_id);\n"
    )


def _view_ddl(i: int) -> str:
    # View i joins dependent table i to the main table its first foreign key points at.
    return (
        f"CREATE VIEW {SCHEMA}.v_{i:03d} AS SELECT m.id, m.name, d.id AS dep_id, d.payload "
        f"FROM {SCHEMA}.{main_table(i % MAIN_TABLES)} m JOIN {SCHEMA}.dep_{i:04d} d ON d.main_a_id = m.id;\n"
    )


def _batches() -> list[tuple[str, str]]:
    """(label, SQL) pairs: each one round trip."""
    batches = [("main tables", f"CREATE SCHEMA {SCHEMA};\n" + "".join(_main_ddl(i) for i in range(MAIN_TABLES)))]
    for start in range(0, DEPENDENT_TABLES, _BATCH):
        stop = min(start + _BATCH, DEPENDENT_TABLES)
        batches.append((f"dependent tables {stop}/{DEPENDENT_TABLES}", "".join(_dependent_ddl(i) for i in range(start, stop))))
    batches.append(("views", "".join(_view_ddl(i) for i in range(VIEWS))))
    return batches


class Progress:
    """A plain text progress bar on one line (redrawn in place on a terminal, a line per quarter otherwise)."""

    def __init__(self, total: int, title: str, *, enabled: bool = True, stream: TextIO | None = None, width: int = 30) -> None:
        """Prepare a bar for ``total`` steps; nothing is printed when ``enabled`` is false."""
        self.total, self.title, self.enabled, self.width = total, title, enabled, width
        self.stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._done = 0
        self._quarter = -1
        self._started = time.perf_counter()

    def step(self, label: str) -> None:
        """Advance one step and show ``label`` next to the bar."""
        self._done += 1
        if not self.enabled:
            return
        fraction = self._done / self.total
        filled = int(self.width * fraction)
        line = f"{self.title} [{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} {label} ({time.perf_counter() - self._started:.1f} s)"
        if self._tty:
            end = "\n" if self._done == self.total else ""
            self.stream.write("\r" + line.ljust(110) + end)
        elif int(fraction * 4) > self._quarter:
            self._quarter = int(fraction * 4)
            self.stream.write(line + "\n")
        self.stream.flush()


async def shape(conn: asyncpg.Connection) -> dict[str, Any]:
    """What the benchmark schema holds now: presence, object counts and the build record (or None)."""
    row = await conn.fetchrow(_SHAPE_SQL, SCHEMA)
    record = None
    comment = row["comment"] or ""
    if comment.startswith(_MARK):
        try:
            record = json.loads(comment[len(_MARK) :])
        except ValueError:
            record = {}
    counts = {key: int(row[key]) for key in EXPECTED}
    return {"present": bool(row["present"]), "ours": record is not None, "record": record, **counts}


def _complete(current: dict[str, Any]) -> bool:
    record = current["record"] or {}
    return (
        record.get("version") == _VERSION and record.get("complete") is True and all(current[k] == v for k, v in EXPECTED.items())
    )


async def drop(conn: asyncpg.Connection) -> bool:
    """Drop the benchmark schema if it exists and is ours; True if something was dropped."""
    current = await shape(conn)
    if not current["present"]:
        return False
    if not current["ours"]:
        raise BenchSchemaError(
            f"schema {SCHEMA!r} exists but the benchmark did not create it (its comment lacks {_MARK.strip()!r}); "
            f"the benchmark will not drop it. Rename or drop it yourself, or run the benchmark against another database."
        )
    # Views and dependent tables go in batches so no single transaction needs thousands of locks.
    await conn.execute("".join(f"DROP VIEW IF EXISTS {SCHEMA}.v_{i:03d};\n" for i in range(VIEWS)))
    for start in range(0, DEPENDENT_TABLES, _BATCH * 2):
        await conn.execute(
            "".join(
                f"DROP TABLE IF EXISTS {SCHEMA}.dep_{i:04d} CASCADE;\n"
                for i in range(start, min(start + _BATCH * 2, DEPENDENT_TABLES))
            )
        )
    await conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    return True


async def ensure(conn: asyncpg.Connection, *, rebuild: bool = False, progress: bool = True) -> dict[str, Any]:
    """Make sure the schema exists with the expected shape: reuse it, or (re)build it and time the build.

    A build ends with ANALYZE of the system catalogs it grew (counted in the build time).

    Returns ``{"reused", "build_s", "tables", "foreign_keys", "views", "indexes"}``; ``build_s`` is
    the time of the build that produced the schema (recorded in its comment when it is reused).
    """
    current = await shape(conn)
    if current["present"] and not rebuild and _complete(current):
        return {"reused": True, "build_s": current["record"].get("build_s"), **{k: current[k] for k in EXPECTED}}
    if current["present"]:
        await drop(conn)
    batches = _batches()
    bar = Progress(len(batches), "building the large schema", enabled=progress)
    started = time.perf_counter()
    for index, (label, sql) in enumerate(batches):
        async with conn.transaction():
            await conn.execute(sql)
            if index == 0:  # marked as ours from the start, so a half-built schema can be dropped later
                await conn.execute(
                    f"COMMENT ON SCHEMA {SCHEMA} IS '{_MARK}{json.dumps({'version': _VERSION, 'complete': False})}'"
                )
        bar.step(label)
    await conn.execute(_ANALYZE_CATALOGS)
    build_s = round(time.perf_counter() - started, 3)
    record = json.dumps({"version": _VERSION, "complete": True, "build_s": build_s})
    await conn.execute(f"COMMENT ON SCHEMA {SCHEMA} IS '{_MARK}{record}'")
    built = await shape(conn)
    if not _complete(built):
        raise BenchSchemaError(f"the benchmark schema was built but has the wrong shape: {built} (expected {EXPECTED})")
    return {"reused": False, "build_s": build_s, **{k: built[k] for k in EXPECTED}}
