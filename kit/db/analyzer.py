"""What breaks if a column goes: a dependency analyzer built on PostgreSQL's own catalog records.

API-compatible with Kailash DataFlow's ``DependencyAnalyzer`` (same classes, methods, enums and
dataclass fields, so tests written against it keep working), but correct where that one is not:

* every dependency comes from the catalog's own records -- ``pg_constraint`` (``conkey``/``confkey``
  paired by position, found through ``pg_depend``), ``pg_depend``/``pg_rewrite`` (views,
  transitively), ``pg_index`` (``indkey`` plus the column dependencies of expressions and
  predicates), ``pg_trigger`` (``tgattr`` and ``WHEN`` via ``pg_depend``).
  The one text match is a whole-word search of trigger function bodies (``prosrc``), because
  PostgreSQL records nothing about what a PL/pgSQL body reads;
* names are bound as parameters, never spliced into SQL; any schema; names are taken verbatim as
  stored in the catalog (``"Order Items"`` is passed as ``Order Items``, case-sensitive);
* it fails closed: an unknown or empty table, column or schema raises :class:`AnalyzerError`,
  and a failing query raises instead of returning an empty list that would read as "SAFE";
* connections it takes from ``connection_manager.get_connection()`` are always closed; a
  connection passed in with ``connection=`` belongs to the caller and is left open.

Foreign keys: :meth:`DependencyAnalyzer.find_foreign_key_dependencies` reports the foreign keys
(of any table, this one included) that reference the column (CRITICAL: dropping it breaks them). The column's own
outgoing foreign key (``orders.customer_id -> customers.id`` when asked about
``orders.customer_id``) is a constraint of this table that is dropped together with the column;
it is reported by :meth:`DependencyAnalyzer.find_constraint_dependencies` with constraint type
``FOREIGN KEY`` and MEDIUM impact.

Views: a view that uses the column directly has depth 1; every view or materialized view built
on an affected view has depth 2, 3, ... whichever of its columns it reads, because dropping the
column forces the whole view underneath it to be dropped (that is what ``DROP COLUMN ... CASCADE``
removes).

Not reported (DataFlow's API has no type for them, or PostgreSQL records nothing to read): generated
columns, row-level security policies, statistics objects, rules on tables, SQL functions with
``BEGIN ATOMIC`` bodies, trigger functions of *other* tables that mention the column, dynamic SQL
inside function bodies, and whole-row references in views.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

import asyncpg

from kit.db.frames import data_frame
from kit.errors import AnalyzerError, UnknownColumnError, UnknownSchemaError, UnknownTableError

if TYPE_CHECKING:
    import pandas


class DependencyType(Enum):
    """Kinds of database objects that can depend on a column."""

    FOREIGN_KEY = "foreign_key"
    VIEW = "view"
    TRIGGER = "trigger"
    INDEX = "index"
    CONSTRAINT = "constraint"


class ImpactLevel(Enum):
    """How bad it is to lose a dependency when the column is dropped."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFORMATIONAL = "informational"


@dataclass
class ForeignKeyDependency:
    """A foreign key of ``source_table`` that references the analysed column (CRITICAL)."""

    constraint_name: str
    source_table: str
    source_column: str
    source_columns: list[str] = field(default_factory=list)
    target_table: str = ""
    target_column: str = ""
    target_columns: list[str] = field(default_factory=list)
    on_delete: str = "RESTRICT"
    on_update: str = "RESTRICT"
    dependency_type: DependencyType = DependencyType.FOREIGN_KEY
    impact_level: ImpactLevel = ImpactLevel.CRITICAL
    source_schema: str = "public"
    target_schema: str = "public"

    def __post_init__(self) -> None:
        """Fill the column lists from the single columns when only those were given."""
        if not self.source_columns and self.source_column:
            self.source_columns = [self.source_column]
        if not self.target_columns and self.target_column:
            self.target_columns = [self.target_column]


@dataclass
class ViewDependency:
    """A view or materialized view that must be dropped with the column (HIGH)."""

    view_name: str
    view_definition: str
    schema_name: str = "public"
    is_materialized: bool = False
    dependency_type: DependencyType = DependencyType.VIEW
    impact_level: ImpactLevel = ImpactLevel.HIGH
    depth: int = 1


