"""`python -m lib db …`: database maintenance."""

from __future__ import annotations

import argparse
from typing import Any

from lib.cli._common import Leaf, emit
from lib.core import db, migrations
from lib.core.settings import Settings


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    applied = migrations.upgrade(db.get_engine(settings))
    latest = migrations.available()[-1]
    version = f"{latest.version:04d}_{latest.name}"
    emit(args, {"version": version, "applied_now": applied},
         f"database is at {version}" + (f" (applied {', '.join(applied)})" if applied else ""))


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `db` command group to the studio's parser."""
    group = subparsers.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    leaf(group, "upgrade", cmd_db_upgrade, "apply pending migrations (idempotent)")
