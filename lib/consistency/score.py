"""The consistency score: 0-100 for what the user will get, with the parts a reviewer can read.

With paste-back (the studio's default) everything outside the face box is the base's own pixels, so the
score judges the final face (`lib.consistency.face_judge`): identity inside the face, the requested change
where that expression or variant changes a face, no seam where the pasted face meets the base, and
`placement` (the answer could be placed on the base at all; when it cannot, the total is 0 and the flag
"unplaceable"). Drift outside the face is measured on the model's raw answer, aligned and compared on
small copies (`SCORE_SIDE` px):

    preservation  outside the face, the share of the figure whose colour survived (1 px and mild-cast
                  tolerant), judged by the worst local window so one changed accessory counts
    palette       per dominant base colour (hair, outfit, skin...), how far its median moved beyond
                  the picture's common colour cast; plus the cast itself when strong
    structure     line art outside the face: tolerant edge agreement, worst local window included
    framing       shift, zoom and turn of the alignment against what a reviewer tolerates

With paste-back those four are information (`restored`, flag "restored_by_paste_back"), never a
failure; without it they are parts and fail as they always did. `total` is a weighted geometric mean
of the parts (one bad part pulls it down), capped at 1.4x the weakest part; `passed` needs
`total >= threshold` and no failing flag.
`DEFAULT_THRESHOLD` comes from `benchmarks/bench_calibration.py`; the studio passes its configured
`consistency_threshold` (see `notebooks/consistency_calibration.ipynb`).
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
from lib.consistency.face_finder import find_face
from lib.consistency.face_judge import CHANGED_DE, judge_face, ramp, tolerant_de, worst_window
from lib.consistency.face_parts import FaceParts
from lib.consistency.face_region import estimate_face_box
from lib.design.face_box import FaceBox

log = logging.getLogger(__name__)

SCORE_SIDE = 384
DEFAULT_THRESHOLD = 70.0
# Weights of the parts in the total: with paste-back only the face is judged; without it, the raw answer is
# what users get, so drift outside the face counts too (and there is no seam).
WEIGHTS = {"identity": 0.45, "change": 0.35, "seam": 0.2}
RAW_WEIGHTS = {"identity": 0.25, "change": 0.2, "preservation": 0.15, "palette": 0.15, "structure": 0.15,
               "framing": 0.1}
OUTSIDE_PARTS = ("preservation", "palette", "structure", "framing")
INFO_FLAGS = frozenset({"restored_by_paste_back"})  # reported, never failed
# Framing tolerances: shift as a share of the longer side, zoom as |ln scale|, turn in degrees.
SHIFT_TOL, ZOOM_TOL, TURN_TOL = 0.05, 0.07, 4.0


@dataclass(frozen=True)
class Score:
    """A result's consistency with its base; every number is 0-100, higher is more consistent.

    `restored` holds the outside-the-face parts that paste-back made moot (information only).
    """

    total: float
    parts: dict[str, float]
    flags: tuple[str, ...] = ()
    passed: bool = False
    details: dict[str, float] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    restored: dict[str, float] = field(default_factory=dict)
    paste_back: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "total": round(self.total, 1),
            "passed": self.passed,
            "parts": {k: round(v, 1) for k, v in self.parts.items()},
            "flags": list(self.flags),
            "restored": {k: round(v, 1) for k, v in self.restored.items()},
            "paste_back": self.paste_back,
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
    figure: np.ndarray  # the base's opaque figure


# ---------------------------------------------------------------- preparation


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)


def _lab_and_gray(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab, gray = _lab(rgb), cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    lab.flags.writeable = gray.flags.writeable = False  # may be shared by every result of one base
    return lab, gray


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
        figure=small_base[..., 3] > 250,
    )


def _cast(p: _Pair) -> np.ndarray:
    """The picture-wide colour cast (median Lab offset over the figure outside the face)."""
    m = p.outside & p.figure
    if m.sum() < 50:
        return np.zeros(3, np.float32)
    return np.median(p.var_lab[m] - p.base_lab[m], axis=0).astype(np.float32)


def _tolerant_de(p: _Pair, cast: np.ndarray) -> np.ndarray:
    return tolerant_de(p.base_lab, p.var_lab, cast)


# ---------------------------------------------------------------- parts


def _preservation(p: _Pair, changed: np.ndarray) -> tuple[float, dict[str, float]]:
    region = p.outside & (p.figure | changed)
    frac = float(changed[region].mean()) if region.any() else 1.0
    side = max(8, min(p.outside.shape) // 6)
    local = worst_window(changed & p.outside, p.outside, side)
    part = min(ramp(frac, 0.03, 0.25), ramp(local, 0.12, 0.5))
    return part, {"changed_outside": frac, "changed_outside_local": local}


def _palette(p: _Pair, cast: np.ndarray) -> tuple[float, dict[str, float]]:
    m = p.outside & cv2.erode(p.figure.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
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
    part = min(ramp(worst, 6.0, 22.0), ramp(cast_size, 10.0, 30.0))
    return part, {"palette_worst_de": worst, "colour_cast_de": cast_size}


def _structure(p: _Pair) -> tuple[float, dict[str, float]]:
    region = p.outside & (cv2.dilate(p.figure.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    a, b = line_art(p.base_gray) & region, line_art(p.var_gray) & region
    f1 = edge_agreement(a, b, region)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    near_a, near_b = cv2.dilate(a.astype(np.uint8), kernel) > 0, cv2.dilate(b.astype(np.uint8), kernel) > 0
    stray = (a & ~near_b) | (b & ~near_a)
    local = worst_window(stray, np.ones_like(stray), max(8, min(region.shape) // 6), min_weight=0.0)
    part = min(ramp(f1, 0.85, 0.55), ramp(local, 0.03, 0.07))
    return part, {"edge_f1": f1, "stray_edges_local": local}


def _framing(t: Transform | None, size: tuple[int, int]) -> tuple[float, dict[str, float]]:
    if t is None:
        return 0.0, {}
    d = max(t.shift_px / (SHIFT_TOL * max(size)), abs(math.log(t.scale)) / ZOOM_TOL, abs(t.rotation_deg) / TURN_TOL)
    details = {"shift_px": t.shift_px, "scale": t.scale, "rotation_deg": t.rotation_deg, "framing_error": d}
    return ramp(d, 0.6, 1.4), details


def _outside(
    p: _Pair, t: Transform | None, size: tuple[int, int], cast: np.ndarray
) -> tuple[dict[str, float], dict[str, float]]:
    """The four drift parts outside the face, measured on the raw answer, and their details."""
    changed = _tolerant_de(p, cast) > CHANGED_DE
    results = {
        "preservation": _preservation(p, changed),
        "palette": _palette(p, cast),
        "structure": _structure(p),
        "framing": _framing(t, size),
    }
    details = {k: v for _, extra in results.values() for k, v in extra.items()}
    return {name: value for name, (value, _) in results.items()}, details


def _total(parts: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted geometric mean, capped at 1.4x the weakest part: a part below 50 (which flags the
    result) keeps the total below 70, so the total orders results as the verdict does."""
    log_mean = sum(w * math.log(max(parts[name], 1.0) / 100) for name, w in weights.items())
    return min(100 * math.exp(log_mean / sum(weights.values())), 1.4 * min(parts[name] for name in weights))