@dataclass
class TriggerDependency:
    """A trigger on the table that fires on, tests or (by its body's text) uses the column (HIGH)."""

    trigger_name: str
    event: str
    timing: str
    function_name: str
    action_statement: str = ""
    dependency_type: DependencyType = DependencyType.TRIGGER
    impact_level: ImpactLevel = ImpactLevel.HIGH


@dataclass
class IndexDependency:
    """An index whose key, included columns, expression or predicate uses the column (MEDIUM)."""

    index_name: str
    index_type: str
    columns: list[str]
    is_unique: bool = False
    is_partial: bool = False
    index_definition: str = ""
    dependency_type: DependencyType = DependencyType.INDEX
    impact_level: ImpactLevel = ImpactLevel.MEDIUM


@dataclass
class ConstraintDependency:
    """A CHECK, UNIQUE, PRIMARY KEY, EXCLUDE or outgoing FOREIGN KEY constraint on the column (MEDIUM)."""

    constraint_name: str
    constraint_type: str
    definition: str
    columns: list[str]
    dependency_type: DependencyType = DependencyType.CONSTRAINT
    impact_level: ImpactLevel = ImpactLevel.MEDIUM


_RECOMMENDATIONS = (
    (ImpactLevel.CRITICAL, "DANGEROUS"),
    (ImpactLevel.HIGH, "CAUTION"),
    (ImpactLevel.MEDIUM, "REVIEW"),
)
FRAME_COLUMNS = ["type", "object", "impact", "detail"]


@dataclass
class DependencyReport:
    """Everything that depends on ``table_name.column_name``, grouped by :class:`DependencyType`."""

    table_name: str
    column_name: str
    dependencies: dict[DependencyType, list[Any]] = field(default_factory=dict)
    analysis_timestamp: str | None = None
    total_analysis_time: float = 0.0
    schema_name: str = "public"

    def __post_init__(self) -> None:
        """Give every dependency type a list, empty if nothing was found."""
        for dep_type in DependencyType:
            self.dependencies.setdefault(dep_type, [])

    def has_dependencies(self) -> bool:
        """True if anything depends on the column."""
        return any(self.dependencies.values())

    def get_all_dependencies(self) -> list[Any]:
        """All dependencies in one list, in :class:`DependencyType` order."""
        return [dep for dep_type in DependencyType for dep in self.dependencies.get(dep_type, [])]

    @property
    def all_dependencies(self) -> list[Any]:
        """Same as :meth:`get_all_dependencies` (DataFlow offers both)."""
        return self.get_all_dependencies()

    def get_critical_dependencies(self) -> list[Any]:
        """The dependencies whose impact is CRITICAL."""
        return [dep for dep in self.get_all_dependencies() if dep.impact_level is ImpactLevel.CRITICAL]

    def get_total_dependency_count(self) -> int:
        """How many dependencies were found."""
        return len(self.get_all_dependencies())

    def generate_impact_summary(self) -> dict[ImpactLevel, int]:
        """Count of dependencies for every impact level (zero included)."""
        summary = {level: 0 for level in ImpactLevel}
        for dep in self.get_all_dependencies():
            summary[dep.impact_level] += 1
        return summary

    def get_removal_recommendation(self) -> str:
        """DANGEROUS (any critical), CAUTION (any high), REVIEW (any medium), LOW_RISK or SAFE."""
        summary = self.generate_impact_summary()
        for level, verdict in _RECOMMENDATIONS:
            if summary[level]:
                return verdict
        return "LOW_RISK" if self.has_dependencies() else "SAFE"

    def to_frame(self) -> pandas.DataFrame:
        """One row per dependency; columns ``type``, ``object``, ``impact``, ``detail`` (enum names)."""
        rows = [
            (dep.dependency_type.name, _object_of(dep), dep.impact_level.name, _detail_of(dep))
            for dep in self.get_all_dependencies()
        ]
        return data_frame(rows, FRAME_COLUMNS, caller="DependencyAnalyzer.to_frame()")


