"""A labelled set of (base, result) pairs generated with the offline renderer, to calibrate the score.

Positives are the same character with a new expression, passed through the drift an image model adds
(a small shift, zoom and turn, colour cast, JPEG-like noise, an opaque background, another resolution).
Negatives are what a reviewer must reject: recoloured hair or outfit, changed accessories or hair style,
framing far off, another character, the base returned unchanged, heavy global redraws. Everything is
drawn by code from a seed, so notebooks, tests and the benchmark share one definition.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from lib.consistency.face_parts import FaceParts
from lib.consistency.score import DEFAULT_THRESHOLD, Score, score
from lib.design.expressions import LIBRARY, Expression
from lib.design.face_box import FaceBox
from lib.design.features import Features
from lib.render.portrait import face_box, render_portrait

BASE_SIZE = (384, 512)
_HAIR = ("#3b2a4a", "#f2c35b", "#d94f70", "#5b8bd9", "#2b2b2b", "#c8c8d8", "#8a4b2a", "#4fae7c")
_EYES = ("#4a7bd0", "#3aa37a", "#c0392b", "#8e44ad", "#d4a017")
_OUTFIT = ("#2d3e6e", "#b8324a", "#2f7d4f", "#6b4c9a", "#e0e0e0", "#333333", "#d98c2b")
_STYLES = ("straight", "wavy", "twin_tails", "ponytail", "bob", "short_spiky")
_LENGTHS = ("short", "medium", "long")
_ACCESSORIES = ("hair_ribbon", "hairclip", "cat_ears", "choker", "hat")
# The hairclip (on the fringe) and the choker (under the chin) sit inside the face box, where change is expected.
_OUTSIDE_ACCESSORIES = ("hair_ribbon", "cat_ears", "hat")
_EXPRESSIONS = ("happy", "angry", "sad", "surprised", "embarrassed", "smug", "crying", "laughing", "thinking",
                "sleepy", "confusion", "curiosity")


@dataclass(frozen=True)
class Case:
    """One labelled pair: `label` is True when a reviewer should accept what the studio makes of the result
    with paste-back (its default), `label_raw` when it should accept the raw result (paste-back off)."""

    label: bool
    kind: str
    base: Image.Image
    result: Image.Image
    face_box: FaceBox
    character: int
    expression: str | None = None
    variant: str | None = None
    parts: FaceParts | None = None
    label_raw: bool | None = None

    def raw_label(self) -> bool:
        return self.label if self.label_raw is None else self.label_raw


# Negatives that paste-back may repair: framing always; a recoloured outfit, another accessory or hair style
# when it leaves the face box untouched (`Case.label` says which); otherwise the pasted face shows part of it.
RESTORED_BY_PASTE_BACK = frozenset({"neg_outfit_colour", "neg_accessory", "neg_hair_style", "neg_shift", "neg_zoom"})


@dataclass(frozen=True)
class Drift:
    """What an image model does to a picture besides the requested edit; the defaults do nothing."""

    shift: tuple[float, float] = (0.0, 0.0)  # fraction of width, height
    scale: float = 1.0
    rotation: float = 0.0  # degrees
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    noise: float = 0.0  # Gaussian sigma in levels
    jpeg: int | None = None
    background: tuple[int, int, int] | None = (255, 255, 255)
    out_size: tuple[int, int] | None = None
    blur: float = 0.0
    posterize: int | None = None  # levels per channel
    hue: float = 0.0  # degrees


# ---------------------------------------------------------------- drift


def _warp(arr: np.ndarray, d: Drift) -> np.ndarray:
    h, w = arr.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), d.rotation, d.scale)
    m[:, 2] += (d.shift[0] * w, d.shift[1] * h)
    return cv2.warpAffine(arr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _outpaint_to(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pad with transparency to the aspect of `size` (models add background), then resize."""
    h, w = arr.shape[:2]
    target = size[0] / size[1]
    if abs(w / h - target) > 0.01:
        nw, nh = (round(h * target), h) if w / h < target else (w, round(w / target))
        canvas = np.zeros((nh, nw, 4), np.uint8)
        canvas[(nh - h) // 2 : (nh - h) // 2 + h, (nw - w) // 2 : (nw - w) // 2 + w] = arr
        arr = canvas
    interp = cv2.INTER_AREA if size[0] < arr.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(arr, size, interpolation=interp)


def _colour(rgb: np.ndarray, d: Drift, rng: np.random.Generator) -> np.ndarray:
    out = rgb.astype(np.float32)
    if d.hue:
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + d.hue / 2) % 180
        out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    out = out * np.float32(d.gain) + np.float32(d.offset)
    if d.blur:
        out = cv2.GaussianBlur(out, (0, 0), d.blur)
    if d.noise:
        out += rng.normal(0, d.noise, out.shape).astype(np.float32)
    if d.posterize:
        step = 256 / d.posterize
        out = (np.floor(out / step) + 0.5) * step
    return np.clip(out, 0, 255).astype(np.uint8)


