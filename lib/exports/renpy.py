"""Ren'Py export: a drop-in `game/` folder (inside a ZIP) with the images and a `layeredimage`.

Files (Ren'Py auto-defines every image under game/images/ by its lower-case file name)::

    game/images/<slug>/<slug>_base.png              always shown: the body
    game/images/<slug>/<slug>_face_<expr>.png       group face: `show <slug> happy`
    game/images/<slug>/<slug>_face_body_only.png    only when the body is cut (below): the default face
    game/images/<slug>/<slug>_mouth_open_<expr>.png attribute mouth_open, if_all <expr>
    game/images/<slug>/<slug>_blink_<expr>.png      attribute blink, if_all <expr>
    game/<slug>_layeredimage.rpy
    game/<slug>_README.txt
    game/<slug>_manifest.json

Variant files deliberately do not start with `<slug>_face_`, or `group face auto` would turn them into
expressions of their own. Exactly one image is drawn over the body for any attributes: a face hides
while one of its variants is shown (`if_not`), and mouth_open hides while blink is shown. Each image is a
full-canvas layer (every layer sits at 0, 0) solved so that Ren'Py's premultiplied "over" of it on the
body gives the finished PNG back, soft edges included (see `lib.exports._stack`); pixels no layer can
reproduce are cut from the body, and the default `body_only` face puts the base's pixels back there.
"""

from __future__ import annotations

import logging
from typing import Any, BinaryIO

from lib.exports._archive import Archive
from lib.exports._images import png_bytes
from lib.exports._stack import Layer, Stack, item_key, stack_of
from lib.exports.model import ExportSet, ExpressionGroup, Fetch, expression_groups, require_items, slugify
from lib.exports.zip import build_manifest, manifest_bytes

log = logging.getLogger(__name__)

INDENT = "    "
BODY_ONLY = "body_only"


def attribute_name(key: str, index: int) -> str:
    """A Ren'Py attribute for an expression key: lower-case ascii, no spaces, never the reserved `body_only`."""
    attr = slugify(key, f"expression_{index + 1}")
    return f"{attr}_expression" if attr == BODY_ONLY else attr


def image_names(slug: str, attr: str) -> dict[str, str]:
    """The Ren'Py image names (file stems) of one expression's face and variants."""
    return {
        "expression": f"{slug}_face_{attr}",
        "mouth_open": f"{slug}_mouth_open_{attr}",
        "blink": f"{slug}_blink_{attr}",
    }


