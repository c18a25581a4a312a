"""Export sets on real artwork, and the blending each target tool does, for the layered-export tests.

`real_set` builds an `ExportSet` from artist-made sprites in `../shared/real-dev/` (soft, semi-transparent
edges, read in place, never copied): TyranoScript's Akane (her own four expression differences over her
normal sprite, two of them with a moved arm) and WebGAL's figure (its own blink and talking frames as
variants). `drawn_set` is the offline renderer's portrait. The blend functions transcribe how each tool
draws a layer over what is below it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from devtools.export_sample import sample_set
from lib.design.expressions import LIBRARY
from lib.exports.model import ExportItem, ExportSet

REAL_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "real-dev"
# (our expression, variant) -> the artist's file; the first entry is the base
REAL_SETS: dict[str, tuple[tuple[int, int], list[tuple[str, str | None, str]]]] = {
    "akane": ((400, 599), [("base", None, "tyrano/akane_normal.png"), ("happy", None, "tyrano/akane_happy.png"),
                           ("sad", None, "tyrano/akane_sad.png"), ("embarrassed", None, "tyrano/akane_doki.png"),
                           ("angry", None, "tyrano/akane_angry.png")]),
    "webgal": ((512, 600), [("base", None, "webgal/outfit1_open_eyes.png"),
                            ("neutral", None, "webgal/outfit1_halfopen_mouth.png"),
                            ("neutral", "mouth_open", "webgal/outfit1_open_mouth.png"),
                            ("neutral", "blink", "webgal/outfit1_closed_eyes.png")]),
}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _fitted(path: Path, size: tuple[int, int]) -> Image.Image:
    """The sprite cropped or padded (transparent) at the bottom/right to `size`: the files differ by a pixel."""
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    with Image.open(path) as img:
        canvas.paste(img.convert("RGBA").crop((0, 0, *size)), (0, 0))
    return canvas


def real_set(name: str) -> tuple[ExportSet, dict[str, bytes]]:
    """One of `REAL_SETS` as an export set and its object store."""
    size, files = REAL_SETS[name]
    store = {f"{name}/{key}/{variant or 'face'}.png": _png(_fitted(REAL_DEV / path, size))
             for key, variant, path in files}
    items = [ExportItem(expression_key=key, label_en=LIBRARY[key].label_en, label_ja=LIBRARY[key].label_ja,
                        variant=variant, image_key=f"{name}/{key}/{variant or 'face'}.png", score=0.9, approved=True,
                        sha256=hashlib.sha256(store[f"{name}/{key}/{variant or 'face'}.png"]).hexdigest())
             for key, variant, _ in files[1:]]
    export_set = ExportSet(character_id="00000000-0000-4000-8000-00000000000a", character_name=f"{name} (real)",
                           slug=name, base_key=f"{name}/base/face.png", width=size[0], height=size[1],
                           generation={"backend": "upload"}, items=items)
    return export_set, store


def drawn_set() -> tuple[ExportSet, dict[str, bytes]]:
    """The offline renderer's portrait with three expressions, each with both variants."""
    return sample_set(size=(256, 320), expressions=("happy", "angry", "sad"))


def layered_sets() -> list[str]:
    return ["drawn", *REAL_SETS]


def load_set(name: str) -> tuple[ExportSet, dict[str, bytes]]:
    return drawn_set() if name == "drawn" else real_set(name)


def rgba(data: bytes | Image.Image) -> np.ndarray:
    img = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    return np.asarray(img.convert("RGBA"))


def straight_over(layer: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Source-over with straight alpha in floats (psd-tools, GIMP, Godot 2D 'mix'), rounded to 8 bits."""
    lf, bf = layer.astype(np.float64) / 255, below.astype(np.float64) / 255
    la, ba = lf[..., 3:], bf[..., 3:]
    out_a = la + ba * (1 - la)
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.where(out_a > 0, (lf[..., :3] * la + bf[..., :3] * ba * (1 - la)) / out_a, 0)
    return np.rint(np.concatenate([colour, out_a], axis=-1) * 255).astype(np.uint8)


def premultiplied(img: np.ndarray) -> np.ndarray:
    """8-bit premultiplied RGBA, as Ren'Py uploads textures."""
    px = img.astype(np.float64)
    return np.concatenate([np.rint(px[..., :3] * px[..., 3:] / 255), px[..., 3:]], axis=-1)


def max_difference(result: np.ndarray, finished: np.ndarray) -> int:
    """The largest difference in any channel; colour only counts where the finished pixel is not transparent."""
    diff = np.abs(result.astype(int) - finished.astype(int))
    diff[..., :3][finished[..., 3] == 0] = 0
    return int(diff.max())


def paste(layer_img: Image.Image, left: int, top: int, size: tuple[int, int]) -> np.ndarray:
    """A cropped layer on a transparent canvas."""
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    canvas.paste(layer_img.convert("RGBA"), (left, top))
    return np.asarray(canvas)
