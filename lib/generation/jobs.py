"""Generation jobs: one row per expression (and per variant), each a single-turn edit.

An expression item edits the approved base; a variant item (mouth_open, blink) edits its expression's
finished image, so it waits for that parent. `run_difference` is idempotent: it claims a queued or running
item, stores the image under a key derived from the item id, and only a running item can finish, so
running it twice never stores two results.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from lib.accounts.users import User
from lib.catalog import prompts
from lib.catalog.characters import Character, get_character, require_confirmed_face
from lib.core.errors import InvalidInput, NotFound
from lib.core.queries import q
from lib.design import expressions
from lib.design.expressions import Expression

log = logging.getLogger(__name__)


TIERS = ("standard", "economy")


@dataclass(frozen=True)
class JobRequest:
    """What a user asked for: expressions, variants and the backend settings."""

    expressions: list[Expression]
    variants: list[str]
    backend: str
    model: str
    image_size: str
    paste_back: bool = True
    best_of: int = 1  # up to this many attempts while an image scores below the consistency threshold
    # "economy": the items go to Gemini as Batch API jobs (half price, ready within 24 h); "standard": one call each.
    tier: str = "standard"

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise InvalidInput(f"tier must be one of {', '.join(TIERS)}, not {self.tier!r}")
        if self.tier == "economy" and self.backend != "gemini":
            raise InvalidInput("Economy batches go through Gemini's Batch API: choose the Gemini backend.")
        # A variant named twice is made once (as a repeated expression key is): one item per expression and variant.
        object.__setattr__(self, "variants", list(dict.fromkeys(self.variants)))


@dataclass(frozen=True)
class Difference:
    id: UUID
    expression_key: str
    variant: str | None
    status: str
    review: str
    image_key: str | None
    failure_reason: str | None
    failure_kind: str | None
    cost_usd: float
    cost_credits: int
    attempts: list[dict[str, Any]]
    score: float | None
    score_parts: dict[str, Any] | None
    backend: str
    model: str
    image_size: str
    attempt: int = 1
    tier: str = "standard"  # economy: made through Gemini's Batch API; a best-of retry of it is standard


def create_job(
    conn: Connection, *, actor: User, character: Character, request: JobRequest
) -> tuple[UUID, list[UUID]]:
    """Create a job and its queued items (expressions first, then their variants); returns their ids."""
    require_confirmed_face(character)  # an unsure face box would steer paste-back, previews and the score
    for key in request.variants:
        expressions.variant(key)  # unknown variants are refused before anything is written
    template = prompts.active_template(conn)
    if not 1 <= request.best_of <= 5:
        raise InvalidInput("best-of must be between 1 and 5 attempts")
    settings = {"variants": request.variants, "expressions": [e.key for e in request.expressions],
                "paste_back": request.paste_back, "best_of": request.best_of}
    job = conn.execute(q("insert_job"), {
        "user_id": str(actor.id), "character_id": str(character.id), "backend": request.backend,
        "model": request.model, "image_size": request.image_size, "settings": json.dumps(settings),
        "template_version": template.version, "tier": request.tier,
    }).one()
    ids: list[UUID] = []
    for expression in request.expressions:
        parent = _insert_difference(conn, job.id, character, template.body, expression, None, None, len(ids),
                                    request.tier)
        ids.append(parent)
        for v in request.variants:
            ids.append(_insert_difference(conn, job.id, character, template.body, expression, v, parent, len(ids),
                                          request.tier))
    return job.id, ids


def parents_of(conn: Connection, *, job_id: UUID) -> dict[UUID, UUID | None]:
    """Each item of a job mapped to its parent item (None for expressions), in job order."""
    return {r.id: r.parent_id for r in conn.execute(q("job_difference_parents"), {"job_id": str(job_id)})}


def _insert_difference(
    conn: Connection, job_id: UUID, character: Character, body: str, expression: Expression,
    variant: str | None, parent_id: UUID | None, position: int, tier: str,
) -> UUID:
    prompt = prompts.build_prompt(body, character_name=character.name, features=character.features,
                                  expression=expression, variant=expressions.variant(variant) if variant else None)
    return conn.execute(q("insert_difference"), {
        "job_id": str(job_id), "character_id": str(character.id), "expression_key": expression.key,
        "variant": variant, "parent_id": str(parent_id) if parent_id else None, "prompt": prompt,
        "position": position, "tier": tier,
    }).scalar_one()


def job_differences(conn: Connection, *, actor: User, job_id: str | UUID, any_owner: bool = False) -> list[Difference]:
    """The items of the actor's job (NotFound for anyone else's)."""
    try:
        jid = UUID(str(job_id))
    except ValueError:
        raise NotFound(f"job {job_id} not found") from None
    rows = conn.execute(q("job_differences"), {"job_id": str(jid), "user_id": str(actor.id),
                                         "any_owner": bool(any_owner and actor.is_admin)}).all()
    if not rows:
        raise NotFound(f"job {jid} not found")
    return [_difference(r) for r in rows]


def character_differences(
    conn: Connection, *, actor: User, character_id: str | UUID, limit: int = 60
) -> list[Difference]:
    """The latest finished items of the actor's character."""
    character = get_character(conn, actor=actor, character_id=character_id)
    rows = conn.execute(q("character_differences"), {"character_id": str(character.id), "limit": limit})
    return [_difference(r) for r in rows]