def _object_of(dep: Any) -> str:
    """The dependent object's name, qualified where the name alone would be ambiguous."""
    if isinstance(dep, ForeignKeyDependency):
        return f"{dep.source_schema}.{dep.source_table}.{dep.constraint_name}"
    if isinstance(dep, ViewDependency):
        return f"{dep.schema_name}.{dep.view_name}"
    if isinstance(dep, TriggerDependency):
        return dep.trigger_name
    if isinstance(dep, IndexDependency):
        return dep.index_name
    return dep.constraint_name


def _detail_of(dep: Any) -> str:
    """A one-line human description of a dependency."""
    if isinstance(dep, ForeignKeyDependency):
        return (
            f"({', '.join(dep.source_columns)}) REFERENCES {dep.target_schema}.{dep.target_table}"
            f"({', '.join(dep.target_columns)}) ON DELETE {dep.on_delete} ON UPDATE {dep.on_update}"
        )
    if isinstance(dep, ViewDependency):
        kind = "materialized view" if dep.is_materialized else "view"
        return f"{kind}, depth {dep.depth}"
    if isinstance(dep, TriggerDependency):
        return f"{dep.timing} {dep.event} EXECUTE FUNCTION {dep.function_name}()"
    if isinstance(dep, IndexDependency):
        return dep.index_definition
    return dep.definition  # pg_get_constraintdef() already starts with the constraint's kind


# --------------------------------------------------------------------------------------------
# Catalog queries. Every name and number is a bound parameter; $1 is the table's oid and $2
# the column's attnum, both resolved by _RESOLVE_SQL.
# --------------------------------------------------------------------------------------------

_RELKINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view", "f": "foreign table"}
_OTHER_RELKINDS = {"i": "index", "I": "partitioned index", "S": "sequence", "t": "TOAST table", "c": "composite type"}

_RESOLVE_SQL = """
SELECT n.oid AS namespace_oid, c.oid AS table_oid, c.relkind::text AS relkind, a.attnum
FROM (SELECT $1::text AS nspname) AS q
LEFT JOIN pg_namespace n ON n.nspname = q.nspname
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = $2::text
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $3::text AND a.attnum > 0 AND NOT a.attisdropped
"""

_SIMILAR_TABLES_SQL = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = $1 AND lower(c.relname) = lower($2::text) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname
"""

_SIMILAR_COLUMNS_SQL = """
SELECT a.attname FROM pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND lower(a.attname) = lower($2::text)
ORDER BY a.attname
"""

_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

# Foreign keys whose referenced columns (confkey) include the column, found through pg_depend's
# index on the referenced column (the record DROP COLUMN itself consults). conkey and confkey are
# listed in ordinal order, so column i of the referencing side pairs with column i of the
# referenced side, and the asked column sits at array_position(confkey, attnum). A key on a
# partitioned table is cloned onto each partition: a clone is skipped when its parent constraint
# references the same table (the parent is reported instead).
_FOREIGN_KEYS_SQL = """
WITH referencing AS MATERIALIZED (
    SELECT DISTINCT d.objid FROM pg_depend d
    WHERE d.classid = 'pg_constraint'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = $1 AND d.refobjsubid = $2
)
SELECT con.conname AS constraint_name, sn.nspname AS source_schema, s.relname AS source_table,
       array_position(con.confkey, $2) AS position,
       ARRAY(
           SELECT a.attname::text
           FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
           ORDER BY k.ord
       ) AS source_columns,
       ARRAY(
           SELECT a.attname::text
           FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
           ORDER BY k.ord
       ) AS target_columns,
       con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update
