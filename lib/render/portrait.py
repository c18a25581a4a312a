"""Offline procedural renderer: an anime-style bust portrait drawn from `Features`, no model needed.

Everything is drawn in a design space (head centre at the origin, head half-width ~1, y down) at 2-4x
the output size and box-downsampled, so edges are antialiased at any size. Expressions only ever draw
inside `face_box`: the figure is rendered once per (features, size) and cached, and an expression
re-renders just the face box (figure + face cues) on top of a copy, so pixels outside the box are
identical for every expression by construction. `edit_face` overlays the same cues on an uploaded
picture as an offline preview.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from lib.core.errors import InvalidInput
from lib.design.expressions import LIBRARY, VARIANTS, Expression
from lib.design.face_box import FaceBox
from lib.design.features import Features

log = logging.getLogger(__name__)

Pt = tuple[float, float]
Color = tuple[int, int, int, int]  # RGBA

# Design-space frame of the figure (x0, y0, x1, y1) and of the face box; see module docstring.
_FRAME = (-1.8, -1.7, 1.8, 2.3)
_FACE = (-1.04, -0.92, 1.04, 1.1)
_BODY_END = 40.0  # the torso runs far below the frame so tall pictures stay filled
_MIN_SIDE, _MAX_SIDE = 64, 4096

_INK: Color = (46, 28, 40, 255)
_WHITE: Color = (255, 255, 255, 255)


# ---------------------------------------------------------------- colours


def _rgb(hex_colour: str) -> Color:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16), 255)


def _mix(a: Color, b: Color, t: float) -> Color:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
        255,
    )


def _multiply(a: Color, b: Color) -> Color:
    return (a[0] * b[0] // 255, a[1] * b[1] // 255, a[2] * b[2] // 255, 255)


@dataclass(frozen=True)
class _Palette:
    skin: Color
    skin_shade: Color
    skin_line: Color
    hair: Color
    hair_shade: Color
    hair_light: Color
    hair_line: Color
    eye: Color
    eye_dark: Color
    eye_light: Color
    cloth: Color
    cloth_shade: Color
    cloth_line: Color
    lash: Color
    accent: Color = (214, 66, 92, 255)
    shirt: Color = (246, 244, 250, 255)


def _palette(features: Features) -> _Palette:
    skin, hair = _rgb(features.skin_tone), _rgb(features.hair_color)
    eye, cloth = _rgb(features.eye_color), _rgb(features.outfit_color)
    shadow: Color = (70, 30, 90, 255)
    return _Palette(
        skin=skin,
        skin_shade=_mix(skin, (214, 120, 130, 255), 0.33),
        skin_line=_mix(skin, (120, 50, 50, 255), 0.62),
        hair=hair,
        hair_shade=_multiply(hair, (205, 180, 225, 255)),
        hair_light=_mix(hair, _WHITE, 0.42),
        hair_line=_mix(hair, _INK, 0.7),
        eye=eye,
        eye_dark=_mix(eye, (20, 10, 40, 255), 0.55),
        eye_light=_mix(eye, _WHITE, 0.45),
        cloth=cloth,
        cloth_shade=_mix(cloth, shadow, 0.35),
        cloth_line=_mix(cloth, _INK, 0.75),
        lash=_mix(hair, _INK, 0.85),
    )


# ---------------------------------------------------------------- geometry


def _bez(p0: Pt, p1: Pt, p2: Pt, p3: Pt, n: int = 18) -> list[Pt]:
    """Points along a cubic Bezier curve, both ends included."""
    out = []
    for i in range(n + 1):
        t = i / n
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def _path(start: Pt, *segments: tuple[Pt, Pt, Pt]) -> list[Pt]:
    """A poly-Bezier: each segment is (control1, control2, end)."""
    pts = [start]
    for c1, c2, end in segments:
        pts += _bez(pts[-1], c1, c2, end)[1:]
    return pts


def _mirror(pts: Sequence[Pt]) -> list[Pt]:
    return [(-x, y) for x, y in pts]


def _symmetric(right: Sequence[Pt]) -> list[Pt]:
    """Close a right half (top to bottom, on x=0 at both ends) with its mirror image."""
    return list(right) + _mirror(right)[::-1][1:-1]


def _oval(cx: float, cy: float, rx: float, ry: float, n: int = 48) -> list[Pt]:
    return [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n)]


def _shift(pts: Sequence[Pt], dx: float, dy: float) -> list[Pt]:
    return [(x + dx, y + dy) for x, y in pts]


def _local(pts: Sequence[Pt], cx: float, cy: float, side: int, k: float = 1.0) -> list[Pt]:
    """Map eye/brow-local points (u outward from the nose) to design space for one side."""
    return [(side * (cx + u * k), cy + v * k) for u, v in pts]


# ---------------------------------------------------------------- canvas


@dataclass
class _Canvas:
    """A high-resolution RGBA image plus the design-space transform used to draw on it."""

    img: Image.Image
    scale: float
    ox: float
    oy: float
    draw: ImageDraw.ImageDraw = field(init=False)

    def __post_init__(self) -> None:
        self.draw = ImageDraw.Draw(self.img)

    def pt(self, p: Pt) -> Pt:
        return (self.ox + p[0] * self.scale, self.oy + p[1] * self.scale)

    def pts(self, pts: Sequence[Pt]) -> list[Pt]:
        return [self.pt(p) for p in pts]

    def px(self, units: float) -> float:
        return max(1.0, units * self.scale)


def _fill(c: _Canvas, pts: Sequence[Pt], color: Color, line: Color | None = None, width: float = 0.02) -> None:
    c.draw.polygon(c.pts(pts), fill=color)
    if line is not None:
        _stroke(c, list(pts) + [pts[0], pts[1]], line, width, caps=False)


def _stroke(c: _Canvas, pts: Sequence[Pt], color: Color, width: float, caps: bool = True) -> None:
    xy = c.pts(pts)
    w = c.px(width)
    c.draw.line(xy, fill=color, width=max(1, round(w)), joint="curve")
    if caps:
        r = w / 2
        for x, y in (xy[0], xy[-1]):
            c.draw.ellipse((x - r, y - r, x + r, y + r), fill=color)


def _taper(
    c: _Canvas, pts: Sequence[Pt], color: Color, width: float, ends: tuple[float, float] = (0.1, 0.1)
) -> None:
    """A brush stroke: a polygon around `pts` whose width swells in the middle and thins at the ends."""
    n = len(pts)
    left, right = [], []
    for i, (x, y) in enumerate(pts):
        a, b = pts[max(i - 1, 0)], pts[min(i + 1, n - 1)]
        dx, dy = b[0] - a[0], b[1] - a[1]
        norm = math.hypot(dx, dy) or 1.0
        t = i / (n - 1)
        floor = ends[0] + (ends[1] - ends[0]) * t
        half = width / 2 * (floor + (1 - floor) * math.sin(math.pi * t))
        left.append((x - dy / norm * half, y + dx / norm * half))
        right.append((x + dy / norm * half, y - dx / norm * half))
    c.draw.polygon(c.pts(left + right[::-1]), fill=color)


def _bounds(pts: Sequence[Pt]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


@contextmanager
def _layer(
    c: _Canvas,
    bounds: tuple[float, float, float, float],
    *,
    clip: Sequence[Pt] | None = None,
    opacity: float = 1.0,
    blur: float = 0.0,
) -> Iterator[_Canvas]:
    """Draw on a temporary local layer, then composite it (clipped, blurred, faded) onto `c`."""
    pad = 3 * blur * c.scale
    x0, y0 = c.pt((bounds[0], bounds[1]))
    x1, y1 = c.pt((bounds[2], bounds[3]))
    bx0, by0 = max(0, math.floor(x0 - pad)), max(0, math.floor(y0 - pad))
    bx1, by1 = min(c.img.width, math.ceil(x1 + pad)), min(c.img.height, math.ceil(y1 + pad))
    empty = bx1 <= bx0 or by1 <= by0
    size = (1, 1) if empty else (bx1 - bx0, by1 - by0)
    sub = _Canvas(Image.new("RGBA", size, (0, 0, 0, 0)), c.scale, c.ox - bx0, c.oy - by0)
    yield sub
    if empty:
        return
    img = sub.img
    if blur:  # blur premultiplied, or the transparent black around a shape bleeds in as a dark halo
        img = img.convert("RGBa").filter(ImageFilter.GaussianBlur(blur * c.scale)).convert("RGBA")
    alpha = img.getchannel("A")
    if clip is not None:
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).polygon(sub.pts(clip), fill=255)
        alpha = ImageChops.multiply(alpha, mask)
    if opacity < 1.0:
        alpha = alpha.point([round(v * opacity) for v in range(256)])
    img.putalpha(alpha)
    c.img.alpha_composite(img, (bx0, by0))


def _clip_fill(c: _Canvas, clip: Sequence[Pt], pts: Sequence[Pt], color: Color, opacity: float = 1.0) -> None:
    """Fill `pts` only where it overlaps the polygon `clip` (cel shading)."""
    with _layer(c, _bounds(pts), clip=clip, opacity=opacity) as sub:
        _fill(sub, pts, color)


# ---------------------------------------------------------------- figure: body


_NECK = [(-0.26, 0.7), (0.26, 0.7), (0.3, 1.5), (0.27, 1.9), (-0.27, 1.9), (-0.3, 1.5)]


def _face_shape() -> list[Pt]:
    right = _path(
        (0.0, -1.02),
        ((0.58, -1.02), (0.95, -0.7), (0.95, -0.2)),
        ((0.95, 0.12), (0.93, 0.36), (0.8, 0.58)),
        ((0.58, 0.86), (0.22, 1.05), (0.0, 1.1)),
    )
    return _symmetric(right)


def _body_shape() -> list[Pt]:
    right = _path(
        (0.0, 1.44),
        ((0.12, 1.44), (0.2, 1.45), (0.3, 1.46)),
        ((0.6, 1.56), (0.95, 1.6), (1.2, 1.7)),
        ((1.42, 1.78), (1.55, 1.95), (1.56, 2.25)),
    ) + [(1.6, _BODY_END), (0.0, _BODY_END)]
    return _symmetric(right)


def _draw_neck(c: _Canvas, pal: _Palette) -> None:
    _fill(c, _NECK, pal.skin, pal.skin_line, 0.018)
    jaw = _face_shape()
    shadow = _shift([p for p in jaw if p[1] > 0.5], 0, 0.2) + [(0.5, 0.6), (-0.5, 0.6)]
    _clip_fill(c, _NECK, shadow, pal.skin_shade)


def _draw_body(c: _Canvas, pal: _Palette) -> None:
    body = _body_shape()
    _fill(c, body, pal.cloth, pal.cloth_line, 0.025)
    for side in (-1, 1):
        arm = [(side * 1.18, 2.02), (side * 1.7, 2.0), (side * 1.7, _BODY_END), (side * 1.26, _BODY_END)]
        _clip_fill(c, body, arm, pal.cloth_shade)
        crease = _bez((side * 1.18, 2.02), (side * 1.2, 2.4), (side * 1.24, 2.9), (side * 1.26, 4.0))
        _stroke(c, crease + [(side * 1.26, _BODY_END)], pal.cloth_line, 0.016)
    _draw_collar(c, pal)


def _draw_collar(c: _Canvas, pal: _Palette) -> None:
    shirt = [(-0.44, 1.47), (-0.27, 1.46), (0.0, 1.8), (0.27, 1.46), (0.44, 1.47), (0.0, 2.45)]
    _fill(c, shirt, pal.shirt, pal.cloth_line, 0.022)
    _clip_fill(c, shirt, [(-0.5, 1.4), (0.5, 1.4), (0.0, 1.95)], _mix(pal.shirt, (150, 140, 190, 255), 0.25))
    for side in (-1, 1):
        flap = [(side * 0.28, 1.44), (side * 0.02, 1.82), (side * 0.2, 2.0), (side * 0.52, 1.6)]
        _fill(c, flap, pal.shirt, pal.cloth_line, 0.02)
        bow = [(0.0, 1.9), (side * 0.2, 1.8), (side * 0.22, 2.04)]
        _fill(c, bow, pal.accent, _mix(pal.accent, _INK, 0.6), 0.018)
        tail = [(side * 0.02, 1.92), (side * 0.12, 2.25), (side * 0.02, 2.2)]
        _fill(c, tail, _mix(pal.accent, _INK, 0.15), _mix(pal.accent, _INK, 0.6), 0.016)
    _fill(c, _oval(0.0, 1.92, 0.055, 0.05, 20), pal.accent, _mix(pal.accent, _INK, 0.6), 0.016)


def _draw_head(c: _Canvas, pal: _Palette) -> None:
    for side in (-1, 1):
        _fill(c, _oval(side * 0.92, 0.14, 0.1, 0.17, 24), pal.skin, pal.skin_line, 0.018)
    _fill(c, _face_shape(), pal.skin, pal.skin_line, 0.022)
    _taper(c, [(0.03, 0.5), (0.02, 0.54), (-0.01, 0.57)], pal.skin_line, 0.022)


# ---------------------------------------------------------------- figure: hair


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
    right = _path((0.0, -1.2), ((0.7, -1.2), (1.1, -0.85), (1.1, -0.2)))
    right += _bez(right[-1], (1.12, 0.3), (width, bottom - 0.6), (width, bottom))[1:]
    tips = 4 if style != "bob" else 1
    for i in range(tips):
        x0 = width * (1 - i / tips)
        x1 = width * (1 - (i + 1) / tips)
        right += [((x0 + x1) / 2, bottom - (0.22 if style != "bob" else -0.02)), (x1, bottom + 0.04)]
    shape = _symmetric(right[:-1] + [(0.0, right[-1][1])])
    return _wave(shape, 0.07) if style == "wavy" else shape


def _tail_shape(side: int, length: str, anchor: Pt) -> list[Pt]:
    end = {"short": 1.0, "medium": 2.0, "long": 3.3}[length]
    ax, ay = anchor
    outer = _bez((ax, ay), (ax + side * 0.9, ay - 0.2), (side * 1.78, ay + 0.8), (side * 1.5, end))
    inner = _bez((side * 1.25, end - 0.2), (side * 1.4, ay + 0.9), (ax + side * 0.35, ay + 0.3), (ax, ay + 0.18))
    return outer + [(side * 1.42, end - 0.32)] + inner


def _draw_back_hair(c: _Canvas, pal: _Palette, features: Features) -> None:
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
            _fill(c, _oval(x, y, 0.09, 0.11, 24), pal.accent, _mix(pal.accent, _INK, 0.6), 0.018)


def _draw_hair_mass(c: _Canvas, pal: _Palette, shape: list[Pt], shade: bool = False) -> None:
    _fill(c, shape, pal.hair_shade if shade else pal.hair, pal.hair_line, 0.024)
    if not shade:
        x0, y0, x1, y1 = _bounds(shape)
        stripe = [(x0, y0), (x0 + (x1 - x0) * 0.3, y0), (x0 + (x1 - x0) * 0.45, y1), (x0, y1)]
        _clip_fill(c, shape, stripe, pal.hair_shade, 0.8)


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
        out += _bez(a, ctrl, ctrl, b, 8)[1:]
    return out


def _fringe_shape(style: str) -> list[Pt]:
    top = _path(
        (-1.06, -0.05), ((-1.12, -0.9), (-0.6, -1.24), (0.0, -1.24)), ((0.6, -1.24), (1.12, -0.9), (1.06, -0.05))
    )
    if style == "short_spiky":
        top = [(x * (1.0 + 0.1 * (i % 2)), y * (1.0 + 0.08 * (i % 2))) for i, (x, y) in enumerate(top[::3])]
    return top + _curvy(_bang_points(style))


def _lock_shape(side: int, style: str, length: str) -> list[Pt]:
    end = 0.9 if style == "bob" else _LOCK_END[length]
    out = 1.12 if style == "bob" else 0.97
    outer = _bez((side * 1.06, -0.3), (side * 1.12, 0.2), (side * (out + 0.06), end * 0.6), (side * out, end))
    inner = _bez(
        (side * (out - 0.08), end - 0.15), (side * 0.84, end * 0.55), (side * 0.8, 0.1), (side * 0.82, -0.3)
    )
    shape = outer + inner
    return _wave(shape, 0.05) if style == "wavy" else shape


def _draw_front_hair(c: _Canvas, pal: _Palette, features: Features) -> None:
    style, length = features.hair_style, features.hair_length
    fringe = _fringe_shape(style)
    face = _face_shape()
    shadow = _shift(_curvy(_bang_points(style)), 0.0, 0.1) + [(-1.1, -1.3), (1.1, -1.3)]
    _clip_fill(c, face, shadow, pal.skin_shade)
    for side in (-1, 1):
        _draw_hair_mass(c, pal, _lock_shape(side, style, length))
    _fill(c, fringe, pal.hair, pal.hair_line, 0.024)
    _draw_hair_detail(c, pal, fringe, _bang_points(style))


# (angle in degrees, length) of the light streaks that form the anime "angel ring" on the crown.
_SHEEN = ((38, 0.14), (47, 0.2), (56, 0.12), (64, 0.24), (73, 0.16), (82, 0.26), (91, 0.13), (100, 0.22),
          (109, 0.17), (118, 0.25), (127, 0.12), (136, 0.19), (144, 0.13))


def _draw_sheen(c: _Canvas, color: Color) -> None:
    for degrees, length in _SHEEN:
        a = math.radians(degrees)
        ux, uy = math.cos(a), -math.sin(a)
        r0, r1 = 0.86, 0.86 - length
        _taper(c, [(ux * r0, -0.12 + uy * r0), (ux * (r0 + r1) / 2, -0.12 + uy * (r0 + r1) / 2),
                   (ux * r1, -0.12 + uy * r1)], color, 0.075, ends=(0.5, 0.0))


def _draw_hair_detail(c: _Canvas, pal: _Palette, fringe: list[Pt], bangs: list[Pt]) -> None:
    notches = [p for p in bangs[1:-1] if p[1] < -0.3]
    lower = _path((-1.2, -0.3), ((-0.8, -0.95), (0.8, -0.95), (1.2, -0.3))) + [(1.2, 0.2), (-1.2, 0.2)]
    _clip_fill(c, fringe, lower, pal.hair_shade, 0.45)
    with _layer(c, _bounds(fringe), clip=fringe, opacity=0.85) as sub:
        _draw_sheen(sub, pal.hair_light)
    for x, y in notches:
        strand = _bez((x, y), (x * 0.95, y - 0.15), (x * 0.8, y - 0.3), (x * 0.7, y - 0.42), 8)
        _taper(c, strand, pal.hair_line, 0.02)


# ---------------------------------------------------------------- figure: accessories


def _draw_cat_ears(c: _Canvas, pal: _Palette) -> None:
    for side in (-1, 1):
        ear = [(side * 0.3, -1.1), (side * 0.9, -1.62), (side * 0.95, -0.78)]
        _fill(c, ear, pal.hair, pal.hair_line, 0.024)
        inner = [(side * 0.45, -1.08), (side * 0.86, -1.45), (side * 0.86, -0.95)]
        _fill(c, inner, (250, 180, 190, 255))


def _draw_hat(c: _Canvas, pal: _Palette) -> None:
    beret = _oval(0.12, -1.08, 1.0, 0.34, 60)
    beret = [(x, y + 0.1 * x) for x, y in beret]
    color = _mix(pal.cloth, pal.accent, 0.35)
    _fill(c, beret, color, _mix(color, _INK, 0.7), 0.024)
    _clip_fill(c, beret, [(-1.2, -1.0), (1.3, -0.9), (1.3, -0.6), (-1.2, -0.6)], _mix(color, _INK, 0.25))
    _fill(c, _oval(0.1, -1.44, 0.07, 0.06, 20), color, _mix(color, _INK, 0.7), 0.02)


def _draw_ribbon(c: _Canvas, pal: _Palette) -> None:
    line = _mix(pal.accent, _INK, 0.6)
    cx, cy = -0.62, -1.04
    for side in (-1, 1):
        loop = _path(
            (cx, cy), ((cx + side * 0.12, cy - 0.35), (cx + side * 0.42, cy - 0.12), (cx + side * 0.34, cy + 0.1))
        )
        _fill(c, loop + [(cx, cy)], pal.accent, line, 0.02)
        _fill(c, [(cx, cy), (cx + side * 0.16, cy + 0.34), (cx + side * 0.05, cy + 0.3)], pal.accent, line, 0.018)
    _fill(c, _oval(cx, cy, 0.06, 0.07, 20), _mix(pal.accent, _INK, 0.15), line, 0.018)


def _draw_hairclip(c: _Canvas, pal: _Palette) -> None:
    gold: Color = (246, 200, 80, 255)
    for dy in (0.0, 0.1):
        _fill(c, [(-0.74, -0.5 + dy), (-0.44, -0.58 + dy), (-0.43, -0.54 + dy), (-0.73, -0.46 + dy)], gold,
              (150, 100, 30, 255), 0.014)


def _draw_earrings(c: _Canvas, pal: _Palette) -> None:
    for side in (-1, 1):
        _stroke(c, [(side * 0.97, 0.3), (side * 0.97, 0.42)], (200, 150, 50, 255), 0.015)
        _fill(c, _oval(side * 0.97, 0.47, 0.045, 0.05, 20), (246, 200, 80, 255), (150, 100, 30, 255), 0.012)


def _draw_choker(c: _Canvas, pal: _Palette) -> None:
    band = [(-0.28, 1.02), (0.28, 1.02), (0.29, 1.12), (-0.29, 1.12)]
    _fill(c, band, (40, 34, 48, 255), _INK, 0.012)
    _fill(c, _oval(0.0, 1.17, 0.04, 0.05, 20), pal.accent, _INK, 0.012)


def _draw_glasses(c: _Canvas, pal: _Palette) -> None:
    frame: Color = (60, 45, 60, 255)
    for side in (-1, 1):
        lens = _oval(side * 0.42, 0.22, 0.3, 0.23, 48)
        with _layer(c, _bounds(lens), opacity=0.18) as sub:
            _fill(sub, lens, (190, 220, 255, 255))
        _stroke(c, lens + [lens[0]], frame, 0.026, caps=False)
        _stroke(c, [(side * 0.72, 0.16), (side * 0.98, 0.1)], frame, 0.024)
    _stroke(c, _bez((-0.13, 0.16), (-0.06, 0.1), (0.06, 0.1), (0.13, 0.16), 8), frame, 0.024)


_BEHIND = {"cat_ears": _draw_cat_ears}
_ON_TOP = {
    "choker": _draw_choker,
    "earrings": _draw_earrings,
    "hairclip": _draw_hairclip,
    "hair_ribbon": _draw_ribbon,
    "hat": _draw_hat,
}


def _draw_figure(c: _Canvas, features: Features) -> None:
    """Everything that stays the same across expressions, minus the glasses (drawn over the eyes)."""
    pal = _palette(features)
    _draw_back_hair(c, pal, features)
    _draw_neck(c, pal)
    _draw_body(c, pal)
    for name, draw in _BEHIND.items():
        if name in features.accessories:
            draw(c, pal)
    _draw_head(c, pal)
    _draw_front_hair(c, pal, features)
    for name, draw in _ON_TOP.items():
        if name in features.accessories:
            draw(c, pal)


# ---------------------------------------------------------------- faces


@dataclass(frozen=True)
class _Face:
    """How the offline renderer draws one built-in expression."""

    brows: tuple[str, str]
    eyes: str
    mouth: str
    mouth_open: float = 0.0
    teeth: bool = False
    blush: int = 0
    tears: int = 0
    sweat: int = 0
    marks: tuple[str, ...] = ()


def _face(brows: str | tuple[str, str], eyes: str, mouth: str, mouth_open: float = 0.0, **cues: object) -> _Face:
    pair = (brows, brows) if isinstance(brows, str) else brows
    return _Face(pair, eyes, mouth, mouth_open, **cues)  # type: ignore[arg-type]


_FACES: dict[str, _Face] = {
    "neutral": _face("normal", "open", "line"),
    "happy": _face("soft", "open", "smile", 0.9, blush=1),
    "angry": _face("angry", "narrow", "grit", 0.35, marks=("anger",)),
    "sad": _face("sad", "down", "frown"),
    "surprised": _face("raised", "wide", "o", 0.9),
    "embarrassed": _face("sad", "open", "wavy", blush=2, sweat=1),
    "smug": _face(("relaxed", "raised"), "smug", "smirk"),
    "worried": _face("sad", "uneasy", "frown", sweat=1),
    "crying": _face("sad", "teary", "frown", 0.9, blush=1, tears=2),
    "laughing": _face("raised", "happy", "smile", 1.25, teeth=True, blush=1),
    "thinking": _face(("raised", "normal"), "glance", "pout"),
    "sleepy": _face("relaxed", "sleepy", "o", 0.3, marks=("zzz",)),
    "admiration": _face("raised", "sparkle", "smile", 0.5, blush=1, marks=("sparkles",)),
    "amusement": _face("soft", "happy", "cat"),
    "anger": _face("angry", "narrow", "frown", 1.3, teeth=True, marks=("anger", "anger2")),
    "annoyance": _face("angry", "flat", "line", marks=("anger",)),
    "approval": _face("soft", "gentle", "smile"),
    "caring": _face("sad", "gentle", "smile", blush=1, marks=("heart",)),
    "confusion": _face(("raised", "angry"), "blank", "wavy", sweat=1, marks=("question",)),
    "curiosity": _face("raised", "sparkle", "o", 0.3, marks=("question",)),
    "desire": _face("relaxed", "dreamy", "smile", 0.4, blush=2),
    "disappointment": _face("sad", "down", "frown", marks=("gloom",)),
    "disapproval": _face(("raised", "angry"), "flat", "frown"),
    "disgust": _face("angry", "narrow", "grimace", sweat=1, marks=("gloom",)),
    "embarrassment": _face("sad", "squeeze", "wavy", blush=2, sweat=1),
    "excitement": _face("raised", "sparkle", "smile", 1.1, blush=1, marks=("sparkles",)),
    "fear": _face("sad", "tiny", "wavy", 0.5, sweat=2, marks=("gloom",)),
    "gratitude": _face("soft", "happy", "smile", blush=1, marks=("heart",)),
    "grief": _face("sad", "squeeze", "frown", 0.8, tears=2, marks=("gloom",)),
    "joy": _face("raised", "happy", "smile", 1.0, blush=1, marks=("sparkles",)),
    "love": _face("soft", "heart", "smile", 0.3, blush=2, marks=("hearts",)),
    "nervousness": _face("sad", "uneasy", "wavy", blush=1, sweat=2),
    "optimism": _face("raised", "sparkle", "smile"),
    "pride": _face(("relaxed", "raised"), "closed", "smirk", marks=("sparkle",)),
    "realization": _face("raised", "wide", "o", 0.5, marks=("exclaim",)),
    "relief": _face("soft", "closed", "smile", sweat=1),
    "remorse": _face("sad", "down", "frown", tears=1),
    "sadness": _face("sad", "teary", "frown", tears=1),
    "surprise": _face("raised", "tiny", "o", 1.0, marks=("exclaim",)),
}

_CLOSED_EYES = frozenset({"happy", "closed", "squeeze"})


def _apply_variant(face: _Face, variant: str | None) -> _Face:
    if variant == "blink" and face.eyes not in _CLOSED_EYES:
        return replace(face, eyes="blink")
    if variant == "mouth_open":
        amount = 0.55 if face.mouth_open == 0 else face.mouth_open * 1.45 + (0.3 if face.mouth == "o" else 0)
        return replace(face, mouth_open=amount)
    return face


# ---------------------------------------------------------------- faces: brows and eyes


_EX, _EY = 0.42, 0.22
_BROW_SHIFT = {
    "normal": (0.0, 0.0, 0.0),
    "raised": (-0.1, -0.13, -0.08),
    "angry": (0.11, 0.02, -0.07),
    "sad": (-0.15, -0.04, 0.08),
    "soft": (-0.05, -0.07, -0.02),
    "relaxed": (0.04, 0.03, 0.05),
}


def _draw_brow(c: _Canvas, pal: _Palette, side: int, kind: str) -> None:
    di, dm, do = _BROW_SHIFT[kind]
    pts = _bez((-0.2, -0.36 + di), (-0.05, -0.44 + dm), (0.12, -0.46 + dm), (0.28, -0.37 + do), 14)
    width = 0.06 if kind == "angry" else 0.048
    _taper(c, _local(pts, _EX, _EY, side), pal.hair_line, width, ends=(0.7, 0.15))


@dataclass(frozen=True)
class _EyeOpen:
    lid: float = 0.0  # 0 open .. 0.6 nearly closed
    slant: float = 0.0  # > 0 lowers the inner end of the upper lid (glare)
    lower: float = 0.0  # raises the lower lid (smiling eyes)
    iris: float = 1.0
    size: float = 1.0
    look: Pt = (0.0, 0.0)  # screen direction
    shine: str = "normal"  # normal, star, heart, teary, none


_EYES: dict[str, _EyeOpen] = {
    "open": _EyeOpen(),
    "wide": _EyeOpen(size=1.1, iris=0.78, lid=-0.06),
    "tiny": _EyeOpen(size=1.1, iris=0.48, lid=-0.06, shine="none"),
    "down": _EyeOpen(lid=0.26, look=(0.0, 0.07), shine="teary"),
    "narrow": _EyeOpen(lid=0.3, slant=1.0, iris=0.88),
    "flat": _EyeOpen(lid=0.48, slant=0.25),
    "gentle": _EyeOpen(lid=0.12, lower=0.4),
    "teary": _EyeOpen(shine="teary"),
    "sparkle": _EyeOpen(shine="star"),
    "heart": _EyeOpen(shine="heart"),
    "dreamy": _EyeOpen(lid=0.38, shine="heart"),
    "blank": _EyeOpen(shine="none", iris=0.9),
    "glance": _EyeOpen(look=(0.06, -0.07)),
    "uneasy": _EyeOpen(iris=0.8, look=(-0.03, 0.02)),
    "sleepy": _EyeOpen(lid=0.58, slant=-0.4),
    "smug": _EyeOpen(lid=0.4, slant=0.2, look=(0.04, 0.0)),
}


def _eye_outline(shape: _EyeOpen) -> tuple[list[Pt], list[Pt]]:
    """Upper and lower lid curves of one eye in local coordinates (u outward from the nose)."""
    upper = _bez((-0.19, -0.02), (-0.12, -0.25), (0.12, -0.27), (0.25, -0.1), 20)
    lower = _bez((0.25, -0.1), (0.23, 0.16), (0.05, 0.27), (-0.19, -0.02), 20)
    out_upper = []
    for u, v in upper:
        w = (u + 0.19) / 0.44
        v += shape.lid * (0.26 - v) * 0.85 + shape.slant * (0.5 - w) * 0.14
        out_upper.append((u, v))
    out_lower = [(u, v - shape.lower * max(0.0, v + 0.02) * 0.8) for u, v in lower]
    return out_upper, out_lower


def _draw_open_eye(c: _Canvas, pal: _Palette, side: int, shape: _EyeOpen) -> None:
    upper, lower = _eye_outline(shape)
    k = shape.size
    white = _local(upper + lower[1:-1], _EX, _EY, side, k)
    lx, ly = shape.look
    icx, icy = side * (_EX + 0.03 * k) + lx, _EY + 0.05 * k + ly
    rx, ry = 0.15 * shape.iris * k, 0.2 * shape.iris * k
    with _layer(c, _bounds(white), clip=white) as sub:
        _fill(sub, white, (252, 250, 255, 255))
        lid_shadow = _local(upper, _EX, _EY, side, k) + _local(upper[::-1], _EX, _EY + 0.07, side, k)
        _fill(sub, lid_shadow, (200, 200, 228, 255))
        _draw_iris(sub, pal, (icx, icy), (rx, ry), shape.shine)
        _fill(sub, _local(upper, _EX, _EY, side, k) + _local(upper[::-1], _EX, _EY + 0.06, side, k),
              _mix(pal.eye_dark, _INK, 0.3), )
    _taper(c, _local(upper + [(0.31, -0.05)], _EX, _EY - 0.005, side, k), pal.lash, 0.075, ends=(0.35, 0.2))
    _taper(c, _local(lower[3:11], _EX, _EY, side, k), pal.lash, 0.022, ends=(0.2, 0.6))
    crease = [(u, v - 0.07) for u, v in upper[4:17]]
    _taper(c, _local(crease, _EX, _EY, side, k), pal.skin_line, 0.016)


def _draw_iris(c: _Canvas, pal: _Palette, centre: Pt, radius: Pt, shine: str) -> None:
    cx, cy = centre
    rx, ry = radius
    iris = _oval(cx, cy, rx, ry)
    _fill(c, iris, pal.eye, pal.eye_dark, 0.02)
    _clip_fill(c, iris, _oval(cx, cy + ry * 0.75, rx * 0.8, ry * 0.5), pal.eye_light, 0.9)
    _fill(c, _oval(cx, cy + ry * 0.05, rx * 0.5, ry * 0.55), pal.eye_dark)
    if shine == "heart":
        _fill(c, _heart(cx, cy + ry * 0.1, rx * 0.9), (255, 110, 160, 255), (190, 40, 100, 255), 0.014)
    if shine == "star":
        _fill(c, _star(cx - rx * 0.3, cy - ry * 0.3, rx * 0.75), _WHITE)
        _fill(c, _star(cx + rx * 0.45, cy + ry * 0.45, rx * 0.35), _WHITE)
    elif shine != "none":
        _fill(c, _oval(cx - rx * 0.35, cy - ry * 0.4, rx * 0.36, ry * 0.28), _WHITE)
        _fill(c, _oval(cx + rx * 0.4, cy + ry * 0.45, rx * 0.16, ry * 0.12), _WHITE)
    if shine == "teary":
        _fill(c, _oval(cx + rx * 0.25, cy - ry * 0.55, rx * 0.14, ry * 0.1), _WHITE)
        _fill(c, _oval(cx - rx * 0.5, cy + ry * 0.35, rx * 0.22, ry * 0.08), _WHITE)
        _fill(c, _oval(cx, cy + ry * 1.05, rx * 1.4, ry * 0.22), (190, 225, 255, 255))


def _draw_closed_eye(c: _Canvas, pal: _Palette, side: int, kind: str) -> None:
    if kind == "happy":
        pts = _bez((-0.2, 0.1), (-0.1, -0.14), (0.12, -0.14), (0.25, 0.08))
        _taper(c, _local(pts, _EX, _EY, side), pal.lash, 0.065, ends=(0.3, 0.3))
    elif kind == "squeeze":
        pts = [(0.22, -0.12), (0.04, -0.03), (-0.14, 0.05), (0.04, 0.12), (0.22, 0.2)]
        _stroke(c, _local(pts, _EX, _EY, side), pal.lash, 0.06)
    else:
        sag = 0.12 if kind == "closed" else 0.07
        pts = _bez((-0.2, 0.06), (-0.08, 0.06 + sag), (0.12, 0.06 + sag), (0.27, 0.02))
        _taper(c, _local(pts, _EX, _EY, side), pal.lash, 0.06, ends=(0.3, 0.4))
        for u in (0.2, 0.25):
            _taper(c, _local([(u, 0.06), (u + 0.05, 0.12)], _EX, _EY, side), pal.lash, 0.02, ends=(0.8, 0.1))


def _draw_eyes(c: _Canvas, pal: _Palette, face: _Face) -> None:
    for index, side in enumerate((-1, 1)):
        _draw_brow(c, pal, side, face.brows[index])
        if face.eyes in _EYES:
            _draw_open_eye(c, pal, side, _EYES[face.eyes])
        else:
            _draw_closed_eye(c, pal, side, face.eyes)


# ---------------------------------------------------------------- faces: mouth

_MY = 0.74
_MOUTH_IN: Color = (150, 44, 62, 255)
_TONGUE: Color = (236, 118, 132, 255)


def _open_mouth(c: _Canvas, pal: _Palette, shape: list[Pt], teeth: bool) -> None:
    x0, y0, x1, y1 = _bounds(shape)
    _fill(c, shape, _MOUTH_IN)
    _clip_fill(c, shape, _oval((x0 + x1) / 2, y1, (x1 - x0) * 0.38, (y1 - y0) * 0.45), _TONGUE)
    if teeth:
        _clip_fill(c, shape, [(x0, y0 - 0.05), (x1, y0 - 0.05), (x1, y0 + 0.035), (x0, y0 + 0.035)], _WHITE)
    _stroke(c, shape + [shape[0], shape[1]], _mix(pal.skin_line, _INK, 0.5), 0.022, caps=False)


def _mouth_smile(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        _taper(c, _bez((-0.13, _MY - 0.03), (-0.06, _MY + 0.05), (0.06, _MY + 0.05), (0.13, _MY - 0.03)),
               _mix(pal.skin_line, _INK, 0.4), 0.026)
        return
    w, h = 0.11 + 0.04 * min(amount, 1.2), 0.15 * amount
    top = _bez((-w, _MY - 0.04), (-w * 0.4, _MY - 0.01), (w * 0.4, _MY - 0.01), (w, _MY - 0.04))
    bottom = _bez((w, _MY - 0.04), (w * 0.8, _MY + h), (-w * 0.8, _MY + h), (-w, _MY - 0.04))
    _open_mouth(c, pal, top + bottom[1:-1], teeth)


def _mouth_frown(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        _taper(c, _bez((-0.12, _MY + 0.05), (-0.05, _MY - 0.03), (0.05, _MY - 0.03), (0.12, _MY + 0.05)),
               _mix(pal.skin_line, _INK, 0.4), 0.024)
        return
    w, h = 0.1 + 0.04 * min(amount, 1.2), 0.13 * amount
    top = _bez((-w, _MY + 0.06), (-w * 0.7, _MY + 0.04 - h), (w * 0.7, _MY + 0.04 - h), (w, _MY + 0.06))
    bottom = _bez((w, _MY + 0.06), (w * 0.5, _MY + 0.08), (-w * 0.5, _MY + 0.08), (-w, _MY + 0.06))
    _open_mouth(c, pal, top + bottom[1:-1], teeth)


def _mouth_line(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        _taper(c, _bez((-0.08, _MY), (-0.03, _MY + 0.015), (0.03, _MY + 0.015), (0.08, _MY)),
               _mix(pal.skin_line, _INK, 0.4), 0.022)
        return
    _mouth_smile(c, pal, amount * 0.6, teeth)


def _mouth_o(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    _open_mouth(c, pal, _oval(0.0, _MY + 0.02, 0.045 + 0.035 * amount, 0.04 + 0.085 * amount, 32), teeth)


def _wavy_line(width: float, y: float, amp: float) -> list[Pt]:
    return [(-width + 2 * width * i / 24, y + amp * math.sin(i / 24 * 4 * math.pi)) for i in range(25)]


def _mouth_wavy(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        _stroke(c, _wavy_line(0.12, _MY, 0.022), _mix(pal.skin_line, _INK, 0.4), 0.022)
        return
    top = _wavy_line(0.13, _MY - 0.02, 0.02)
    bottom = _wavy_line(0.11, _MY + 0.04 + 0.09 * amount, 0.018)[::-1]
    _open_mouth(c, pal, top + bottom, teeth)


def _mouth_smirk(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        pts = _bez((-0.1, _MY + 0.01), (-0.02, _MY + 0.035), (0.08, _MY + 0.02), (0.14, _MY - 0.05))
        _taper(c, pts, _mix(pal.skin_line, _INK, 0.4), 0.026, ends=(0.3, 0.1))
        return
    top = _bez((-0.08, _MY), (0.0, _MY + 0.01), (0.08, _MY), (0.14, _MY - 0.05))
    bottom = _bez((0.14, _MY - 0.05), (0.1, _MY + 0.1 * amount + 0.02), (-0.02, _MY + 0.1 * amount), (-0.08, _MY))
    _open_mouth(c, pal, top + bottom[1:-1], teeth)


def _mouth_grit(c: _Canvas, pal: _Palette, amount: float, teeth: bool, droop: float = 0.0) -> None:
    h = 0.06 + 0.1 * amount
    top = _bez((-0.17, _MY + droop), (-0.09, _MY - 0.02), (0.09, _MY - 0.02), (0.17, _MY + droop))
    low = _MY + h
    bottom = _bez((0.15, low + droop), (0.07, low - 0.01), (-0.07, low - 0.01), (-0.15, low + droop))
    shape = top + bottom
    line = _mix(pal.skin_line, _INK, 0.5)
    _fill(c, shape, _WHITE)
    if amount > 0.5:
        gap = [(-0.2, _MY + 0.04), (0.2, _MY + 0.04), (0.2, low - 0.04), (-0.2, low - 0.04)]
        _clip_fill(c, shape, gap, _MOUTH_IN)
    _stroke(c, [(-0.14, _MY + h / 2), (0.14, _MY + h / 2)], line, 0.012)
    for x in (-0.07, 0.0, 0.07):
        _stroke(c, [(x, _MY), (x, _MY + h)], line, 0.01)
    _stroke(c, shape + [shape[0], shape[1]], line, 0.022, caps=False)


def _mouth_grimace(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    _mouth_grit(c, pal, amount, teeth, droop=0.05)


def _mouth_cat(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    line = _mix(pal.skin_line, _INK, 0.4)
    if amount > 0:
        depth = _MY + 0.1 * amount + 0.04
        _open_mouth(c, pal, _bez((-0.1, _MY), (-0.07, depth), (0.07, depth), (0.1, _MY)), teeth)
    for side in (-1, 1):
        pts = _bez((side * 0.12, _MY - 0.03), (side * 0.1, _MY + 0.05), (side * 0.02, _MY + 0.05), (0, _MY - 0.005))
        _taper(c, pts, line, 0.024, ends=(0.4, 0.6))


def _mouth_pout(c: _Canvas, pal: _Palette, amount: float, teeth: bool) -> None:
    if amount > 0:
        _open_mouth(c, pal, _oval(0.04, _MY + 0.01, 0.04 + 0.03 * amount, 0.03 + 0.06 * amount, 28), teeth)
        return
    _taper(c, _bez((-0.02, _MY + 0.01), (0.02, _MY - 0.01), (0.06, _MY - 0.01), (0.09, _MY + 0.015)),
           _mix(pal.skin_line, _INK, 0.4), 0.024)


_MOUTHS = {
    "smile": _mouth_smile,
    "frown": _mouth_frown,
    "line": _mouth_line,
    "o": _mouth_o,
    "wavy": _mouth_wavy,
    "smirk": _mouth_smirk,
    "grit": _mouth_grit,
    "grimace": _mouth_grimace,
    "cat": _mouth_cat,
    "pout": _mouth_pout,
}


# ---------------------------------------------------------------- faces: cues


def _heart(cx: float, cy: float, r: float) -> list[Pt]:
    pts = []
    for i in range(40):
        t = 2 * math.pi * i / 40
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((cx + x / 16 * r, cy - y / 16 * r))
    return pts


def _star(cx: float, cy: float, r: float) -> list[Pt]:
    pts = []
    for i in range(8):
        a = math.pi / 4 * i - math.pi / 2
        k = r if i % 2 == 0 else r * 0.28
        pts.append((cx + k * math.cos(a), cy + k * math.sin(a)))
    return pts


def _drop(cx: float, cy: float, r: float, up: bool = True) -> list[Pt]:
    """A teardrop with its point up (sweat) or down."""
    s = -1 if up else 1
    right = _path(
        (cx, cy + s * 2.0 * r),
        ((cx + 0.3 * r, cy + s * 1.2 * r), (cx + r, cy + s * 0.5 * r), (cx + r, cy)),
        ((cx + r, cy - s * 0.6 * r), (cx + 0.5 * r, cy - s * r), (cx, cy - s * r)),
    )
    return right + [(2 * cx - x, y) for x, y in right[::-1][1:-1]]


def _draw_blush(c: _Canvas, level: int) -> None:
    k = 1.0 if level == 1 else 1.3
    with _layer(c, (-0.85, 0.3, 0.85, 0.7), opacity=0.45 + 0.15 * level, blur=0.035) as sub:
        for side in (-1, 1):
            _fill(sub, _oval(side * 0.56, 0.5, 0.17 * k, 0.075 * k), (255, 108, 128, 255))
    if level >= 2:
        for side in (-1, 1):
            for i in range(3):
                x = side * 0.56 + (i - 1) * 0.08
                _taper(c, [(x + 0.03, 0.45), (x - 0.02, 0.55)], (225, 80, 100, 255), 0.018)


def _draw_tears(c: _Canvas, level: int) -> None:
    water, line = (180, 222, 255, 255), (90, 150, 215, 255)
    if level == 1:
        _fill(c, _drop(0.5, 0.58, 0.045, up=True), water, line, 0.012)
        return
    for side in (-1, 1):
        stream = _bez((side * 0.36, 0.42), (side * 0.34, 0.6), (side * 0.5, 0.72), (side * 0.46, 1.05), 16)
        with _layer(c, (side * 0.2, 0.38, side * 0.7, 1.1) if side > 0 else (-0.7, 0.38, -0.2, 1.1),
                    opacity=0.9) as sub:
            _taper(sub, stream, line, 0.1, ends=(0.5, 1.0))
            _taper(sub, stream, water, 0.07, ends=(0.4, 1.0))
            _taper(sub, _shift(stream[2:12], -side * 0.012, 0), _WHITE, 0.018)
        _fill(c, _drop(side * 0.6, 0.96, 0.035, up=True), water, line, 0.01)


def _draw_sweat(c: _Canvas, level: int) -> None:
    spots = [(0.84, -0.46, 0.07), (-0.86, -0.25, 0.05), (0.9, 0.06, 0.035)][: 1 + 2 * (level > 1)]
    for x, y, r in spots:
        _fill(c, _drop(x, y, r), (190, 228, 255, 255), (80, 140, 210, 255), 0.014)
        _fill(c, _oval(x - r * 0.35, y + r * 0.1, r * 0.18, r * 0.3, 16), _WHITE)


def _draw_anger(c: _Canvas, cx: float, cy: float, r: float) -> None:
    for sx in (-1, 1):
        for sy in (-1, 1):
            pts = _bez((cx + sx * 0.25 * r, cy + sy * r), (cx + sx * 0.3 * r, cy + sy * 0.4 * r),
                       (cx + sx * 0.4 * r, cy + sy * 0.3 * r), (cx + sx * r, cy + sy * 0.25 * r), 12)
            _taper(c, pts, (150, 20, 40, 255), 0.32 * r, ends=(0.7, 0.7))
            _taper(c, pts, (235, 50, 70, 255), 0.2 * r, ends=(0.6, 0.6))


def _draw_question(c: _Canvas, cx: float, cy: float, r: float) -> None:
    pts = _path((cx - 0.7 * r, cy - 0.5 * r), ((cx - 0.6 * r, cy - 1.2 * r), (cx + 0.8 * r, cy - 1.2 * r),
                                                (cx + 0.6 * r, cy - 0.4 * r)),
                ((cx + 0.45 * r, cy), (cx, cy), (cx, cy + 0.45 * r)))
    _stroke(c, pts, (60, 80, 170, 255), 0.32 * r)
    _fill(c, _oval(cx, cy + 0.85 * r, 0.17 * r, 0.17 * r, 16), (60, 80, 170, 255))


def _draw_exclaim(c: _Canvas, cx: float, cy: float, r: float) -> None:
    _fill(c, [(cx - 0.22 * r, cy - 1.1 * r), (cx + 0.22 * r, cy - 1.1 * r), (cx + 0.06 * r, cy + 0.4 * r),
              (cx - 0.06 * r, cy + 0.4 * r)], (220, 60, 60, 255), (140, 20, 30, 255), 0.012)
    _fill(c, _oval(cx, cy + 0.78 * r, 0.17 * r, 0.17 * r, 16), (220, 60, 60, 255), (140, 20, 30, 255), 0.012)


def _draw_gloom(c: _Canvas) -> None:
    """Anime "gloom": a soft shadow and hanging vertical lines over the forehead."""
    with _layer(c, (-0.9, -0.7, 0.9, 0.2), opacity=0.35, blur=0.06) as sub:
        _fill(sub, _oval(0.0, -0.42, 0.62, 0.26), (60, 50, 130, 255))
    with _layer(c, (-0.7, -0.9, 0.7, 0.2), opacity=0.7) as sub:
        for i in range(11):
            x = -0.5 + i * 0.1
            end = -0.12 + 0.1 * ((i * 7) % 3) - 0.12 * abs(x)
            _taper(sub, [(x, -0.86), (x, (end - 0.86) / 2), (x, end)], (50, 40, 115, 255), 0.024, ends=(1.0, 0.0))


def _draw_zzz(c: _Canvas) -> None:
    for x, y, r in ((0.62, -0.5, 0.06), (0.76, -0.66, 0.08), (0.9, -0.84, 0.05)):
        _stroke(c, [(x - r, y - r), (x + r, y - r), (x - r, y + r), (x + r, y + r)], (90, 110, 190, 255), 0.022)


def _draw_marks(c: _Canvas, marks: tuple[str, ...]) -> None:
    gold, outline = (255, 246, 180, 255), (205, 125, 20, 255)
    pink, pink_line = (255, 110, 160, 255), (200, 50, 110, 255)
    actions = {
        "anger": lambda: _draw_anger(c, 0.64, -0.66, 0.16),
        "anger2": lambda: _draw_anger(c, -0.78, -0.6, 0.12),
        "sparkles": lambda: [_fill(c, _star(x, y, r), gold, outline, 0.018)
                             for x, y, r in ((-0.84, -0.64, 0.13), (0.86, -0.2, 0.1), (-0.88, 0.42, 0.08))],
        "sparkle": lambda: _fill(c, _star(0.82, -0.62, 0.13), gold, outline, 0.018),
        "hearts": lambda: [_fill(c, _heart(x, y, r), pink, pink_line, 0.014)
                           for x, y, r in ((0.82, -0.6, 0.12), (-0.86, -0.3, 0.09), (0.9, 0.28, 0.07))],
        "heart": lambda: _fill(c, _heart(0.82, -0.6, 0.1), pink, pink_line, 0.014),
        "question": lambda: _draw_question(c, -0.8, -0.56, 0.14),
        "exclaim": lambda: _draw_exclaim(c, 0.82, -0.62, 0.16),
        "gloom": lambda: _draw_gloom(c),
        "zzz": lambda: _draw_zzz(c),
    }
    for mark in marks:
        actions[mark]()


def _draw_face(c: _Canvas, pal: _Palette, face: _Face) -> None:
    """All expression-dependent drawing: the only thing that changes between expressions."""
    if "gloom" in face.marks:
        _draw_gloom(c)
    if face.blush:
        _draw_blush(c, face.blush)
    _draw_eyes(c, pal, face)
    _MOUTHS[face.mouth](c, pal, face.mouth_open, face.teeth)
    if face.tears:
        _draw_tears(c, face.tears)
    if face.sweat:
        _draw_sweat(c, face.sweat)
    _draw_marks(c, tuple(m for m in face.marks if m != "gloom"))


# ---------------------------------------------------------------- public API


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
    x0, y0, x1, y1 = _FRAME
    scale = min(w / (x1 - x0), h / (y1 - y0))
    spare = h - scale * (y1 - y0)
    return scale, w / 2, -y0 * scale + spare * 0.3


def _supersample(size: tuple[int, int]) -> int:
    return max(1, min(4, 4096 // max(size)))


def face_box(size: tuple[int, int]) -> FaceBox:
    """(x, y, w, h) of the region that holds everything that changes between expressions and variants."""
    w, h = _check_size(size)
    scale, ox, oy = _layout(size)
    x0 = max(0, math.floor(ox + _FACE[0] * scale))
    y0 = max(0, math.floor(oy + _FACE[1] * scale))
    x1 = min(w, math.ceil(ox + _FACE[2] * scale))
    y1 = min(h, math.ceil(oy + _FACE[3] * scale))
    return FaceBox(x0, y0, x1 - x0, y1 - y0)


def _canvas(size: tuple[int, int], ss: int, origin: tuple[int, int], full: tuple[int, int]) -> _Canvas:
    """A transparent canvas of `size` output px whose top-left sits at `origin` in a picture of `full` px."""
    scale, ox, oy = _layout(full)
    img = Image.new("RGBA", (size[0] * ss, size[1] * ss), (0, 0, 0, 0))
    return _Canvas(img, scale * ss, (ox - origin[0]) * ss, (oy - origin[1]) * ss)


def _downsample(img: Image.Image, ss: int) -> Image.Image:
    if ss == 1:
        return img
    return img.convert("RGBa").reduce(ss).convert("RGBA")


@functools.lru_cache(maxsize=8)
def _figure(features_json: str, size: tuple[int, int]) -> Image.Image:
    features = Features.model_validate_json(features_json)
    ss = _supersample(size)
    c = _canvas(size, ss, (0, 0), size)
    _draw_figure(c, features)
    log.debug("rendered figure %s at %dx supersampling", size, ss)
    return _downsample(c.img, ss)


def _resolve(expression: Expression | None, variant: str | None) -> _Face:
    expression = expression or LIBRARY["neutral"]
    if expression.face not in _FACES:
        raise InvalidInput(f"the offline renderer has no face {expression.face!r}")
    if variant is not None and variant not in VARIANTS:
        raise InvalidInput(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return _apply_variant(_FACES[expression.face], variant)


def render_portrait(
    features: Features,
    *,
    expression: Expression | None = None,
    variant: str | None = None,
    size: tuple[int, int] = (768, 1024),
) -> Image.Image:
    """An RGBA bust portrait on a transparent background; the same inputs give identical pixels."""
    size = _check_size(size)
    face = _resolve(expression, variant)
    out = _figure(features.model_dump_json(), size).copy()
    x, y, w, h = face_box(size)
    ss = _supersample(size)
    c = _canvas((w, h), ss, (x, y), size)
    pal = _palette(features)
    _draw_figure(c, features)
    _draw_face(c, pal, face)
    if "glasses" in features.accessories:
        _draw_glasses(c, pal)
    out.paste(_downsample(c.img, ss), (x, y))
    return out


# ---------------------------------------------------------------- uploaded pictures


def _sample_skin(crop: Image.Image, c: _Canvas, ss: int) -> Color:
    """The median colour of the cheek area under the nose, where skin is most likely."""
    x0, y0 = c.pt((-0.25, 0.42))
    x1, y1 = c.pt((0.25, 0.6))
    box = (int(x0 / ss), int(y0 / ss), max(int(x1 / ss), int(x0 / ss) + 1), max(int(y1 / ss), int(y0 / ss) + 1))
    r, g, b = ImageStat.Stat(crop.convert("RGB").crop(box)).median
    return (r, g, b, 255)


def _cover(c: _Canvas, skin: Color, shapes: Sequence[Sequence[Pt]]) -> None:
    """Paint soft-edged skin patches over the picture's own eyes or mouth before redrawing them."""
    pts = [p for shape in shapes for p in shape]
    with _layer(c, _bounds(pts), blur=0.02) as sub:
        for shape in shapes:
            _fill(sub, shape, skin)


