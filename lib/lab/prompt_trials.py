"""Prompt-template trials for notebooks: candidate templates side by side on one character.

A trial fills a template body exactly as a batch would (`prompts.build_prompt`), calls the backend and
finishes the result as the pipeline does (`postprocess.finish`: paste-back, then the score of that image),
but writes no item or credit rows, so candidates can be compared before one is saved and activated.
Gemini trials cost money: show `estimate_cost_usd` first, and pass a `TrialLedger` so every call is recorded
as a job of kind "trial" (owner, template, cost) that the admin reports show as their own line.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import pandas as pd
from PIL import Image, ImageDraw
from sqlalchemy import Engine

from lib.accounts.users import User
from lib.backends.base import GenerationFailed, ImageBackend, ImageRequest
from lib.backends.factory import price_table
from lib.backends.offline import default_face_box
from lib.catalog import prompts
from lib.catalog.characters import Character, load_base
from lib.consistency import postprocess
from lib.consistency.score import Score
from lib.core.errors import InvalidInput
from lib.core.queries import q
from lib.core.settings import Settings
from lib.core.storage import ObjectStore
from lib.design.expressions import Expression
from lib.design.face_box import FaceBox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trial:
    """One template tried on one expression: the prompt sent, the finished image and its score."""

    template: str
    expression: str
    prompt: str
    png: bytes
    score: Score
    cost_usd: float


def face_box_of(character: Character) -> FaceBox:
    return character.face_box or default_face_box(character.base_width, character.base_height)


def trial_request(
    character: Character, base_png: bytes, *, body: str, expression: Expression, model: str, image_size: str
) -> ImageRequest:
    """The request a batch with this template would send for this expression of the base."""
    prompt = prompts.build_prompt(body, character_name=character.name, features=character.features,
                                  expression=expression)
    return ImageRequest(
        base_png=base_png, prompt=prompt, width=character.base_width, height=character.base_height, model=model,
        image_size=image_size, expression_key=expression.key, features=character.features.model_dump(),
        face=expression.face, face_box=face_box_of(character), base_generated=character.base_source == "generated",
    )


class TrialLedger:
    """Records a notebook's Gemini trial calls: one job of kind "trial" per template, one row per image."""

    def __init__(self, engine: Engine, *, actor: User, character: Character) -> None:
        self.engine = engine
        self.actor = actor
        self.character = character
        self._jobs: dict[tuple[str, str, str], UUID] = {}

    def record(self, *, label: str, body: str, model: str, image_size: str, expression_key: str, outcome: str,
               calls: int, cost_usd: float) -> UUID:
        """Write one image's calls and cost (in its own transaction); returns the trial job's id."""
        with self.engine.begin() as conn:
            key = (label, model, image_size)
            if key not in self._jobs:
                self._jobs[key] = conn.execute(q("insert_trial_job"), {
                    "user_id": str(self.actor.id), "character_id": str(self.character.id), "backend": "gemini",
                    "model": model, "image_size": image_size,
                    "settings": json.dumps({"template": label, "body": body})}).scalar_one()
            conn.execute(q("insert_trial_call"), {"job_id": str(self._jobs[key]), "expression_key": expression_key,
                                                  "outcome": outcome, "calls": calls,
                                                  "cost_usd": Decimal(str(round(cost_usd, 4)))})
        return self._jobs[key]


def run_trial(
    backend: ImageBackend, character: Character, base_png: bytes, *, label: str, body: str,
    expression: Expression, model: str, image_size: str, threshold: float, ledger: TrialLedger | None = None,
) -> Trial:
    """Generate and finish one image; GenerationFailed and AlignmentFailed propagate.

    With a `ledger`, a Gemini call is recorded whether it made an image or not (the offline renderer is free).
    """
    request = trial_request(character, base_png, body=body, expression=expression, model=model,
                            image_size=image_size)
    record = ledger is not None and backend.name != "offline"
    try:
        result = backend.generate(request)
    except GenerationFailed as exc:
        if record and ledger is not None:
            ledger.record(label=label, body=body, model=model, image_size=image_size, expression_key=expression.key,
                          outcome=exc.kind, calls=len(exc.attempts), cost_usd=0.0)
        raise
    if record and ledger is not None:
        ledger.record(label=label, body=body, model=model, image_size=image_size, expression_key=expression.key,
                      outcome="ok", calls=len(result.attempts), cost_usd=result.cost_usd)
    finished = postprocess.finish(base_png, result.png, face_box=face_box_of(character),
                                  align=backend.name != "offline", expression=expression.face,
                                  threshold=threshold)
    log.info("trial %s/%s: score %.1f, $%.3f", label, expression.key, finished.score.total, result.cost_usd)
    return Trial(template=label, expression=expression.key, prompt=request.prompt, png=finished.png,
                 score=finished.score, cost_usd=result.cost_usd)


