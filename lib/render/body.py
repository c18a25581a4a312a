"""The body: neck, torso, shirt collar with its bow, and the head (face shape and ears)."""

from __future__ import annotations

from lib.render.canvas import Canvas, clip_fill, fill, stroke, taper
from lib.render.colour import INK, Palette, mix
from lib.render.geometry import Pt, bez, oval, path, shift, symmetric

_BODY_END = 40.0  # the torso runs far below the frame so tall pictures stay filled
_NECK = [(-0.26, 0.7), (0.26, 0.7), (0.3, 1.5), (0.27, 1.9), (-0.27, 1.9), (-0.3, 1.5)]


def face_shape() -> list[Pt]:
    """The outline of the face, crown to chin; the hair shades inside it too."""
    right = path(
        (0.0, -1.02),
        ((0.58, -1.02), (0.95, -0.7), (0.95, -0.2)),
        ((0.95, 0.12), (0.93, 0.36), (0.8, 0.58)),
        ((0.58, 0.86), (0.22, 1.05), (0.0, 1.1)),
    )
    return symmetric(right)


def _body_shape() -> list[Pt]:
    right = path(
        (0.0, 1.44),
        ((0.12, 1.44), (0.2, 1.45), (0.3, 1.46)),
        ((0.6, 1.56), (0.95, 1.6), (1.2, 1.7)),
        ((1.42, 1.78), (1.55, 1.95), (1.56, 2.25)),
    ) + [(1.6, _BODY_END), (0.0, _BODY_END)]
    return symmetric(right)


def draw_neck(c: Canvas, pal: Palette) -> None:
    fill(c, _NECK, pal.skin, pal.skin_line, 0.018)
    jaw = face_shape()
    shadow = shift([p for p in jaw if p[1] > 0.5], 0, 0.2) + [(0.5, 0.6), (-0.5, 0.6)]
    clip_fill(c, _NECK, shadow, pal.skin_shade)


def draw_body(c: Canvas, pal: Palette) -> None:
    body = _body_shape()
    fill(c, body, pal.cloth, pal.cloth_line, 0.025)
    for side in (-1, 1):
        arm = [(side * 1.18, 2.02), (side * 1.7, 2.0), (side * 1.7, _BODY_END), (side * 1.26, _BODY_END)]
        clip_fill(c, body, arm, pal.cloth_shade)
        crease = bez((side * 1.18, 2.02), (side * 1.2, 2.4), (side * 1.24, 2.9), (side * 1.26, 4.0))
        stroke(c, crease + [(side * 1.26, _BODY_END)], pal.cloth_line, 0.016)
    _draw_collar(c, pal)


def _draw_collar(c: Canvas, pal: Palette) -> None:
    shirt = [(-0.44, 1.47), (-0.27, 1.46), (0.0, 1.8), (0.27, 1.46), (0.44, 1.47), (0.0, 2.45)]
    fill(c, shirt, pal.shirt, pal.cloth_line, 0.022)
    clip_fill(c, shirt, [(-0.5, 1.4), (0.5, 1.4), (0.0, 1.95)], mix(pal.shirt, (150, 140, 190, 255), 0.25))
    for side in (-1, 1):
        flap = [(side * 0.28, 1.44), (side * 0.02, 1.82), (side * 0.2, 2.0), (side * 0.52, 1.6)]
        fill(c, flap, pal.shirt, pal.cloth_line, 0.02)
        bow = [(0.0, 1.9), (side * 0.2, 1.8), (side * 0.22, 2.04)]
        fill(c, bow, pal.accent, mix(pal.accent, INK, 0.6), 0.018)
        tail = [(side * 0.02, 1.92), (side * 0.12, 2.25), (side * 0.02, 2.2)]
        fill(c, tail, mix(pal.accent, INK, 0.15), mix(pal.accent, INK, 0.6), 0.016)
    fill(c, oval(0.0, 1.92, 0.055, 0.05, 20), pal.accent, mix(pal.accent, INK, 0.6), 0.016)


def draw_head(c: Canvas, pal: Palette) -> None:
    for side in (-1, 1):
        fill(c, oval(side * 0.92, 0.14, 0.1, 0.17, 24), pal.skin, pal.skin_line, 0.018)
    fill(c, face_shape(), pal.skin, pal.skin_line, 0.022)
    taper(c, [(0.03, 0.5), (0.02, 0.54), (-0.01, 0.57)], pal.skin_line, 0.022)
