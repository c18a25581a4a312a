"""The generate workspace: what a person sees and asks for while making a character's expressions.

One function per view or action of that workflow (the Generate page uses them; a notebook can too):
the context (characters, balance, models, workers), the expressions to choose from, a quote for a
choice, and the batch to watch with its progress and images. Submitting is `batches.submit`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import Connection

from lib.accounts.users import User
from lib.catalog import characters, custom_expressions
from lib.catalog.characters import Character
from lib.core.errors import StudioError
from lib.core.queries import q
from lib.core.settings import Settings
from lib.credits import ledger
from lib.design import expressions
from lib.generation import batches, economy, jobs


@dataclass(frozen=True)
class GenerateContext:
    characters: list[Character]
    balance: ledger.Balance
    workers_alive: bool
    models: list[str]  # "offline" first, then the Gemini models the plan includes (none without an API key)


@dataclass(frozen=True)
class Quote:
    """What a choice would make and cost; `request` is None and `error` says why when it cannot be made.

    `blocked` is why the batch cannot be submitted as it is (shown beside the disabled button); `parts`
    are the batch sizes it splits into when only the plan's per-batch limit stands in the way.
    """

    request: jobs.JobRequest | None
    images: int
    credits: int
    error: StudioError | None = None
    blocked: str | None = None
    parts: list[int] = field(default_factory=list)

    @property
    def button_label(self) -> str:
        return f"Generate {self.images} image{'s' if self.images != 1 else ''}"

    @property
    def split_label(self) -> str:
        return f"Generate as {len(self.parts)} batches ({' + '.join(map(str, self.parts))})"


@dataclass(frozen=True)
class ShownBatch:
    job_id: UUID
    open: bool  # items still queued or running


@dataclass(frozen=True)
class BatchSummary:
    """One line of a character's batch history."""

    job_id: UUID
    created_at: dt.datetime
    made_by: str
    preset: str  # the preset's name when the batch was exactly one, else how many expressions
    variants: list[str]
    model: str
    image_size: str
    status: str
    items: int
    done: int
    failed: int
    cancelled: int
    open: int
    approved: int
    credits: int


@dataclass(frozen=True)
class BatchView:
    progress: batches.Progress
    differences: list[jobs.Difference]
    waiting: list[economy.Waiting] = field(default_factory=list)  # an economy batch's Batch API jobs

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
    size: str, paste_back: bool, best_of: int, settings: Settings, tier: str = "standard",
) -> Quote:
    """The request for these choices and its images and credits, or the error to show instead."""
    try:
        chosen = custom_expressions.resolve(conn, actor=actor, character_id=character_id, keys=keys) if keys else []
        request = jobs.JobRequest(expressions=chosen, variants=variants,
                                  backend="offline" if model == "offline" else "gemini", model=model,
                                  image_size=size, paste_back=paste_back, best_of=best_of,
                                  tier=tier if model != "offline" else "standard")
        images, credits = batches.estimate(conn, actor=actor, request=request, settings=settings)
    except StudioError as exc:
        return Quote(request=None, images=0, credits=0, error=exc, blocked=str(exc))
    blocked, parts = limits(ledger.balance(conn, user_id=actor.id), request=request, images=images, credits=credits)
    return Quote(request=request, images=images, credits=credits, blocked=blocked, parts=parts)


def limits(
    balance: ledger.Balance, *, request: jobs.JobRequest, images: int, credits: int
) -> tuple[str | None, list[int]]:
    """Why a batch cannot be submitted (None when it can), and the split that gets past the batch limit."""
    if images == 0:
        return "Choose at least one expression.", []
    renews = (balance.period_start + dt.timedelta(days=32)).replace(day=1)
    if credits > balance.available:
        held = f", {balance.held} held by running batches" if balance.held else ""
        return (f"Not enough credits: this needs {credits} and you have {balance.available}{held}. "
                f"Your {balance.plan} plan renews on {renews:%d %b}; an admin can grant more."), []
    try:
        batches.check_plan(balance, request=request, images=min(images, balance.max_batch_size))
    except StudioError as exc:
        return str(exc), []
    if images <= balance.max_batch_size:
        return None, []
    parts = [len(p.expressions) * (1 + len(p.variants))
             for p in batches.split(request, max_images=balance.max_batch_size)]
    return (f"The {balance.plan} plan makes at most {balance.max_batch_size} images per batch and this is "
            f"{images}: split it into {len(parts)} batches, or choose fewer expressions or variants."), parts


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
    progress = batches.progress(conn, actor=actor, job_id=job_id)
    waiting = economy.waiting(conn, user_id=actor.id, job_id=job_id, any_owner=actor.is_admin) \
        if progress.tier == "economy" else []
    return BatchView(progress=progress, differences=jobs.job_differences(conn, actor=actor, job_id=job_id),
                     waiting=waiting)


def _preset_of(keys: list[str]) -> str:
    for name, preset in expressions.PRESETS.items():
        if list(preset) == keys:
            return name.replace("_", " ")
    return keys[0].replace("_", " ") if len(keys) == 1 else f"{len(keys)} expressions"


def batch_history(conn: Connection, *, actor: User, character_id: UUID, limit: int = 50) -> list[BatchSummary]:
    """A character's batches, newest first: when, who, what was asked, counts, credits and status."""
    character = characters.get_character(conn, actor=actor, character_id=character_id)
    rows = conn.execute(q("character_batches"), {"character_id": str(character.id), "user_id": str(actor.id),
                                                 "any_owner": actor.is_admin, "limit": limit})
    return [BatchSummary(job_id=r.id, created_at=r.created_at, made_by=r.made_by,
                         preset=_preset_of(list(r.settings.get("expressions", []))),
                         variants=list(r.settings.get("variants", [])), model=r.model, image_size=r.image_size,
                         status=r.status, items=r.items, done=r.done, failed=r.failed, cancelled=r.cancelled,
                         open=r.open, approved=r.approved, credits=int(r.credits)) for r in rows]


@dataclass(frozen=True)
class Slot:
    """The attempts at one expression or variant of a batch, oldest first."""

    variant: str | None
    attempts: list[jobs.Difference]

    @property
    def chosen(self) -> jobs.Difference | None:
        """The attempt exports take from this batch: the approved one, else the best-scoring (the newer of equals,
        as the export query orders them), never a rejected one."""
        made = [d for d in self.attempts if d.status == "done" and d.review != "rejected"]
        approved = [d for d in made if d.review == "approved"]
        return (approved or sorted(made, key=lambda d: (-(d.score or 0), -d.attempt)) or [None])[0]


@dataclass(frozen=True)
class GridRow:
    """One expression of a batch: its own image, then each variant, each slot with its attempts."""

    expression_key: str
    slots: list[Slot | None]  # one per column of the grid; None where this batch did not make that variant


def review_rows(differences: list[jobs.Difference]) -> tuple[list[str | None], list[GridRow]]:
    """A batch as rows of expressions × columns (the expression itself, then its variants), in job order."""
    columns: list[str | None] = [None]
    grouped: dict[str, dict[str | None, list[jobs.Difference]]] = {}
    for item in differences:
        if item.variant not in columns:
            columns.append(item.variant)
        grouped.setdefault(item.expression_key, {}).setdefault(item.variant, []).append(item)
    columns = [None, *(v for v in expressions.VARIANTS if v in columns)]
    rows = [GridRow(expression_key=key, slots=[Slot(variant=v, attempts=sorted(cells[v], key=lambda d: d.attempt))
                                              if v in cells else None for v in columns])
            for key, cells in grouped.items()]
    return columns, rows
