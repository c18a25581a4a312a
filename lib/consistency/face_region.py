"""Where the face is: the box that expression edits may change and paste-back may replace.

With results, the box is read from where the aligned results actually differ from the base (changed
pixels, cleaned of speckle and line-art slivers, bounded and padded). Without them, a bust-up heuristic:
the widest rows of skin-coloured pixels in the upper figure, grown to brow line and chin. Boxes are
(x, y, w, h) in base pixels, always inside the picture.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from lib.consistency.align import (
    AlignmentFailed,
    background_colour,
    estimate_transform,
    flatten,
    normalize_to_base,
    resize_array,
    rgba_array,
    work_scale,
)
from lib.design.face_box import MIN_SIDE, FaceBox

log = logging.getLogger(__name__)

WORK_SIDE = 384
CHANGED_DE = 20.0
MIN_CHANGED_SHARE = 0.002  # of the picture; less than this is noise, not an expression
PAD = 0.12  # of the changed area's size, on every side


def _clamp(x0: float, y0: float, x1: float, y1: float, size: tuple[int, int]) -> FaceBox:
    w, h = size
    ix0, iy0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    ix1, iy1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
    ix0, iy0 = min(ix0, max(0, w - MIN_SIDE)), min(iy0, max(0, h - MIN_SIDE))
    ix1, iy1 = max(ix1, min(w, ix0 + MIN_SIDE)), max(iy1, min(h, iy0 + MIN_SIDE))
    return FaceBox(ix0, iy0, ix1 - ix0, iy1 - iy0)


def _figure_mask(arr: np.ndarray) -> np.ndarray:
    """The figure: opaque pixels, or (for an opaque picture) pixels unlike the border colour."""
    if (arr[..., 3] < 128).mean() > 0.02:
        return arr[..., 3] > 128
    bg = background_colour(arr)
    near = (np.linalg.norm(arr[..., :3].astype(np.float32) - bg, axis=2) <= 30).astype(np.uint8)
    # Only background-coloured areas connected to the border are background: light skin inside the
    # outlines can be as close to a light background as the background is to itself.
    _, labels = cv2.connectedComponents(near, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    return ~outside


def _skin_mask(arr: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2HSV_FULL).astype(np.int16)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    warm = (hue <= 30) | (hue >= 240)
    return warm & (sat >= 10) & (sat <= 120) & (val >= 150)


def _solid_regions(mask: np.ndarray) -> np.ndarray:
    """`mask` without thin strokes and specks: anti-aliased outlines against a light background pass as skin."""
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    if count <= 1:
        return opened > 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.nonzero(areas >= 0.15 * areas.max())[0]
    return np.isin(labels, keep)


def _heuristic(base: Image.Image) -> FaceBox:
    k = work_scale(base.size, WORK_SIDE)
    arr = resize_array(rgba_array(base), k)
    figure = _figure_mask(arr)
    ys, xs = np.nonzero(figure)
    if len(ys) == 0:
        return _clamp(base.width * 0.25, base.height * 0.1, base.width * 0.75, base.height * 0.6, base.size)
    fy0, fy1 = ys.min(), ys.max()
    skin = _solid_regions(_skin_mask(arr) & figure)
    skin[int(fy0 + 0.7 * (fy1 - fy0)) :] = False
    widths = skin.sum(axis=1)
    if widths.max() < 0.05 * arr.shape[1]:
        fx0, fx1 = xs.min(), xs.max()
        cx, span = (fx0 + fx1) / 2, (fx1 - fx0)
        return _clamp((cx - 0.35 * span) / k, fy0 / k, (cx + 0.35 * span) / k, (fy0 + 0.9 * span) / k, base.size)
    rows = np.nonzero(widths >= 0.5 * widths.max())[0]
    cols = np.nonzero(skin[rows].any(axis=0))[0]
    x0, x1, y0, y1 = cols.min(), cols.max() + 1, rows.min(), rows.max() + 1
    w, h = x1 - x0, y1 - y0
    return _clamp((x0 - 0.2 * w) / k, (y0 - 0.85 * h) / k, (x1 + 0.2 * w) / k, (y1 + 0.35 * h) / k, base.size)


def _changed(base: Image.Image, result: Image.Image, guess: FaceBox) -> np.ndarray | None:
    """Where the aligned `result` differs from `base`, on the small grid; None when it cannot be aligned."""
    try:
        t = estimate_transform(base, result, face_box=guess)
    except AlignmentFailed as exc:
        log.info("ignoring a result for the face box: %s", exc)
        return None
    k = work_scale(base.size, WORK_SIDE)
    small_base = resize_array(rgba_array(base), k)
    size = (small_base.shape[1], small_base.shape[0])
    m = t.matrix.copy()
    m[:, 2] *= k
    warped = cv2.warpAffine(normalize_to_base(result, size), m, size)
    valid = cv2.warpAffine(np.full(small_base.shape[:2], 255, np.uint8), m, size) == 255
    bg = background_colour(warped)
    lab = [cv2.cvtColor(flatten(a, bg) / 255.0, cv2.COLOR_RGB2Lab) for a in (small_base, warped)]
    changed = (np.linalg.norm(lab[0] - lab[1], axis=2) > CHANGED_DE) & valid
    opened = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return opened > 0


def estimate_face_box(base: Image.Image, results: Sequence[Image.Image] = ()) -> FaceBox:
    """The face box of `base`: from where `results` changed it, else the bust-up heuristic."""
    guess = _heuristic(base)
    maps = [m for m in (_changed(base, v, guess) for v in results) if m is not None]
    if not maps:
        return guess
    union = np.logical_or.reduce(maps)
    if union.mean() < MIN_CHANGED_SHARE:
        log.info("results barely differ from the base; using the heuristic face box")
        return guess
    k = work_scale(base.size, WORK_SIDE)
    ys, xs = np.nonzero(union)
    x0, x1 = np.percentile(xs, [0.5, 99.5])
    y0, y1 = np.percentile(ys, [0.5, 99.5])
    pw, ph = PAD * (x1 - x0 + 1), PAD * (y1 - y0 + 1)
    return _clamp((x0 - pw) / k, (y0 - ph) / k, (x1 + 1 + pw) / k, (y1 + 1 + ph) / k, base.size)


def overlay(image: Image.Image, box: FaceBox) -> Image.Image:
    """The picture with its face region drawn on it (a translucent fill and an outline), for review."""
    from PIL import ImageDraw

    x, y, w, h = box
    picture = image.convert("RGBA")
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width = max(2, round(min(picture.size) / 200))
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=(255, 64, 129, 48), outline=(255, 64, 129, 255), width=width)
    return Image.alpha_composite(picture, layer)
