"""The numbered migrations, applied in order, give exactly the schema in sql/schema.sql,
and every named query compiles against it."""

import re
import uuid

import pytest
import sqlalchemy as sa

from lib.core import migrations
from lib.core.queries import all_queries, parse
from tests.conftest import create_database, drop_database

CATALOG = {
    "columns": """SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
                         is_identity, is_generated
                  FROM information_schema.columns WHERE table_schema = 'public'""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "plans": "SELECT * FROM plans",
}


def snapshot(url: str) -> dict[str, list[tuple]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        snap = {name: sorted(tuple(map(str, r)) for r in conn.exec_driver_sql(sql)) for name, sql in CATALOG.items()}
    engine.dispose()
    for name in ("columns", "constraints", "indexes"):  # the job engine's own schema ships with it
        ours = [r for r in snap[name] if not any(w in " ".join(r) for w in ("schema_migrations", "procrastinate"))]
        snap[name] = ours
    return snap


@pytest.fixture
def two_databases(server_url: str):
    names = [f"studio_mig_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    urls = [create_database(server_url, n) for n in names]
    yield urls
    for n in names:
        drop_database(server_url, n)


def test_migrations_equal_schema_file(two_databases: list[str]) -> None:
    from_migrations, from_schema = two_databases
    engine = sa.create_engine(from_migrations)
    applied = migrations.upgrade(engine)
    assert applied == [f"{m.version:04d}_{m.name}" for m in migrations.available()]
    assert migrations.upgrade(engine) == []  # idempotent
    engine.dispose()
    engine = sa.create_engine(from_schema)
    with engine.begin() as conn:
        migrations.run_script(conn, migrations.SCHEMA_FILE.read_text())
    engine.dispose()
    a, b = snapshot(from_migrations), snapshot(from_schema)
    for part in CATALOG:
        assert a[part] == b[part], f"{part} differ between sql/migrations and sql/schema.sql"
    assert len(a["columns"]) > 50


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in migrations.available()]
    assert versions == list(range(1, len(versions) + 1))


def test_every_named_query_compiles_against_the_schema(conn) -> None:
    queries = all_queries()
    assert {"insert_user", "character_for_user", "locked_accounts"} <= set(queries)
    for _name, sql in queries.items():
        params = {p: None for p in re.findall(r"(?<![:\w]):(\w+)", sql)}
        with conn.begin_nested():
            conn.execute(sa.text("EXPLAIN " + sql), params)  # fails on any unknown table or column


def test_query_parser_rejects_duplicates() -> None:
    assert parse("-- name: a\n-- what\nSELECT 1;\n-- name: b\nSELECT 2")["a"] == "SELECT 1"
    with pytest.raises(ValueError, match="twice"):
        parse("-- name: a\nSELECT 1\n-- name: a\nSELECT 2")
