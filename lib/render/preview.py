"""Offline previews on uploaded pictures: an expression's cues painted over the picture inside its face box."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PIL import Image, ImageStat

from lib.design.expressions import Expression
from lib.design.face_box import FaceBox
from lib.design.features import Features
from lib.render.canvas import Canvas, downsample, fill, layer
from lib.render.colour import Color, Palette, mix, palette
from lib.render.eyes import EX, EY, draw_closed_eye
from lib.render.face import CLOSED_EYES, Face, resolve, vary
from lib.render.geometry import FACE, Pt, bounds, oval
from lib.render.marks import draw_cues_over, draw_cues_under
from lib.render.mouths import MOUTHS, MY


def _sample_skin(crop: Image.Image, c: Canvas, ss: int) -> Color:
    """The median colour of the cheek area under the nose, where skin is most likely."""
    x0, y0 = c.pt((-0.25, 0.42))
    x1, y1 = c.pt((0.25, 0.6))
    box = (int(x0 / ss), int(y0 / ss), max(int(x1 / ss), int(x0 / ss) + 1), max(int(y1 / ss), int(y0 / ss) + 1))
    r, g, b = ImageStat.Stat(crop.convert("RGB").crop(box)).median
    return (r, g, b, 255)


def _cover(c: Canvas, skin: Color, shapes: Sequence[Sequence[Pt]]) -> None:
    """Paint soft-edged skin patches over the picture's own eyes or mouth before redrawing them."""
    pts = [p for shape in shapes for p in shape]
    with layer(c, bounds(pts), blur=0.02) as sub:
        for shape in shapes:
            fill(sub, shape, skin)


def _draw_overlay(c: Canvas, pal: Palette, face: Face, neutral: bool) -> None:
    """The cues of `face`; the picture's own eyes and mouth are covered only where the face redraws them."""
    draw_cues_under(c, face)
    if face.eyes == "blink" or face.eyes in CLOSED_EYES:
        _cover(c, pal.skin, [oval(side * EX, EY + 0.02, 0.3, 0.3) for side in (-1, 1)])
        for side in (-1, 1):
            draw_closed_eye(c, pal, side, face.eyes if face.eyes != "blink" else "blink")
    if not neutral or face.mouth_open > 0:
        _cover(c, pal.skin, [oval(0.0, MY + 0.04, 0.22, 0.16)])
        MOUTHS[face.mouth](c, pal, face.mouth_open, face.teeth)
    draw_cues_over(c, face)


def edit_face(
    base: Image.Image,
    *,
    box: FaceBox,
    expression: Expression,
    variant: str | None = None,
    take: int = 1,
) -> Image.Image:
    """An offline preview: expression cues painted over an uploaded picture inside `box` only.

    The box is read as the face from brow line to chin (as in `face_box`); pixels outside it and the
    whole alpha channel are kept exactly.
    """
    x, y, w, h = FaceBox.checked(box, base.size)
    face = vary(resolve(expression, variant), take)  # take > 1: a re-run that differs a little
    out = base.convert("RGBA")
    crop = out.crop((x, y, x + w, y + h))
    ss = max(1, min(4, 2048 // max(w, h)))
    fx0, fy0, fx1, fy1 = FACE
    scale = min(w / (fx1 - fx0), h / (fy1 - fy0))
    c = Canvas(Image.new("RGBA", (w * ss, h * ss), (0, 0, 0, 0)), scale * ss,
               (w / 2 - (fx0 + fx1) / 2 * scale) * ss, (h / 2 - (fy0 + fy1) / 2 * scale) * ss)
    skin = _sample_skin(crop, c, ss)
    pal = replace(palette(Features()), skin=skin, skin_line=mix(skin, (120, 50, 50, 255), 0.62))
    _draw_overlay(c, pal, face, neutral=expression.face == "neutral")
    painted = crop.copy()
    painted.alpha_composite(downsample(c.img, ss))
    painted.putalpha(crop.getchannel("A"))
    out.paste(painted, (x, y))
    return out
