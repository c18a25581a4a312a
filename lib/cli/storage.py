"""`python -m lib storage …`: object retention (raw answers) and the S3 bucket's lifecycle rules."""

from __future__ import annotations

import argparse
from typing import Any

from lib.accounts import bootstrap
from lib.cli._common import Leaf, emit
from lib.core.settings import Settings
from lib.core.storage import make_store
from lib.ops import retention


def cmd_lifecycle(args: argparse.Namespace, settings: Settings) -> None:
    rules = retention.apply_lifecycle(settings)
    emit(args, {"bucket": settings.s3_bucket, "rules": rules},
         "\n".join(f"{r['ID']}: {r.get('Expiration') or r.get('Transitions')}" for r in rules)
         or f"no lifecycle rules on {settings.s3_bucket} (retention and cold storage are off)")


def cmd_expire_raw(args: argparse.Namespace, settings: Settings) -> None:
    removed = retention.expire_raw(bootstrap.prepare_database(settings), make_store(settings),
                                   days=settings.raw_retention_days)
    emit(args, {"removed": removed, "days": settings.raw_retention_days},
         f"removed {removed} raw answers older than {settings.raw_retention_days} days"
         if settings.raw_retention_days else "RAW_RETENTION_DAYS is 0: raw answers are kept")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `storage` command group to the studio's parser."""
    group = subparsers.add_parser("storage", help="object retention and S3 lifecycle").add_subparsers(
        dest="storage_command", required=True)
    leaf(group, "lifecycle", cmd_lifecycle, "install the S3 bucket's lifecycle rules (raw expiry, cold storage)")
    leaf(group, "expire-raw", cmd_expire_raw, "delete raw model answers older than RAW_RETENTION_DAYS now")
