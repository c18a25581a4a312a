"""Run a job's differences in this process, without a worker and without holding credits.

For tests and benchmarks only: production batches go through `lib.generation.batches.submit`, which
holds the credits, and run on workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from sqlalchemy import Engine

from lib.accounts.users import User
from lib.backends.base import ImageBackend
from lib.catalog.characters import get_character
from lib.core.errors import InvalidInput
from lib.core.storage import ObjectStore
from lib.generation.jobs import Difference, JobRequest, create_job, job_differences
from lib.generation.pipeline import run_difference

THRESHOLD = 70.0  # the studio's default consistency threshold


def run_job_differences(
    engine: Engine, store: ObjectStore, backend: ImageBackend, *, difference_ids: list[UUID],
    threshold: float = THRESHOLD,
) -> Iterator[tuple[int, str]]:
    """Run a job's differences in order, yielding (differences finished, last status) for progress."""
    for number, difference_id in enumerate(difference_ids, start=1):  # parents come before their variants
        yield number, run_difference(engine, store, backend, difference_id=difference_id, threshold=threshold)


def generate_now(
    engine: Engine, store: ObjectStore, backend: ImageBackend, *, actor: User, character_id: str | UUID,
    request: JobRequest, threshold: float = THRESHOLD,
) -> tuple[UUID, list[Difference]]:
    """Create a job and run every difference in this process, expressions before their variants."""
    if not request.expressions:
        raise InvalidInput("choose at least one expression")
    with engine.begin() as conn:
        character = get_character(conn, actor=actor, character_id=character_id)
        job_id, difference_ids = create_job(conn, actor=actor, character=character, request=request)
    for _ in run_job_differences(engine, store, backend, difference_ids=difference_ids, threshold=threshold):
        pass
    with engine.begin() as conn:
        return job_id, job_differences(conn, actor=actor, job_id=job_id)
