"""The face model: which cues (brows, eyes, mouth, blush, tears, sweat, marks) draw each expression and variant."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from lib.core.errors import InvalidInput
from lib.design.expressions import LIBRARY, VARIANTS, Expression


@dataclass(frozen=True)
class Face:
    """How the offline renderer draws one built-in expression."""

    brows: tuple[str, str]
    eyes: str
    mouth: str
    mouth_open: float = 0.0
    teeth: bool = False
    blush: int = 0
    tears: int = 0
    sweat: int = 0
    marks: tuple[str, ...] = ()


def _face(brows: str | tuple[str, str], eyes: str, mouth: str, mouth_open: float = 0.0, **cues: object) -> Face:
    pair = (brows, brows) if isinstance(brows, str) else brows
    return Face(pair, eyes, mouth, mouth_open, **cues)  # type: ignore[arg-type]


_FACES: dict[str, Face] = {
    "neutral": _face("normal", "open", "line"),
    "happy": _face("soft", "open", "smile", 0.9, blush=1),
    "angry": _face("angry", "narrow", "grit", 0.35, marks=("anger",)),
    "sad": _face("sad", "down", "frown"),
    "surprised": _face("raised", "wide", "o", 0.9),
    "embarrassed": _face("sad", "open", "wavy", blush=2, sweat=1),
    "smug": _face(("relaxed", "raised"), "smug", "smirk"),
    "worried": _face("sad", "uneasy", "frown", sweat=1),
    "crying": _face("sad", "teary", "frown", 0.9, blush=1, tears=2),
    "laughing": _face("raised", "happy", "smile", 1.25, teeth=True, blush=1),
    "thinking": _face(("raised", "normal"), "glance", "pout"),
    "sleepy": _face("relaxed", "sleepy", "o", 0.3, marks=("zzz",)),
    "admiration": _face("raised", "sparkle", "smile", 0.5, blush=1, marks=("sparkles",)),
    "amusement": _face("soft", "happy", "cat"),
    "anger": _face("angry", "narrow", "frown", 1.3, teeth=True, marks=("anger", "anger2")),
    "annoyance": _face("angry", "flat", "line", marks=("anger",)),
    "approval": _face("soft", "gentle", "smile"),
    "caring": _face("sad", "gentle", "smile", blush=1, marks=("heart",)),
    "confusion": _face(("raised", "angry"), "blank", "wavy", sweat=1, marks=("question",)),
    "curiosity": _face("raised", "sparkle", "o", 0.3, marks=("question",)),
    "desire": _face("relaxed", "dreamy", "smile", 0.4, blush=2),
    "disappointment": _face("sad", "down", "frown", marks=("gloom",)),
    "disapproval": _face(("raised", "angry"), "flat", "frown"),
    "disgust": _face("angry", "narrow", "grimace", sweat=1, marks=("gloom",)),
    "embarrassment": _face("sad", "squeeze", "wavy", blush=2, sweat=1),
    "excitement": _face("raised", "sparkle", "smile", 1.1, blush=1, marks=("sparkles",)),
    "fear": _face("sad", "tiny", "wavy", 0.5, sweat=2, marks=("gloom",)),
    "gratitude": _face("soft", "happy", "smile", blush=1, marks=("heart",)),
    "grief": _face("sad", "squeeze", "frown", 0.8, tears=2, marks=("gloom",)),
    "joy": _face("raised", "happy", "smile", 1.0, blush=1, marks=("sparkles",)),
    "love": _face("soft", "heart", "smile", 0.3, blush=2, marks=("hearts",)),
    "nervousness": _face("sad", "uneasy", "wavy", blush=1, sweat=2),
    "optimism": _face("raised", "sparkle", "smile"),
    "pride": _face(("relaxed", "raised"), "closed", "smirk", marks=("sparkle",)),
    "realization": _face("raised", "wide", "o", 0.5, marks=("exclaim",)),
    "relief": _face("soft", "closed", "smile", sweat=1),
    "remorse": _face("sad", "down", "frown", tears=1),
    "sadness": _face("sad", "teary", "frown", tears=1),
    "surprise": _face("raised", "tiny", "o", 1.0, marks=("exclaim",)),
}

CLOSED_EYES = frozenset({"happy", "closed", "squeeze"})  # eyes already shut: a blink leaves them alone


def _apply_variant(face: Face, variant: str | None) -> Face:
    if variant == "blink" and face.eyes not in CLOSED_EYES:
        return replace(face, eyes="blink")
    if variant == "mouth_open":
        amount = 0.9 if face.mouth_open == 0 else face.mouth_open * 1.45 + (0.3 if face.mouth == "o" else 0)
        return replace(face, mouth_open=amount)
    return face


def vary(face: Face, take: int) -> Face:
    """Another take of a face for a re-run (take 2, 3, …): a little more or less mouth and blush, never the
    same as take 1, and the same for the same take (the renderer stays deterministic)."""
    if take <= 1:
        return face
    rng = random.Random(take)
    varied = replace(face, mouth_open=round(face.mouth_open * rng.uniform(0.75, 1.25), 2) if face.mouth_open else 0.0,
                     blush=min(2, max(0, face.blush + rng.choice((-1, 0, 1)))))
    return varied if varied != face else replace(face, blush=(face.blush + 1) % 3)


def resolve(expression: Expression | None, variant: str | None) -> Face:
    """The cues that draw `expression` (neutral when None) with `variant` applied; unknown ones are refused."""
    expression = expression or LIBRARY["neutral"]
    if expression.face not in _FACES:
        raise InvalidInput(f"the offline renderer has no face {expression.face!r}")
    if variant is not None and variant not in VARIANTS:
        raise InvalidInput(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return _apply_variant(_FACES[expression.face], variant)
