"""From the database to an export: the character's newest finished images, streamed from storage.

For each expression and variant the newest finished image is exported (an approved one wins over a
newer unreviewed one; rejected images never ship). Writers read one image at a time from the store
and write into a temporary file, never the whole set in memory.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from lib.accounts.users import User
from lib.catalog import custom_expressions
from lib.catalog.characters import get_character
from lib.core.queries import q
from lib.core.storage import ObjectStore
from lib.design import expressions
from lib.exports import FORMATS, ExportItem, ExportSet, export, select_items, slugify


@dataclass(frozen=True)
class Preview:
    """What an export of a character would hold, before any file is written."""

    slug: str  # the stem of the export's file names
    items: list[ExportItem]

    @property
    def expressions(self) -> int:
        return len({item.expression_key for item in self.items})

    def count(self, variant: str) -> int:
        """How many items are this variant (`mouth_open`, `blink`)."""
        return sum(item.variant == variant for item in self.items)


def _labels(conn: Connection, *, actor: User, character_id: UUID) -> dict[str, tuple[str, str]]:
    labels = {key: (e.label_en, e.label_ja) for key, e in expressions.LIBRARY.items()}
    for own in custom_expressions.of_character(conn, actor=actor, character_id=character_id):
        labels[own.key] = (own.label_en, own.label_ja)
    return labels


def build(conn: Connection, *, actor: User, character_id: str | UUID) -> ExportSet:
    """Everything exportable of the actor's character (NotFound for anyone else's)."""
    character = get_character(conn, actor=actor, character_id=character_id)
    labels = _labels(conn, actor=actor, character_id=character.id)
    order = {key: i for i, key in enumerate(labels)}
    rows = sorted(conn.execute(q("export_differences"), {"character_id": str(character.id)}),
                  key=lambda r: (order.get(r.expression_key, len(order)), r.variant or ""))
    items = [ExportItem(expression_key=r.expression_key, label_en=labels.get(r.expression_key, (r.expression_key,))[0],
                        label_ja=labels.get(r.expression_key, ("", r.expression_key))[1], variant=r.variant,
                        image_key=r.image_key, score=r.score, approved=r.review == "approved") for r in rows]
    return ExportSet(character_id=str(character.id), character_name=character.name,
                     slug=slugify(character.name, f"char_{character.id.hex[:8]}"), base_key=character.base_key,
                     width=character.base_width, height=character.base_height,
                     features=character.features.model_dump(),
                     generation=generation_settings(rows, (character.base_width, character.base_height)), items=items)


def generation_settings(rows: list[Any], size: tuple[int, int]) -> dict[str, Any]:
    """How the exported images were really made: every distinct backend/model/size setting and the true size.

    `image_size` is the model's output tier (1K/2K/4K) and only means something for Gemini; the offline
    renderer draws at the base's own size, so its tier is reported as None. Every exported image is
    aligned to the base: `image_width` x `image_height` is what the files hold.
    """
    runs: dict[tuple[Any, ...], int] = {}
    for r in rows:
        key = (r.backend, r.model, None if r.backend == "offline" else r.image_size, r.image_size, r.template_version)
        runs[key] = runs.get(key, 0) + 1
    settings = [{"backend": k[0], "model": k[1], "image_size": k[2], "requested_image_size": k[3],
                 "template_version": k[4], "images": n} for k, n in runs.items()]
    if not settings:
        return {"image_width": size[0], "image_height": size[1]}
    newest = max(rows, key=lambda r: r.finished_at)
    main = next(s for s in settings if (s["backend"], s["model"], s["requested_image_size"]) ==
                (newest.backend, newest.model, newest.image_size))
    return {**{k: v for k, v in main.items() if k != "images"}, "image_width": size[0], "image_height": size[1],
            "runs": settings}


def preview(conn: Connection, *, actor: User, character_id: str | UUID, approved_only: bool) -> Preview:
    """The images an export would ship; InvalidInput when there are none (or none approved, if asked)."""
    export_set = build(conn, actor=actor, character_id=character_id)
    return Preview(slug=export_set.slug, items=select_items(export_set, approved_only))


def write(
    conn: Connection, store: ObjectStore, *, actor: User, character_id: str | UUID, fmt: str, approved_only: bool,
    directory: Path | None = None,
) -> Path:
    """Export to a temporary file and return its path (the caller moves or streams it, then deletes it)."""
    export_set = build(conn, actor=actor, character_id=character_id)
    suffix = FORMATS[fmt].suffix if fmt in FORMATS else ".bin"
    with tempfile.NamedTemporaryFile(prefix=f"{export_set.slug}-", suffix=suffix, dir=directory,
                                     delete=False) as handle:
        path = Path(handle.name)
        try:
            export(fmt, export_set, store.get, handle, approved_only=approved_only)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return path
