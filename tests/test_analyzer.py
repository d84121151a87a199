"""kit.db.analyzer against a real PostgreSQL: every dependency kind, naming corner cases, failing closed.

Each test builds its objects in a schema of its own (dropped afterwards), so tests never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from kit.db.analyzer import (
    AnalyzerError,
    ConstraintDependency,
    DependencyAnalyzer,
    DependencyReport,
    DependencyType,
    ForeignKeyDependency,
    ImpactLevel,
    IndexDependency,
    TriggerDependency,
    UnknownColumnError,
    UnknownSchemaError,
    UnknownTableError,
    ViewDependency,
)


def _dsn() -> str:
    """The database under test: $DATABASE_URL, or the kit's own server."""
    dsn = os.environ.get("DATABASE_URL")
    if dsn:
        return dsn
    from kit.db.server import ensure_server

    return ensure_server()


class _Manager:
    """The seed's connection manager shape: a new connection per get_connection(), all remembered."""

    def __init__(self, dsn: str, application_name: str = "loop-lab-analyzer-test") -> None:
        self.dsn = dsn
        self.application_name = application_name
        self.connections: list[asyncpg.Connection] = []

    async def get_connection(self) -> asyncpg.Connection:
        """A new connection, tagged with the application name so pg_stat_activity can find it."""
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": self.application_name})
        self.connections.append(conn)
        return conn

    async def close_all(self) -> None:
        """Close whatever is still open (the analyzer should have left nothing)."""
        for conn in self.connections:
            if not conn.is_closed():
                await conn.close()


@pytest_asyncio.fixture
async def conn() -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, for building objects."""
    connection = await asyncpg.connect(_dsn())
    yield connection
    await connection.close()


@pytest_asyncio.fixture
async def schema(conn: asyncpg.Connection) -> AsyncIterator[str]:
    """A fresh schema for this test, dropped with everything in it afterwards."""
    name = f"analyzer_{uuid.uuid4().hex[:12]}"
    await conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    await conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest_asyncio.fixture
async def manager() -> AsyncIterator[_Manager]:
    """A connection manager; whatever the analyzer leaves open is closed here (and tests check it)."""
    mgr = _Manager(_dsn())
    yield mgr
    await mgr.close_all()


@pytest.fixture
def analyzer(manager: _Manager, schema: str) -> DependencyAnalyzer:
    """An analyzer on the test's schema, taking connections from the manager."""
    return DependencyAnalyzer(manager, schema=schema)


async def _build(conn: asyncpg.Connection, schema: str, ddl: str) -> None:
    """Run DDL with the test schema first on the search path."""
    await conn.execute(f'SET search_path TO "{schema}", public')
    await conn.execute(ddl)
    await conn.execute("RESET search_path")


@pytest.mark.asyncio
async def test_seed_example_returns_a_list(conn, schema, analyzer):
    await _build(conn, schema, "CREATE TABLE test_users (id SERIAL PRIMARY KEY, email VARCHAR(255) UNIQUE NOT NULL)")
    result = await analyzer.find_foreign_key_dependencies("test_users", "id")
    assert isinstance(result, list)
    assert result == []


@pytest.mark.asyncio
async def test_foreign_keys_referencing_the_column_are_critical(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);
        CREATE TABLE orders (id int PRIMARY KEY, user_id int,
            CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE);
        CREATE TABLE profiles (id int PRIMARY KEY, user_id int,
            CONSTRAINT fk_profiles_user FOREIGN KEY (user_id) REFERENCES users (id)
                ON DELETE RESTRICT ON UPDATE SET NULL);
        CREATE TABLE invites (email text REFERENCES users (email));
        """,
    )
    deps = await analyzer.find_foreign_key_dependencies("users", "id")
    assert [(d.constraint_name, d.source_table, d.source_column) for d in deps] == [
        ("fk_orders_user", "orders", "user_id"),
        ("fk_profiles_user", "profiles", "user_id"),
    ]
    assert [(d.on_delete, d.on_update) for d in deps] == [("CASCADE", "NO ACTION"), ("RESTRICT", "SET NULL")]
    for dep in deps:
        assert (dep.target_schema, dep.target_table, dep.target_column) == (schema, "users", "id")
        assert dep.source_schema == schema
        assert dep.impact_level is ImpactLevel.CRITICAL
        assert dep.dependency_type is DependencyType.FOREIGN_KEY


@pytest.mark.asyncio
async def test_outgoing_foreign_key_is_a_constraint_not_a_foreign_key_dependency(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE customers (id int PRIMARY KEY);
        CREATE TABLE orders (id int PRIMARY KEY,
            customer_id int CONSTRAINT fk_customer REFERENCES customers (id));
        """,
    )
    assert await analyzer.find_foreign_key_dependencies("orders", "customer_id") == []
    constraints = await analyzer.find_constraint_dependencies("orders", "customer_id")
    assert [(c.constraint_name, c.constraint_type, c.columns) for c in constraints] == [
        ("fk_customer", "FOREIGN KEY", ["customer_id"])
    ]
    assert constraints[0].impact_level is ImpactLevel.MEDIUM