FROM referencing
JOIN pg_constraint con ON con.oid = referencing.objid
JOIN pg_class s ON s.oid = con.conrelid
JOIN pg_namespace sn ON sn.oid = s.relnamespace
WHERE con.contype = 'f' AND con.confrelid = $1 AND array_position(con.confkey, $2) IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint parent WHERE parent.oid = con.conparentid AND parent.confrelid = $1)
ORDER BY sn.nspname, s.relname, con.conname
"""

# Views and materialized views whose rewrite rule depends on the column (depth 1), then, through
# pg_depend again, every view built on one of those (depth 2, 3, ...). path guards against cycles.
_VIEWS_SQL = """
WITH RECURSIVE affected(view_oid, depth, path) AS (
    SELECT DISTINCT r.ev_class, 1, ARRAY[$1::oid, r.ev_class]
    FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = $1 AND d.refobjsubid = $2 AND r.ev_class <> $1
  UNION ALL
    SELECT r.ev_class, a.depth + 1, a.path || r.ev_class
    FROM affected a
    JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.view_oid
                    AND d.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
    WHERE r.ev_class <> ALL (a.path)
)
SELECT v.relname AS view_name, n.nspname AS schema_name, v.relkind = 'm' AS is_materialized,
       min(a.depth) AS depth, pg_get_viewdef(v.oid) AS view_definition
FROM affected a
JOIN pg_class v ON v.oid = a.view_oid
JOIN pg_namespace n ON n.oid = v.relnamespace
GROUP BY v.oid, v.relname, n.nspname, v.relkind
ORDER BY min(a.depth), n.nspname, v.relname
"""

# User triggers on the table. uses_column is the catalog's answer (UPDATE OF via tgattr, WHEN
# clause via pg_depend); the function body is returned for the whole-word check in Python.
_TRIGGERS_SQL = """
SELECT tg.tgname AS trigger_name, tg.tgtype::int AS tgtype, p.proname AS function_name,
       p.prosrc AS function_source, pg_get_triggerdef(tg.oid) AS action_statement,
       ($2 = ANY (tg.tgattr::int2[]) OR EXISTS (
            SELECT 1 FROM pg_depend d
            WHERE d.classid = 'pg_trigger'::regclass AND d.objid = tg.oid
              AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.refobjsubid = $2
       )) AS uses_column
FROM pg_trigger tg
JOIN pg_proc p ON p.oid = tg.tgfoid
WHERE tg.tgrelid = $1 AND NOT tg.tgisinternal
ORDER BY tg.tgname
"""

# Indexes whose key or INCLUDE columns (indkey) contain the column, or whose expressions or
# predicate depend on it (pg_depend). Expression slots (attnum 0) are shown as their expression.
_INDEXES_SQL = """
SELECT i.relname AS index_name, am.amname AS index_type, x.indisunique AS is_unique,
       x.indpred IS NOT NULL AS is_partial, pg_get_indexdef(x.indexrelid) AS index_definition,
       ARRAY(
           SELECT CASE WHEN k.attnum = 0 THEN pg_get_indexdef(x.indexrelid, k.ord::int, true)
                       ELSE a.attname::text END
           FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
           ORDER BY k.ord
       ) AS columns
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
WHERE x.indrelid = $1
  AND ($2 = ANY (x.indkey::int2[]) OR EXISTS (
        SELECT 1 FROM pg_depend d
        WHERE d.classid = 'pg_class'::regclass AND d.objid = x.indexrelid
          AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.refobjsubid = $2))
ORDER BY i.relname
"""

# CHECK, UNIQUE, PRIMARY KEY, EXCLUDE and the table's own (outgoing) FOREIGN KEY constraints on
# the column: by conkey, or by pg_depend on the constraint or its index (EXCLUDE on expressions
# stores 0 in conkey). NOT NULL ('n', stored in pg_constraint since PostgreSQL 18) is excluded.
_CONSTRAINTS_SQL = """
SELECT con.conname AS constraint_name,
       CASE con.contype WHEN 'c' THEN 'CHECK' WHEN 'u' THEN 'UNIQUE' WHEN 'p' THEN 'PRIMARY KEY'
                        WHEN 'x' THEN 'EXCLUDE' WHEN 'f' THEN 'FOREIGN KEY' END AS constraint_type,
       pg_get_constraintdef(con.oid) AS definition,
       ARRAY(
           SELECT a.attname::text
           FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
           ORDER BY k.ord
       ) AS columns
