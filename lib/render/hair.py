"""Hair: the back mass and tails, the side locks, and the fringe with its shading and crown sheen."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from lib.design.features import Features
from lib.render.body import face_shape
from lib.render.canvas import Canvas, clip_fill, fill, layer, taper
from lib.render.colour import INK, Color, Palette, mix
from lib.render.geometry import Pt, bez, bounds, oval, path, shift, symmetric

_BACK_BOTTOM = {"short": 0.72, "medium": 1.75, "long": 2.95}
_LOCK_END = {"short": 0.55, "medium": 1.3, "long": 2.45}


def _wave(pts: Sequence[Pt], amount: float) -> list[Pt]:
    """Ripple the outer strands sideways (wavy hair)."""
    return [(x + math.copysign(amount * math.sin(y * 6.0), x) if abs(x) > 0.5 else x, y) for x, y in pts]


def _back_hair_shape(style: str, length: str) -> list[Pt]:
    bottom = 0.85 if style == "bob" else _BACK_BOTTOM[length]
    if style in ("twin_tails", "ponytail", "short_spiky"):
        bottom = min(bottom, 0.72)
    width = 1.14 if style == "bob" else 1.08 + 0.1 * (bottom > 1.0)
    right = path((0.0, -1.2), ((0.7, -1.2), (1.1, -0.85), (1.1, -0.2)))
    right += bez(right[-1], (1.12, 0.3), (width, bottom - 0.6), (width, bottom))[1:]
    tips = 4 if style != "bob" else 1
    for i in range(tips):
        x0 = width * (1 - i / tips)
        x1 = width * (1 - (i + 1) / tips)
        right += [((x0 + x1) / 2, bottom - (0.22 if style != "bob" else -0.02)), (x1, bottom + 0.04)]
    shape = symmetric(right[:-1] + [(0.0, right[-1][1])])
    return _wave(shape, 0.07) if style == "wavy" else shape


def _tail_shape(side: int, length: str, anchor: Pt) -> list[Pt]:
    end = {"short": 1.0, "medium": 2.0, "long": 3.3}[length]
    ax, ay = anchor
    outer = bez((ax, ay), (ax + side * 0.9, ay - 0.2), (side * 1.78, ay + 0.8), (side * 1.5, end))
    inner = bez((side * 1.25, end - 0.2), (side * 1.4, ay + 0.9), (ax + side * 0.35, ay + 0.3), (ax, ay + 0.18))
    return outer + [(side * 1.42, end - 0.32)] + inner


def draw_back_hair(c: Canvas, pal: Palette, features: Features) -> None:
    style, length = features.hair_style, features.hair_length
    if style == "twin_tails":
        for side in (-1, 1):
            _draw_hair_mass(c, pal, _tail_shape(side, length, (side * 0.82, -0.72)))
    if style == "ponytail":
        _draw_hair_mass(c, pal, _tail_shape(1, length, (0.55, -1.0)))
    _draw_hair_mass(c, pal, _back_hair_shape(style, length), shade=True)
    if style in ("twin_tails", "ponytail"):
        anchors = [(-0.86, -0.74), (0.86, -0.74)] if style == "twin_tails" else [(0.62, -1.0)]
        for x, y in anchors:
            fill(c, oval(x, y, 0.09, 0.11, 24), pal.accent, mix(pal.accent, INK, 0.6), 0.018)


def _draw_hair_mass(c: Canvas, pal: Palette, shape: list[Pt], shade: bool = False) -> None:
    fill(c, shape, pal.hair_shade if shade else pal.hair, pal.hair_line, 0.024)
    if not shade:
        x0, y0, x1, y1 = bounds(shape)
        stripe = [(x0, y0), (x0 + (x1 - x0) * 0.3, y0), (x0 + (x1 - x0) * 0.45, y1), (x0, y1)]
        clip_fill(c, shape, stripe, pal.hair_shade, 0.8)


def _bang_points(style: str) -> list[Pt]:
    """The lower edge of the fringe, right temple to left temple (tips and notches alternate)."""
    if style == "bob":
        xs = [1.02, 0.85, 0.6, 0.35, 0.12, -0.12, -0.35, -0.6, -0.85, -1.02]
        return [(x, -0.18 - 0.05 * (i % 2) + (0.1 if abs(x) > 0.9 else 0.0)) for i, x in enumerate(xs)]
    tips = [(1.02, -0.02), (0.8, -0.42), (0.64, -0.1), (0.46, -0.48), (0.28, -0.16), (0.12, -0.55),
            (-0.04, -0.13), (-0.2, -0.5), (-0.38, -0.17), (-0.56, -0.46), (-0.72, -0.08), (-0.86, -0.4),
            (-1.02, -0.02)]
    return tips


def _curvy(points: Sequence[Pt], bend: float = 0.06) -> list[Pt]:
    """Join fringe points with gently curved strand edges."""
    out = [points[0]]
    for a, b in itertools.pairwise(points):
        mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        ctrl = (mx + bend * (1 if b[1] > a[1] else -1), my)
        out += bez(a, ctrl, ctrl, b, 8)[1:]
    return out


def _fringe_shape(style: str) -> list[Pt]:
    top = path(
        (-1.06, -0.05), ((-1.12, -0.9), (-0.6, -1.24), (0.0, -1.24)), ((0.6, -1.24), (1.12, -0.9), (1.06, -0.05))
    )
    if style == "short_spiky":
        top = [(x * (1.0 + 0.1 * (i % 2)), y * (1.0 + 0.08 * (i % 2))) for i, (x, y) in enumerate(top[::3])]
    return top + _curvy(_bang_points(style))


def _lock_shape(side: int, style: str, length: str) -> list[Pt]:
    end = 0.9 if style == "bob" else _LOCK_END[length]
    out = 1.12 if style == "bob" else 0.97
    outer = bez((side * 1.06, -0.3), (side * 1.12, 0.2), (side * (out + 0.06), end * 0.6), (side * out, end))
    inner = bez(
        (side * (out - 0.08), end - 0.15), (side * 0.84, end * 0.55), (side * 0.8, 0.1), (side * 0.82, -0.3)
    )
    shape = outer + inner
    return _wave(shape, 0.05) if style == "wavy" else shape


def draw_front_hair(c: Canvas, pal: Palette, features: Features) -> None:
    style, length = features.hair_style, features.hair_length
    fringe = _fringe_shape(style)
    face = face_shape()
    shadow = shift(_curvy(_bang_points(style)), 0.0, 0.1) + [(-1.1, -1.3), (1.1, -1.3)]
    clip_fill(c, face, shadow, pal.skin_shade)
    for side in (-1, 1):
        _draw_hair_mass(c, pal, _lock_shape(side, style, length))
    fill(c, fringe, pal.hair, pal.hair_line, 0.024)
    _draw_hair_detail(c, pal, fringe, _bang_points(style))


# (angle in degrees, length) of the light streaks that form the anime "angel ring" on the crown.
_SHEEN = ((38, 0.14), (47, 0.2), (56, 0.12), (64, 0.24), (73, 0.16), (82, 0.26), (91, 0.13), (100, 0.22),
          (109, 0.17), (118, 0.25), (127, 0.12), (136, 0.19), (144, 0.13))


def _draw_sheen(c: Canvas, color: Color) -> None:
    for degrees, length in _SHEEN:
        a = math.radians(degrees)
        ux, uy = math.cos(a), -math.sin(a)
        r0, r1 = 0.86, 0.86 - length
        taper(c, [(ux * r0, -0.12 + uy * r0), (ux * (r0 + r1) / 2, -0.12 + uy * (r0 + r1) / 2),
                  (ux * r1, -0.12 + uy * r1)], color, 0.075, ends=(0.5, 0.0))


def _draw_hair_detail(c: Canvas, pal: Palette, fringe: list[Pt], bangs: list[Pt]) -> None:
    notches = [p for p in bangs[1:-1] if p[1] < -0.3]
    lower = path((-1.2, -0.3), ((-0.8, -0.95), (0.8, -0.95), (1.2, -0.3))) + [(1.2, 0.2), (-1.2, 0.2)]
    clip_fill(c, fringe, lower, pal.hair_shade, 0.45)
    with layer(c, bounds(fringe), clip=fringe, opacity=0.85) as sub:
        _draw_sheen(sub, pal.hair_light)
    for x, y in notches:
        strand = bez((x, y), (x * 0.95, y - 0.15), (x * 0.8, y - 0.3), (x * 0.7, y - 0.42), 8)
        taper(c, strand, pal.hair_line, 0.02)