def apply_drift(image: Image.Image, drift: Drift, *, seed: int = 0) -> Image.Image:
    """`image` as an image model might hand it back under `drift` (RGB when given a background)."""
    rng = np.random.default_rng(seed)
    arr = _warp(np.asarray(image.convert("RGBA")), drift)
    if drift.out_size is not None:
        arr = _outpaint_to(arr, drift.out_size)
    if drift.background is None:
        rgb, alpha = arr[..., :3], arr[..., 3]
    else:
        a = arr[..., 3:4].astype(np.float32) / 255
        rgb = arr[..., :3] * a + np.float32(drift.background) * (1 - a)
        alpha = None
    rgb = _colour(rgb, drift, rng)
    out = Image.fromarray(rgb, "RGB") if alpha is None else Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    if drift.jpeg is not None and alpha is None:
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=drift.jpeg)
        out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return out


# ---------------------------------------------------------------- characters


def random_character(rng: random.Random) -> Features:
    """A random look from the renderer's vocabulary."""
    return Features(
        hair_color=rng.choice(_HAIR),
        hair_style=rng.choice(_STYLES),
        hair_length=rng.choice(_LENGTHS),
        eye_color=rng.choice(_EYES),
        outfit_color=rng.choice(_OUTFIT),
        accessories=rng.sample(_ACCESSORIES, rng.choice((0, 0, 1, 2))),
    )


def other_character(rng: random.Random, f: Features) -> Features:
    """A random character that differs from `f` in hair style, hair colour and outfit colour."""
    return replace_features(
        random_character(rng),
        hair_style=_other(rng, _STYLES, f.hair_style),
        hair_color=_other(rng, _HAIR, f.hair_color),
        outfit_color=_other(rng, _OUTFIT, f.outfit_color),
    )


def _other(rng: random.Random, choices: tuple[str, ...], current: str) -> str:
    """Another choice; for colours, one clearly different from `current` (not a near-twin)."""
    if not current.startswith("#"):
        return rng.choice([c for c in choices if c != current])
    rgb = lambda c: np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)], float)  # noqa: E731
    return rng.choice([c for c in choices if np.linalg.norm(rgb(c) - rgb(current)) > 90])


def _accessory_change(rng: random.Random, f: Features) -> Features:
    missing = [a for a in _OUTSIDE_ACCESSORIES if a not in f.accessories]
    present = [a for a in f.accessories if a in _OUTSIDE_ACCESSORIES]
    if present and rng.random() < 0.4:
        return replace_features(f, accessories=[a for a in f.accessories if a != present[0]])
    return replace_features(f, accessories=[*f.accessories, rng.choice(missing)])


def replace_features(f: Features, **changes: object) -> Features:
    return Features.model_validate({**f.model_dump(), **changes})


def mild_drift(rng: random.Random, **extra: object) -> Drift:
    """Realistic model drift: a little of everything, within what a reviewer tolerates."""
    sign = lambda: rng.choice((-1, 1))  # noqa: E731
    drift = Drift(
        shift=(sign() * rng.uniform(0.0, 0.025), sign() * rng.uniform(0.0, 0.025)),
        scale=1 + sign() * rng.uniform(0.0, 0.04),
        rotation=sign() * rng.uniform(0.0, 1.5),
        gain=tuple(rng.uniform(0.95, 1.05) for _ in range(3)),  # type: ignore[arg-type]
        offset=tuple(rng.uniform(-6, 6) for _ in range(3)),  # type: ignore[arg-type]
        noise=rng.uniform(0, 3),
        jpeg=rng.choice((None, 80, 90)),
        background=rng.choice(((255, 255, 255), (250, 248, 244), (236, 240, 246))),
    )
    return replace(drift, **extra)


# ---------------------------------------------------------------- cases


Make = Callable[[], Image.Image]