FROM pg_constraint con
WHERE con.conrelid = $1 AND con.contype IN ('c', 'u', 'p', 'x', 'f')
  AND ($2 = ANY (con.conkey) OR EXISTS (
        SELECT 1 FROM pg_depend d
        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.refobjsubid = $2
          AND ((d.classid = 'pg_constraint'::regclass AND d.objid = con.oid)
               OR (d.classid = 'pg_class'::regclass AND d.objid = con.conindid))))
ORDER BY con.conname
"""

_TRIGGER_EVENTS = ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE"))
_UNQUOTED_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*\Z")


@dataclass(frozen=True)
class _Column:
    """A column resolved to catalog numbers: what every finder query takes."""

    schema: str
    table: str
    name: str
    table_oid: int
    attnum: int


def _trigger_event(tgtype: int) -> str:
    """INSERT, UPDATE, ... (joined with OR) from pg_trigger.tgtype's bits."""
    return " OR ".join(name for bit, name in _TRIGGER_EVENTS if tgtype & bit) or "UNKNOWN"


def _trigger_timing(tgtype: int) -> str:
    """BEFORE, AFTER or INSTEAD OF from pg_trigger.tgtype's bits."""
    if tgtype & 2:
        return "BEFORE"
    return "INSTEAD OF" if tgtype & 64 else "AFTER"


def _mentions_column(source: str | None, column: str) -> bool:
    """Whether a function body names the column as a whole word (quoted if it must be)."""
    if not source:
        return False
    if _UNQUOTED_IDENTIFIER.match(column):
        pattern = re.compile(rf"(?<![\w$]){re.escape(column)}(?![\w$])", re.IGNORECASE)
    else:
        pattern = re.compile(re.escape('"' + column.replace('"', '""') + '"'))
    return pattern.search(source) is not None


async def _close(conn: asyncpg.Connection) -> None:
    """Close a connection; if that fails, drop it so it cannot leak."""
    try:
        await conn.close()
    except BaseException:
        conn.terminate()
        raise


def _check_name(value: object, what: str, error: type[AnalyzerError]) -> str:
    """Reject names that cannot be catalog names before asking the server."""
    if not isinstance(value, str):
        raise error(f"{what} must be a str, got {type(value).__name__}: {value!r}")
    if not value:
        raise error(f"{what} is empty: pass the name exactly as it is stored in the catalog")
    if "\x00" in value:
        raise error(f"{what} {value!r} contains a NUL character, which no PostgreSQL name can contain")
    return value


def _name_hints(name: str, similar: list[str], kind: str) -> str:
    """Suggestions that turn a wrong name into the right one."""
    hints = [f"did you mean {', '.join(repr(s) for s in similar)}? Names are case-sensitive"] if similar else []
    if len(name) >= 2 and name[0] == name[-1] == '"':
        hints.append(f"pass the name without the surrounding double quotes: {name[1:-1]!r}")
    if kind == "table" and "." in name and not similar:
        schema, _, table = name.partition(".")
        hints.append(f"for a schema-qualified name pass table {table!r} with schema={schema!r}")
    if len(name.encode()) > 63:
        hints.append("PostgreSQL names are at most 63 bytes long")
    return ("; " + "; ".join(hints)) if hints else ""