def _draw_overlay(c: _Canvas, pal: _Palette, face: _Face, neutral: bool) -> None:
    if "gloom" in face.marks:
        _draw_gloom(c)
    if face.blush:
        _draw_blush(c, face.blush)
    if face.eyes == "blink" or face.eyes in _CLOSED_EYES:
        _cover(c, pal.skin, [_oval(side * _EX, _EY + 0.02, 0.3, 0.3) for side in (-1, 1)])
        for side in (-1, 1):
            _draw_closed_eye(c, pal, side, face.eyes if face.eyes != "blink" else "blink")
    if not neutral or face.mouth_open > 0:
        _cover(c, pal.skin, [_oval(0.0, _MY + 0.04, 0.22, 0.16)])
        _MOUTHS[face.mouth](c, pal, face.mouth_open, face.teeth)
    if face.tears:
        _draw_tears(c, face.tears)
    if face.sweat:
        _draw_sweat(c, face.sweat)
    _draw_marks(c, tuple(m for m in face.marks if m != "gloom"))


def edit_face(
    base: Image.Image,
    *,
    box: FaceBox,
    expression: Expression,
    variant: str | None = None,
) -> Image.Image:
    """An offline preview: expression cues painted over an uploaded picture inside `box` only.

    The box is read as the face from brow line to chin (as in `face_box`); pixels outside it and the
    whole alpha channel are kept exactly.
    """
    x, y, w, h = FaceBox.checked(box, base.size)
    face = _resolve(expression, variant)
    out = base.convert("RGBA")
    crop = out.crop((x, y, x + w, y + h))
    ss = max(1, min(4, 2048 // max(w, h)))
    fx0, fy0, fx1, fy1 = _FACE
    scale = min(w / (fx1 - fx0), h / (fy1 - fy0))
    c = _Canvas(Image.new("RGBA", (w * ss, h * ss), (0, 0, 0, 0)), scale * ss,
                (w / 2 - (fx0 + fx1) / 2 * scale) * ss, (h / 2 - (fy0 + fy1) / 2 * scale) * ss)
    skin = _sample_skin(crop, c, ss)
    pal = replace(_palette(Features()), skin=skin, skin_line=_mix(skin, (120, 50, 50, 255), 0.62))
    _draw_overlay(c, pal, face, neutral=expression.face == "neutral")
    painted = crop.copy()
    painted.alpha_composite(_downsample(c.img, ss))
    painted.putalpha(crop.getchannel("A"))
    out.paste(painted, (x, y))
    return out
