"""Layered PSD export for artists (Photoshop, CLIP STUDIO PAINT, PSDTool, YMM4), built with psd-tools.

Layout as the layer panel shows it (top of the list = front)::

    表情 (expressions)                 group
      *笑顔 (happy)                    one subgroup per expression, `*` = mutually exclusive (PSDTool/YMM4);
                                       the set's first expression: visible, at the top
        *目閉じ (blink)                variants above the face, also `*`-exclusive, hidden
        *口開け (mouth_open)
        *表情 (expression)             the expression, cropped to where it differs from the base
      *怒り (angry)                    the other expressions, hidden
      ...
    素体 (body)                        the base image, full canvas, always visible

Exactly one expression subgroup (the first) is visible, showing its face layer; every variant is hidden.
Each layer is cropped to the box where its image differs from the base and placed at that box's
top/left, so toggling a layer over the body shows the full expression image. Every channel is RLE
(ZIP-compressed layers break ag-psd and PNGTuber Remix).

Names: layers are created with ASCII names and the Japanese name goes in the Unicode name block
(`Tag.UNICODE_LAYER_NAME`); a non-ASCII name at creation crashes psd-tools' save().

CLIP STUDIO PAINT's stray selection layer (psd-tools issue #585): CSP reads a 4th (alpha) channel in
the merged image as a saved selection. A document created as "RGB" avoids that but psd-tools then
stores each layer's alpha as a layer mask over an opaque layer. The fix the issue documents (and
psd-tools 1.26 adopted as `background_color`) is a 3-channel merged image flattened on white while the
layers keep their transparency. We build the layers in an RGBA document (real transparency channels,
no masks), then write the merged image as 3 RGB channels on white and set the header to 3 channels:
what Photoshop itself writes for a layered document.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

from PIL import Image
from psd_tools import PSDImage
from psd_tools.api.layers import Group
from psd_tools.constants import Compression, Tag

from lib.design.expressions import VARIANTS
from lib.exports._images import diff_box, load_rgba
from lib.exports.model import ExportItem, ExportSet, Fetch, expression_groups, require_items

log = logging.getLogger(__name__)

RLE = Compression.RLE
BODY_NAME = ("body", "素体 (body)")
EXPRESSIONS_NAME = ("expressions", "表情 (expressions)")
_FACE_JA = "表情"


def write_psd(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the set as one layered PSD to the binary file `out`."""
    require_items(export_set)
    base = load_rgba(fetch, export_set.base_key, export_set.size)
    psd = PSDImage.new("RGBA", export_set.size, color=(255, 255, 255, 0), compression=RLE)
    _pixel_layer(psd, base, BODY_NAME, (0, 0))
    root = psd.create_group(name=EXPRESSIONS_NAME[0])
    _set_unicode_name(root, EXPRESSIONS_NAME[1])
    groups = expression_groups(export_set)
    front: tuple[Image.Image, tuple[int, int]] | None = None
    # psd-tools stacks each new layer on top: build the last expression first so the first one is at
    # the top of the panel, and the face before its variants so a shown variant covers the face.
    for group in reversed(groups):
        sub = root.create_group(name=f"*{_ascii(group.key)}")
        _set_unicode_name(sub, f"*{group.label_ja} ({group.key})")
        sub.visible = group is groups[0]
        for item in group.items():
            crop, left_top = _expression_crop(base, fetch, export_set, item)
            _pixel_layer(sub, crop, _layer_names(item), left_top).visible = item.variant is None
            if sub.visible and item.variant is None:
                front = (crop, left_top)
    _write_composite(psd, base, front)
    del base
    psd.save(out)
    log.info("psd export of %s: %d expressions", export_set.slug, len(groups))


def _expression_crop(
    base: Image.Image, fetch: Fetch, export_set: ExportSet, item: ExportItem
) -> tuple[Image.Image, tuple[int, int]]:
    """The item's image cropped to where it differs from the base, and the crop's (left, top)."""
    img = load_rgba(fetch, item.image_key, export_set.size)
    box = diff_box(base, img) or (0, 0, 1, 1)  # identical to the base: a 1 px layer that changes nothing
    return img.crop(box), (box[0], box[1])


def _layer_names(item: ExportItem) -> tuple[str, str]:
    role_ja = _FACE_JA if item.variant is None else VARIANTS[item.variant].label_ja
    return f"*{_ascii(item.expression_key)}_{item.role}", f"*{role_ja} ({item.role})"


def _pixel_layer(parent: Group | PSDImage, img: Image.Image, names: tuple[str, str], left_top: tuple[int, int]):
    layer = parent.create_pixel_layer(
        img, name=names[0], left=left_top[0], top=left_top[1], compression=RLE
    )
    _set_unicode_name(layer, names[1])
    return layer


def _set_unicode_name(layer: object, name: str) -> None:
    """Keep the ASCII Pascal name for old readers; the Unicode block is what editors show."""
    layer._record.tagged_blocks.set_data(Tag.UNICODE_LAYER_NAME, name)  # type: ignore[attr-defined]


def _write_composite(
    psd: PSDImage, base: Image.Image, front: tuple[Image.Image, tuple[int, int]] | None
) -> None:
    """Store the merged image ourselves: RGB only (no alpha for CSP to read as a selection), on white.

    psd-tools would render it on save, but its opaque-backdrop path leaves semi-transparent edge pixels
    un-blended (dark fringes) and costs seconds at 2048 px; the visible stack here is just base + one face.
    """
    merged = base.copy()
    if front is not None:
        merged.alpha_composite(front[0], dest=front[1])
    flat = Image.new("RGBA", merged.size, (255, 255, 255, 255))
    flat.alpha_composite(merged)
    psd._record.header.channels = 3
    psd._record.image_data.set_data([band.tobytes() for band in flat.convert("RGB").split()], psd._record.header)
    psd._background_color = 1.0  # what the stored composite was flattened on
    psd._updated = False  # keep our composite: save() would otherwise re-render it


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")[:60]
