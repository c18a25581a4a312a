"""The bust portrait: the design space laid out on a picture, the cached figure and the face-box redraw.

Everything is drawn at 2-4x the output size and box-downsampled, so edges are antialiased at any size.
Expressions only ever draw inside `face_box`: the figure is rendered once per (features, size) and
cached, and an expression re-renders just the face box (figure + face cues) on top of a copy, so pixels
outside the box are identical for every expression by construction.
"""

from __future__ import annotations

import functools
import logging
import math

from PIL import Image

from lib.core.errors import InvalidInput
from lib.design.expressions import Expression
from lib.design.face_box import FaceBox, FacePoints
from lib.design.features import Features
from lib.render.accessories import BEHIND, ON_TOP, draw_glasses
from lib.render.body import draw_body, draw_head, draw_neck
from lib.render.canvas import Canvas, downsample
from lib.render.colour import Palette, palette
from lib.render.eyes import EX, EY, draw_eyes
from lib.render.face import Face, resolve, vary
from lib.render.geometry import FACE, FRAME
from lib.render.hair import draw_back_hair, draw_front_hair
from lib.render.marks import draw_cues_over, draw_cues_under
from lib.render.mouths import MOUTHS, MY

log = logging.getLogger(__name__)

_MIN_SIDE, _MAX_SIDE = 64, 4096


def _draw_figure(c: Canvas, features: Features) -> None:
    """Everything that stays the same across expressions, minus the glasses (drawn over the eyes)."""
    pal = palette(features)
    draw_back_hair(c, pal, features)
    draw_neck(c, pal)
    draw_body(c, pal)
    for name, draw in BEHIND.items():
        if name in features.accessories:
            draw(c, pal)
    draw_head(c, pal)
    draw_front_hair(c, pal, features)
    for name, draw in ON_TOP.items():
        if name in features.accessories:
            draw(c, pal)


def _draw_face(c: Canvas, pal: Palette, face: Face) -> None:
    """All expression-dependent drawing: the only thing that changes between expressions."""
    draw_cues_under(c, face)
    draw_eyes(c, pal, face)
    MOUTHS[face.mouth](c, pal, face.mouth_open, face.teeth)
    draw_cues_over(c, face)


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if (
        not isinstance(size, tuple)
        or len(size) != 2
        or not all(isinstance(v, int) and _MIN_SIDE <= v <= _MAX_SIDE for v in size)
    ):
        raise InvalidInput(f"size must be (width, height) with each side from {_MIN_SIDE} to {_MAX_SIDE} px")
    return size


def _layout(size: tuple[int, int]) -> tuple[float, float, float]:
    """Output pixels per design unit and the output position of the design origin."""
    w, h = size
    x0, y0, x1, y1 = FRAME
    scale = min(w / (x1 - x0), h / (y1 - y0))
    spare = h - scale * (y1 - y0)
    return scale, w / 2, -y0 * scale + spare * 0.3


def _supersample(size: tuple[int, int]) -> int:
    return max(1, min(4, 4096 // max(size)))


def face_box(size: tuple[int, int]) -> FaceBox:
    """(x, y, w, h) of the region that holds everything that changes between expressions and variants."""
    w, h = _check_size(size)
    scale, ox, oy = _layout(size)
    x0 = max(0, math.floor(ox + FACE[0] * scale))
    y0 = max(0, math.floor(oy + FACE[1] * scale))
    x1 = min(w, math.ceil(ox + FACE[2] * scale))
    y1 = min(h, math.ceil(oy + FACE[3] * scale))
    return FaceBox(x0, y0, x1 - x0, y1 - y0)


def face_points(size: tuple[int, int]) -> FacePoints:
    """Where the renderer draws the eyes and the mouth in a portrait of `size` (inside `face_box(size)`)."""
    scale, ox, oy = _layout(_check_size(size))

    def at(x: float, y: float) -> tuple[int, int]:
        return round(ox + x * scale), round(oy + y * scale)

    return FacePoints(at(-EX, EY), at(EX, EY), at(0.0, MY))


def _canvas(size: tuple[int, int], ss: int, origin: tuple[int, int], full: tuple[int, int]) -> Canvas:
    """A transparent canvas of `size` output px whose top-left sits at `origin` in a picture of `full` px."""
    scale, ox, oy = _layout(full)
    img = Image.new("RGBA", (size[0] * ss, size[1] * ss), (0, 0, 0, 0))
    return Canvas(img, scale * ss, (ox - origin[0]) * ss, (oy - origin[1]) * ss)


@functools.lru_cache(maxsize=8)
def _figure(features_json: str, size: tuple[int, int]) -> Image.Image:
    features = Features.model_validate_json(features_json)
    ss = _supersample(size)
    c = _canvas(size, ss, (0, 0), size)
    _draw_figure(c, features)
    log.debug("rendered figure %s at %dx supersampling", size, ss)
    return downsample(c.img, ss)


def render_portrait(
    features: Features,
    *,
    expression: Expression | None = None,
    variant: str | None = None,
    size: tuple[int, int] = (768, 1024),
    take: int = 1,
) -> Image.Image:
    """An RGBA bust portrait on a transparent background; the same inputs give identical pixels.

    `take` > 1 draws another take of the face (a re-run that differs a little, see `face.vary`).
    """
    size = _check_size(size)
    face = vary(resolve(expression, variant), take)
    out = _figure(features.model_dump_json(), size).copy()
    x, y, w, h = face_box(size)
    ss = _supersample(size)
    c = _canvas((w, h), ss, (x, y), size)
    pal = palette(features)
    _draw_figure(c, features)
    _draw_face(c, pal, face)
    if "glasses" in features.accessories:
        draw_glasses(c, pal)
    out.paste(downsample(c.img, ss), (x, y))
    return out
