"""SillyTavern "Expression Images" pack: a flat ZIP, one `<label>.png` per classifier label present.

Only main expression images go in (no mouth_open/blink: SillyTavern shows one still per emotion).
Expressions whose key is not one of the 28 classifier labels are left out and listed; `missing.txt`
names the labels the set does not cover (or says none are missing).
"""

from __future__ import annotations

import logging
from typing import BinaryIO

from lib.design.expressions import PRESETS
from lib.exports._archive import Archive
from lib.exports._images import check_png_header
from lib.exports.model import ExportSet, Fetch, expression_groups, require_items

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = PRESETS["sillytavern"]
MISSING = "missing.txt"


def write_sillytavern(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the flat expression-images ZIP to the binary file `out`."""
    require_items(export_set)
    present: list[str] = []
    ignored: list[str] = []
    with Archive(out) as archive:
        for group in expression_groups(export_set):
            if group.key not in LABELS or group.face is None:
                ignored.append(group.key)
                continue
            data = fetch(group.face.image_key)
            check_png_header(data, group.face.image_key, export_set.size)
            archive.write(f"{group.key}.png", data, role="expression")
            present.append(group.key)
        archive.write(MISSING, missing_text(present, ignored).encode("utf-8"), role="missing", compress=True)
    log.info("sillytavern export of %s: %d of %d labels", export_set.slug, len(present), len(LABELS))


def missing_text(present: list[str], ignored: list[str]) -> str:
    """The note listing labels without an image, and expressions SillyTavern has no label for."""
    missing = [label for label in LABELS if label not in present]
    lines = [f"SillyTavern expression labels covered: {len(present)} of {len(LABELS)}."]
    if missing:
        lines += ["Missing labels (SillyTavern falls back to its default for these):", *missing]
    else:
        lines.append("Missing labels: none.")
    if ignored:
        lines += ["", "Not included (not a SillyTavern label, or no main image):", *ignored]
    return "\n".join(lines) + "\n"