def _difference(row: Any) -> Difference:
    return Difference(id=row.id, expression_key=row.expression_key, variant=row.variant, status=row.status,
                review=row.review, image_key=row.image_key, failure_reason=row.failure_reason,
                failure_kind=row.failure_kind, cost_usd=float(row.cost_usd), cost_credits=row.cost_credits,
                attempts=list(getattr(row, "attempts", None) or []), backend=row.backend, model=row.model,
                score=row.score, score_parts=row.score_parts,
                image_size=row.image_size, attempt=getattr(row, "attempt", 1), tier=getattr(row, "tier", "standard"))


ReviewChange = tuple[UUID, str]  # an item and the review it had before a change: what undo puts back


def set_review(conn: Connection, *, actor: User, difference_id: UUID, review: str) -> list[ReviewChange]:
    """Approve, reject or reset one finished item of the actor's own job; returns what changed, for undo.

    Approving picks the attempt: the other attempts of its slot stop being approved, so exactly the
    picked one is what exports use.
    """
    if review not in ("approved", "rejected", "pending"):
        raise InvalidInput("review must be approved, rejected or pending")
    params = {"difference_id": str(difference_id), "user_id": str(actor.id), "review": review}
    before = conn.execute(q("review_of"), params).scalar()
    siblings = list(conn.execute(q("approved_sibling_attempts"), params).scalars()) if review == "approved" else []
    if before is None or conn.execute(q("set_review"), params).first() is None:
        raise NotFound("There is no finished image with that id to review.")
    for sibling in siblings:
        conn.execute(q("set_review"), {**params, "difference_id": str(sibling), "review": "pending"})
    return [(difference_id, before), *((sibling, "approved") for sibling in siblings)]


def undo_review(conn: Connection, *, actor: User, changes: list[ReviewChange]) -> None:
    """Put back the reviews a `set_review` replaced."""
    for difference_id, review in changes:
        conn.execute(q("set_review"), {"difference_id": str(difference_id), "user_id": str(actor.id),
                                       "review": review})


def recent_jobs(conn: Connection, *, actor: User, character_id: UUID, limit: int = 10) -> list[Any]:
    """The actor's latest jobs for a character, newest first."""
    params = {"user_id": str(actor.id), "character_id": str(character_id), "limit": limit}
    return list(conn.execute(q("recent_jobs"), params))


def get_difference(conn: Connection, *, actor: User, difference_id: str | UUID) -> Difference:
    """One item of the actor's jobs (NotFound for anyone else's, unless the actor is an admin)."""
    try:
        did = UUID(str(difference_id))
    except ValueError:
        raise NotFound(f"image {difference_id} not found") from None
    row = conn.execute(q("difference_of_user"), {"difference_id": str(did), "user_id": str(actor.id),
                                                 "any_owner": actor.is_admin}).one_or_none()
    if row is None:
        raise NotFound(f"image {did} not found")
    return _difference(row)
