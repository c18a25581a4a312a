"""Layers that stack back into the finished images: what every layered export stores over the body.

PSD editors, Ren'Py's `layeredimage` and PNGTuber Plus all draw a layer L over the body B with
straight-alpha source-over: a = a_L + a_B(1 - a_L), colour = (c_L a_L + c_B a_B (1 - a_L)) / a. A layer
that repeats the finished image E where B already has partial alpha doubles soft edges (0.5 over 0.5 =
0.75), so each layer is *solved* from E and B pixel by pixel: transparent where E equals B, otherwise the
alpha and colour for which the tool's blending gives E back.

Some pixels have no such layer: E more transparent than B there, or a colour change at partial alpha
that would need a layer colour outside 0-255. Those pixels (the "cut") are made transparent in the body,
every layer carries its finished pixels there in full, and `Stack.base_patch` holds the base's own
pixels there, for showing the body with no expression. Each solved pixel is checked the way the tools
compute: straight alpha in floats (psd-tools, GIMP, Godot) and 8-bit premultiplied (Ren'Py); a pixel off
by more than `TOLERANCE` levels in either joins the cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lib.exports._images import Bounds, diff_box, load_rgba
from lib.exports.model import ExportItem, ExportSet, Fetch

TOLERANCE = 0.9  # levels of 255, in float, before the tool rounds or truncates to 8 bits


@dataclass(frozen=True)
class Layer:
    """An RGBA layer cropped to where it has pixels, and where it sits on the canvas."""

    image: Image.Image
    left: int
    top: int

    @property
    def box(self) -> Bounds:
        return (self.left, self.top, self.left + self.image.width, self.top + self.image.height)

    def canvas(self, size: tuple[int, int]) -> Image.Image:
        """The layer on a transparent canvas of `size` (for tools that place every layer at 0, 0)."""
        full = Image.new("RGBA", size, (0, 0, 0, 0))
        full.paste(self.image, (self.left, self.top))
        return full


@dataclass
class _Solved:
    box: Bounds
    finished: np.ndarray  # the finished image inside `box`
    layer: np.ndarray  # the solved layer inside `box`, over the uncut base


class Stack:
    """The body (base minus the cut) and one exact layer per finished image, by key."""

    def __init__(self, base: np.ndarray, solved: dict[str, _Solved | None], cut: np.ndarray) -> None:
        self._base = base
        self._solved = solved
        self._cut = cut
        rows, cols = np.nonzero(cut)
        self.cut_box: Bounds | None = (
            (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1) if rows.size else None
        )

    @property
    def cut_pixels(self) -> int:
        """How many base pixels no normal-blend layer could reproduce for some image."""
        return int(self._cut.sum())

    def body(self) -> Image.Image:
        """The base with the cut pixels made transparent (the base itself when nothing is cut)."""
        if self.cut_box is None:
            return Image.fromarray(self._base, "RGBA")
        body = self._base.copy()
        body[self._cut] = 0
        return Image.fromarray(body, "RGBA")

    def base_patch(self) -> Layer | None:
        """The base's own pixels at the cut, to show the body alone; None when nothing is cut."""
        if self.cut_box is None:
            return None
        left, top, right, bottom = self.cut_box
        patch = self._base[top:bottom, left:right].copy()
        patch[~self._cut[top:bottom, left:right]] = 0
        return Layer(Image.fromarray(patch, "RGBA"), left, top)

    def finished(self, key: str) -> Image.Image:
        """The finished image `key` itself (what body + layer shows), full canvas."""
        img = Image.fromarray(self._base, "RGBA")
        solved = self._solved[key]
        if solved is not None:
            img.paste(Image.fromarray(solved.finished, "RGBA"), solved.box[:2])
        return img

    def layer(self, key: str) -> Layer:
        """The layer that, drawn over `body()`, gives the finished image `key` back."""
        solved = self._solved[key]
        boxes = [b for b in (None if solved is None else solved.box, self.cut_box) if b is not None]
        if not boxes:
            return Layer(Image.new("RGBA", (1, 1), (0, 0, 0, 0)), 0, 0)
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
        layer = np.zeros((bottom - top, right - left), np.uint32)
        finished = _packed(self._base[top:bottom, left:right])
        if solved is not None:
            sl, st, sr, sb = solved.box
            inner = (slice(st - top, sb - top), slice(sl - left, sr - left))
            layer[inner] = _packed(solved.layer)
            finished = finished.copy()
            finished[inner] = _packed(solved.finished)
        cut = self._cut[top:bottom, left:right]
        layer[cut] = finished[cut]
        return _trimmed(layer.view(np.uint8).reshape(*layer.shape, 4), left, top)


def item_key(item: ExportItem) -> str:
    """The key of an export item's layer in a `Stack`."""
    return f"{item.expression_key}/{item.role}"


def stack_of(export_set: ExportSet, fetch: Fetch, items: Iterable[ExportItem]) -> Stack:
    """The stack of `items` over the set's base, fetching and decoding each image once."""
    base = load_rgba(fetch, export_set.base_key, export_set.size)
    return build_stack(base, ((item_key(i), load_rgba(fetch, i.image_key, export_set.size)) for i in items))


