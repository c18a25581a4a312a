"""`python -m lib worker`: a worker that generates queued items; run any number, on any machine."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from lib.accounts import bootstrap
from lib.cli._common import Leaf
from lib.core import logs
from lib.core.settings import Settings


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here: the worker brings in the task queue and every task (~0.6 s), which other commands would pay.
    from lib.worker import process

    bootstrap.prepare_database(settings)
    logs.configure(settings, level=logging.INFO)
    process.run_worker(settings, concurrency=args.concurrency)


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `worker` command to the studio's parser."""
    p = leaf(subparsers, "worker", cmd_worker, "run a worker that generates queued items (any number, any machine)")
    p.add_argument("--concurrency", type=int, help="items at once (default: WORKER_CONCURRENCY)")
