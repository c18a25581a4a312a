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
the merged image as a saved selection. A document created as "RGB" avoids that but turns each
layer's alpha into a layer mask over black. We use psd-tools' documented `background_color` (the
merged image is composited on white, 3 channels, no alpha) and build the layers while the document
is RGBA so each keeps a real transparency channel; just before saving, the header is switched to 3
channels. The result is what Photoshop itself writes: transparent layers, an opaque 3-channel composite.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

from PIL import Image
from psd_tools import PSDImage
from psd_tools.api.layers import Group
from psd_tools.constants import Compression, Tag

from lib.exports._images import diff_box, load_rgba
from lib.exports.model import ExportItem, ExportSet, Fetch, expression_groups, require_items
from lib.expressions import VARIANTS

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
    # psd-tools stacks each new layer on top: build the last expression first so the first one is at
    # the top of the panel, and the face before its variants so a shown variant covers the face.
    for group in reversed(groups):
        sub = root.create_group(name=f"*{_ascii(group.key)}")
        _set_unicode_name(sub, f"*{group.label_ja} ({group.key})")
        sub.visible = group is groups[0]
        for item in group.items():
            layer = _expression_layer(sub, base, fetch, export_set, item)
            layer.visible = item.variant is None
    del base
    _opaque_composite(psd)
    psd.save(out)
    log.info("psd export of %s: %d expressions", export_set.slug, len(groups))


def _expression_layer(parent: Group, base: Image.Image, fetch: Fetch, export_set: ExportSet, item: ExportItem):
    img = load_rgba(fetch, item.image_key, export_set.size)
    box = diff_box(base, img) or (0, 0, 1, 1)  # identical to the base: a 1 px layer that changes nothing
    crop = img.crop(box)
    role_ja = _FACE_JA if item.variant is None else VARIANTS[item.variant].label_ja
    names = (f"*{_ascii(item.expression_key)}_{item.role}", f"*{role_ja} ({item.role})")
    return _pixel_layer(parent, crop, names, (box[0], box[1]))


def _pixel_layer(parent: Group | PSDImage, img: Image.Image, names: tuple[str, str], left_top: tuple[int, int]):
    layer = parent.create_pixel_layer(
        img, name=names[0], left=left_top[0], top=left_top[1], compression=RLE
    )
    _set_unicode_name(layer, names[1])
    return layer


def _set_unicode_name(layer: object, name: str) -> None:
    """Keep the ASCII Pascal name for old readers; the Unicode block is what editors show."""
    layer._record.tagged_blocks.set_data(Tag.UNICODE_LAYER_NAME, name)  # type: ignore[attr-defined]


def _opaque_composite(psd: PSDImage) -> None:
    """Merged image: 3 channels on white (no alpha for CSP to read as a selection); see module docstring."""
    psd._record.header.channels = 3
    psd.background_color = 1.0
    psd.mark_updated()


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")[:60]
