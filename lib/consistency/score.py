"""How far an image model drifted from the base: a calibrated 0-100 score on its RAW output.

The result is aligned to the base (only to measure the framing and to compare like with like), then
compared on small copies (`SCORE_SIDE` px):

    preservation  outside the face, the share of the figure whose colour survived (1 px and mild-cast
                  tolerant), judged by the worst local window so one changed accessory counts
    palette       per dominant base colour (hair, outfit, skin...), how far its median moved beyond
                  the picture's common colour cast; plus the cast itself when strong
    structure     line art outside the face: tolerant edge agreement, worst local window included
    framing       shift, zoom and turn of the alignment against what a reviewer tolerates
    face_changed  whether the face box changed more than the rest of the picture did (a model that
                  hands the base back unchanged scores ~0 here and is flagged "unchanged_face")

`total` is a weighted geometric mean of the first four (one bad part pulls it down), cut by a face
gate. `DEFAULT_THRESHOLD` comes from `benchmarks/bench_calibration.py`; the studio passes its
configured `consistency_threshold` (see `notebooks/consistency_calibration.ipynb`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lib.consistency.align import (
    AlignmentFailed,
    Transform,
    background_colour,
    base_memo,
    colour_key,
    edge_agreement,
    estimate_transform,
    flatten,
    line_art,
    outside_mask,
    small_copies,
    work_scale,
)
from lib.consistency.face_region import estimate_face_box
from lib.design.face_box import FaceBox

log = logging.getLogger(__name__)

SCORE_SIDE = 384
DEFAULT_THRESHOLD = 70.0
WEIGHTS = {"preservation": 0.3, "palette": 0.25, "structure": 0.25, "framing": 0.2}
CHANGED_DE = 12.0  # CIE76 ΔE above which a pixel counts as changed
# Framing tolerances: shift as a share of the longer side, zoom as |ln scale|, turn in degrees.
SHIFT_TOL, ZOOM_TOL, TURN_TOL = 0.05, 0.07, 4.0


@dataclass(frozen=True)
class Score:
    """A result's consistency with its base; every number is 0-100, higher is more consistent."""

    total: float
    parts: dict[str, float]
    flags: tuple[str, ...] = ()
    passed: bool = False
    details: dict[str, float] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD

    def to_json(self) -> dict[str, object]:
        return {
            "total": round(self.total, 1),
            "parts": {k: round(v, 1) for k, v in self.parts.items()},
            "flags": list(self.flags),
            "passed": self.passed,
            "threshold": self.threshold,
            "details": {k: round(v, 4) for k, v in self.details.items()},
        }


@dataclass(frozen=True)
class _Pair:
    """Base and aligned result as small Lab images plus the masks every part needs."""

    base_lab: np.ndarray
    var_lab: np.ndarray
    base_gray: np.ndarray
    var_gray: np.ndarray
    outside: np.ndarray  # outside the (grown) face box and covered by the warped result
    face: np.ndarray  # inside the (shrunk) face box and covered
    figure: np.ndarray  # the base's opaque figure
    fringe: np.ndarray  # the top band of the face box: hair that no expression recolours


# ---------------------------------------------------------------- preparation


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)


