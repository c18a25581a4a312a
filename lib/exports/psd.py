"""Layered PSD export for artists (Photoshop, CLIP STUDIO PAINT, PSDTool, YMM4), built with psd-tools.

Layout as the layer panel shows it (top of the list = front)::

    表情 (expressions)                   group
      *笑顔 (happy)                      one subgroup per expression, `*` = mutually exclusive (PSDTool/YMM4);
                                         the set's first expression: visible, at the top
        *笑顔 目閉じ (happy blink)       variants above the face, also `*`-exclusive, hidden
        *笑顔 口開け (happy mouth_open)
        *笑顔 表情 (happy)               the expression
      *怒り (angry)                      the other expressions, hidden
      ...
      *素体のまま (body only)            only when the body is cut (below): the base's own pixels there
        *素体の顔 (base face)
    素体 (body)                          the base image, full canvas, always visible

Every name is unique (GIMP renames repeated names) and says which expression and role it is.
Exactly one expression subgroup (the first) is visible, showing its face layer; every variant is hidden.

Each layer holds exactly what normal blending over the body turns back into that finished image (see
`lib.exports._stack`): the body with one layer shown *is* the expression PNG, soft edges included,
within one level. Pixels no layer can reproduce over the base (a finished image more transparent than
the base there) are cut out of the body and carried in full by every layer; the "body only" subgroup
puts the base's pixels back when no expression is wanted. Every channel is RLE (ZIP-compressed layers
break ag-psd and PNGTuber Remix).

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
from lib.exports._stack import Layer, item_key, stack_of
from lib.exports.model import ExportItem, ExportSet, Fetch, expression_groups, require_items

log = logging.getLogger(__name__)

RLE = Compression.RLE
BODY_NAME = ("body", "素体 (body)")
EXPRESSIONS_NAME = ("expressions", "表情 (expressions)")
BODY_ONLY_NAMES = (("*_body_only", "*素体のまま (body only)"), ("*_base_face", "*素体の顔 (base face)"))
_FACE_JA = "表情"


def write_psd(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the set as one layered PSD to the binary file `out`."""
    require_items(export_set)
    stack = stack_of(export_set, fetch, export_set.items)
    psd = PSDImage.new("RGBA", export_set.size, color=(255, 255, 255, 0), compression=RLE)
    _pixel_layer(psd, Layer(stack.body(), 0, 0), BODY_NAME)
    root = psd.create_group(name=EXPRESSIONS_NAME[0])
    _set_unicode_name(root, EXPRESSIONS_NAME[1])
    patch = stack.base_patch()
    if patch is not None:
        sub = root.create_group(name=BODY_ONLY_NAMES[0][0])
        _set_unicode_name(sub, BODY_ONLY_NAMES[0][1])
        sub.visible = False
        _pixel_layer(sub, patch, BODY_ONLY_NAMES[1])
    groups = expression_groups(export_set)
    # psd-tools stacks each new layer on top: build the last expression first so the first one is at
    # the top of the panel, and the face before its variants so a shown variant covers the face.
    for group in reversed(groups):
        sub = root.create_group(name=f"*{_ascii(group.key)}")
        _set_unicode_name(sub, f"*{group.label_ja} ({group.key})")
        sub.visible = group is groups[0]
        for item in group.items():  # the face shows, or the first variant of an expression without one
            _pixel_layer(sub, stack.layer(item_key(item)), layer_names(item)).visible = item is group.items()[0]
    front = groups[0].items()[0]
    _write_composite(psd, stack.finished(item_key(front)))
    psd.save(out)
    log.info("psd export of %s: %d expressions, %d body pixels cut", export_set.slug, len(groups), stack.cut_pixels)


def layer_names(item: ExportItem) -> tuple[str, str]:
    """The ASCII and the Unicode name of an item's layer, e.g. `*笑顔 口開け (happy mouth_open)`."""
    role_ja = _FACE_JA if item.variant is None else VARIANTS[item.variant].label_ja
    suffix = "" if item.variant is None else f" {item.variant}"
    return f"*{_ascii(item.expression_key)}_{item.role}", f"*{item.label_ja} {role_ja} ({item.expression_key}{suffix})"


def _pixel_layer(parent: Group | PSDImage, layer: Layer, names: tuple[str, str]):
    created = parent.create_pixel_layer(
        layer.image, name=names[0], left=layer.left, top=layer.top, compression=RLE
    )
    _set_unicode_name(created, names[1])
    return created


def _set_unicode_name(layer: object, name: str) -> None:
    """Keep the ASCII Pascal name for old readers; the Unicode block is what editors show."""
    layer._record.tagged_blocks.set_data(Tag.UNICODE_LAYER_NAME, name)  # type: ignore[attr-defined]


def _write_composite(psd: PSDImage, merged: Image.Image) -> None:
    """Store the merged image ourselves: RGB only (no alpha for CSP to read as a selection), on white.

    psd-tools would render it on save, but its opaque-backdrop path leaves semi-transparent edge pixels
    un-blended (dark fringes) and costs seconds at 2048 px; the visible stack is the first expression image.
    """
    flat = Image.new("RGBA", merged.size, (255, 255, 255, 255))
    flat.alpha_composite(merged)
    psd._record.header.channels = 3
    psd._record.image_data.set_data([band.tobytes() for band in flat.convert("RGB").split()], psd._record.header)
    psd._background_color = 1.0  # what the stored composite was flattened on
    psd._updated = False  # keep our composite: save() would otherwise re-render it


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")[:60]
