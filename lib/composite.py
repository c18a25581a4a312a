"""Paste an aligned variant's face back into the base, so everything else stays the base by construction.

The mask is 1 deep inside the face box and ramps to exactly 0 on the box's border, so outside the box
the output is the base, byte for byte, alpha included. Inside, the base's alpha is kept (the model's
opaque background must not leak) and semi-transparent edge pixels lean towards the base's own colour.
Before pasting, the variant's colours are matched to the base (a 3x4 colour affine fitted on the
opaque ring just outside the face box), so a colour cast does not leave a seam.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from lib.align import Box, check_box, rgba_array

log = logging.getLogger(__name__)

FEATHER_SHARE = 0.04  # default feather, as a share of the face box's shorter side


def default_feather(face_box: Box) -> int:
    return max(1, round(FEATHER_SHARE * min(face_box[2], face_box[3])))


def face_mask(size: tuple[int, int], face_box: Box, *, feather_px: int) -> np.ndarray:
    """An HxW float32 mask: 0 outside and on the border of `face_box`, rising over `feather_px` to 1."""
    x, y, w, h = check_box(size, face_box)
    feather = max(1, int(feather_px))
    mask = np.zeros((size[1], size[0]), np.float32)
    # Distance (in pixels) from each pixel of the box to the box's outermost ring of pixels.
    dx = np.minimum(np.arange(w), np.arange(w)[::-1]).astype(np.float32)
    dy = np.minimum(np.arange(h), np.arange(h)[::-1]).astype(np.float32)
    t = np.clip(np.minimum(dx[None, :], dy[:, None]) / feather, 0.0, 1.0)
    mask[y : y + h, x : x + w] = t * t * (3 - 2 * t)  # smoothstep
    return mask


def _ring(shape: tuple[int, int], box: Box, width: int) -> np.ndarray:
    x, y, w, h = box
    ring = np.zeros(shape, dtype=bool)
    ring[max(0, y - width) : y + h + width, max(0, x - width) : x + w + width] = True
    ring[y : y + h, x : x + w] = False
    return ring


def match_colours(base: np.ndarray, aligned: np.ndarray, box: Box) -> np.ndarray:
    """`aligned` RGB (float32) mapped by a 3x4 colour affine fitted to `base` on the ring around the box."""
    ring = _ring(base.shape[:2], box, max(4, min(box[2], box[3]) // 6))
    ok = ring & (base[..., 3] == 255) & (aligned[..., 3] == 255)
    out = aligned[..., :3].astype(np.float32)
    if ok.sum() < 200:
        return out
    step = max(1, int(ok.sum()) // 20000)
    src, dst = out[ok][::step], base[..., :3][ok][::step].astype(np.float32)
    design = np.hstack([src, np.ones((len(src), 1), np.float32)])
    coef, *_ = np.linalg.lstsq(design, dst, rcond=None)
    # Few distinct colours in the ring make the fit ill-posed; then keep it close to the identity.
    if not np.all(np.abs(coef[:3] - np.eye(3)) < 0.35):
        return out
    return out @ coef[:3].astype(np.float32) + coef[3].astype(np.float32)


def paste_back(
    base: Image.Image, aligned: Image.Image, *, face_box: Box, feather_px: int | None = None
) -> Image.Image:
    """The base with the aligned variant's face pasted in; identical to the base outside `face_box`."""
    box = check_box(base.size, face_box)
    if aligned.size != base.size:
        raise ValueError(f"aligned is {aligned.size}, the base is {base.size}; align it first")
    x, y, w, h = box
    feather = default_feather(box) if feather_px is None else feather_px
    # Work on a crop grown by a ring, so colour matching sees the surroundings.
    pad = max(4, min(w, h) // 6)
    cx0, cy0 = max(0, x - pad), max(0, y - pad)
    cx1, cy1 = min(base.width, x + w + pad), min(base.height, y + h + pad)
    crop = (cx0, cy0, cx1, cy1)  # only the crop is converted to arrays; the rest is copied as pixels
    b, a = rgba_array(base.crop(crop)), rgba_array(aligned.crop(crop))
    local = (x - cx0, y - cy0, w, h)
    rgb = match_colours(b, a, local)
    m = face_mask((cx1 - cx0, cy1 - cy0), local, feather_px=feather)
    alpha = b[..., 3].astype(np.float32) / np.float32(255)
    m = m * alpha**4 * (a[..., 3].astype(np.float32) / np.float32(255))  # keep the base on its soft silhouette edges
    m = m[..., None].astype(np.float32)
    # Where m == 0 this is b + 0 exactly, so the whole crop can be written back unchanged there.
    blended = b[..., :3] * (1 - m) + rgb * m
    patch = b.copy()
    patch[..., :3] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    result = base.convert("RGBA") if base.mode != "RGBA" else base.copy()
    result.paste(Image.fromarray(patch, "RGBA"), (cx0, cy0))  # replaces the crop's pixels, alpha included
    return result if base.mode == "RGBA" else result.convert(base.mode)
