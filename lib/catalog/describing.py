"""Describe with Gemini, for the catalog: one call that reads a character's features from its picture, and
its cost recorded like every other model call (the reports add `describe_calls` to the spend).

The model call happens outside any transaction (it may take seconds); `record_call` then stores what it
cost, whether or not it gave a description. A failed description changes no feature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

from lib.accounts.users import User
from lib.backends.describe import Described, DescribeFailed
from lib.core.queries import q
from lib.design.features import Features


class Describer(Protocol):
    model: str

    def describe(self, png: bytes) -> Described:
        """The features read from `png`, or DescribeFailed."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What one describe call gave: features, or a problem to show; and what it cost."""

    model: str
    features: Features | None
    problem: str
    cost_usd: float
    usage: dict[str, Any] = field(default_factory=dict)


def describe_picture(describer: Describer, png: bytes) -> Outcome:
    """Ask the model once; a block, a bad answer or an error becomes `problem` (features None)."""
    try:
        described = describer.describe(png)
    except DescribeFailed as exc:
        return Outcome(describer.model, None, exc.reason, exc.cost_usd, exc.usage)
    return Outcome(described.model, described.features, "", described.cost_usd, described.usage)


def record_call(conn: Connection, *, actor: User, outcome: Outcome) -> None:
    """Store the call and its cost (inside the caller's transaction)."""
    conn.execute(q("record_describe_call"), {
        "user_id": str(actor.id), "model": outcome.model, "ok": outcome.features is not None,
        "cost_usd": outcome.cost_usd, "usage": json.dumps(outcome.usage, default=str),
        "reason": outcome.problem[:500],
    })
