"""`python -m lib backup --out DIR` and `python -m lib restore --from DIR` (lib/ops/backup.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lib.cli._common import Leaf, emit
from lib.core import db
from lib.core.settings import Settings
from lib.core.storage import make_store
from lib.ops import backup


def _progress(args: argparse.Namespace):
    return (lambda message: None) if args.json else (lambda message: print(message, file=sys.stderr, flush=True))


def _summary(summary: backup.Summary) -> dict[str, Any]:
    return {"directory": str(summary.directory), "objects": summary.objects, "object_bytes": summary.bytes,
            "database_bytes": summary.database_bytes}


def cmd_backup(args: argparse.Namespace, settings: Settings) -> None:
    summary = backup.backup(db.get_engine(settings), make_store(settings), out=Path(args.out),
                            progress=_progress(args))
    emit(args, _summary(summary), f"backed up the database ({summary.database_bytes} bytes) and {summary.objects} "
                                  f"objects ({summary.bytes} bytes) to {summary.directory}")


def cmd_restore(args: argparse.Namespace, settings: Settings) -> None:
    summary = backup.restore(db.get_engine(settings), make_store(settings), source=Path(args.source),
                             progress=_progress(args))
    emit(args, _summary(summary), f"restored the database and {summary.objects} objects from {summary.directory}")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `backup` and `restore` commands to the studio's parser."""
    p = leaf(subparsers, "backup", cmd_backup, "write the database and every stored object into a new directory")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty directory")
    p = leaf(subparsers, "restore", cmd_restore, "restore a backup directory into this empty studio")
    p.add_argument("--from", dest="source", required=True, metavar="DIR", help="a directory `backup` wrote")
