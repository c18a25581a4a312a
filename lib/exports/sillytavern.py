"""SillyTavern "Expression Images" pack: a flat ZIP, one `<label>.png` per expression, mapped to its labels.

SillyTavern names a sprite by its lower-cased file stem and its classifier knows 28 labels
(`DEFAULT_EXPRESSIONS`: admiration ... surprise, neutral). Our expressions reach those labels by this
table (`SILLYTAVERN_LABEL`); keys that already are a label keep it:

    ours          SillyTavern       ours          SillyTavern
    happy         joy               smug          pride
    angry         anger             worried       nervousness
    sad           sadness           crying        grief
    surprised     surprise          laughing      amusement
    embarrassed   embarrassment

An expression with no label of its own (thinking, sleepy, custom expressions), or whose label another
expression of the set already fills with a closer match, is kept under its own key as a *custom* label
(SillyTavern shows it once the label is added under Custom Expressions). Nothing is dropped silently:
`missing.txt` lists which file came from which expression, the custom labels, the labels still missing
and anything left out (expressions with variants only; mouth_open/blink never go in: SillyTavern shows
one still per emotion).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import BinaryIO

from lib.design.expressions import PRESETS
from lib.exports._archive import Archive
from lib.exports._images import check_png_header
from lib.exports.model import ExportItem, ExportSet, ExpressionGroup, Fetch, expression_groups, require_items

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = PRESETS["sillytavern"]
MISSING = "missing.txt"
SILLYTAVERN_LABEL: Mapping[str, str] = MappingProxyType({
    "happy": "joy", "angry": "anger", "sad": "sadness", "surprised": "surprise", "embarrassed": "embarrassment",
    "smug": "pride", "worried": "nervousness", "crying": "grief", "laughing": "amusement",
})


@dataclass(frozen=True)
class Placed:
    """One expression's image in the pack under a SillyTavern label (`custom` if not one of the 28)."""

    label: str
    group: ExpressionGroup
    face: ExportItem
    custom: bool


def place(groups: list[ExpressionGroup]) -> tuple[list[Placed], list[str]]:
    """Each expression with a main image under its label, by the table; and the keys left out (no main image)."""
    taken = {g.key for g in groups if g.face is not None and g.key in LABELS}
    placed = []
    for group in groups:
        if group.face is None:
            continue
        label = group.key if group.key in LABELS else SILLYTAVERN_LABEL.get(group.key)
        if label is not None and (label == group.key or label not in taken):
            taken.add(label)
            placed.append(Placed(label, group, group.face, custom=False))
        else:
            placed.append(Placed(group.key, group, group.face, custom=True))
    return placed, [g.key for g in groups if g.face is None]


def write_sillytavern(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the flat expression-images ZIP to the binary file `out`."""
    require_items(export_set)
    placed, left_out = place(expression_groups(export_set))
    with Archive(out) as archive:
        for entry in placed:
            data = fetch(entry.face.image_key)
            check_png_header(data, entry.face.image_key, export_set.size)
            archive.write(f"{entry.label}.png", data, role="expression")
        archive.write(MISSING, missing_text(placed, left_out).encode("utf-8"), role="missing", compress=True)
    covered = sum(not p.custom for p in placed)
    log.info("sillytavern export of %s: %d of %d labels", export_set.slug, covered, len(LABELS))


def missing_text(placed: list[Placed], left_out: list[str]) -> str:
    """Which file came from which expression, the custom labels, the labels still missing, what was left out."""
    present = {p.label for p in placed if not p.custom}
    missing = [label for label in LABELS if label not in present]
    lines = [f"SillyTavern expression labels covered: {len(present)} of {len(LABELS)}.", "", "Files:"]
    lines += [f"  {p.label}.png  <- {p.group.key} ({p.group.label_ja} / {p.group.label_en})"
              + ("  [custom label]" if p.custom else "") for p in placed]
    custom = [p.label for p in placed if p.custom]
    if custom:
        lines += ["", "Custom labels (add them under Custom Expressions in SillyTavern to use them):", *custom]
    if missing:
        lines += ["", "Missing labels (SillyTavern falls back to its default for these):", *missing]
    else:
        lines += ["", "Missing labels: none."]
    if left_out:
        lines += ["", "Not included (no main image, only mouth_open/blink variants):", *left_out]
    lines += ["", "Mouth-open and blink variants are not part of a SillyTavern pack: it shows one still per emotion."]
    return "\n".join(lines) + "\n"