def compare_templates(
    store: ObjectStore, backend: ImageBackend, character: Character, *, templates: Mapping[str, str],
    expressions: Sequence[Expression], model: str, image_size: str, threshold: float,
    ledger: TrialLedger | None = None,
) -> list[Trial]:
    """Every template on every expression, template by template, scored against `threshold`."""
    base_png = load_base(store, character)
    return [run_trial(backend, character, base_png, label=label, body=body, expression=e, model=model,
                      image_size=image_size, threshold=threshold, ledger=ledger)
            for label, body in templates.items() for e in expressions]


def restated(prompt: str, character: Character) -> list[str]:
    """Which of the character's features the prompt names (what a model is told to keep)."""
    f = character.features
    checks: dict[str, list[str]] = {
        "name": [character.name], "hair": [f"{prompts.colour_name(f.hair_color)} hair"],
        "hair style": [f.hair_style.replace("_", " ")], "eyes": [f"{prompts.colour_name(f.eye_color)} eyes"],
        "skin": ["skin"], "outfit": [f.outfit], "accessories": [a.replace("_", " ") for a in f.accessories],
        "notes": [f.notes.strip()] if f.notes.strip() else [],
    }
    text = prompt.lower()
    return [name for name, phrases in checks.items() if phrases and all(p.lower() in text for p in phrases)]


def trials_frame(trials: Sequence[Trial], character: Character) -> pd.DataFrame:
    """One row per trial: score, pass, parts, cost, and the prompt's length and what it restates."""
    return pd.DataFrame([{
        "template": t.template, "expression": t.expression, "score": round(t.score.total, 1),
        "passed": t.score.passed, **{k: round(v, 1) for k, v in t.score.parts.items()},
        "flags": ",".join(t.score.flags), "cost_usd": t.cost_usd, "prompt_chars": len(t.prompt),
        "prompt_words": len(t.prompt.split()), "restates": ", ".join(restated(t.prompt, character)),
    } for t in trials])


def estimate_cost_usd(settings: Settings, *, model: str, image_size: str, images: int) -> float:
    """What `images` Gemini images of this model and size cost at the configured prices."""
    prices = price_table(settings)
    if (model, image_size) not in prices:
        raise InvalidInput(f"no price for {model} at {image_size}; set GEMINI_PRICES or choose another size")
    return round(prices[(model, image_size)] * images, 4)


def contact_sheet(images: Sequence[tuple[str, bytes]], *, thumb: int = 200, columns: int = 6) -> Image.Image:
    """Labelled thumbnails of PNGs on one white sheet (notebooks have no matplotlib)."""
    if not images:
        raise InvalidInput("nothing to show")
    pictures = []
    for _, png in images:
        with Image.open(io.BytesIO(png)) as picture:
            small = picture.convert("RGBA")
        small.thumbnail((thumb, thumb))
        pictures.append(small)
    cols = min(columns, len(images))
    cell_w, cell_h = thumb + 8, max(p.height for p in pictures) + 24
    sheet = Image.new("RGB", (cols * cell_w, -(-len(images) // cols) * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for index, ((label, _), picture) in enumerate(zip(images, pictures, strict=True)):
        x, y = (index % cols) * cell_w + 4, (index // cols) * cell_h + 4
        sheet.paste(picture, (x + (thumb - picture.width) // 2, y), picture)
        draw.text((x, y + cell_h - 22), label[:32], fill="black")
    return sheet
