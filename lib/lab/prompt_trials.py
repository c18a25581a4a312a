"""Prompt-template trials for notebooks: candidate templates side by side on one character.

A trial fills a template body exactly as a batch would (`prompts.build_prompt`), calls the backend and
finishes the result as the pipeline does (`postprocess.finish`: paste-back, then the score of that image),
but writes no job, item or credit rows, so candidates can be compared before one is saved and
activated. Gemini trials cost money the studio's reports never see: show `estimate_cost_usd` first.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from PIL import Image, ImageDraw

from lib.backends.base import ImageBackend, ImageRequest
from lib.backends.factory import price_table
from lib.backends.offline import default_face_box
from lib.catalog import prompts
from lib.catalog.characters import Character, load_base
from lib.consistency import postprocess
from lib.consistency.score import Score
from lib.core.errors import InvalidInput
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


def run_trial(
    backend: ImageBackend, character: Character, base_png: bytes, *, label: str, body: str,
    expression: Expression, model: str, image_size: str, threshold: float,
) -> Trial:
    """Generate and finish one image; GenerationFailed and AlignmentFailed propagate."""
    request = trial_request(character, base_png, body=body, expression=expression, model=model,
                            image_size=image_size)
    result = backend.generate(request)
    finished = postprocess.finish(base_png, result.png, face_box=face_box_of(character),
                                  align=backend.name != "offline", expression=expression.face,
                                  threshold=threshold)
    log.info("trial %s/%s: score %.1f, $%.3f", label, expression.key, finished.score.total, result.cost_usd)
    return Trial(template=label, expression=expression.key, prompt=request.prompt, png=finished.png,
                 score=finished.score, cost_usd=result.cost_usd)


def compare_templates(
    store: ObjectStore, backend: ImageBackend, character: Character, *, templates: Mapping[str, str],
    expressions: Sequence[Expression], model: str, image_size: str, threshold: float,
) -> list[Trial]:
    """Every template on every expression, template by template, scored against `threshold`."""
    base_png = load_base(store, character)
    return [run_trial(backend, character, base_png, label=label, body=body, expression=e, model=model,
                      image_size=image_size, threshold=threshold)
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
