"""Face finding on uploads: an anime-face detector, turned into the studio's face box, eyes and mouth.

The detector (nagadomi's LBP cascade, `animeface/`) returns a square from the fringe above the brows to
the neck, cheek to cheek. The face box is cut from it (brows, eyes, mouth and chin inside, the hair above
left out) and the eyes are looked for as the darkest ink near where they usually sit. When the detector
finds exactly one face the result is `detected`; when it finds none or several, the result is `estimated`
with a reason, and a person confirms or corrects it before the first batch.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lib.consistency.align import background_colour, flatten, rgba_array, work_scale
from lib.consistency.face_region import estimate_face_box
from lib.design.face_box import MIN_SIDE, FaceBox, FacePoints, FaceSource, proportional_points

log = logging.getLogger(__name__)

CASCADE = Path(__file__).with_name("animeface") / "lbpcascade_animeface.xml"
WORK_SIDE = 400  # detection runs on a copy at most this long: faces under 6 % of the side are not searched
MIN_FACE = 24  # px on the work copy
SCALE_FACTOR = 1.05
SURE_NEIGHBOURS, LOOSE_NEIGHBOURS = 4, 2

# The face box inside the detector's square (fractions of its side), measured on real sprites: brows sit
# at about 0.3, eyes at 0.45, the mouth at 0.66 and the chin at 0.72 of its height.
BOX_LEFT, BOX_TOP, BOX_RIGHT, BOX_BOTTOM = 0.04, 0.16, 0.96, 0.84
EYE_Y, EYE_X = 0.46, 0.30  # expected eye centre in the square (the other eye mirrored)
MOUTH_BELOW_EYES = 0.21  # the mouth, below the eyes' line, in the square's side
HEAD_ASPECT = 1.3  # a figure at most this much taller than wide is taken for a head when no face is found
EYE_SEARCH = 0.12  # how far (in the square's side) a found eye may sit from where it is expected
# Where the mouth is looked for, in eye distances from the eyes' middle: half the width, then the top and the
# bottom below it (the nose sits at about 0.3, the mouth at 0.5-0.7, the chin at 0.85 and lower on real sprites).
MOUTH_WINDOW = (0.45, 0.38, 0.9)
MOUTH_INK = 25  # grey levels darker than the skin's median for a pixel to count as the mouth's ink


@dataclass(frozen=True)
class FoundFace:
    """A face box, its eyes and mouth, where they came from, and why a person should check them (if so)."""

    box: FaceBox
    points: FacePoints
    source: FaceSource
    faces: int  # how many faces the detector reported
    reason: str = ""

    @property
    def unsure(self) -> bool:
        return self.source == "estimated"


_local = threading.local()


def _detector() -> cv2.CascadeClassifier:
    """This thread's detector: a CascadeClassifier is not safe to share between threads (web sessions)."""
    detector = getattr(_local, "detector", None)
    if detector is None:
        detector = cv2.CascadeClassifier(str(CASCADE))
        if detector.empty():
            raise RuntimeError(f"the anime-face cascade at {CASCADE} did not load")
        _local.detector = detector
    return detector


def _work_gray(image: Image.Image) -> tuple[np.ndarray, float]:
    """A grey, histogram-equalized copy flattened onto its own background, and its scale to the picture."""
    k = work_scale(image.size, WORK_SIDE)
    small = image if k == 1.0 else image.resize((max(1, round(image.width * k)), max(1, round(image.height * k))),
                                                Image.Resampling.BOX, reducing_gap=2.0)
    arr = rgba_array(small)
    rgb = np.clip(flatten(arr, background_colour(arr)), 0, 255).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), k


def _detect(gray: np.ndarray, neighbours: int) -> list[tuple[int, int, int, int]]:
    found = _detector().detectMultiScale(cv2.equalizeHist(gray), scaleFactor=SCALE_FACTOR, minNeighbors=neighbours,
                                         minSize=(MIN_FACE, MIN_FACE))
    return sorted((tuple(int(v) for v in f) for f in found), key=lambda f: -f[2] * f[3])  # type: ignore[misc]


def _clamp_box(x0: float, y0: float, x1: float, y1: float, size: tuple[int, int]) -> FaceBox:
    w, h = size
    ix0, iy0 = max(0, round(x0)), max(0, round(y0))
    ix1, iy1 = min(w, round(x1)), min(h, round(y1))
    ix0, iy0 = min(ix0, max(0, w - MIN_SIDE)), min(iy0, max(0, h - MIN_SIDE))
    return FaceBox(ix0, iy0, max(ix1, min(w, ix0 + MIN_SIDE)) - ix0, max(iy1, min(h, iy0 + MIN_SIDE)) - iy0)


def _find_eye(gray: np.ndarray, cx: float, cy: float, side: float) -> tuple[float, float] | None:
    """The centre of the darkest ink near (cx, cy) on the work copy, or None when nothing stands out."""
    r = EYE_SEARCH * side
    x0, x1 = max(0, int(cx - r)), min(gray.shape[1], int(cx + r) + 1)
    y0, y1 = max(0, int(cy - 0.8 * r)), min(gray.shape[0], int(cy + 0.8 * r) + 1)
    patch = gray[y0:y1, x0:x1].astype(np.float32)
    if patch.size < 16:
        return None
    dark = patch <= min(np.percentile(patch, 12), 110)
    if dark.sum() < 4:
        return None
    ys, xs = np.nonzero(dark)
    weight = 255.0 - patch[ys, xs]
    return x0 + float(np.average(xs, weights=weight)), y0 + float(np.average(ys, weights=weight))