@pytest.mark.asyncio
async def test_composite_foreign_key_is_paired_column_by_column(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE companies (id int, code text, name text, UNIQUE (code, id));
        CREATE TABLE employees (company_code text, company_id int,
            CONSTRAINT fk_employees_company FOREIGN KEY (company_id, company_code)
                REFERENCES companies (id, code));
        """,
    )
    by_id = await analyzer.find_foreign_key_dependencies("companies", "id")
    by_code = await analyzer.find_foreign_key_dependencies("companies", "code")
    assert len(by_id) == len(by_code) == 1
    for dep in (by_id[0], by_code[0]):
        assert dep.constraint_name == "fk_employees_company"
        assert dep.source_columns == ["company_id", "company_code"]
        assert dep.target_columns == ["id", "code"]
    assert (by_id[0].source_column, by_id[0].target_column) == ("company_id", "id")
    assert (by_code[0].source_column, by_code[0].target_column) == ("company_code", "code")
    assert await analyzer.find_foreign_key_dependencies("companies", "name") == []


@pytest.mark.asyncio
async def test_same_named_constraints_on_different_tables_are_kept_apart(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE parent_a (id int PRIMARY KEY);
        CREATE TABLE parent_b (id int PRIMARY KEY);
        CREATE TABLE child_a (a_id int CONSTRAINT fk_parent REFERENCES parent_a (id));
        CREATE TABLE child_b (b_id int CONSTRAINT fk_parent REFERENCES parent_b (id));
        """,
    )
    deps_a = await analyzer.find_foreign_key_dependencies("parent_a", "id")
    deps_b = await analyzer.find_foreign_key_dependencies("parent_b", "id")
    assert [(d.constraint_name, d.source_table, d.source_column, d.target_table) for d in deps_a] == [
        ("fk_parent", "child_a", "a_id", "parent_a")
    ]
    assert [(d.constraint_name, d.source_table, d.source_column, d.target_table) for d in deps_b] == [
        ("fk_parent", "child_b", "b_id", "parent_b")
    ]