def _lab_and_gray(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab, gray = _lab(rgb), cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    lab.flags.writeable = gray.flags.writeable = False  # may be shared by every result of one base
    return lab, gray


def _inside_mask(shape: tuple[int, int], box: FaceBox, k: float, shrink: float) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros(shape, dtype=bool)
    mask[round((y + h * shrink) * k) : round((y + h * (1 - shrink)) * k),
         round((x + w * shrink) * k) : round((x + w * (1 - shrink)) * k)] = True
    return mask


def _prepare(base: Image.Image, copies: tuple[np.ndarray, np.ndarray], box: FaceBox, t: Transform | None) -> _Pair:
    k = work_scale(base.size, SCORE_SIDE)
    size = (max(1, round(base.width * k)), max(1, round(base.height * k)))
    small_base = base_memo(base, ("score_copy", size),
                           lambda: cv2.resize(copies[0], size, interpolation=cv2.INTER_AREA))
    small_var = cv2.resize(copies[1], size, interpolation=cv2.INTER_AREA)
    shape = small_base.shape[:2]
    valid = np.ones(shape, dtype=bool)
    if t is not None:
        m = t.matrix.copy()
        m[:, 2] *= k
        small_var = cv2.warpAffine(small_var, m, size, flags=cv2.INTER_LINEAR)
        valid = cv2.erode(cv2.warpAffine(np.full(shape, 255, np.uint8), m, size), np.ones((5, 5), np.uint8)) == 255
    bg = background_colour(small_var)
    base_lab, base_gray = base_memo(base, ("score_lab_gray", size, colour_key(bg)),
                                    lambda: _lab_and_gray(flatten(small_base, bg)))
    var_lab, var_gray = _lab_and_gray(flatten(small_var, bg))
    return _Pair(
        base_lab=base_lab,
        var_lab=var_lab,
        base_gray=base_gray,
        var_gray=var_gray,
        outside=outside_mask(shape, box, k, margin=0.04) & valid,
        face=_inside_mask(shape, box, k, shrink=0.06) & valid,
        figure=small_base[..., 3] > 250,
        fringe=_inside_mask(shape, box, k, shrink=0.0) & ~_inside_mask(shape, (box[0], box[1] + box[3] // 5, box[2],
                                                                               box[3]), k, shrink=0.0) & valid,
    )


def _cast(p: _Pair) -> np.ndarray:
    """The picture-wide colour cast (median Lab offset over the figure outside the face)."""
    m = p.outside & p.figure
    if m.sum() < 50:
        return np.zeros(3, np.float32)
    return np.median(p.var_lab[m] - p.base_lab[m], axis=0).astype(np.float32)


def _tolerant_de(p: _Pair, cast: np.ndarray) -> np.ndarray:
    """Per-pixel ΔE after removing a mild cast, the minimum over 1 px shifts of the result."""
    mild = np.clip(cast, -8.0, 8.0)
    target = p.base_lab + mild
    padded = cv2.copyMakeBorder(p.var_lab, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    h, w = p.base_lab.shape[:2]
    channels = np.ones((1, 3), np.float32)
    best = None  # squared ΔE (OpenCV: this runs nine times per image); one square root at the end
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            d = cv2.subtract(padded[dy : dy + h, dx : dx + w], target)
            squared = cv2.transform(cv2.multiply(d, d), channels)
            best = squared if best is None else cv2.min(best, squared)
    return np.sqrt(best)


def _worst_window(values: np.ndarray, weight: np.ndarray, side: int, min_weight: float = 0.25) -> float:
    """The largest local mean of `values` over windows whose mean `weight` exceeds `min_weight`."""
    num = cv2.blur(values.astype(np.float32), (side, side))
    den = cv2.blur(weight.astype(np.float32), (side, side))
    ok = den > min_weight
    return float((num[ok] / den[ok]).max()) if ok.any() else 0.0


def _ramp(value: float, good: float, bad: float) -> float:
    """100 at `good` or better, 0 at `bad` or worse, linear between."""
    t = (value - bad) / (good - bad)
    return float(100 * min(1.0, max(0.0, t)))


# ---------------------------------------------------------------- parts


def _preservation(p: _Pair, changed: np.ndarray) -> tuple[float, dict[str, float]]:
    region = p.outside & (p.figure | changed)
    frac = float(changed[region].mean()) if region.any() else 1.0
    side = max(8, min(p.outside.shape) // 6)
    local = _worst_window(changed & p.outside, p.outside, side)
    part = min(_ramp(frac, 0.03, 0.25), _ramp(local, 0.12, 0.5))
    return part, {"changed_outside": frac, "changed_outside_local": local}


def _palette(p: _Pair, cast: np.ndarray) -> tuple[float, dict[str, float]]:
    m = (p.outside | p.fringe) & cv2.erode(p.figure.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if m.sum() < 100:
        return 100.0, {}
    pixels = p.base_lab[m]
    rng = np.random.default_rng(0)
    sample = pixels[rng.choice(len(pixels), min(3000, len(pixels)), replace=False)]
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(sample, 6, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    labels = np.argmin((centres * centres).sum(axis=1) - 2 * pixels @ centres.T, axis=1)  # nearest centre
    moved = p.var_lab[m] - pixels
    sizes = np.bincount(labels, minlength=len(centres))
    worst = 0.0
    for c in range(len(centres)):
        if sizes[c] < 0.04 * len(pixels):
            continue
        shift = np.median(moved[labels == c], axis=0) - cast
        worst = max(worst, float(np.linalg.norm(shift)))
    cast_size = float(np.linalg.norm(cast))
    part = min(_ramp(worst, 6.0, 22.0), _ramp(cast_size, 10.0, 30.0))
    return part, {"palette_worst_de": worst, "colour_cast_de": cast_size}


def _structure(p: _Pair) -> tuple[float, dict[str, float]]:
    region = p.outside & (cv2.dilate(p.figure.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    a, b = line_art(p.base_gray) & region, line_art(p.var_gray) & region
    f1 = edge_agreement(a, b, region)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    near_a, near_b = cv2.dilate(a.astype(np.uint8), kernel) > 0, cv2.dilate(b.astype(np.uint8), kernel) > 0
    stray = (a & ~near_b) | (b & ~near_a)
    local = _worst_window(stray, np.ones_like(stray), max(8, min(region.shape) // 6), min_weight=0.0)
    part = min(_ramp(f1, 0.85, 0.55), _ramp(local, 0.03, 0.07))
    return part, {"edge_f1": f1, "stray_edges_local": local}


def _framing(t: Transform | None, size: tuple[int, int]) -> tuple[float, dict[str, float]]:
    if t is None:
        return 0.0, {}
    d = max(t.shift_px / (SHIFT_TOL * max(size)), abs(math.log(t.scale)) / ZOOM_TOL, abs(t.rotation_deg) / TURN_TOL)
    details = {"shift_px": t.shift_px, "scale": t.scale, "rotation_deg": t.rotation_deg, "framing_error": d}
    return _ramp(d, 0.6, 1.4), details


def _face_changed(p: _Pair, changed: np.ndarray) -> tuple[float, dict[str, float]]:
    inside = float(changed[p.face].mean()) if p.face.any() else 0.0
    region = p.outside & p.figure
    outside = float(changed[region].mean()) if region.any() else 0.0
    excess = inside - 1.5 * min(outside, 0.01)  # the noise floor; a recoloured outfit is not face noise
    return _ramp(excess, 0.03, 0.005), {"changed_face": inside}


# ---------------------------------------------------------------- total


def _total(parts: dict[str, float]) -> float:
    log_mean = sum(w * math.log(max(parts[name], 1.0) / 100) for name, w in WEIGHTS.items())
    gate = 0.5 + 0.5 * min(1.0, parts["face_changed"] / 50)
    return 100 * math.exp(log_mean) * gate


def _flags(parts: dict[str, float], aligned: bool) -> tuple[str, ...]:
    flags = [] if aligned else ["misaligned"]
    checks = (("face_changed", 30, "unchanged_face"), ("framing", 50, "framing_drift"),
              ("palette", 50, "palette_drift"), ("structure", 50, "structure_drift"),
              ("preservation", 50, "content_drift"))
    flags += [flag for name, limit, flag in checks if parts[name] < limit]
    return tuple(flags)


def prepare(
    base: Image.Image, result: Image.Image, *, face_box: FaceBox
) -> tuple[tuple[np.ndarray, np.ndarray], Transform | None]:
    """The small working copies and the placement of `result` on `base` (None when it cannot be placed)."""
    copies = small_copies(base, result)
    try:
        return copies, estimate_transform(base, result, face_box=face_box, small=copies)
    except AlignmentFailed as exc:
        log.info("scoring an unaligned result: %s", exc)
        return copies, None


def score(
    base: Image.Image, result: Image.Image, *, face_box: FaceBox, expect_change: bool = True,
    prepared: tuple[tuple[np.ndarray, np.ndarray], Transform | None] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Score:
    """Score the raw model output `result` against `base`; see the module docstring.

    `expect_change=False` is for requests whose face may rightly match the base (the neutral
    expression of a neutral base, small talking/blink variants): "face_changed" then counts as met.
    `prepared` passes in `prepare(base, result, face_box=...)` when the caller aligns the pair too.
    `passed` needs `total >= threshold` (the studio passes `Settings.consistency_threshold`).
    """
    box = FaceBox.checked(face_box, base.size)
    copies, t = prepared if prepared is not None else prepare(base, result, face_box=box)
    p = _prepare(base, copies, box, t)
    cast = _cast(p)
    changed = _tolerant_de(p, cast) > CHANGED_DE
    results = {
        "preservation": _preservation(p, changed),
        "palette": _palette(p, cast),
        "structure": _structure(p),
        "framing": _framing(t, base.size),
        "face_changed": _face_changed(p, changed),
    }
    parts = {name: value for name, (value, _) in results.items()}
    if not expect_change:
        parts["face_changed"] = 100.0
    details = {k: v for _, extra in results.values() for k, v in extra.items()}
    total = _total(parts)
    flags = _flags(parts, t is not None)
    passed = total >= threshold and not {"unchanged_face", "misaligned"} & set(flags)
    return Score(total=total, parts=parts, flags=flags, passed=passed, details=details, threshold=threshold)


def score_files(base_path: str | Path, variant_path: str | Path, *, face_box: FaceBox | None = None) -> Score:
    """`score` for two image files; without `face_box` it is estimated from the pair."""
    with Image.open(base_path) as b, Image.open(variant_path) as v:
        base, result = b.convert("RGBA"), v.convert("RGBA")
    results: Sequence[Image.Image] = (result,)
    box = face_box if face_box is not None else estimate_face_box(base, results)
    return score(base, result, face_box=box)