def build_stack(base: Image.Image, images: Iterable[tuple[str, Image.Image]]) -> Stack:
    """Solve one layer per `(key, finished image)` over `base`, reading the images one at a time."""
    base = base.convert("RGBA") if base.mode != "RGBA" else base
    base_px = np.asarray(base)
    cut = np.zeros(base_px.shape[:2], bool)
    solved: dict[str, _Solved | None] = {}
    for key, img in images:
        img = img.convert("RGBA") if img.mode != "RGBA" else img
        box = diff_box(base, img)
        if box is None:
            solved[key] = None
            continue
        left, top, right, bottom = box
        finished = np.asarray(img.crop(box))
        del img
        layer, bad = solve_layer(finished, base_px[top:bottom, left:right])
        cut[top:bottom, left:right] |= bad
        solved[key] = _Solved(box, finished, layer)
    return Stack(base_px, solved, cut)


def solve_layer(finished: np.ndarray, below: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 RGBA layer whose source-over on `below` gives `finished`, and where that fails.

    Only pixels that differ are solved (a face box is mostly unchanged skin and hair).
    """
    finished, below = np.ascontiguousarray(finished), np.ascontiguousarray(below)
    fin32, below32 = _packed(finished), _packed(below)
    differs = fin32 != below32
    # over an empty pixel, or opaque over opaque, the finished pixel itself is the exact layer
    fin_a, below_a = finished[..., 3], below[..., 3]
    replace = differs & (((below_a == 255) & (fin_a == 255)) | (below_a == 0))
    layer32 = np.where(replace, fin32, np.uint32(0))
    bad = np.zeros(finished.shape[:2], bool)
    blend = np.flatnonzero(differs & ~replace)
    e, b = finished.reshape(-1, 4)[blend], below.reshape(-1, 4)[blend]
    todo = ~already_there(b, e)
    solved = _solve(e[todo], b[todo])
    layer32.reshape(-1)[blend[todo]] = _packed(solved)
    bad.reshape(-1)[blend[todo]] = ~stacks_back(solved, b[todo], e[todo])
    layer = layer32.view(np.uint8).reshape(finished.shape)
    layer32[layer[..., 3] == 0] = 0
    return layer, bad


def _packed(px: np.ndarray) -> np.ndarray:
    """RGBA pixels as one uint32 each (a view when `px` is contiguous)."""
    return np.ascontiguousarray(px).view(np.uint32)[..., 0]


def _solve(finished: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Per pixel: the layer alpha from the alpha equation, then the colour for the alpha actually stored."""
    e, b = finished.astype(np.float32) / 255, below.astype(np.float32) / 255
    ea, ba = e[..., 3:], b[..., 3:]
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(ba < 1, (ea - ba) / (1 - ba), 1.0)
    la = np.clip(np.rint(alpha * 255), 0, 255) / 255
    out_a = la + ba * (1 - la)
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.where(la > 0, (e[..., :3] * out_a - b[..., :3] * ba * (1 - la)) / la, 0.0)
    layer = np.concatenate([np.clip(np.rint(colour * 255), 0, 255), la * 255], axis=-1).astype(np.uint8)
    layer[layer[..., 3] == 0] = 0
    return layer


def already_there(below: np.ndarray, finished: np.ndarray) -> np.ndarray:
    """Where the pixel below already is the finished one, give or take the tools' rounding: no layer needed.

    "Within one level" is one-sided: the finished value may be the one below or one less, because some
    readers truncate (psd-tools turns 181 at alpha 228 into 180); 8-bit premultiplied must agree within one.
    """
    step = finished.astype(np.int16) - below.astype(np.int16)
    seen = finished[..., 3] > 0
    close = ((step >= -1) & (step <= 0)).all(axis=-1) | (~seen & (step[..., 3] >= -1) & (step[..., 3] <= 0))
    close &= (below[..., 3] > 0) | ~seen  # a transparent pixel has no colour to be close to
    return close & (np.abs(_premultiplied(below) - _premultiplied(finished)) <= 1).all(axis=-1)


def _premultiplied(px: np.ndarray) -> np.ndarray:
    return np.rint(px[..., :3].astype(np.float32) * px[..., 3:] / 255)


def stacks_back(layer: np.ndarray, below: np.ndarray, finished: np.ndarray) -> np.ndarray:
    """Where `layer` over `below` gives `finished` within TOLERANCE, straight (float) and premultiplied (8-bit)."""
    lf, bf = layer.astype(np.float32), below.astype(np.float32)
    la, ba = lf[..., 3:] / 255, bf[..., 3:] / 255
    out_a = la + ba * (1 - la)
    with np.errstate(divide="ignore", invalid="ignore"):
        straight = (lf[..., :3] * la + bf[..., :3] * ba * (1 - la)) / out_a
    target = finished.astype(np.float32)
    ok = np.abs(out_a[..., 0] * 255 - target[..., 3]) <= TOLERANCE
    seen = target[..., 3] > 0
    ok &= ~seen | (np.abs(np.nan_to_num(straight) - target[..., :3]) <= TOLERANCE).all(axis=-1)
    premultiplied = np.rint(lf[..., :3] * la) + np.rint(bf[..., :3] * ba) * (1 - la)
    return ok & (np.abs(premultiplied - _premultiplied(finished)) <= TOLERANCE).all(axis=-1)


def _trimmed(layer: np.ndarray, left: int, top: int) -> Layer:
    """The layer cropped to its visible pixels (colour cleared where it is transparent)."""
    layer[layer[..., 3] == 0] = 0
    rows, cols = np.nonzero(layer[..., 3])
    if not rows.size:
        return Layer(Image.new("RGBA", (1, 1), (0, 0, 0, 0)), left, top)
    r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    return Layer(Image.fromarray(np.ascontiguousarray(layer[r0:r1, c0:c1]), "RGBA"), left + c0, top + r0)
