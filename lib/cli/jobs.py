"""`python -m lib jobs …`: manage generation jobs after they were submitted."""

from __future__ import annotations

import argparse
from typing import Any

from lib.accounts import bootstrap
from lib.cli._common import Leaf, actor, add_actor, emit
from lib.core.settings import Settings


def cmd_jobs_cancel(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here: batches brings in the task queue (~0.25 s), which every other command would pay.
    from lib.generation import batches

    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        cancelled = batches.cancel(conn, actor=actor(conn, args.as_email), job_id=args.job_id)
    emit(args, {"job_id": args.job_id, "cancelled_items": cancelled.images, "credits_refunded": cancelled.credits,
                "still_running": cancelled.still_running},
         f"cancelled {cancelled.images} item(s) of job {args.job_id} that had not started; "
         f"{cancelled.credits} credit(s) refunded")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `jobs` command group to the studio's parser."""
    group = subparsers.add_parser("jobs", help="manage generation jobs").add_subparsers(dest="jobs_command",
                                                                                         required=True)
    p = leaf(group, "cancel", cmd_jobs_cancel, "cancel the items of a job not made yet and release their credits")
    p.add_argument("job_id")
    add_actor(p)