def _positives(rng: random.Random, f: Features, expr: Callable[[], Expression]) -> list[tuple[str, Make]]:
    def r(**kw: object) -> Image.Image:
        if kw.get("variant"):
            _asked.variant = str(kw["variant"])
        return render_portrait(f, size=BASE_SIZE, expression=expr(), **kw)  # type: ignore[arg-type]

    w, h = BASE_SIZE
    sign = lambda: rng.choice((-1, 1))  # noqa: E731
    return [
        ("pos_clean", lambda: apply_drift(r(), Drift(jpeg=90))),
        ("pos_shift", lambda: apply_drift(r(), Drift(shift=(sign() * 0.03, sign() * 0.02)))),
        ("pos_scale", lambda: apply_drift(r(), Drift(scale=1 + sign() * 0.05))),
        ("pos_rotate", lambda: apply_drift(r(), Drift(rotation=sign() * 2.0))),
        ("pos_cast", lambda: apply_drift(r(), Drift(gain=(1.06, 1.0, 0.93), offset=(6, 2, -6)))),
        ("pos_noise", lambda: apply_drift(r(), Drift(noise=4, jpeg=75))),
        ("pos_resize", lambda: apply_drift(r(), Drift(out_size=(w * 2, h * 2), jpeg=90))),
        ("pos_square", lambda: apply_drift(r(), Drift(out_size=(h, h)))),
        ("pos_variant", lambda: apply_drift(r(variant=rng.choice(("blink", "mouth_open"))),
                                                     mild_drift(rng))),
        ("pos_combo", lambda: apply_drift(r(), mild_drift(rng, out_size=(w * 3 // 2, h * 3 // 2)))),
    ]


def _negatives(rng: random.Random, f: Features, expr: Callable[[], Expression]) -> list[tuple[str, Make]]:
    def r(features: Features = f, **kw: object) -> Image.Image:
        expression = expr()
        drawn = render_portrait(features, size=BASE_SIZE, expression=expression, **kw)  # type: ignore[arg-type]
        if features is not f:  # does the change reach into the face box? Then paste-back cannot repair it.
            right = np.asarray(render_portrait(f, size=BASE_SIZE, expression=expression), np.int16)
            x, y, w, h = face_box(BASE_SIZE)
            inner = np.s_[y + h // 12 : y + h - h // 12, x + w // 12 : x + w - w // 12]  # inside the paste's feather
            moved = np.abs(np.asarray(drawn, np.int16) - right)[inner].max(axis=2) > 24
            _asked.restorable = bool(moved.mean() < 0.01)
        return drawn

    def base_again() -> Image.Image:
        return render_portrait(f, size=BASE_SIZE)

    sign = lambda: rng.choice((-1, 1))  # noqa: E731
    return [
        ("neg_hair_colour", lambda: apply_drift(r(replace_features(f, hair_color=_other(rng, _HAIR, f.hair_color))),
                                                mild_drift(rng))),
        ("neg_outfit_colour", lambda: apply_drift(
            r(replace_features(f, outfit_color=_other(rng, _OUTFIT, f.outfit_color))), mild_drift(rng))),
        ("neg_accessory", lambda: apply_drift(r(_accessory_change(rng, f)), mild_drift(rng))),
        ("neg_hair_style", lambda: apply_drift(r(replace_features(f, hair_style=_other(rng, _STYLES, f.hair_style))),
                                               mild_drift(rng))),
        ("neg_shift", lambda: apply_drift(r(), mild_drift(rng, shift=(sign() * rng.uniform(0.08, 0.12), 0.0)))),
        ("neg_zoom", lambda: apply_drift(r(), mild_drift(rng, scale=rng.choice((0.82, 0.86, 1.16, 1.22))))),
        ("neg_other_character", lambda: apply_drift(r(other_character(rng, f)), mild_drift(rng))),
        ("neg_unchanged", lambda: apply_drift(base_again(), Drift())),
        ("neg_unchanged_noise", lambda: apply_drift(base_again(), mild_drift(rng))),
        ("neg_blur", lambda: apply_drift(r(), mild_drift(rng, blur=rng.uniform(3.0, 5.0)))),
        ("neg_posterize", lambda: apply_drift(r(), mild_drift(rng, posterize=rng.choice((3, 4)), blur=1.0))),
        ("neg_colour_shift", lambda: apply_drift(r(), mild_drift(rng, hue=rng.choice((-1, 1)) * rng.uniform(40, 90)))),
    ]


class _Asked:
    """What the last rendered case asked for (its expression and variant), read after each make()."""

    expression: str | None = None
    variant: str | None = None
    restorable: bool = True  # False when the damage reaches into the face box


_asked = _Asked()


def build_calibration_set(n_characters: int = 6, seed: int = 7) -> list[Case]:
    """Positives and negatives for `n_characters` random characters, identical for the same seed."""
    rng = random.Random(seed)
    box = face_box(BASE_SIZE)
    cases: list[Case] = []
    for index in range(n_characters):
        f = random_character(rng)
        base = render_portrait(f, size=BASE_SIZE)

        def expr() -> Expression:
            _asked.expression = rng.choice(_EXPRESSIONS)
            return LIBRARY[_asked.expression]

        for label, makers in ((True, _positives(rng, f, expr)), (False, _negatives(rng, f, expr))):
            for kind, make in makers:
                _asked.expression = _asked.variant = None
                _asked.restorable = True
                result = make()
                final_label = label or (kind in RESTORED_BY_PASTE_BACK and _asked.restorable)
                cases.append(Case(final_label, kind, base, result, box, index, expression=_asked.expression,
                                  variant=_asked.variant, label_raw=label))
    return cases


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos, neg = scores[labels], scores[~labels]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def score_case(case: Case, *, paste_back: bool = True, threshold: float = DEFAULT_THRESHOLD) -> Score:
    """The studio's score of one case, asked for the case's own expression and variant."""
    return score(case.base, case.result, face_box=case.face_box, parts=case.parts, expression=case.expression,
                 variant=case.variant, paste_back=paste_back, threshold=threshold)


def score_cases(cases: list[Case], *, paste_back: bool = True) -> pd.DataFrame:
    """Score every case: one row with its label (for that mode), kind, character, total, parts and flags."""
    rows = []
    for case in cases:
        result = score_case(case, paste_back=paste_back)
        label = case.label if paste_back else case.raw_label()
        rows.append({"kind": case.kind, "label": label, "character": case.character, "total": result.total,
                     "passed": result.passed, **result.parts, "flags": ",".join(result.flags)})
    return pd.DataFrame(rows)


def per_kind(scored: pd.DataFrame) -> pd.DataFrame:
    """Per case kind: how many, the min/median/max total, and the verdicts (passed / flagged); per `faces`
    first when the frame has that column (real artwork scored on hand-measured and on found faces)."""
    groups = scored.groupby([c for c in ("faces", "label", "kind") if c in scored], sort=False)
    table = groups["total"].agg(n="size", min="min", median="median", max="max").round(1)
    table["passed"] = groups["passed"].sum().astype(int)
    table["flagged"] = table["n"] - table["passed"]
    return table


def verdict_precision_recall(scored: pd.DataFrame) -> tuple[float, float]:
    """Precision and recall of the score's own verdicts (`passed`: total and flags) against the labels."""
    labels, passed = scored["label"].to_numpy(bool), scored["passed"].to_numpy(bool)
    tp = int((passed & labels).sum())
    return tp / max(1, int(passed.sum())), tp / max(1, int(labels.sum()))


def roc_table(labels: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """What passing at `total >= threshold` means, for every threshold between two distinct scores.

    Thresholds run from strict to lenient; the last one (0) passes everything. F1 and Youden's J
    (TPR - FPR) are the two usual ways to pick one.
    """
    labels = labels.astype(bool)
    distinct = np.unique(scores)[::-1]
    thresholds = np.append((distinct[:-1] + distinct[1:]) / 2, 0.0)
    passed = scores[None, :] >= thresholds[:, None]
    tp, fp = (passed & labels).sum(axis=1), (passed & ~labels).sum(axis=1)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    fn = positives - tp
    return pd.DataFrame({
        "threshold": thresholds, "tp": tp, "fp": fp, "fn": fn, "tn": negatives - fp,
        "tpr": tp / max(positives, 1), "fpr": fp / max(negatives, 1),
        "precision": np.divide(tp, tp + fp, out=np.ones(len(tp)), where=(tp + fp) > 0),
        "f1": 2 * tp / np.maximum(2 * tp + fp + fn, 1),
        "youden_j": tp / max(positives, 1) - fp / max(negatives, 1),
    })


def choose_threshold(table: pd.DataFrame, *, rule: str = "f1") -> float:
    """The threshold that maximises `rule` ("f1" or "youden_j"); among ties, the middle one (widest margin)."""
    if rule not in ("f1", "youden_j"):
        raise ValueError(f"rule must be 'f1' or 'youden_j', not {rule!r}")
    best = table[np.isclose(table[rule], table[rule].max())]
    return float(best["threshold"].iloc[len(best) // 2])
