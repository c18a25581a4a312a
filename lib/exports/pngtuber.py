"""PNGTuber pack: PNGTuber Plus avatars (`<slug>.save`, ...), VTube Studio item PNGs and a README, in a ZIP.

The `.save` follows PNGTuber Plus's own save code (kaiakairos/PNGTuber-Plus, main_scenes/main.gd
`_on_save_dialog_file_selected`, read back by `_on_load_dialog_file_selected`): a JSON object keyed
"0".."n", one sprite each, with the PNG in `imageData` (base64), Godot `var_to_str` strings for `pos`,
`offset` and `costumeLayers`, and `showTalk` / `showBlink` codes read by spriteObject.gd `talkBlink()`:
showTalk 0 always, 1 only when silent, 2 only when talking; showBlink 0 always, 1 only with eyes open,
2 only while blinking.

Avatar: the body sprite is shown in every costume. Each expression is a costume on keys 1..0 and gets
child sprites of the body, cropped to one box around every change: its face (silent, eyes open),
mouth_open (talking) and blink (silent, blinking) where those images exist, so exactly one child shows
in any state. A missing variant is never faked: the face simply stays up for that state, and README.txt
and manifest.json say so. A `.save` holds at most ten costumes, so expressions 11-20 go into
`<slug>_2.save`, 21-30 into `<slug>_3.save`, and so on; the README lists which key opens what where.

Every child is solved against the body (see `lib.exports._stack`) so that Godot's blending of the child
over the body is the finished PNG, soft edges included; pixels no child could reproduce over the base
are cut out of the body and carried by every child.

VTube Studio cannot show PNGs on a Live2D model except as Items, so every finished image goes into
`vtube-studio-items/`, downscaled only if it is over 2048 px a side or 5 MB.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from PIL import Image

from lib.exports._archive import Archive
from lib.exports._images import Bounds, check_png_header, load_rgba, png_bytes, union
from lib.exports._stack import Stack, item_key, stack_of
from lib.exports.model import ExportItem, ExportSet, ExpressionGroup, Fetch, expression_groups, require_items
from lib.exports.zip import build_manifest, manifest_bytes

log = logging.getLogger(__name__)

COSTUME_KEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")
VTS_MAX_SIDE = 2048
VTS_MAX_BYTES = 5 * 1024 * 1024
ITEMS_DIR = "vtube-studio-items"
_SHOW = {  # role -> (showTalk, showBlink), given whether mouth_open / blink images exist
    "expression": lambda talk, blink: (1 if talk else 0, 1 if blink else 0),
    "mouth_open": lambda talk, blink: (2, 0),
    "blink": lambda talk, blink: (1 if talk else 0, 2),
}


@dataclass(frozen=True)
class Costume:
    """One expression on one costume key."""

    number: int  # 1..10, the index into costumeLayers plus one
    key: str  # keyboard key PNGTuber Plus uses for it
    group: ExpressionGroup
    save: str  # the .save file it is in


def write_pngtuber(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the PNGTuber pack (ZIP) to the binary file `out`."""
    require_items(export_set)
    groups = [g for g in expression_groups(export_set) if g.face is not None]
    without_face = [g.key for g in expression_groups(export_set) if g.face is None]
    per_save = len(COSTUME_KEYS)
    saves = [groups[i : i + per_save] for i in range(0, len(groups), per_save)]
    costumes = [[Costume(i + 1, COSTUME_KEYS[i], g, save_name(export_set, n)) for i, g in enumerate(chunk)]
                for n, chunk in enumerate(saves)]
    stack = stack_of(export_set, fetch, [item for g in groups for item in g.items()])
    body_png = fetch(export_set.base_key) if not stack.cut_pixels else png_bytes(stack.body())
    files: list[dict[str, Any]] = []
    with Archive(out) as archive:
        for chunk in costumes:
            box = _overlay_box(export_set, stack, chunk)
            member = archive.write_chunks(chunk[0].save, save_chunks(export_set, stack, chunk, box, body_png),
                                          role="pngtuber_save", compress=True)
            files.append({"path": member.path, "role": member.role, "sha256": member.sha256,
                          "bytes": member.bytes, "costumes": len(chunk)})
        items = _write_items(archive, export_set, fetch)
        files += items
        flat = [c for chunk in costumes for c in chunk]
        archive.write("README.txt", readme(export_set, flat, without_face, stack, items).encode("utf-8"),
                      role="readme", compress=True)
        manifest = build_manifest(export_set, files, fmt="pngtuber", costumes=_costume_rows(flat),
                                  not_included=without_face, body_pixels_cut=stack.cut_pixels)
        archive.write("manifest.json", manifest_bytes(manifest), role="manifest", compress=True)
    log.info("pngtuber export of %s: %d costumes in %d saves", export_set.slug, len(groups), len(costumes))