def _find_mouth(gray: np.ndarray, eyes: list[tuple[float, float]]) -> tuple[float, float] | None:
    """The centre of the widest stroke below the eyes' middle (`MOUTH_WINDOW`, in eye distances) on the work
    copy, or None when nothing there stands out from the skin. Strokes that run out of the window's top or bottom
    or across it are the nose, the chin, the neck or hair, not a mouth (a small stroke drawn on the skin)."""
    (lx, ly), (rx, ry) = eyes
    d = float(np.hypot(rx - lx, ry - ly))
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    half, top, bottom = MOUTH_WINDOW
    x0, x1 = max(0, int(cx - half * d)), min(gray.shape[1], int(cx + half * d) + 1)
    y0, y1 = max(0, int(cy + top * d)), min(gray.shape[0], int(cy + bottom * d) + 1)
    patch = gray[y0:y1, x0:x1]
    if patch.shape[0] < 4 or patch.shape[1] < 4:
        return None
    ink = (patch < float(np.median(patch)) - MOUTH_INK).astype(np.uint8)
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((3, 5), np.uint8))  # a faint line's broken pieces
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    h, w = patch.shape
    best: tuple[int, float, float] | None = None
    for left, top_, width, height, area in stats[1:]:
        if top_ == 0 or top_ + height >= h or (left == 0 and left + width >= w) or area < 3 or width < 0.1 * d:
            continue
        if best is None or width > best[0]:
            best = (int(width), x0 + left + width / 2, y0 + top_ + height / 2)
    return None if best is None else (best[1], best[2])


def _points_in_square(gray: np.ndarray, square: tuple[int, int, int, int], k: float) -> FacePoints:
    """Eyes and mouth (looked for; where a face usually has them when not found) for one detector square, in
    picture pixels."""
    x, y, s, _ = square
    expected = [(x + (EYE_X if i == 0 else 1 - EYE_X) * s, y + EYE_Y * s) for i in range(2)]
    eyes = [_find_eye(gray, ex, ey, s) or (ex, ey) for ex, ey in expected]
    if abs(eyes[0][1] - eyes[1][1]) > 0.1 * s or eyes[1][0] - eyes[0][0] < 0.25 * s:
        eyes = expected  # two dark spots that cannot be a pair of eyes: trust the proportions
    mx, my = _find_mouth(gray, eyes) or ((eyes[0][0] + eyes[1][0]) / 2,
                                         (eyes[0][1] + eyes[1][1]) / 2 + MOUTH_BELOW_EYES * s)
    (lx, ly), (rx, ry) = eyes
    return FacePoints(*((round(px / k), round(py / k)) for px, py in ((lx, ly), (rx, ry), (mx, my))))


def _from_square(gray: np.ndarray, square: tuple[int, int, int, int], k: float, size: tuple[int, int]) -> tuple[
        FaceBox, FacePoints]:
    x, y, s, _ = square
    box = _clamp_box((x + BOX_LEFT * s) / k, (y + BOX_TOP * s) / k, (x + BOX_RIGHT * s) / k,
                     (y + BOX_BOTTOM * s) / k, size)
    points = _points_in_square(gray, square, k)
    return box, points if points.inside(box) else proportional_points(box)


def find_face(image: Image.Image) -> FoundFace:
    """The face of an uploaded picture: detected when the detector is sure of exactly one face."""
    gray, k = _work_gray(image)
    sure = _detect(gray, SURE_NEIGHBOURS)
    if len(sure) == 1:
        return FoundFace(*_from_square(gray, sure[0], k, image.size), source="detected", faces=1)
    if len(sure) > 1:
        box, points = _from_square(gray, sure[0], k, image.size)
        return FoundFace(box, points, "estimated", len(sure),
                         f"The detector found {len(sure)} faces; the largest is proposed. Check it.")
    loose = _detect(gray, LOOSE_NEIGHBOURS)
    if loose:
        box, points = _from_square(gray, loose[0], k, image.size)
        return FoundFace(box, points, "estimated", 0,
                         "The detector was not sure of this face; the likeliest place is proposed. Check it.")
    box = _head_only(image) or estimate_face_box(image)
    return FoundFace(box, proportional_points(box), "estimated", 0,
                     "No face was found; the region is a guess from the figure's shape. Correct it.")


def _head_only(image: Image.Image) -> FaceBox | None:
    """For a figure about as wide as it is tall (a head, an emoji, a chibi), its outline minus a margin;
    None for taller figures (busts, full bodies), which the bust-up heuristic handles."""
    k = work_scale(image.size, WORK_SIDE)
    arr = rgba_array(image.resize((max(1, round(image.width * k)), max(1, round(image.height * k))),
                                  Image.Resampling.BOX))
    if (arr[..., 3] < 128).mean() > 0.02:
        figure = arr[..., 3] >= 128
    else:
        figure = np.linalg.norm(arr[..., :3].astype(np.float32) - background_colour(arr), axis=2) > 30
    ys, xs = np.nonzero(figure)
    if len(ys) < 64:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    if (y1 - y0) > HEAD_ASPECT * (x1 - x0):
        return None
    w, h = x1 - x0, y1 - y0
    return _clamp_box((x0 + 0.08 * w) / k, (y0 + 0.1 * h) / k, (x1 - 0.08 * w) / k, (y1 - 0.06 * h) / k, image.size)
