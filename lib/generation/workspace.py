"""The generate workspace: what a person sees and asks for while making a character's expressions.

One function per view or action of that workflow (the Generate page uses them; a notebook can too):
the context (characters, balance, models, workers), the expressions to choose from, a quote for a
choice, and the batch to watch with its progress and images. Submitting is `batches.submit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection

from lib.accounts.users import User
from lib.catalog import characters, custom_expressions
from lib.catalog.characters import Character
from lib.core.errors import StudioError
from lib.core.settings import Settings
from lib.credits import ledger
from lib.design import expressions
from lib.generation import batches, jobs


@dataclass(frozen=True)
class GenerateContext:
    characters: list[Character]
    balance: ledger.Balance
    workers_alive: bool
    models: list[str]  # "offline" first, then the Gemini models the plan includes (none without an API key)


@dataclass(frozen=True)
class Quote:
    """What a choice would make and cost; `request` is None and `error` says why when it cannot be made."""

    request: jobs.JobRequest | None
    images: int
    credits: int
    error: StudioError | None = None


@dataclass(frozen=True)
class ShownBatch:
    job_id: UUID
    open: bool  # items still queued or running


@dataclass(frozen=True)
class BatchView:
    progress: batches.Progress
    differences: list[jobs.Difference]

    @property
    def finished(self) -> int:
        return self.progress.done + self.progress.failed


def generate_context(conn: Connection, *, actor: User, settings: Settings) -> GenerateContext:
    """The actor's characters, credit balance and usable models, and whether any worker is running."""
    balance = ledger.balance(conn, user_id=actor.id)
    gemini = [m for m in balance.allowed_models if m != "offline"] if settings.gemini_api_key else []
    return GenerateContext(
        characters=characters.list_characters(conn, actor=actor), balance=balance,
        workers_alive=batches.workers_alive(conn, within_seconds=settings.worker_stall_seconds) > 0,
        models=["offline", *gemini],
    )


def expression_choices(conn: Connection, *, actor: User, character_id: UUID) -> list[str]:
    """Expression keys to choose from for a character: the built-in library, then the character's own."""
    own = custom_expressions.of_character(conn, actor=actor, character_id=character_id)
    return [*expressions.LIBRARY, *(e.key for e in own)]


def quote(
    conn: Connection, *, actor: User, character_id: UUID, keys: list[str], variants: list[str], model: str,
    size: str, paste_back: bool, best_of: int, settings: Settings,
) -> Quote:
    """The request for these choices and its images and credits, or the error to show instead."""
    try:
        chosen = custom_expressions.resolve(conn, actor=actor, character_id=character_id, keys=keys) if keys else []
        request = jobs.JobRequest(expressions=chosen, variants=variants,
                                  backend="offline" if model == "offline" else "gemini", model=model,
                                  image_size=size, paste_back=paste_back, best_of=best_of)
        images, credits = batches.estimate(conn, actor=actor, request=request, settings=settings)
    except StudioError as exc:
        return Quote(request=None, images=0, credits=0, error=exc)
    return Quote(request=request, images=images, credits=credits)


def latest_job(
    conn: Connection, *, actor: User, character_id: UUID, submitted: UUID | None = None
) -> ShownBatch | None:
    """The batch to show for a character: the one just `submitted`, else its newest; None when it has none."""
    if submitted is None:
        newest = jobs.recent_jobs(conn, actor=actor, character_id=character_id, limit=1)
        if not newest:
            return None
        submitted = newest[0].id
    return ShownBatch(job_id=submitted, open=batches.progress(conn, actor=actor, job_id=submitted).open > 0)


def batch_view(conn: Connection, *, actor: User, job_id: UUID) -> BatchView:
    """A batch's progress and its items, for watching it fill in and reviewing it."""
    return BatchView(progress=batches.progress(conn, actor=actor, job_id=job_id),
                     differences=jobs.job_differences(conn, actor=actor, job_id=job_id))