def write_renpy(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the Ren'Py pack (a ZIP holding `game/`) to the binary file `out`."""
    require_items(export_set)
    slug = export_set.slug
    folder = f"game/images/{slug}"
    groups = expression_groups(export_set)
    used = [(attribute_name(g.key, i), g) for i, g in enumerate(groups) if g.face is not None]
    skipped = [g.key for g in groups if g.face is None]
    stack = stack_of(export_set, fetch, [item for _, g in used for item in g.items()])
    files: list[dict[str, Any]] = []
    with Archive(out) as archive:
        body = Layer(stack.body(), 0, 0)
        files.append(_write_layer(archive, body, export_set, f"{folder}/{slug}_base.png", "base"))
        patch = stack.base_patch()
        if patch is not None:
            files.append(_write_layer(archive, patch, export_set, f"{folder}/{slug}_face_{BODY_ONLY}.png", "base_face"))
        for attr, group in used:
            names = image_names(slug, attr)
            for item in group.items():
                layer = stack.layer(item_key(item))
                path = f"{folder}/{names[item.role]}.png"
                files.append(_write_layer(archive, layer, export_set, path, item.role, group.key))
        script = layeredimage_script(export_set, used, body_only=patch is not None)
        archive.write(f"game/{slug}_layeredimage.rpy", script.encode("utf-8"), role="script", compress=True)
        archive.write(f"game/{slug}_README.txt", readme(export_set, used, stack, skipped).encode("utf-8"),
                      role="readme", compress=True)
        manifest = build_manifest(export_set, files, fmt="renpy", skipped_without_face=skipped,
                                  layers=_layers_note(stack))
        archive.write(f"game/{slug}_manifest.json", manifest_bytes(manifest), role="manifest", compress=True)
    log.info("renpy export of %s: %d expressions, %d body pixels cut", slug, len(used), stack.cut_pixels)


def _write_layer(
    archive: Archive, layer: Layer, export_set: ExportSet, path: str, role: str, expr: str | None = None
) -> dict[str, Any]:
    member = archive.write(path, png_bytes(layer.canvas(export_set.size)), role=role)
    return {"path": member.path, "role": role, "expression": expr, "sha256": member.sha256, "bytes": member.bytes,
            "width": export_set.width, "height": export_set.height}


def _layers_note(stack: Stack) -> dict[str, Any]:
    return {"blending": "each image is a layer over the base: base + image == the finished expression PNG",
            "body_pixels_cut": stack.cut_pixels, "cut_box": list(stack.cut_box) if stack.cut_box else None}


def layeredimage_script(export_set: ExportSet, used: list[tuple[str, ExpressionGroup]], *,
                        body_only: bool = False) -> str:
    """The `.rpy` source: the body always, one face attribute each, variants that replace the face."""
    slug = export_set.slug
    lines = [
        f"# {export_set.character_name} — generated by Miyabi Character Studio; edit freely.",
        f"# Usage: show {slug}  /  show {slug} {used[0][0] if used else 'neutral'}"
        f"  /  show {slug} mouth_open  /  show {slug} -mouth_open",
        "# Exactly one image is drawn over the body: a variant (mouth_open, blink) replaces its face.",
        "",
        f"layeredimage {slug}:",
        "",
        f'{INDENT}always "{slug}_base"',
        "",
        f"{INDENT}group face auto" + (":" if used or body_only else ""),
    ]
    if body_only:
        lines.append(f'{INDENT * 2}attribute {BODY_ONLY} default:\n{INDENT * 3}"{slug}_face_{BODY_ONLY}"')
    for attr, group in used:
        hide_for = [role for role in ("mouth_open", "blink") if getattr(group, role) is not None]
        quoted = ", ".join('"' + role + '"' for role in hide_for)
        cond = f" if_not [{quoted}]" if hide_for else ""
        lines.append(f'{INDENT * 2}attribute {attr}{cond}:\n{INDENT * 3}"{image_names(slug, attr)["expression"]}"')
    for role, group_name in (("mouth_open", "talk"), ("blink", "eyes")):
        entries = [(attr, g) for attr, g in used if getattr(g, role) is not None]
        if entries:
            lines += ["", f"{INDENT}group {group_name}:"]
        for attr, g in entries:
            cond = ' if_not "blink"' if role == "mouth_open" and g.blink is not None else ""
            lines.append(f'{INDENT * 2}attribute {role} if_all "{attr}"{cond}:\n'
                         f'{INDENT * 3}"{image_names(slug, attr)[role]}"')
    return "\n".join(lines) + "\n"


def readme(export_set: ExportSet, used: list[tuple[str, ExpressionGroup]], stack: Stack, skipped: list[str]) -> str:
    """What the pack holds and how its images stack, for the game's developer."""
    slug, (width, height) = export_set.slug, export_set.size
    lines = [
        f"{export_set.character_name} — Ren'Py pack from Miyabi Character Studio",
        "",
        f"Copy game/ into your project. Every image is {width}x{height} px; the layered image is `{slug}`",
        f"(see {slug}_layeredimage.rpy): show {slug} <expression>, add mouth_open or blink for the variants.",
        "",
        "Expressions:",
        *(f"  {attr}: {g.label_ja} / {g.label_en}"
          + "".join(f" +{r}" for r in ("mouth_open", "blink") if getattr(g, r) is not None) for attr, g in used),
        "",
        f"{slug}_base.png is the body; every other image is a layer drawn over it, holding only what differs,",
        "solved so that the body plus that one layer is exactly the finished expression image (soft edges",
        "included). Only one layer shows at a time: a variant replaces its expression's face.",
    ]
    if stack.cut_pixels:
        box = stack.cut_box
        lines += [
            f"Where a finished image is more transparent than the base ({stack.cut_pixels} pixels, within",
            f"x {box[0]}-{box[2]}, y {box[1]}-{box[3]}), no layer can be drawn over the base: those pixels are cut",
            f"out of {slug}_base.png, every layer carries them in full, and the default face `{BODY_ONLY}`",
            "puts the base's own pixels back when no expression is shown.",
        ]
    if skipped:
        lines += ["", f"Left out (no main image, only variants): {', '.join(skipped)}"]
    return "\n".join(lines) + "\n"
