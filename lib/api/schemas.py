"""The REST API's request and response bodies (pydantic models: validated in, documented in OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lib.catalog.characters import Character
from lib.credits.statement import Statement
from lib.generation import batches, jobs

Format = Literal["zip", "psd", "renpy", "pngtuber", "sillytavern"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CharacterOut(BaseModel):
    id: str
    name: str
    width: int
    height: int
    base_source: str = Field(description="upload or generated")
    face_box: list[int] | None = Field(description="[x, y, w, h] in base pixels")
    features: dict[str, Any]
    created_at: datetime
    base_url: str


class BatchIn(_Strict):
    character_id: str
    preset: str | None = Field(default=None, description="basic, visual_novel or sillytavern")
    expressions: list[str] = Field(default_factory=list, max_length=200, description="expression keys")
    variants: list[Literal["mouth_open", "blink"]] = Field(default_factory=list)
    model: str = Field(default="offline", description='"offline" or a Gemini model id your plan includes')
    image_size: Literal["512", "1K", "2K", "4K"] | None = None
    paste_back: bool = True
    best_of: int = Field(default=1, ge=1, le=5)
    economy: bool = Field(default=False, description="one Gemini Batch API job at the economy price (ECONOMY_CREDIT_"
                                                     "PERCENT of the credits), ready within 24 h; needs a Gemini model")


class DifferenceOut(BaseModel):
    id: str
    expression: str
    variant: str | None
    status: str
    review: str
    score: float | None
    flags: list[str]
    failure_reason: str | None
    credits: int
    image_url: str | None
    tier: str = Field(default="standard", description="economy (Batch API) or standard (one call; also a best-of "
                                                       "retry of an economy image)")


class BatchOut(BaseModel):
    id: str
    status: str
    total: int
    open: int
    done: int
    failed: int
    tier: str = Field(default="standard", description="standard or economy")
    credits_held: int | None = Field(default=None, description="set in the answer to a submit")
    items: list[DifferenceOut]


class ReviewIn(_Strict):
    review: Literal["approved", "rejected", "pending"]


class LedgerEntry(BaseModel):
    at: datetime
    kind: str
    amount: int
    reason: str | None
    batch_id: str | None


class CreditsOut(BaseModel):
    plan: str
    available: int
    held: int
    used_this_period: int
    monthly_credits: int
    max_batch_size: int
    period_start: date
    entries: list[LedgerEntry]


def character(c: Character) -> CharacterOut:
    return CharacterOut(id=str(c.id), name=c.name, width=c.base_width, height=c.base_height,
                        base_source=c.base_source, face_box=list(c.face_box) if c.face_box else None,
                        features=c.features.model_dump(), created_at=c.created_at,
                        base_url=f"/api/v1/characters/{c.id}/base")


def difference(d: jobs.Difference, prefix: str) -> DifferenceOut:
    return DifferenceOut(id=str(d.id), expression=d.expression_key, variant=d.variant, status=d.status,
                         review=d.review, score=round(d.score, 1) if d.score is not None else None,
                         flags=list((d.score_parts or {}).get("flags", [])), failure_reason=d.failure_reason,
                         credits=d.cost_credits, tier=d.tier,
                         image_url=f"{prefix}/differences/{d.id}/image" if d.image_key else None)


def batch(batch_id: str, progress: batches.Progress, items: list[jobs.Difference], prefix: str, *,
          credits_held: int | None) -> BatchOut:
    return BatchOut(id=batch_id, status=progress.status, total=progress.total, open=progress.open,
                    done=progress.done, failed=progress.failed, credits_held=credits_held, tier=progress.tier,
                    items=[difference(d, prefix) for d in items])


def credits(s: Statement) -> CreditsOut:
    b = s.balance
    return CreditsOut(plan=b.plan, available=b.available, held=b.held, used_this_period=b.used_this_period,
                      monthly_credits=b.monthly_credits, max_batch_size=b.max_batch_size, period_start=b.period_start,
                      entries=[LedgerEntry(at=e["created_at"], kind=e["kind"], amount=e["amount"],
                                           reason=e.get("reason"),
                                           batch_id=str(e["job_id"]) if e.get("job_id") else None)
                               for e in s.entries])
