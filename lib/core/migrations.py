"""Numbered SQL migrations in `sql/migrations/NNNN_name.sql`, applied in order, exactly once.

`upgrade` is idempotent and safe to run from several processes at once (an advisory lock
serialises them). `sql/schema.sql` is the same schema in one file; a test keeps them equal.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
SCHEMA_FILE = SQL_DIR / "schema.sql"
_FILENAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
_LOCK_ID = 0x6D69796162  # "miyab": any constant shared by every studio process


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available() -> list[Migration]:
    """Every migration file, in version order; a malformed or duplicate number is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations share number {version:04d}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def run_script(conn: Connection, sql: str) -> None:
    """Run a multi-statement SQL script on the connection's current transaction."""
    conn.connection.driver_connection.execute(sql)  # psycopg runs several statements without params


def applied_versions(conn: Connection) -> set[int]:
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
    )
    return set(conn.execute(text("SELECT version FROM schema_migrations")).scalars())


def upgrade(engine: Engine) -> list[str]:
    """Apply pending migrations in one transaction; returns the names applied (empty if current)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        done = applied_versions(conn)
        names = []
        for migration in available():
            if migration.version in done:
                continue
            log.info("applying migration %04d_%s", migration.version, migration.name)
            run_script(conn, migration.path.read_text())
            conn.execute(
                text("INSERT INTO schema_migrations (version, name) VALUES (:v, :n)"),
                {"v": migration.version, "n": migration.name},
            )
            names.append(f"{migration.version:04d}_{migration.name}")
        return names


def pending(engine: Engine) -> list[Migration]:
    """Migrations not yet applied to the database."""
    with engine.begin() as conn:
        done = applied_versions(conn)
    return [m for m in available() if m.version not in done]
