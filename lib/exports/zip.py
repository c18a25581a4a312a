"""The plain ZIP export: the base and every expression PNG byte-for-byte, plus `manifest.json` written last.

Layout (ASCII paths; Japanese labels live in the manifest)::

    base.png
    expressions/<expr>.png              role "expression"
    expressions/<expr>_mouth_open.png   role "mouth_open"
    expressions/<expr>_blink.png        role "blink"
    manifest.json                       schema, character, expressions, generation, files (sha256, bytes)

PNGs are STORED (deflate gains ~0-4 % on PNG at 10x the time); the manifest is deflated.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any, BinaryIO

from lib.core.errors import StorageError
from lib.exports._archive import Archive, Member
from lib.exports._images import check_png_header
from lib.exports.model import ExportItem, ExportSet, Fetch, expression_groups, require_items, slugify

log = logging.getLogger(__name__)

SCHEMA = "miyabi.expression-set"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


def member_stem(expression_key: str, index: int) -> str:
    """The ASCII file stem for an expression key (custom keys are already ASCII; this is a guard)."""
    return slugify(expression_key, f"expression_{index + 1}")


def write_zip(export_set: ExportSet, fetch: Fetch, out: BinaryIO) -> None:
    """Write the set as a ZIP of PNGs with a manifest to the binary file `out`."""
    require_items(export_set)
    rows: list[dict[str, Any]] = []
    with Archive(out) as archive:
        base = _copy(archive, fetch, export_set, export_set.base_key, "base.png", "base", None)
        rows.append(_file_row(base, None))
        for index, group in enumerate(expression_groups(export_set)):
            stem = member_stem(group.key, index)
            for item in group.items():
                suffix = "" if item.variant is None else f"_{item.variant}"
                path = f"expressions/{stem}{suffix}.png"
                member = _copy(archive, fetch, export_set, item.image_key, path, item.role, item.sha256)
                rows.append(_file_row(member, item))
        manifest = build_manifest(export_set, rows, fmt="zip")
        archive.write(MANIFEST, manifest_bytes(manifest), role="manifest", compress=True)
    log.info("zip export of %s: %d files", export_set.slug, len(rows))


def _copy(
    archive: Archive, fetch: Fetch, export_set: ExportSet, key: str, path: str, role: str, sha256: str | None
) -> Member:
    data = fetch(key)
    check_png_header(data, key, export_set.size)
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise StorageError(f"image {key!r} does not match its recorded sha256; the stored object changed")
    return archive.write(path, data, role=role)


def _file_row(member: Member, item: ExportItem | None) -> dict[str, Any]:
    row: dict[str, Any] = {"path": member.path, "role": member.role, "sha256": member.sha256, "bytes": member.bytes}
    if item is not None:
        row.update(
            expression=item.expression_key,
            variant=item.variant,
            label_en=item.label_en,
            label_ja=item.label_ja,
            score=item.score,
            approved=item.approved,
        )
    return row


def build_manifest(export_set: ExportSet, files: list[dict[str, Any]], *, fmt: str, **extra: Any) -> dict[str, Any]:
    """The manifest every archive export carries: who, which expressions (both labels), how made, what files."""
    paths = {(row.get("expression"), row["role"]): row["path"] for row in files}
    expressions = [
        {
            "key": group.key,
            "label_en": group.label_en,
            "label_ja": group.label_ja,
            "files": {role: paths.get((group.key, role)) for role in ("expression", "mouth_open", "blink")},
            "missing": group.missing(),
            "scores": {item.role: item.score for item in group.items()},
        }
        for group in expression_groups(export_set)
    ]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "format": fmt,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "character": {
            "id": export_set.character_id,
            "name": export_set.character_name,
            "slug": export_set.slug,
            "width": export_set.width,
            "height": export_set.height,
            "features": dict(export_set.features),
        },
        "generation": dict(export_set.generation),
        "expressions": expressions,
        "files": files,
        **extra,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """UTF-8 JSON, Japanese kept readable."""
    return (json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8")
