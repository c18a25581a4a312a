"""Align an image model's redraw onto the approved base picture with a similarity transform.

Image models redraw the whole picture: the figure shifts, zooms a little, turns, and comes back at
another size on an opaque background. We bring the result to the base's size (scaled to cover the base,
centre-cropped), match ORB features found OUTSIDE the face box (the face is what was meant to change),
fit a rotation + uniform scale + shift with RANSAC, and warp. Nonsense is refused with `AlignmentFailed`:
too few consistent matches, an implausible transform, or line art that does not line up afterwards.

Matching runs on copies of at most `WORK_SIDE` px; the transform is scaled back to full size.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np
from PIL import Image

from lib.core.errors import InvalidInput
from lib.design.face_box import FaceBox

log = logging.getLogger(__name__)

T = TypeVar("T")

WORK_SIDE = 640
MIN_INLIERS = 12
MIN_INLIER_RATIO = 0.2
MIN_EDGE_AGREEMENT = 0.35  # fraction of line art outside the face that must coincide after warping
SAME_LINE_ART = 0.8  # below this much agreement, colours must mostly agree too
MIN_SAME_COLOUR = 0.3
SCALE_RANGE = (0.7, 1.4)
MAX_ROTATION_DEG = 10.0
MAX_SHIFT = 0.15  # of the base's longer side


class AlignmentFailed(InvalidInput):
    """The result could not be placed on the base: unrelated, empty, or moved implausibly far."""


@dataclass(frozen=True)
class Alignment:
    """The result warped onto the base; `matrix` maps the size-normalised result onto the base (2x3)."""

    image: Image.Image
    matrix: list[list[float]]
    scale: float
    rotation_deg: float
    shift_px: float
    inlier_ratio: float
    edge_agreement: float = 1.0


# ---------------------------------------------------------------- shared helpers

_MEMO_ENTRIES = 32  # per base: ~7 entries (~2 MB) per result background colour, for a few colours
_memos: dict[int, dict[Hashable, Any]] = {}  # by id() of a live base (images are not hashable)
_memo_lock = threading.Lock()


def base_memo(base: Image.Image, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per base picture and `key`, then the same (read-only) result.

    A worker compares every result of a batch with the same base (`lib.consistency.postprocess` decodes each base
    once), so the base's work copies, grey images and features are derived once, not per image.
    The base must not be changed in place afterwards; nothing in the studio does.
    """
    with _memo_lock:
        memo = _memos.get(id(base))
        if memo is None:
            memo = _memos[id(base)] = {}
            weakref.finalize(base, _memos.pop, id(base), None)  # gone with the base, before its id is reused
        if key in memo:
            return memo[key]
    value = compute()  # outside the lock: two threads may both compute it once, never wrongly
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    with _memo_lock:
        while len(memo) >= _MEMO_ENTRIES:
            memo.pop(next(iter(memo)))
        memo[key] = value
    return value


def colour_key(colour: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in colour)


def rgba_array(image: Image.Image) -> np.ndarray:
    """An HxWx4 uint8 array of any PIL image."""
    return np.asarray(image.convert("RGBA") if image.mode != "RGBA" else image)


def work_scale(size: tuple[int, int], side: int = WORK_SIDE) -> float:
    """The factor that brings a picture's longer side down to `side` px (never up)."""
    return min(1.0, side / max(size))


def resize_array(arr: np.ndarray, k: float) -> np.ndarray:
    if k == 1.0:
        return arr
    h, w = arr.shape[:2]
    return cv2.resize(arr, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)


