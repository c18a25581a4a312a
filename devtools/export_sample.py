"""A realistic in-memory export set drawn by the offline renderer, for tests, benchmarks and demos."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from lib.design.expressions import LIBRARY
from lib.design.features import Features
from lib.exports._images import png_bytes
from lib.exports.model import ExportItem, ExportSet
from lib.render.portrait import render_portrait


def sample_set(
    *,
    size: tuple[int, int] = (256, 320),
    expressions: Sequence[str] = ("happy", "angry"),
    variants: Sequence[str] = ("mouth_open", "blink"),
    name: str = "雅 Miyabi",
    features: Features | None = None,
) -> tuple[ExportSet, dict[str, bytes]]:
    """An `ExportSet` of rendered portraits and the dict object store holding their PNG bytes."""
    features = features or Features()
    store: dict[str, bytes] = {"base.png": png_bytes(render_portrait(features, size=size), compress_level=1)}
    items = []
    for index, key in enumerate(expressions):
        expression = LIBRARY[key]
        for variant in (None, *variants):
            image_key = f"{key}/{variant or 'face'}.png"
            data = png_bytes(render_portrait(features, expression=expression, variant=variant, size=size),
                             compress_level=1)
            store[image_key] = data
            items.append(
                ExportItem(
                    expression_key=key,
                    label_en=expression.label_en,
                    label_ja=expression.label_ja,
                    variant=variant,
                    image_key=image_key,
                    score=round(0.9 - 0.05 * index, 3),
                    approved=True,
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
    export_set = ExportSet(
        character_id="00000000-0000-4000-8000-000000000001",
        character_name=name,
        slug="miyabi",
        base_key="base.png",
        width=size[0],
        height=size[1],
        features=features.model_dump(),
        generation={"backend": "offline", "model": "offline", "image_size": None, "requested_image_size": "1K",
                    "template_version": 1, "image_width": size[0], "image_height": size[1]},
        items=items,
    )
    return export_set, store