@pytest.mark.asyncio
async def test_partitioned_foreign_key_is_reported_once_not_per_partition(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE events (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE notes (event_id int, event_day date,
            CONSTRAINT fk_note_event FOREIGN KEY (event_id, event_day) REFERENCES events (id, day))
            PARTITION BY RANGE (event_day);
        CREATE TABLE notes_a PARTITION OF notes FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE notes_b PARTITION OF notes FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        """,
    )
    deps = await analyzer.find_foreign_key_dependencies("events", "id")
    assert [(d.constraint_name, d.source_table, d.target_table) for d in deps] == [("fk_note_event", "notes", "events")]
    partition = await analyzer.find_foreign_key_dependencies("events_2024", "id")
    assert [(d.source_table, d.target_table, d.source_column) for d in partition] == [("notes", "events_2024", "event_id")]


@pytest.mark.asyncio
async def test_schemas_are_kept_apart_and_cross_schema_references_found(conn, schema, manager):
    other = f"{schema}_other"
    await conn.execute(f'CREATE SCHEMA "{other}"')
    try:
        await conn.execute(
            f"""
            CREATE TABLE "{schema}".items (id int PRIMARY KEY);
            CREATE TABLE "{other}".items (id int PRIMARY KEY);
            CREATE TABLE "{other}".lines (item_id int CONSTRAINT fk_item REFERENCES "{schema}".items (id));
            CREATE VIEW "{other}".item_ids AS SELECT id FROM "{other}".items;
            """
        )
        analyzer = DependencyAnalyzer(manager, schema=schema)
        deps = await analyzer.find_foreign_key_dependencies("items", "id")
        assert [(d.source_schema, d.source_table, d.target_schema) for d in deps] == [(other, "lines", schema)]
        assert await analyzer.find_view_dependencies("items", "id") == []

        views = await analyzer.find_view_dependencies("items", "id", schema=other)
        assert [(v.schema_name, v.view_name) for v in views] == [(other, "item_ids")]
        assert await analyzer.find_foreign_key_dependencies("items", "id", schema=other) == []
    finally:
        await conn.execute(f'DROP SCHEMA "{other}" CASCADE')


@pytest.mark.asyncio
async def test_quoted_mixed_case_identifiers(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE "Order Items" ("Id" int PRIMARY KEY, "CustomerId" int NOT NULL, customerid_note text);
        CREATE UNIQUE INDEX "Order Items By Customer" ON "Order Items" ("CustomerId", "Id");
        CREATE TABLE "Invoices" ("Item Customer" int, "Item Id" int,
            CONSTRAINT "FK Invoice Item" FOREIGN KEY ("Item Id", "Item Customer")
                REFERENCES "Order Items" ("Id", "CustomerId"));
        CREATE VIEW "Customer View" AS SELECT "CustomerId" FROM "Order Items";
        """,
    )
    report = await analyzer.analyze_column_dependencies("Order Items", "CustomerId")
    fks = report.dependencies[DependencyType.FOREIGN_KEY]
    assert [(f.constraint_name, f.source_table, f.source_column) for f in fks] == [
        ("FK Invoice Item", "Invoices", "Item Customer")
    ]
    assert [v.view_name for v in report.dependencies[DependencyType.VIEW]] == ["Customer View"]
    indexes = report.dependencies[DependencyType.INDEX]
    assert [(i.index_name, i.columns) for i in indexes] == [("Order Items By Customer", ["CustomerId", "Id"])]
    assert (report.table_name, report.column_name, report.schema_name) == ("Order Items", "CustomerId", schema)

    with pytest.raises(UnknownColumnError, match="did you mean 'CustomerId'"):
        await analyzer.analyze_column_dependencies("Order Items", "customerid")
    with pytest.raises(UnknownTableError, match="without the surrounding double quotes"):
        await analyzer.analyze_column_dependencies('"Order Items"', "CustomerId")


@pytest.mark.asyncio
async def test_views_nested_and_materialized_with_depth(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE products (id int PRIMARY KEY, name text, price numeric, price_extra numeric);
        CREATE VIEW expensive AS SELECT id, name, price FROM products WHERE price > 100;
        CREATE VIEW expensive_names AS SELECT name FROM expensive;
        CREATE VIEW expensive_names_upper AS SELECT upper(name) AS n FROM expensive_names;
        CREATE MATERIALIZED VIEW expensive_count AS SELECT count(*) AS n FROM expensive;
        CREATE VIEW names_only AS SELECT id, name FROM products;
        CREATE VIEW extras AS SELECT price_extra FROM products;
        """,
    )
    views = await analyzer.find_view_dependencies("products", "price")
    assert [(v.view_name, v.depth, v.is_materialized) for v in views] == [
        ("expensive", 1, False),
        ("expensive_count", 2, True),
        ("expensive_names", 2, False),
        ("expensive_names_upper", 3, False),
    ]
    for view in views:
        assert view.schema_name == schema
        assert view.impact_level is ImpactLevel.HIGH
    assert "price > " in views[0].view_definition

    # Ground truth: exactly these views go when PostgreSQL drops the column with CASCADE.
    assert await _views_dropped_with(conn, schema, "products", "price") == {v.view_name for v in views}


async def _views_dropped_with(conn: asyncpg.Connection, schema: str, table: str, column: str) -> set[str]:
    """Names of the views DROP COLUMN ... CASCADE would remove (the drop is rolled back)."""
    views_sql = (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')"
    )
    before = {r[0] for r in await conn.fetch(views_sql, schema)}
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(f'ALTER TABLE "{schema}"."{table}" DROP COLUMN "{column}" CASCADE')
        after = {r[0] for r in await conn.fetch(views_sql, schema)}
    finally:
        await transaction.rollback()
    return before - after


@pytest.mark.asyncio
async def test_triggers_by_update_of_when_clause_and_function_body(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE accounts (id int PRIMARY KEY, balance numeric, balance_total numeric, note text);
        CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE FUNCTION audit_balance() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.Balance <> NEW.Balance THEN RAISE NOTICE 'changed'; END IF;
            RETURN NEW;
        END $$;
        CREATE FUNCTION touch_total() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.balance_total := 0; RETURN NEW; END $$;
        CREATE TRIGGER a_update_of BEFORE UPDATE OF balance ON accounts
            FOR EACH ROW EXECUTE FUNCTION noop();
        CREATE TRIGGER b_body AFTER INSERT OR UPDATE ON accounts
            FOR EACH ROW EXECUTE FUNCTION audit_balance();
        CREATE TRIGGER c_other_column BEFORE UPDATE ON accounts
            FOR EACH ROW EXECUTE FUNCTION touch_total();
        CREATE TRIGGER d_when AFTER UPDATE ON accounts
            FOR EACH ROW WHEN (OLD.balance IS DISTINCT FROM NEW.balance) EXECUTE FUNCTION noop();
        CREATE TRIGGER e_note BEFORE DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION noop();
        """,
    )
    triggers = await analyzer.find_trigger_dependencies("accounts", "balance")
    assert [(t.trigger_name, t.timing, t.event, t.function_name) for t in triggers] == [
        ("a_update_of", "BEFORE", "UPDATE", "noop"),
        ("b_body", "AFTER", "INSERT OR UPDATE", "audit_balance"),
        ("d_when", "AFTER", "UPDATE", "noop"),
    ]
    assert "UPDATE OF balance" in triggers[0].action_statement
    assert all(t.impact_level is ImpactLevel.HIGH for t in triggers)
    total = await analyzer.find_trigger_dependencies("accounts", "balance_total")
    assert [t.trigger_name for t in total] == ["c_other_column"]
    assert await analyzer.find_trigger_dependencies("accounts", "note") == []


@pytest.mark.asyncio
async def test_indexes_plain_multicolumn_expression_partial_and_include(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE posts (id int PRIMARY KEY, title text, author int, status text, body text, score int);
        CREATE UNIQUE INDEX posts_title_key ON posts (title);
        CREATE INDEX posts_multi ON posts (author, status, score);
        CREATE INDEX posts_lower_title ON posts (lower(title));
        CREATE INDEX posts_live ON posts (id) WHERE status = 'live';
        CREATE INDEX posts_cover ON posts (author) INCLUDE (title);
        CREATE INDEX posts_fts ON posts USING gin (to_tsvector('english', body));
        """,
    )
    title = {i.index_name: i for i in await analyzer.find_index_dependencies("posts", "title")}
    assert sorted(title) == ["posts_cover", "posts_lower_title", "posts_title_key"]
    assert title["posts_title_key"].is_unique is True
    assert title["posts_lower_title"].columns == ["lower(title)"]
    assert title["posts_cover"].columns == ["author", "title"]
    assert all(i.impact_level is ImpactLevel.MEDIUM for i in title.values())

    status = await analyzer.find_index_dependencies("posts", "status")
    assert [(i.index_name, i.is_partial, i.columns) for i in status] == [
        ("posts_live", True, ["id"]),
        ("posts_multi", False, ["author", "status", "score"]),
    ]
    body = await analyzer.find_index_dependencies("posts", "body")
    assert [(i.index_name, i.index_type) for i in body] == [("posts_fts", "gin")]


@pytest.mark.asyncio
async def test_constraints_and_not_null_is_not_a_check(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE inventory (
            id int PRIMARY KEY,
            sku text NOT NULL,
            quantity int NOT NULL CONSTRAINT quantity_positive CHECK (quantity >= 0),
            low int,
            high int,
            CONSTRAINT sku_unique UNIQUE (sku, id),
            CONSTRAINT range_ok CHECK (low <= high),
            CONSTRAINT no_same_total EXCLUDE USING btree ((low + high) WITH =)
        );
        """,
    )
    quantity = await analyzer.find_constraint_dependencies("inventory", "quantity")
    assert [(c.constraint_name, c.constraint_type, c.columns) for c in quantity] == [("quantity_positive", "CHECK", ["quantity"])]
    assert "quantity >= 0" in quantity[0].definition
    sku = await analyzer.find_constraint_dependencies("inventory", "sku")
    assert [(c.constraint_name, c.constraint_type, c.columns) for c in sku] == [("sku_unique", "UNIQUE", ["sku", "id"])]
    high = await analyzer.find_constraint_dependencies("inventory", "high")
    assert [(c.constraint_name, c.constraint_type) for c in high] == [
        ("no_same_total", "EXCLUDE"),
        ("range_ok", "CHECK"),
    ]
    id_ = await analyzer.find_constraint_dependencies("inventory", "id")
    assert [(c.constraint_name, c.constraint_type) for c in id_] == [
        ("inventory_pkey", "PRIMARY KEY"),
        ("sku_unique", "UNIQUE"),
    ]
    for deps in (quantity, sku, high, id_):
        assert all(c.constraint_type != "NOT NULL" and "NOT NULL" not in c.definition for c in deps)


@pytest.mark.asyncio
async def test_full_report_matches_what_drop_column_cascade_removes(conn, schema, analyzer):
    await _build(
        conn,
        schema,
        """
        CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE NOT NULL CHECK (email LIKE '%@%'));
        CREATE TABLE sessions (user_email text CONSTRAINT fk_email REFERENCES users (email));
        CREATE VIEW emails AS SELECT email FROM users;
        CREATE INDEX users_email_lower ON users (lower(email));
        CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER on_email BEFORE UPDATE OF email ON users FOR EACH ROW EXECUTE FUNCTION noop();
        """,
    )
    report = await analyzer.analyze_column_dependencies("users", "email")
    frame = report.to_frame()
    assert frame[["type", "object", "impact"]].values.tolist() == [
        ["FOREIGN_KEY", f"{schema}.sessions.fk_email", "CRITICAL"],
        ["VIEW", f"{schema}.emails", "HIGH"],
        ["TRIGGER", "on_email", "HIGH"],
        ["INDEX", "users_email_key", "MEDIUM"],
        ["INDEX", "users_email_lower", "MEDIUM"],
        ["CONSTRAINT", "users_email_check", "MEDIUM"],
        ["CONSTRAINT", "users_email_key", "MEDIUM"],
    ]
    assert report.get_total_dependency_count() == 7
    assert report.get_removal_recommendation() == "DANGEROUS"
    assert report.total_analysis_time > 0 and report.analysis_timestamp
    assert await _views_dropped_with(conn, schema, "users", "email") == {"emails"}


@pytest.mark.asyncio
async def test_a_column_nothing_depends_on_is_safe(conn, schema, analyzer):
    await _build(conn, schema, "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
    report = await analyzer.analyze_column_dependencies("notes", "body")
    assert report.has_dependencies() is False
    assert report.get_removal_recommendation() == "SAFE"
    assert list(report.to_frame().columns) == ["type", "object", "impact", "detail"]
    assert len(report.to_frame()) == 0


@pytest.mark.parametrize("evil", ["x'; DROP TABLE victims; --", 'victims"; DROP TABLE victims; --', "victims OR 1=1"])
@pytest.mark.asyncio
async def test_injection_strings_are_unknown_names_and_drop_nothing(conn, schema, analyzer, evil):
    await _build(conn, schema, "CREATE TABLE victims (id int PRIMARY KEY)")
    with pytest.raises(UnknownTableError, match="does not exist"):
        await analyzer.analyze_column_dependencies(evil, "id")
    with pytest.raises(UnknownColumnError, match="does not exist"):
        await analyzer.analyze_column_dependencies("victims", evil)
    with pytest.raises(UnknownSchemaError, match="does not exist"):
        await analyzer.analyze_column_dependencies("victims", "id", schema=evil)
    assert await conn.fetchval("SELECT to_regclass(format('%I.victims', $1::text)) IS NOT NULL", schema)


@pytest.mark.asyncio
async def test_unknown_and_empty_names_raise_clear_errors(conn, schema, analyzer):
    await _build(conn, schema, "CREATE TABLE things (id int PRIMARY KEY); CREATE SEQUENCE counter;")
    with pytest.raises(UnknownTableError, match="table_name is empty"):
        await analyzer.find_index_dependencies("", "id")
    with pytest.raises(UnknownColumnError, match="column_name is empty"):
        await analyzer.find_index_dependencies("things", "")
    with pytest.raises(UnknownTableError, match="'missing' does not exist in schema"):
        await analyzer.find_view_dependencies("missing", "id")
    with pytest.raises(UnknownTableError, match="did you mean 'things'"):
        await analyzer.find_view_dependencies("Things", "id")
    with pytest.raises(UnknownTableError, match="is a sequence, not a table"):
        await analyzer.find_trigger_dependencies("counter", "last_value")
    with pytest.raises(UnknownColumnError, match="column 'nope' does not exist in table"):
        await analyzer.find_constraint_dependencies("things", "nope")
    with pytest.raises(UnknownTableError, match="with schema="):
        await analyzer.find_constraint_dependencies(f"{schema}.missing", "id")
    with pytest.raises(UnknownSchemaError, match="schema is empty"):
        DependencyAnalyzer(schema="")
    with pytest.raises(UnknownTableError, match="must be a str"):
        await analyzer.find_foreign_key_dependencies(None, "id")  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_closed_connection_raises_instead_of_reading_as_safe(conn, schema):
    await _build(conn, schema, "CREATE TABLE t (id int PRIMARY KEY)")
    closed = await asyncpg.connect(_dsn())
    await closed.close()
    analyzer = DependencyAnalyzer(schema=schema)
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await analyzer.find_foreign_key_dependencies("t", "id", closed)
    with pytest.raises(asyncpg.InterfaceError):
        await analyzer.analyze_column_dependencies("t", "id", connection=closed)


_REVOKES = {
    "find_foreign_key_dependencies": "REVOKE SELECT ON pg_catalog.pg_constraint FROM PUBLIC",
    "find_view_dependencies": "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_get_viewdef(oid) FROM PUBLIC",
    "find_trigger_dependencies": "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_get_triggerdef(oid) FROM PUBLIC",
    "find_index_dependencies": "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_get_indexdef(oid) FROM PUBLIC",
    "find_constraint_dependencies": "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_get_constraintdef(oid) FROM PUBLIC",
}


@pytest.mark.parametrize("finder", sorted(_REVOKES))
@pytest.mark.asyncio
async def test_a_failing_catalog_query_raises_in_every_finder(conn, schema, finder):
    """Each finder's query is made to fail (privilege revoked in a rolled-back transaction): it must raise."""
    await _build(conn, schema, "CREATE TABLE t (id int PRIMARY KEY)")
    analyzer = DependencyAnalyzer(schema=schema)
    role = f"analyzer_nopriv_{uuid.uuid4().hex[:8]}"
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(f"CREATE ROLE {role}; {_REVOKES[finder]}; SET LOCAL ROLE {role}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await getattr(analyzer, finder)("t", "id", conn)
    finally:
        await transaction.rollback()
    assert await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = $1", role) == 0


@pytest.mark.asyncio
async def test_a_failing_manager_or_none_at_all_raises(schema):
    class Failing:
        async def get_connection(self):
            """Fail the way a down server does."""
            raise ConnectionError("Connection temporarily unavailable")

    with pytest.raises(ConnectionError, match="temporarily unavailable"):
        await DependencyAnalyzer(Failing(), schema=schema).find_foreign_key_dependencies("t", "id")
    with pytest.raises(AnalyzerError, match="pass connection="):
        await DependencyAnalyzer().find_view_dependencies("t", "id")


@pytest.mark.asyncio
async def test_manager_connections_are_closed_and_one_serves_a_report(conn, schema):
    await _build(conn, schema, "CREATE TABLE t (id int PRIMARY KEY, v int CHECK (v > 0))")
    app = f"analyzer-{uuid.uuid4().hex[:8]}"
    manager = _Manager(_dsn(), application_name=app)
    analyzer = DependencyAnalyzer(manager, schema=schema)
    try:
        report = await analyzer.analyze_column_dependencies("t", "v")
        assert report.get_removal_recommendation() == "REVIEW"
        assert len(manager.connections) == 1
        await analyzer.find_constraint_dependencies("t", "v")
        with pytest.raises(UnknownColumnError):
            await analyzer.find_index_dependencies("t", "missing")
        assert len(manager.connections) == 3
        assert all(c.is_closed() for c in manager.connections)
        open_ = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app)
        assert open_ == 0
    finally:
        await manager.close_all()


@pytest.mark.asyncio
async def test_a_connection_passed_in_stays_open(conn, schema):
    await _build(conn, schema, "CREATE TABLE t (id int PRIMARY KEY)")
    analyzer = DependencyAnalyzer(schema=schema)
    report = await analyzer.analyze_column_dependencies("t", "id", conn)
    assert report.get_removal_recommendation() == "REVIEW"
    with pytest.raises(UnknownTableError):
        await analyzer.find_index_dependencies("missing", "id", connection=conn)
    assert not conn.is_closed()
    assert await conn.fetchval("SELECT 1") == 1


def _report(*deps: object) -> DependencyReport:
    """A report holding the given dependencies under their own types."""
    report = DependencyReport("t", "c")
    for dep in deps:
        report.dependencies[dep.dependency_type].append(dep)  # type: ignore[attr-defined]
    return report


def test_removal_recommendation_ladder():
    fk = ForeignKeyDependency("fk", "child", "parent_id", target_table="parent", target_column="id")
    view = ViewDependency("v", "SELECT 1")
    index = IndexDependency("i", "btree", ["c"])
    low = ConstraintDependency("k", "CHECK", "CHECK (c > 0)", ["c"], impact_level=ImpactLevel.LOW)
    info = TriggerDependency("tg", "UPDATE", "AFTER", "f", impact_level=ImpactLevel.INFORMATIONAL)
    assert _report(fk, view, index).get_removal_recommendation() == "DANGEROUS"
    assert _report(view, index).get_removal_recommendation() == "CAUTION"
    assert _report(index, low).get_removal_recommendation() == "REVIEW"
    assert _report(low, info).get_removal_recommendation() == "LOW_RISK"
    assert _report().get_removal_recommendation() == "SAFE"
    report = _report(fk, view, index, low, info)
    assert report.get_critical_dependencies() == [fk]
    assert report.generate_impact_summary() == {level: 1 for level in ImpactLevel}
    assert report.all_dependencies == report.get_all_dependencies() == [fk, view, info, index, low]


def test_dataclasses_keep_dataflow_positional_fields():
    fk = ForeignKeyDependency("fk", "child", "parent_id", [], "parent", "id")
    assert (fk.source_columns, fk.target_columns, fk.on_delete) == (["parent_id"], ["id"], "RESTRICT")
    view = ViewDependency("v", "SELECT 1", "s", True)
    assert (view.is_materialized, view.depth, view.impact_level) == (True, 1, ImpactLevel.HIGH)
    assert TriggerDependency("t", "UPDATE", "AFTER", "f").impact_level is ImpactLevel.HIGH
    assert IndexDependency("i", "btree", ["c"], True, True).is_partial is True
    assert ConstraintDependency("k", "CHECK", "d", ["c"]).dependency_type is DependencyType.CONSTRAINT


def test_to_frame_has_one_row_per_dependency():
    fk = ForeignKeyDependency("fk", "child", "parent_id", target_table="parent", target_column="id", source_schema="s")
    view = ViewDependency("v", "SELECT 1", "s", True, depth=2)
    frame = _report(fk, view).to_frame()
    assert list(frame.columns) == ["type", "object", "impact", "detail"]
    assert frame.values.tolist() == [
        [
            "FOREIGN_KEY",
            "s.child.fk",
            "CRITICAL",
            "(parent_id) REFERENCES public.parent(id) ON DELETE RESTRICT ON UPDATE RESTRICT",
        ],
        ["VIEW", "s.v", "HIGH", "materialized view, depth 2"],
    ]