def normalize_to_base(result: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """The result scaled uniformly to cover `size` and centre-cropped: RGBA array of exactly that size.

    A model that answers a 3:4 picture with a square one usually adds background at the sides, so
    covering (not fitting) keeps the figure at its original scale.
    """
    # Resize before adding an alpha channel: a quarter less work on big opaque model output.
    return normalize_pixels(np.asarray(result if result.mode in ("RGB", "RGBA") else result.convert("RGBA")), size)


def normalize_pixels(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """normalize_to_base for an RGB or RGBA uint8 array."""
    h, w = arr.shape[:2]
    k = max(size[0] / w, size[1] / h)
    nw, nh = max(size[0], round(w * k)), max(size[1], round(h * k))
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    step = int(1 / k) if k < 0.5 else 1
    if step >= 2 and w // step >= nw and h // step >= nh:
        # A big reduction (a 2K answer to its base) in two area averages: first by a whole factor, which
        # OpenCV does fast, then the rest. Half the time of one fractional area average, the same look.
        arr = cv2.resize(arr, (w // step, h // step), interpolation=cv2.INTER_AREA)
    scaled = arr if arr.shape[:2] == (nh, nw) else cv2.resize(arr, (nw, nh), interpolation=interp)
    x0, y0 = (nw - size[0]) // 2, (nh - size[1]) // 2
    crop = scaled[y0 : y0 + size[1], x0 : x0 + size[0]]
    if crop.shape[2] == 3:
        return cv2.cvtColor(crop, cv2.COLOR_RGB2RGBA)  # opaque alpha
    return np.ascontiguousarray(crop)


def background_colour(arr: np.ndarray) -> np.ndarray:
    """The median RGB of a picture's opaque border pixels (white when the border is transparent)."""
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    opaque = border[border[:, 3] > 200]
    if len(opaque) < len(border) // 4:
        return np.array([255.0, 255.0, 255.0])
    return np.median(opaque[:, :3].astype(np.float32), axis=0)


def flatten(arr: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """RGB float32 of an RGBA array composited over the colour `bg`."""
    out = arr[..., :3].astype(np.float32)
    alpha = arr[..., 3]
    if alpha.min() == 255:  # opaque, as model output is: nothing to composite
        return out
    # Only the pixels that are not opaque change (a warped result has a few at its edges).
    see_through = alpha < 255
    a = alpha[see_through].astype(np.float32)[:, None] * np.float32(1 / 255)
    colour = np.asarray(bg, np.float32)
    out[see_through] = (out[see_through] - colour) * a + colour  # bg + (rgb - bg) * a
    return out


def line_art(gray: np.ndarray) -> np.ndarray:
    """A boolean edge map that ignores JPEG-like noise (blurred before Canny)."""
    smooth = cv2.GaussianBlur(gray, (5, 5), 1.2)
    return cv2.Canny(smooth, 40, 100) > 0


def edge_agreement(a: np.ndarray, b: np.ndarray, mask: np.ndarray, tolerance: int = 2) -> float:
    """Symmetric fraction of edge pixels (within `mask`) that have an edge of the other map nearby."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    a, b = a & mask, b & mask
    na, nb = int(a.sum()), int(b.sum())
    if na == 0 or nb == 0:
        return 0.0
    near_a = cv2.dilate(a.astype(np.uint8), kernel) > 0
    near_b = cv2.dilate(b.astype(np.uint8), kernel) > 0
    recall, precision = float((a & near_b).sum()) / na, float((b & near_a).sum()) / nb
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def outside_mask(shape: tuple[int, int], box: FaceBox, k: float, margin: float = 0.0) -> np.ndarray:
    """True outside the (scaled, optionally grown by `margin` of its size) face box."""
    x, y, w, h = box
    mx, my = w * margin, h * margin
    mask = np.ones(shape, dtype=bool)
    x0, y0 = max(0, math.floor((x - mx) * k)), max(0, math.floor((y - my) * k))
    x1, y1 = math.ceil((x + w + mx) * k), math.ceil((y + h + my) * k)
    mask[y0:y1, x0:x1] = False
    return mask


def similarity_parts(matrix: np.ndarray, size: tuple[int, int]) -> tuple[float, float, float]:
    """(scale, rotation in degrees, shift of the picture centre in px) of a 2x3 similarity matrix."""
    a, b = float(matrix[0, 0]), float(matrix[1, 0])
    centre = np.array([size[0] / 2, size[1] / 2])
    moved = matrix[:, :2] @ centre + matrix[:, 2]
    return math.hypot(a, b), math.degrees(math.atan2(b, a)), float(np.hypot(*(moved - centre)))


# ---------------------------------------------------------------- estimation


def _gray(arr: np.ndarray, bg: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(flatten(arr, bg).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def _features(gray: np.ndarray, mask: np.ndarray) -> tuple[Any, np.ndarray | None]:
    """ORB keypoints and descriptors of a grey image within `mask`."""
    orb = cv2.ORB_create(nfeatures=2500, fastThreshold=8, edgeThreshold=15, patchSize=21)
    return orb.detectAndCompute(gray, mask.astype(np.uint8) * 255)


def _matches(
    base_features: tuple[Any, np.ndarray | None], g_res: np.ndarray, mask: np.ndarray, side: int
) -> tuple[np.ndarray, np.ndarray]:
    """Matched point pairs (result points, base points) with Lowe's ratio test and a distance limit."""
    kb, db = base_features
    kr, dr = _features(g_res, mask)
    if db is None or dr is None or len(kb) < MIN_INLIERS or len(kr) < MIN_INLIERS:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(dr, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    src = np.float32([kr[m.queryIdx].pt for m in good]).reshape(-1, 2)
    dst = np.float32([kb[m.trainIdx].pt for m in good]).reshape(-1, 2)
    near = np.hypot(*(src - dst).T) < 0.25 * side if len(good) else np.zeros(0, bool)
    return src[near], dst[near]


def _estimate(
    base_features: tuple[Any, np.ndarray | None], g_res: np.ndarray, mask: np.ndarray, side: int
) -> tuple[np.ndarray, float]:
    src, dst = _matches(base_features, g_res, mask, side)
    if len(src) < MIN_INLIERS:
        raise AlignmentFailed(
            f"The result could not be aligned to the base: only {len(src)} matching details outside the face "
            "(is it the same picture?)."
        )
    matrix, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.5, maxIters=3000, confidence=0.995, refineIters=20
    )
    count = int(inliers.sum()) if inliers is not None else 0
    ratio = count / len(src)
    if matrix is None or count < MIN_INLIERS or ratio < MIN_INLIER_RATIO:
        raise AlignmentFailed(
            f"The result could not be aligned to the base: {count} of {len(src)} matching details agree "
            "on one placement (is it the same character?)."
        )
    return matrix, ratio


def _check_plausible(scale: float, rotation: float, shift: float, size: tuple[int, int]) -> None:
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        raise AlignmentFailed(f"The result is zoomed by {scale:.2f}x against the base; refusing to align it.")
    if abs(rotation) > MAX_ROTATION_DEG:
        raise AlignmentFailed(f"The result is turned by {rotation:.1f}° against the base; refusing to align it.")
    if shift > MAX_SHIFT * max(size):
        raise AlignmentFailed(f"The result is moved by {shift:.0f} px against the base; refusing to align it.")


@dataclass(frozen=True)
class Transform:
    """An estimated placement: `matrix` (2x3, numpy) maps the size-normalised result onto the base."""

    matrix: np.ndarray
    scale: float
    rotation_deg: float
    shift_px: float
    inlier_ratio: float
    edge_agreement: float


def _check_same_picture(base_lines: np.ndarray, warped: np.ndarray, mask: np.ndarray) -> float:
    """Refuse a placement whose line art does not line up; returns the edge agreement."""
    agreement = edge_agreement(base_lines, line_art(warped), mask)
    if agreement < MIN_EDGE_AGREEMENT:
        raise AlignmentFailed(
            f"After alignment only {agreement:.0%} of the line art outside the face lines up with the base; "
            "this looks like a different picture."
        )
    return agreement


def _check_same_colours(base: np.ndarray, warped: np.ndarray, bg: np.ndarray, mask: np.ndarray,
                        agreement: float) -> None:
    """Line art that only half lines up AND colours that mostly differ: another character, not a redraw."""
    if agreement >= SAME_LINE_ART or not mask.any():
        return
    lab = [cv2.cvtColor(flatten(x, bg) / 255.0, cv2.COLOR_RGB2Lab) for x in (base, warped)]
    diff = lab[0][mask] - lab[1][mask]
    same = float(np.mean(np.einsum("ij,ij->i", diff, diff) < 15**2))  # ΔE < 15
    if same < MIN_SAME_COLOUR:
        raise AlignmentFailed(
            f"The result's line art lines up only {agreement:.0%} with the base and {1 - same:.0%} of its colours "
            "outside the face differ; this looks like a different character."
        )


def small_copies(base: Image.Image, result: Image.Image, side: int = WORK_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The base and the size-normalised result as RGBA arrays with the longer side at most `side`."""
    small_base = base_memo(base, ("small", side), lambda: resize_array(rgba_array(base), work_scale(base.size, side)))
    return small_base, normalize_to_base(result, (small_base.shape[1], small_base.shape[0]))


def estimate_transform(
    base: Image.Image, result: Image.Image, *, face_box: FaceBox, small: tuple[np.ndarray, np.ndarray] | None = None
) -> Transform:
    """Place the size-normalised `result` on `base` from details outside `face_box`, or refuse.

    `small` may pass in `small_copies(base, result)` when the caller needs them too.
    """
    box = FaceBox.checked(face_box, base.size)
    k = work_scale(base.size)
    small_base, small_norm = small if small is not None else small_copies(base, result)
    bg = background_colour(small_norm)
    bg_key = colour_key(bg)
    g_base = base_memo(base, ("gray", bg_key), lambda: _gray(small_base, bg))
    g_res = _gray(small_norm, bg)
    if base_memo(base, ("gray_std", bg_key), lambda: float(g_base.std())) < 2 or g_res.std() < 2:
        raise AlignmentFailed("The result (or the base) is blank; there is nothing to align.")
    mask = outside_mask(g_base.shape, box, k, margin=0.02)
    base_features = base_memo(base, ("features", bg_key, box), lambda: _features(g_base, mask))
    small_matrix, ratio = _estimate(base_features, g_res, mask, max(g_base.shape))
    matrix = small_matrix.copy()
    matrix[:, 2] /= k
    scale, rotation, shift = similarity_parts(matrix, base.size)
    _check_plausible(scale, rotation, shift, base.size)
    size = g_base.shape[::-1]
    warped = cv2.warpAffine(small_norm, small_matrix, size, borderMode=cv2.BORDER_CONSTANT)
    valid = cv2.warpAffine(np.full(g_base.shape, 255, np.uint8), small_matrix, size) == 255
    check = mask & valid & (small_base[..., 3] > 0)
    base_lines = base_memo(base, ("line_art", bg_key), lambda: line_art(g_base))
    agreement = _check_same_picture(base_lines, _gray(warped, bg), check)
    _check_same_colours(small_base, warped, bg, check & (small_base[..., 3] > 250), agreement)
    log.debug("aligned: scale %.3f rot %.2f° shift %.1f px, inliers %.0f%%", scale, rotation, shift, ratio * 100)
    return Transform(matrix, scale, rotation, shift, ratio, agreement)


def align_to_base(
    base: Image.Image, result: Image.Image, *, face_box: FaceBox, transform: Transform | None = None
) -> Alignment:
    """Warp `result` onto `base` (RGBA, the base's size) using details outside `face_box`.

    `transform` skips the estimate when the caller already has one (`estimate_transform`).
    """
    t = transform or estimate_transform(base, result, face_box=face_box)
    norm = normalize_to_base(result, base.size)
    warped = cv2.warpAffine(norm, t.matrix, base.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return Alignment(
        image=Image.fromarray(warped, "RGBA"),
        matrix=t.matrix.tolist(),
        scale=t.scale,
        rotation_deg=t.rotation_deg,
        shift_px=t.shift_px,
        inlier_ratio=t.inlier_ratio,
        edge_agreement=t.edge_agreement,
    )