class DependencyAnalyzer:
    """Find every database object that depends on a column, from PostgreSQL's catalog."""

    def __init__(self, connection_manager: Any | None = None, *, schema: str = "public") -> None:
        """``connection_manager`` needs ``async get_connection()``; ``schema`` is the default schema."""
        self.connection_manager = connection_manager
        self.schema = _check_name(schema, "schema", UnknownSchemaError)

    async def analyze_column_dependencies(
        self,
        table_name: str,
        column_name: str,
        connection: asyncpg.Connection | None = None,
        *,
        schema: str | None = None,
    ) -> DependencyReport:
        """Every kind of dependency on ``table_name.column_name``, found over one connection."""
        started = time.perf_counter()
        timestamp = datetime.now(timezone.utc).isoformat()
        async with self._connection(connection) as conn:
            column = await self._resolve(conn, table_name, column_name, schema)
            dependencies = {
                DependencyType.FOREIGN_KEY: await self._foreign_keys(conn, column),
                DependencyType.VIEW: await self._views(conn, column),
                DependencyType.TRIGGER: await self._triggers(conn, column),
                DependencyType.INDEX: await self._indexes(conn, column),
                DependencyType.CONSTRAINT: await self._constraints(conn, column),
            }
        return DependencyReport(
            table_name=column.table,
            column_name=column.name,
            dependencies=dependencies,
            analysis_timestamp=timestamp,
            total_analysis_time=time.perf_counter() - started,
            schema_name=column.schema,
        )

    async def find_foreign_key_dependencies(
        self,
        table_name: str,
        column_name: str,
        connection: asyncpg.Connection | None = None,
        *,
        schema: str | None = None,
    ) -> list[ForeignKeyDependency]:
        """Foreign keys (of any table, in any schema) that reference the column."""
        async with self._connection(connection) as conn:
            return await self._foreign_keys(conn, await self._resolve(conn, table_name, column_name, schema))

    async def find_view_dependencies(
        self,
        table_name: str,
        column_name: str,
        connection: asyncpg.Connection | None = None,
        *,
        schema: str | None = None,
    ) -> list[ViewDependency]:
        """Views and materialized views using the column, and every view built on those (with depth)."""
        async with self._connection(connection) as conn:
            return await self._views(conn, await self._resolve(conn, table_name, column_name, schema))

    async def find_trigger_dependencies(
        self,
        table_name: str,
        column_name: str,
        connection: asyncpg.Connection | None = None,
        *,
        schema: str | None = None,
    ) -> list[TriggerDependency]:
        """Triggers on the table with the column in UPDATE OF or WHEN, or named in the function body."""
        async with self._connection(connection) as conn:
            return await self._triggers(conn, await self._resolve(conn, table_name, column_name, schema))

    async def find_index_dependencies(
        self,
        table_name: str,
        column_name: str,
        connection: asyncpg.Connection | None = None,
        *,
        schema: str | None = None,
    ) -> list[IndexDependency]:
        """Indexes using the column as a key or INCLUDE column, in an expression or in the predicate."""
        async with self._connection(connection) as conn:
            return await self._indexes(conn, await self._resolve(conn, table_name, column_name, schema))

    async def find_constraint_dependencies(
        self,
        table_name: str,
        column_name: str,
        connection: asyncpg.Connection | None = None,
        *,
        schema: str | None = None,
    ) -> list[ConstraintDependency]:
        """CHECK, UNIQUE, PRIMARY KEY, EXCLUDE and outgoing FOREIGN KEY constraints using the column."""
        async with self._connection(connection) as conn:
            return await self._constraints(conn, await self._resolve(conn, table_name, column_name, schema))

    @asynccontextmanager
    async def _connection(self, connection: asyncpg.Connection | None) -> AsyncIterator[asyncpg.Connection]:
        """Borrow the caller's connection, or take one from the manager and always close it."""
        if connection is not None:
            yield connection
            return
        if self.connection_manager is None:
            raise AnalyzerError(
                "no database connection: pass connection=<asyncpg connection> or create the analyzer "
                "with DependencyAnalyzer(connection_manager) whose get_connection() returns one"
            )
        owned = await self.connection_manager.get_connection()
        healthy = False
        try:
            yield owned
            healthy = True
        except (AnalyzerError, asyncpg.PostgresError):
            healthy = True  # the server answered: the connection can be closed politely
            raise
        finally:
            if healthy:
                await _close(owned)
            else:
                owned.terminate()  # broken, cancelled or on another loop: do not wait on it

    async def _resolve(self, conn: asyncpg.Connection, table_name: str, column_name: str, schema: str | None) -> _Column:
        """Turn names into (table oid, attnum), or raise an error that says what is wrong."""
        schema = self.schema if schema is None else _check_name(schema, "schema", UnknownSchemaError)
        table_name = _check_name(table_name, "table_name", UnknownTableError)
        column_name = _check_name(column_name, "column_name", UnknownColumnError)
        row = await conn.fetchrow(_RESOLVE_SQL, schema, table_name, column_name)
        if row["namespace_oid"] is None:
            raise UnknownSchemaError(
                f"schema {schema!r} does not exist{_name_hints(schema, [], 'schema')}; "
                "pass schema=... to the call or to DependencyAnalyzer(schema=...)"
            )
        if row["table_oid"] is None:
            similar = [r[0] for r in await conn.fetch(_SIMILAR_TABLES_SQL, row["namespace_oid"], table_name)]
            raise UnknownTableError(
                f"table {table_name!r} does not exist in schema {schema!r}{_name_hints(table_name, similar, 'table')}"
            )
        if row["relkind"] not in _RELKINDS:
            kind = _OTHER_RELKINDS.get(row["relkind"], f"relation of kind {row['relkind']!r}")
            raise UnknownTableError(f"{schema}.{table_name} is a {kind}, not a table or view")
        if row["attnum"] is None:
            similar = [r[0] for r in await conn.fetch(_SIMILAR_COLUMNS_SQL, row["table_oid"], column_name)]
            raise UnknownColumnError(
                f"column {column_name!r} does not exist in {_RELKINDS[row['relkind']]} "
                f"{schema}.{table_name}{_name_hints(column_name, similar, 'column')}"
            )
        return _Column(schema, table_name, column_name, row["table_oid"], row["attnum"])

    @staticmethod
    async def _foreign_keys(conn: asyncpg.Connection, column: _Column) -> list[ForeignKeyDependency]:
        """Run the foreign key query for a resolved column."""
        rows = await conn.fetch(_FOREIGN_KEYS_SQL, column.table_oid, column.attnum)
        return [
            ForeignKeyDependency(
                constraint_name=r["constraint_name"],
                source_table=r["source_table"],
                source_column=r["source_columns"][r["position"] - 1],
                source_columns=list(r["source_columns"]),
                target_table=column.table,
                target_column=column.name,
                target_columns=list(r["target_columns"]),
                on_delete=_FK_ACTIONS[r["on_delete"]],
                on_update=_FK_ACTIONS[r["on_update"]],
                source_schema=r["source_schema"],
                target_schema=column.schema,
            )
            for r in rows
        ]

    @staticmethod
    async def _views(conn: asyncpg.Connection, column: _Column) -> list[ViewDependency]:
        """Run the transitive view query for a resolved column."""
        rows = await conn.fetch(_VIEWS_SQL, column.table_oid, column.attnum)
        return [
            ViewDependency(
                view_name=r["view_name"],
                view_definition=r["view_definition"],
                schema_name=r["schema_name"],
                is_materialized=r["is_materialized"],
                depth=r["depth"],
            )
            for r in rows
        ]

    @staticmethod
    async def _triggers(conn: asyncpg.Connection, column: _Column) -> list[TriggerDependency]:
        """Run the trigger query and keep triggers the catalog or the function body tie to the column."""
        rows = await conn.fetch(_TRIGGERS_SQL, column.table_oid, column.attnum)
        return [
            TriggerDependency(
                trigger_name=r["trigger_name"],
                event=_trigger_event(r["tgtype"]),
                timing=_trigger_timing(r["tgtype"]),
                function_name=r["function_name"],
                action_statement=r["action_statement"],
            )
            for r in rows
            if r["uses_column"] or _mentions_column(r["function_source"], column.name)
        ]

    @staticmethod
    async def _indexes(conn: asyncpg.Connection, column: _Column) -> list[IndexDependency]:
        """Run the index query for a resolved column."""
        rows = await conn.fetch(_INDEXES_SQL, column.table_oid, column.attnum)
        return [
            IndexDependency(
                index_name=r["index_name"],
                index_type=r["index_type"],
                columns=list(r["columns"]),
                is_unique=r["is_unique"],
                is_partial=r["is_partial"],
                index_definition=r["index_definition"],
            )
            for r in rows
        ]

    @staticmethod
    async def _constraints(conn: asyncpg.Connection, column: _Column) -> list[ConstraintDependency]:
        """Run the constraint query for a resolved column."""
        rows = await conn.fetch(_CONSTRAINTS_SQL, column.table_oid, column.attnum)
        return [
            ConstraintDependency(
                constraint_name=r["constraint_name"],
                constraint_type=r["constraint_type"],
                definition=r["definition"],
                columns=list(r["columns"]),
            )
            for r in rows
        ]
