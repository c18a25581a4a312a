"""Paste an aligned result's face back into the base, so everything else stays the base by construction.

The mask is 1 deep inside the face box and ramps to exactly 0 on the box's border, so outside the box
the output is the base, byte for byte, alpha included. Inside, the base's alpha is kept (the model's
opaque background must not leak) and semi-transparent edge pixels lean towards the base's own colour.
Before pasting, the result's colours are matched to the base (a 3x4 colour affine fitted on the
opaque ring just outside the face box), so a colour cast does not leave a seam.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from lib.consistency.align import rgba_array
from lib.design.face_box import FaceBox

log = logging.getLogger(__name__)

FEATHER_SHARE = 0.04  # default feather, as a share of the face box's shorter side


def default_feather(face_box: FaceBox) -> int:
    return max(1, round(FEATHER_SHARE * min(face_box[2], face_box[3])))


def face_mask(size: tuple[int, int], face_box: FaceBox, *, feather_px: int) -> np.ndarray:
    """An HxW float32 mask: 0 outside and on the border of `face_box`, rising over `feather_px` to 1."""
    x, y, w, h = FaceBox.checked(face_box, size)
    feather = max(1, int(feather_px))
    mask = np.zeros((size[1], size[0]), np.float32)
    # Distance (in pixels) from each pixel of the box to the box's outermost ring of pixels.
    dx = np.minimum(np.arange(w), np.arange(w)[::-1]).astype(np.float32)
    dy = np.minimum(np.arange(h), np.arange(h)[::-1]).astype(np.float32)
    t = np.clip(np.minimum(dx[None, :], dy[:, None]) / feather, 0.0, 1.0)
    mask[y : y + h, x : x + w] = t * t * (3 - 2 * t)  # smoothstep
    return mask


def _ring(shape: tuple[int, int], box: FaceBox, width: int) -> np.ndarray:
    x, y, w, h = box
    ring = np.zeros(shape, dtype=bool)
    ring[max(0, y - width) : y + h + width, max(0, x - width) : x + w + width] = True
    ring[y : y + h, x : x + w] = False
    return ring


def colour_map(base: np.ndarray, aligned: np.ndarray, box: FaceBox) -> tuple[np.ndarray, np.ndarray] | None:
    """A 3x3 matrix and an offset (float32) mapping `aligned` RGB onto `base`, fitted on the opaque ring
    around the box; None when the ring cannot tell (the colours are then kept)."""
    ring = _ring(base.shape[:2], box, max(4, min(box[2], box[3]) // 6))
    ok = ring & (base[..., 3] == 255) & (aligned[..., 3] == 255)
    if ok.sum() < 200:
        return None
    step = max(1, int(ok.sum()) // 20000)
    src, dst = aligned[..., :3][ok][::step].astype(np.float32), base[..., :3][ok][::step].astype(np.float32)
    design = np.hstack([src, np.ones((len(src), 1), np.float32)])
    coef, *_ = np.linalg.lstsq(design, dst, rcond=None)
    # Few distinct colours in the ring make the fit ill-posed; then keep it close to the identity.
    if not np.all(np.abs(coef[:3] - np.eye(3)) < 0.35):
        return None
    return coef[:3].astype(np.float32), coef[3].astype(np.float32)


def paste_back(
    base: Image.Image, aligned: Image.Image, *, face_box: FaceBox, feather_px: int | None = None
) -> Image.Image:
    """The base with the aligned result's face pasted in; identical to the base outside `face_box`."""
    box = FaceBox.checked(face_box, base.size)
    if aligned.size != base.size:
        raise ValueError(f"aligned is {aligned.size}, the base is {base.size}; align it first")
    x, y, w, h = box
    feather = default_feather(box) if feather_px is None else feather_px
    # The colours are matched on a ring around the box; only the box itself changes (the mask is 0
    # on its border), so only the grown crop is converted to arrays and only the box is blended.
    pad = max(4, min(w, h) // 6)
    cx0, cy0 = max(0, x - pad), max(0, y - pad)
    crop = (cx0, cy0, min(base.width, x + w + pad), min(base.height, y + h + pad))
    b, a = rgba_array(base.crop(crop)), rgba_array(aligned.crop(crop))
    fit = colour_map(b, a, (x - cx0, y - cy0, w, h))
    inside = (slice(y - cy0, y - cy0 + h), slice(x - cx0, x - cx0 + w))
    b, a = b[inside], a[inside]
    rgb = a[..., :3].astype(np.float32)
    if fit is not None:
        rgb = rgb @ fit[0] + fit[1]
    m = face_mask((w, h), (0, 0, w, h), feather_px=feather)
    alpha = np.square(np.square(b[..., 3].astype(np.float32) / np.float32(255)))
    m *= alpha  # keep the base on its soft silhouette edges
    m *= a[..., 3].astype(np.float32) / np.float32(255)
    m = m[..., None]
    blended = b[..., :3] * (1 - m) + rgb * m
    patch = b.copy()
    patch[..., :3] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    result = base.convert("RGBA") if base.mode != "RGBA" else base.copy()
    result.paste(Image.fromarray(patch, "RGBA"), (x, y))  # replaces the box's pixels, alpha included
    return result if base.mode == "RGBA" else result.convert(base.mode)