def save_name(export_set: ExportSet, index: int) -> str:
    """`<slug>.save` for the first ten expressions, `<slug>_2.save` for the next ten, ..."""
    return f"{export_set.slug}.save" if index == 0 else f"{export_set.slug}_{index + 1}.save"


def _overlay_box(export_set: ExportSet, stack: Stack, costumes: list[Costume]) -> Bounds:
    """One box around every child's pixels, widened so its centre sits on a whole pixel."""
    boxes = [stack.layer(item_key(item)).box for costume in costumes for item in costume.group.items()]
    left, top, right, bottom = union(boxes) or (0, 0, 1, 1)
    if (right - left) % 2 != export_set.width % 2:
        right, left = (right + 1, left) if right < export_set.width else (right, left - 1)
    if (bottom - top) % 2 != export_set.height % 2:
        bottom, top = (bottom + 1, top) if bottom < export_set.height else (bottom, top - 1)
    return left, top, right, bottom


def _sprite_id(export_set: ExportSet, name: str) -> int:
    digest = hashlib.sha256(f"{export_set.character_id}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2_000_000_000 + 1


def _sprite(*, path: str, ident: int, parent: int | None, pos: tuple[int, int], z: int,
            show: tuple[int, int], layers: list[int]) -> dict[str, Any]:
    """One sprite record with every key PNGTuber Plus saves (imageData added by the caller)."""
    return {
        "type": "sprite", "path": path, "identification": ident, "parentId": parent,
        "pos": f"Vector2({pos[0]}, {pos[1]})", "offset": "Vector2(0, 0)", "zindex": z,
        "drag": 0, "xFrq": 0, "xAmp": 0, "yFrq": 0, "yAmp": 0, "rotDrag": 0,
        "showTalk": show[0], "showBlink": show[1], "rLimitMin": -180, "rLimitMax": 180,
        "costumeLayers": "[" + ", ".join(str(v) for v in layers) + "]",
        "stretchAmount": 0.0, "ignoreBounce": False, "frames": 1, "animSpeed": 0, "clipped": False,
    }


def save_chunks(
    export_set: ExportSet, stack: Stack, costumes: list[Costume], box: Bounds, body_png: bytes
) -> Iterator[bytes]:
    """The `.save` JSON, streamed one sprite (one image) at a time."""
    body_id = _sprite_id(export_set, "body")
    body = _sprite(path=f"{export_set.slug}_body.png", ident=body_id, parent=None, pos=(0, 0), z=0,
                   show=(0, 0), layers=[1] * len(COSTUME_KEYS))
    yield b"{"
    yield from _record(0, body, base64.b64encode(body_png))
    centre = ((box[0] + box[2] - export_set.width) // 2, (box[1] + box[3] - export_set.height) // 2)
    index = 1
    for costume in costumes:
        g = costume.group
        layers = [1 if n == costume.number else 0 for n in range(1, len(COSTUME_KEYS) + 1)]
        for item in g.items():
            crop = stack.layer(item_key(item)).canvas(export_set.size).crop(box)
            show = _SHOW[item.role](g.mouth_open is not None, g.blink is not None)
            sprite = _sprite(path=f"{export_set.slug}_{g.key}_{item.role}.png",
                             ident=_sprite_id(export_set, f"{g.key}/{item.role}"), parent=body_id,
                             pos=centre, z=1, show=show, layers=layers)
            yield b","
            yield from _record(index, sprite, base64.b64encode(png_bytes(crop)))
            index += 1
    yield b"}"


def _record(index: int, sprite: dict[str, Any], image_b64: bytes) -> Iterator[bytes]:
    head, tail = json.dumps({**sprite, "imageData": "\0"}).split('"\\u0000"')
    yield f'"{index}": {head}"'.encode()
    yield image_b64
    yield f'"{tail}'.encode()


def vts_item_png(img: Image.Image) -> bytes:
    """PNG bytes within VTube Studio's item limits: <= 2048 px a side and < 5 MB."""
    if max(img.size) > VTS_MAX_SIDE:
        img = _scaled(img, VTS_MAX_SIDE / max(img.size))
    data = png_bytes(img, compress_level=9)
    while len(data) >= VTS_MAX_BYTES:
        img = _scaled(img, 0.8)
        data = png_bytes(img, compress_level=9)
    return data


def _scaled(img: Image.Image, factor: float) -> Image.Image:
    size = (max(1, int(img.width * factor)), max(1, int(img.height * factor)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _write_items(archive: Archive, export_set: ExportSet, fetch: Fetch) -> list[dict[str, Any]]:
    """Every finished image (and the base) as a VTube Studio item, with its true pixel size."""
    rows = []
    entries: list[tuple[str, str, ExportItem | None]] = [(f"{export_set.slug}_base", export_set.base_key, None)]
    for item in export_set.items:
        suffix = "" if item.variant is None else f"_{item.variant}"
        entries.append((f"{export_set.slug}_{item.expression_key}{suffix}", item.image_key, item))
    for stem, key, item in entries:
        data = fetch(key)
        check_png_header(data, key, export_set.size)
        size = export_set.size
        if len(data) >= VTS_MAX_BYTES or max(export_set.size) > VTS_MAX_SIDE:
            data = vts_item_png(load_rgba(fetch, key, export_set.size))
            size = (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))
        role = "base" if item is None else item.role
        member = archive.write(f"{ITEMS_DIR}/{stem}.png", data, role=f"vts_item_{role}")
        row = {"path": member.path, "role": member.role, "sha256": member.sha256, "bytes": member.bytes,
               "width": size[0], "height": size[1]}
        rows.append(row if item is None else {**row, "expression": item.expression_key, "variant": item.variant})
    return rows


def _costume_rows(costumes: list[Costume]) -> list[dict[str, Any]]:
    return [
        {"save": c.save, "costume": c.number, "key": c.key, "expression": c.group.key, "label_en": c.group.label_en,
         "label_ja": c.group.label_ja, "talking_sprite": c.group.mouth_open is not None,
         "blink_sprite": c.group.blink is not None, "missing": c.group.missing()}
        for c in costumes
    ]


def readme(export_set: ExportSet, costumes: list[Costume], without_face: list[str], stack: Stack,
           items: list[dict[str, Any]]) -> str:
    """Plain-text instructions for the streamer, with the true sizes of what is inside."""
    width, height = export_set.size
    lines = [
        f"{export_set.character_name} — PNGTuber pack from Miyabi Character Studio",
        "",
        "PNGTuber Plus",
        f"  The avatar is {width}x{height} px. Open PNGTuber Plus, press Load and choose a .save file. The images",
        "  are inside the file, so you can keep it anywhere. Press a costume key to switch expression:",
    ]
    current = None
    for c in costumes:
        if c.save != current:
            current = c.save
            lines.append(f"  {c.save}:")
        notes = []
        if c.group.mouth_open is None:
            notes.append("no mouth-open image: the mouth stays closed while you talk")
        if c.group.blink is None:
            notes.append("no blink image: this expression does not blink")
        note = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"    key {c.key}: {c.group.label_ja} / {c.group.label_en}{note}")
    if len({c.save for c in costumes}) > 1:
        lines.append("  PNGTuber Plus has 10 costume keys per avatar: later expressions are in the next .save.")
    if without_face:
        lines.append(f"  Left out of the avatar (no main image, only variants): {', '.join(without_face)}")
    lines += [
        "  Each expression is a child sprite over the body holding only what differs from it, so the body",
        "  plus the child is exactly the finished image, soft edges included.",
    ]
    if stack.cut_pixels:
        lines += [f"  {stack.cut_pixels} body pixels that no overlay could reproduce (a finished image more",
                  "  transparent than the base there) are cut out of the body sprite; every child carries them."]
    sizes = sorted({(row["width"], row["height"]) for row in items})
    size_text = ", ".join(f"{w}x{h}" for w, h in sizes)
    scaled = " (downscaled to fit)" if sizes != [(width, height)] else " (as generated)"
    lines += [
        "",
        "VTube Studio",
        f"  The {len(items)} PNGs in {ITEMS_DIR}/ (the base and every finished image) are VTube Studio items,",
        f"  {size_text} px{scaled}; VTube Studio takes items up to 2048 px a side and under 5 MB.",
        "  Copy them into VTube Studio's Items folder (VTube Studio_Data/StreamingAssets/Items, or",
        "  use 'Open Items Folder' in the item menu), then add them from the item list.",
        "  VTube Studio animates Live2D models; these PNGs can only be shown as items, not as expressions.",
        "",
        "manifest.json lists every file with its sha256 and which variants each expression has.",
    ]
    return "\n".join(lines) + "\n"
