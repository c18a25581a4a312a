"""Named SQL queries loaded from `sql/queries/*.sql`.

Each block starts with `-- name: <query_name>` followed by a one-line `-- description`, then the SQL.
Queries use `:name` bind parameters; write `CAST(:x AS uuid)` rather than `:x::uuid`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import TextClause, text

QUERIES_DIR = Path(__file__).resolve().parents[2] / "sql" / "queries"
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse(source: str) -> dict[str, str]:
    """Split one .sql file into {name: sql}; duplicate names are an error."""
    parts = _NAME.split(source)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"query {name!r} is defined twice")
        sql = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--"))
        found[name] = sql.strip().rstrip(";")
    return found


@lru_cache(maxsize=1)
def all_queries() -> dict[str, str]:
    """Every named query of the project, across files (names are unique project-wide)."""
    merged: dict[str, str] = {}
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        for name, sql in parse(path.read_text()).items():
            if name in merged:
                raise ValueError(f"query {name!r} is defined in two files")
            merged[name] = sql
    return merged


def q(name: str) -> TextClause:
    """The named query as a SQLAlchemy text clause."""
    return text(all_queries()[name])
