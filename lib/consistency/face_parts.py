"""Where the eyes and the mouth sit inside a face box, and which of them an expression or variant changes.

The score judges a face part by part: identity where no expression reaches (fringe, outline, hair at the
sides, what sits around the eyes), the requested change where that expression changes a face. `FaceParts`
holds two eye boxes and a mouth box in base pixels: what a face finder reports, or (without one) the
proportions of our own bust-up renders, `FaceParts.default`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lib.design.expressions import LIBRARY
from lib.design.face_box import FaceBox

Box = tuple[int, int, int, int]  # x, y, w, h in base pixels

Share = tuple[float, float, float, float]  # x0, y0, x1, y1 as shares of the face box
# Measured on the offline renderer's faces (box: brow line to chin), grown a little.
RENDERER_LAYOUT: tuple[Share, Share, Share] = ((0.12, 0.38, 0.46, 0.68), (0.54, 0.38, 0.88, 0.68),
                                               (0.34, 0.74, 0.66, 0.90))
# Measured on three real sprites (../shared/real-dev) in the boxes lbpcascade_animeface finds (square,
# from above the brows to below the chin), grown a little.
CASCADE_LAYOUT: tuple[Share, Share, Share] = ((0.15, 0.24, 0.43, 0.58), (0.53, 0.24, 0.85, 0.58),
                                              (0.38, 0.55, 0.67, 0.79))

# Eye and mouth boxes (width, height) in eye distances, around found centres (`FaceParts.from_points`).
EYE_SIZE, MOUTH_SIZE = (0.64, 0.6), (0.6, 0.38)
# Glasses' bridge: looked for within this many eye distances of the line through the eyes, across the gap
# between the eye boxes less this share of it at each end.
BRIDGE_HALF, BRIDGE_INSET = 0.12, 0.25
FRINGE_ABOVE = 0.45  # the fringe zone reaches this many eye distances above the eyes' top

ZONES = ("eyes", "brows", "mouth", "cheeks")
_WORDS = {
    "eyes": r"\beyes?\b|lids?|irises|wink|glanc|squeez|glar|stare",
    "brows": r"brow",
    "mouth": r"mouth|smile|smirk|frown|teeth|grin|pout|lips|yawn|grimac|:3",
    "cheeks": r"blush|cheek|tear|sweat|shadow",
}


@dataclass(frozen=True)
class FaceParts:
    """Two eye boxes (the picture's left one first) and a mouth box, in base pixels."""

    left_eye: Box
    right_eye: Box
    mouth: Box

    @classmethod
    def default(cls, box: FaceBox, layout: tuple[Share, Share, Share] = RENDERER_LAYOUT) -> FaceParts:
        """Eyes and mouth at `layout`'s shares of `box` (default: the renderer's, for our own bases)."""
        def part(share: Share) -> Box:
            x0, y0 = box.x + share[0] * box.w, box.y + share[1] * box.h
            return round(x0), round(y0), round((share[2] - share[0]) * box.w), round((share[3] - share[1]) * box.h)
        return cls(*(part(share) for share in layout))

    @classmethod
    def from_points(cls, box: FaceBox, left_eye: tuple[int, int], right_eye: tuple[int, int],
                    mouth: tuple[int, int]) -> FaceParts:
        """Boxes around a face finder's eye and mouth centres (base px), sized from the distance between the
        eyes (a face box's size says little: a detector's box may hold hair and neck): an eye `EYE_SIZE` of
        it, the mouth `MOUTH_SIZE`. Measured on the real sprites' hand-drawn boxes (../shared/real-dev)."""
        d = float(np.hypot(right_eye[0] - left_eye[0], right_eye[1] - left_eye[1]))
        if d < 0.25 * box.w:  # two points that cannot be a pair of eyes: size from the box instead
            d = 0.5 * box.w

        def around(point: tuple[int, int], size: tuple[float, float]) -> Box:
            w, h = round(size[0] * d), round(size[1] * d)
            return point[0] - w // 2, point[1] - h // 2, w, h
        return cls(around(left_eye, EYE_SIZE), around(right_eye, EYE_SIZE), around(mouth, MOUTH_SIZE))

    @classmethod
    def parse(cls, value: object) -> FaceParts:
        """From `{"left_eye": [x, y, w, h], "right_eye": [...], "mouth": [...]}` (JSON, a face finder's answer)."""
        if not isinstance(value, dict):
            raise ValueError("face parts must be an object with left_eye, right_eye and mouth boxes")
        boxes = []
        for name in ("left_eye", "right_eye", "mouth"):
            box = value.get(name)
            if not isinstance(box, list | tuple) or len(box) != 4 or not all(isinstance(v, int) for v in box):
                raise ValueError(f"{name} must be x, y, w, h in whole pixels")
            boxes.append(tuple(int(v) for v in box))
        return cls(*boxes)  # type: ignore[arg-type]


def zones_for(expression: str | None, variant: str | None) -> tuple[str, ...]:
    """The face zones a request changes: a variant's own, else the zones its expression's prompt names."""
    if variant == "blink":
        return ("eyes",)
    if variant == "mouth_open":
        return ("mouth",)
    if expression is None or expression not in LIBRARY:
        return ZONES
    prompt = LIBRARY[expression].prompt.lower()
    named = tuple(zone for zone in ZONES if re.search(_WORDS[zone], prompt))
    return named or ZONES


def expects_change(expression: str | None, variant: str | None) -> bool:
    """False only for the neutral face without a variant: it may rightly be the base's own face."""
    return variant is not None or expression != "neutral"


# ---------------------------------------------------------------- zone masks on a face crop


@dataclass(frozen=True)
class Zones:
    """Boolean masks over a face crop: where each part of the judgement looks."""

    eyes: np.ndarray
    brows: np.ndarray
    mouth: np.ndarray
    cheeks: np.ndarray
    identity: np.ndarray  # inside the box, away from its border and from every expression zone
    border: np.ndarray  # the band just inside the box's edge, where a pasted face meets the base
    fringe: np.ndarray  # above and between the eyes, where the fringe falls (hair, not an expression's brows)
    bridge: np.ndarray  # a band along the line through the eyes, across the gap between them
    box: np.ndarray

    def of(self, name: str) -> np.ndarray:
        return getattr(self, name)  # type: ignore[no-any-return]


def _rect(shape: tuple[int, int], x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    h, w = shape
    mask[max(0, round(y0)) : min(h, round(y1)), max(0, round(x0)) : min(w, round(x1))] = True
    return mask


def _bridge(shape: tuple[int, int], parts: FaceParts, *, origin: tuple[float, float], k: float) -> np.ndarray:
    """A band along the line through both eyes' centres, across the gap between the eye boxes (glasses' bridge
    sits on it, on a tilted head too); the gap's ends are left out, where glasses' rims sit."""
    (lx, ly, lw, lh), (rx, ry, rw, rh) = sorted((parts.left_eye, parts.right_eye))
    (ax, ay), (bx, by) = ((lx + lw / 2, ly + lh / 2), (rx + rw / 2, ry + rh / 2))
    inset = BRIDGE_INSET * (rx - lx - lw)
    x0, x1 = (lx + lw + inset - origin[0]) * k, (rx - inset - origin[0]) * k
    half = BRIDGE_HALF * float(np.hypot(bx - ax, by - ay)) * k
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    slope = (by - ay) / max(bx - ax, 1.0)
    on_line = (ay - origin[1]) * k + slope * (xs - (ax - origin[0]) * k)
    return (np.abs(ys - on_line) <= half) & (xs >= x0) & (xs < x1)


def zone_masks(
    shape: tuple[int, int], box: FaceBox, parts: FaceParts, *, origin: tuple[float, float], k: float
) -> Zones:
    """The zones on a crop of `shape` whose top-left is base pixel `origin`, at `k` crop px per base px."""
    def r(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        return _rect(shape, (x0 - origin[0]) * k, (y0 - origin[1]) * k, (x1 - origin[0]) * k, (y1 - origin[1]) * k)

    face = r(box.x, box.y, box.x + box.w, box.y + box.h)
    eyes = np.zeros(shape, bool)
    brows = np.zeros(shape, bool)
    cheeks = np.zeros(shape, bool)
    mx, my, mw, mh = parts.mouth
    for ex, ey, ew, eh in (parts.left_eye, parts.right_eye):
        eyes |= r(ex, ey, ex + ew, ey + eh)
        brows |= r(ex - 0.1 * ew, ey - 0.6 * eh, ex + 1.1 * ew, ey)
        cheeks |= r(ex, ey + eh, ex + ew, max(ey + 1.6 * eh, my + mh))
    mouth = r(mx, my, mx + mw, my + mh)
    band = max(2.0, 0.06 * min(box.w, box.h))
    inner = r(box.x + band, box.y + band, box.x + box.w - band, box.y + box.h - band)
    margin = 0.04 * min(box.w, box.h)
    grown = np.zeros(shape, bool)
    for zx, zy, zw, zh in (parts.left_eye, parts.right_eye, parts.mouth):
        grown |= r(zx - margin, zy - 0.6 * zh - margin, zx + zw + margin, zy + zh + margin)
    grown |= cheeks
    bridge = _bridge(shape, parts, origin=origin, k=k)
    (lx, ly, lw, lh), (rx, ry, rw, rh) = sorted((parts.left_eye, parts.right_eye))
    d = float(np.hypot(rx + rw / 2 - lx - lw / 2, ry + rh / 2 - ly - lh / 2))
    fringe = r(lx, min(ly, ry) - FRINGE_ABOVE * d, rx + rw, max(ly + lh / 2, ry + rh / 2)) & ~eyes
    return Zones(eyes=eyes & face, brows=brows & face, mouth=mouth & face, cheeks=cheeks & face & ~mouth,
                 identity=inner & ~grown, border=face & ~inner, fringe=fringe & face, bridge=bridge & face,
                 box=face)
