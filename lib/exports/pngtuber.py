"""PNGTuber pack: a PNGTuber Plus avatar (`<slug>.save`), VTube Studio item PNGs and a README, in a ZIP.

The `.save` follows PNGTuber Plus's own save code (kaiakairos/PNGTuber-Plus, main_scenes/main.gd
`_on_save_dialog_file_selected`, read back by `_on_load_dialog_file_selected`): a JSON object keyed
"0".."n", one sprite each, with the PNG in `imageData` (base64), Godot `var_to_str` strings for `pos`,
`offset` and `costumeLayers`, and `showTalk` / `showBlink` codes read by spriteObject.gd `talkBlink()`:
showTalk 0 always, 1 only when silent, 2 only when talking; showBlink 0 always, 1 only with eyes open,
2 only while blinking.

Avatar: the base is the body sprite, shown in every costume. Each expression (the first ten) is a
costume on keys 1..0 and gets child sprites of the body, cropped to the region where any image
differs from the base: its face (silent, eyes open), mouth_open (talking) and blink (silent, blinking)
where those images exist. A missing variant is never faked: the face simply stays up for that state,
and README.txt and manifest.json say so.

VTube Studio cannot show PNGs on a Live2D model except as Items, so every image also goes into
`vtube-studio-items/`, downscaled to at most 2048 px a side and under 5 MB.
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
from lib.exports._images import Bounds, diff_box, load_rgba, png_bytes, union
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


def write_pngtuber(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the PNGTuber pack (ZIP) to the binary file `out`."""
    require_items(export_set)
    groups = [g for g in expression_groups(export_set) if g.face is not None]
    costumes = [Costume(i + 1, COSTUME_KEYS[i], g) for i, g in enumerate(groups[: len(COSTUME_KEYS)])]
    left_out = [g.key for g in groups[len(COSTUME_KEYS) :]]
    without_face = [g.key for g in expression_groups(export_set) if g.face is None]
    box = _overlay_box(export_set, fetch, costumes)
    files: list[dict[str, Any]] = []
    with Archive(out) as archive:
        member = archive.write_chunks(
            f"{export_set.slug}.save", save_chunks(export_set, fetch, costumes, box), role="pngtuber_save",
            compress=True,
        )
        files.append({"path": member.path, "role": member.role, "sha256": member.sha256, "bytes": member.bytes})
        files += _write_items(archive, export_set, fetch, costumes)
        archive.write("README.txt", readme(export_set, costumes, left_out, without_face).encode("utf-8"),
                      role="readme", compress=True)
        manifest = build_manifest(export_set, files, fmt="pngtuber", costumes=_costume_rows(costumes),
                                  not_included=left_out + without_face)
        archive.write("manifest.json", manifest_bytes(manifest), role="manifest", compress=True)
    log.info("pngtuber export of %s: %d costumes", export_set.slug, len(costumes))


def _overlay_box(export_set: ExportSet, fetch: Fetch, costumes: list[Costume]) -> Bounds:
    """One box around every change from the base, widened so its centre sits on a whole pixel."""
    base = load_rgba(fetch, export_set.base_key, export_set.size)
    boxes = []
    for costume in costumes:
        for item in costume.group.items():
            found = diff_box(base, load_rgba(fetch, item.image_key, export_set.size))
            if found is not None:
                boxes.append(found)
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


def save_chunks(export_set: ExportSet, fetch: Fetch, costumes: list[Costume], box: Bounds) -> Iterator[bytes]:
    """The `.save` JSON, streamed one sprite (one image) at a time."""
    body_id = _sprite_id(export_set, "body")
    body = _sprite(path=f"{export_set.slug}_body.png", ident=body_id, parent=None, pos=(0, 0), z=0,
                   show=(0, 0), layers=[1] * len(COSTUME_KEYS))
    yield b"{"
    yield from _record(0, body, base64.b64encode(fetch(export_set.base_key)))
    centre = ((box[0] + box[2] - export_set.width) // 2, (box[1] + box[3] - export_set.height) // 2)
    index = 1
    for costume in costumes:
        g = costume.group
        layers = [1 if n == costume.number else 0 for n in range(1, len(COSTUME_KEYS) + 1)]
        for item in g.items():
            crop = load_rgba(fetch, item.image_key, export_set.size).crop(box)
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


def _write_items(archive: Archive, export_set: ExportSet, fetch: Fetch, costumes: list[Costume]) -> list[dict]:
    rows = []
    entries: list[tuple[str, str, ExportItem | None]] = [(f"{export_set.slug}_base", export_set.base_key, None)]
    for costume in costumes:
        for item in costume.group.items():
            suffix = "" if item.variant is None else f"_{item.variant}"
            entries.append((f"{export_set.slug}_{costume.group.key}{suffix}", item.image_key, item))
    for stem, key, item in entries:
        data = fetch(key)
        if len(data) >= VTS_MAX_BYTES or max(export_set.size) > VTS_MAX_SIDE:
            data = vts_item_png(load_rgba(fetch, key, export_set.size))
        role = "base" if item is None else item.role
        member = archive.write(f"{ITEMS_DIR}/{stem}.png", data, role=f"vts_item_{role}")
        row = {"path": member.path, "role": member.role, "sha256": member.sha256, "bytes": member.bytes}
        rows.append(row if item is None else {**row, "expression": item.expression_key, "variant": item.variant})
    return rows


def _costume_rows(costumes: list[Costume]) -> list[dict[str, Any]]:
    return [
        {"costume": c.number, "key": c.key, "expression": c.group.key, "label_en": c.group.label_en,
         "label_ja": c.group.label_ja, "talking_sprite": c.group.mouth_open is not None,
         "blink_sprite": c.group.blink is not None, "missing": c.group.missing()}
        for c in costumes
    ]


def readme(export_set: ExportSet, costumes: list[Costume], left_out: list[str], without_face: list[str]) -> str:
    """Plain-text instructions for the streamer."""
    slug = export_set.slug
    lines = [
        f"{export_set.character_name} — PNGTuber pack from Miyabi Character Studio",
        "",
        "PNGTuber Plus",
        f"  Open PNGTuber Plus, press Load and choose {slug}.save. The images are inside the file,",
        "  so you can keep it anywhere. Press a costume key to switch expression:",
    ]
    for c in costumes:
        notes = []
        if c.group.mouth_open is None:
            notes.append("no mouth-open image: the mouth stays closed while you talk")
        if c.group.blink is None:
            notes.append("no blink image: this expression does not blink")
        note = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"    key {c.key}: {c.group.label_ja} / {c.group.label_en}{note}")
    if left_out:
        lines.append(f"  Not on a key (PNGTuber Plus has 10 costumes): {', '.join(left_out)}")
    if without_face:
        lines.append(f"  Left out (no main image, only variants): {', '.join(without_face)}")
    lines += [
        "",
        "VTube Studio",
        f"  The PNGs in {ITEMS_DIR}/ are VTube Studio items (at most 2048 px a side, under 5 MB).",
        "  Copy them into VTube Studio's Items folder (VTube Studio_Data/StreamingAssets/Items, or",
        "  use 'Open Items Folder' in the item menu), then add them from the item list.",
        "  VTube Studio animates Live2D models; these PNGs can only be shown as items, not as expressions.",
        "",
        "manifest.json lists every file with its sha256 and which variants each expression has.",
    ]
    return "\n".join(lines) + "\n"