_DRIFT_FLAGS = {"framing": "framing_drift", "palette": "palette_drift", "structure": "structure_drift",
                "preservation": "content_drift"}


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
    base: Image.Image, result: Image.Image, *, face_box: FaceBox, parts: FaceParts | None = None,
    expression: str | None = None, variant: str | None = None, paste_back: bool = True,
    prepared: tuple[tuple[np.ndarray, np.ndarray], Transform | None] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Score:
    """Score the model's answer `result` against `base` as the user will get it; see the module docstring.

    `expression` is the built-in face asked for (a custom expression passes the face it borrows; None:
    any change of the face counts), `variant` "blink" or "mouth_open". `parts` places the eyes and the
    mouth (default: `FaceParts.default(face_box)`). `prepared` passes in `prepare(base, result,
    face_box=...)` when the caller aligns the pair too. `passed` needs `total >= threshold` and no
    failing flag (the studio passes `Settings.consistency_threshold`).
    """
    box = FaceBox.checked(face_box, base.size)
    copies, t = prepared if prepared is not None else prepare(base, result, face_box=box)
    if t is None:
        return Score(total=0.0, parts={"placement": 0.0}, flags=("unplaceable",), passed=False,
                     threshold=threshold, paste_back=paste_back)
    p = _prepare(base, copies, box, t)
    cast = _cast(p)
    outside, details = _outside(p, t, base.size, cast)
    face = judge_face(base, result, face_box=box, parts=parts or FaceParts.default(box), transform=t,
                      paste=paste_back, expression=expression, variant=variant,
                      background=background_colour(copies[1]), cast=cast, small_result=copies[1])
    details.update(face.details)
    drift = [flag for name, flag in _DRIFT_FLAGS.items() if outside[name] < 50]
    if paste_back:
        judged, restored, weights = dict(face.parts), outside, WEIGHTS
        flags = list(face.flags) + (["restored_by_paste_back"] if drift else [])
    else:
        judged = {"identity": face.parts["identity"], "change": face.parts["change"], **outside}
        restored, weights = {}, RAW_WEIGHTS
        flags = [f for f in face.flags if f != "seam"] + drift
    total = _total(judged, weights)
    judged["placement"] = 100.0
    passed = total >= threshold and not set(flags) - INFO_FLAGS
    return Score(total=total, parts=judged, flags=tuple(flags), passed=passed, details=details,
                 threshold=threshold, restored=restored, paste_back=paste_back)


def score_files(
    base_path: str | Path, variant_path: str | Path, *, face_box: FaceBox | None = None,
    parts: FaceParts | None = None, expression: str | None = None, variant: str | None = None,
    paste_back: bool = True, threshold: float = DEFAULT_THRESHOLD,
) -> Score:
    """`score` for two image files. Without `face_box`, the anime-face detector's box, eyes and mouth when it
    is sure of one face, else a box estimated from where the pair differs."""
    with Image.open(base_path) as b, Image.open(variant_path) as v:
        base, result = b.convert("RGBA"), v.convert("RGBA")
    results: Sequence[Image.Image] = (result,)
    box = face_box
    if box is None:
        found = find_face(base)
        if found.source == "detected":
            box, parts = found.box, parts or FaceParts.from_points(found.box, *found.points)
        else:
            box = estimate_face_box(base, results)
    return score(base, result, face_box=box, parts=parts, expression=expression, variant=variant,
                 paste_back=paste_back, threshold=threshold)
