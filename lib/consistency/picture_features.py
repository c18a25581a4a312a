"""A character's colours read from its picture: hair, eyes, skin and outfit, from the regions around the face.

Skin from the cheeks under the eyes, eye colour from the most saturated pixels around each eye, hair from
the band above the face box (the fringe), outfit from the area below the chin. Each is the dominant colour
of its region (k-means), so shading and line art do not drag it towards grey. A region with too few usable
pixels gives no colour: the feature stays unstated rather than guessed. Only colours are read; hair style,
length and the outfit's name are for a person (or Gemini) to say.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from lib.consistency.align import resize_array, rgba_array, work_scale
from lib.consistency.face_finder import FoundFace
from lib.design.features import Features

WORK_SIDE = 512
MIN_PIXELS = 12


def _hex(rgb: np.ndarray) -> str:
    r, g, b = (round(float(v)) for v in np.clip(rgb, 0, 255))
    return f"#{r:02x}{g:02x}{b:02x}"


def _region(arr: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Opaque RGB pixels of arr inside the rectangle (clipped to the picture), as an Nx3 float32 array."""
    h, w = arr.shape[:2]
    ix0, iy0, ix1, iy1 = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
    if ix1 <= ix0 or iy1 <= iy0:
        return np.zeros((0, 3), np.float32)
    patch = arr[iy0:iy1, ix0:ix1].reshape(-1, 4)
    return patch[patch[:, 3] > 200, :3].astype(np.float32)


def _dominant(pixels: np.ndarray, k: int = 3) -> np.ndarray | None:
    """The centre of the largest colour cluster, ignoring near-black line art."""
    pixels = pixels[pixels.max(axis=1) > 45]
    if len(pixels) < MIN_PIXELS:
        return None
    if len(pixels) > 4000:
        pixels = pixels[np.linspace(0, len(pixels) - 1, 4000).astype(int)]
    k = min(k, len(pixels))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(7)
    _, labels, centres = cv2.kmeans(pixels, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    return centres[np.bincount(labels.ravel(), minlength=k).argmax()]


def _unlike(pixels: np.ndarray, colour: np.ndarray | None, distance: float = 40.0) -> np.ndarray:
    if colour is None or not len(pixels):
        return pixels
    return pixels[np.linalg.norm(pixels - colour, axis=1) > distance]


def _iris(arr: np.ndarray, eye: tuple[float, float], r: float) -> np.ndarray | None:
    pixels = _region(arr, eye[0] - r, eye[1] - r, eye[0] + r, eye[1] + r)
    if len(pixels) < MIN_PIXELS:
        return None
    hsv = cv2.cvtColor(pixels.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2HSV).reshape(-1, 3)
    usable = (hsv[:, 2] > 50) & (hsv[:, 1] > 60)
    if usable.sum() < MIN_PIXELS // 2:
        return None
    sat = hsv[usable, 1]
    chosen = pixels[usable][sat >= np.percentile(sat, 50)]
    return np.median(chosen, axis=0)


def read_features(image: Image.Image, face: FoundFace) -> Features:
    """Hair, eye, skin and outfit colours of `image` around `face`; only the colours that could be read are given."""
    k = work_scale(image.size, WORK_SIDE)
    arr = resize_array(rgba_array(image), k)
    x, y, w, h = (v * k for v in face.box)
    (lx, ly), (rx, ry), (_mx, my) = ((px * k, py * k) for px, py in face.points)
    d = max(rx - lx, 0.3 * w)
    cheeks = np.concatenate([_region(arr, ex - 0.12 * d, ey + 0.3 * d, ex + 0.12 * d, min(ey + 0.5 * d, my))
                             for ex, ey in ((lx, ly), (rx, ry))])
    skin = _dominant(cheeks, k=2)
    irises = [c for c in (_iris(arr, e, 0.14 * d) for e in ((lx, ly), (rx, ry)))
              if c is not None and (skin is None or np.linalg.norm(c - skin) > 40)]  # closed eyes show skin
    hair = _dominant(_unlike(_region(arr, x, y - 0.3 * h, x + w, y + 0.12 * h), skin))
    outfit = _dominant(_unlike(_region(arr, x - 0.3 * w, y + 1.35 * h, x + 1.3 * w, y + 2.2 * h), skin))
    found = {"skin_tone": skin, "hair_color": hair, "outfit_color": outfit,
             "eye_color": np.mean(irises, axis=0) if irises else None}
    return Features.model_validate({name: _hex(c) for name, c in found.items() if c is not None})
