"""What happens to every backend result before users see it: align, paste back, score.

With paste-back on, the aligned result's face region is composited into the base, so everything
outside the face box is pixel-identical to the base (alpha included) and the set stacks as layers; the
score then judges that final face (drift outside it is reported as restored). Without paste-back the
raw output is what users get, and the score judges all of it.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from PIL import Image

from lib.consistency.align import align_to_base, estimate_transform, normalize_pixels, normalize_to_base
from lib.consistency.composite import paste_back
from lib.consistency.face_parts import FaceParts
from lib.consistency.score import Score, prepare, score
from lib.core.images import png_bytes, png_pixels
from lib.design.face_box import FaceBox


@dataclass(frozen=True)
class Finished:
    png: bytes  # what users see and export
    score: Score
    image: Image.Image  # the same picture, decoded (its thumbnail is made from it, not from the PNG again)


@functools.lru_cache(maxsize=4)
def decoded_base(base_png: bytes) -> Image.Image:
    """The base picture, decoded once: every result of a batch is compared with the same base, and
    lib.consistency.align derives its work copies once per decoded base. Shared: never change it in place."""
    base = Image.open(io.BytesIO(base_png))
    base.load()
    return base


def finish(
    base_png: bytes, raw_png: bytes, *, face_box: FaceBox, paste: bool = True, align: bool = True,
    expression: str | None = None, variant: str | None = None, parts: FaceParts | None = None,
    threshold: float,
) -> Finished:
    """Score what the user gets and, with `paste`, composite the result's aligned face into the base.

    `expression` (a built-in face) and `variant` say what was asked for: the score checks that change
    happened where it changes a face. `threshold` is the consistency total a result needs to pass review.
    `align=False` is for results drawn in register with the base (the offline renderer). Raises
    lib.consistency.align.AlignmentFailed when a result cannot be placed on the base.
    """
    base = decoded_base(base_png)
    pixels = png_pixels(raw_png) if paste else None
    if pixels is not None:
        # Scaled to the base once: a 2K answer is resized here, not again by each step below (they all
        # bring the result to the base's size first, a no-op now).
        raw = Image.fromarray(normalize_pixels(pixels, base.size), "RGBA")
    else:
        raw = Image.open(io.BytesIO(raw_png))
        raw.load()
        if paste and raw.size != base.size:
            raw = Image.fromarray(normalize_to_base(raw, base.size), "RGBA")
    prepared = prepare(base, raw, face_box=face_box)  # one placement estimate for the score and the paste
    drift = score(base, raw, face_box=face_box, parts=parts, expression=expression, variant=variant,
                  paste_back=paste, prepared=prepared, threshold=threshold)
    if not paste:
        return Finished(png=raw_png, score=drift, image=raw)
    if align:
        transform = prepared[1] or estimate_transform(base, raw, face_box=face_box)  # raises AlignmentFailed
        placed = align_to_base(base, raw, face_box=face_box, transform=transform).image
    else:
        placed = raw.convert("RGBA")
    final = paste_back(base, placed, face_box=face_box)
    return Finished(png=png_bytes(final), score=drift, image=final)
