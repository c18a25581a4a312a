"""Brows and eyes: open eyes (lids, iris, shine) shaped by a face's eye cue, or closed ones."""

from __future__ import annotations

from dataclasses import dataclass

from lib.render.canvas import Canvas, clip_fill, fill, layer, stroke, taper
from lib.render.colour import INK, WHITE, Palette, mix
from lib.render.face import Face
from lib.render.geometry import Pt, bez, bounds, heart, local, oval, star

EX, EY = 0.42, 0.22  # centre of the right eye; the left one is its mirror image
_BROW_SHIFT = {
    "normal": (0.0, 0.0, 0.0),
    "raised": (-0.1, -0.13, -0.08),
    "angry": (0.11, 0.02, -0.07),
    "sad": (-0.15, -0.04, 0.08),
    "soft": (-0.05, -0.07, -0.02),
    "relaxed": (0.04, 0.03, 0.05),
}


def _draw_brow(c: Canvas, pal: Palette, side: int, kind: str) -> None:
    di, dm, do = _BROW_SHIFT[kind]
    pts = bez((-0.2, -0.36 + di), (-0.05, -0.44 + dm), (0.12, -0.46 + dm), (0.28, -0.37 + do), 14)
    width = 0.06 if kind == "angry" else 0.048
    taper(c, local(pts, EX, EY, side), pal.hair_line, width, ends=(0.7, 0.15))


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
    upper = bez((-0.19, -0.02), (-0.12, -0.25), (0.12, -0.27), (0.25, -0.1), 20)
    lower = bez((0.25, -0.1), (0.23, 0.16), (0.05, 0.27), (-0.19, -0.02), 20)
    out_upper = []
    for u, v in upper:
        w = (u + 0.19) / 0.44
        v += shape.lid * (0.26 - v) * 0.85 + shape.slant * (0.5 - w) * 0.14
        out_upper.append((u, v))
    out_lower = [(u, v - shape.lower * max(0.0, v + 0.02) * 0.8) for u, v in lower]
    return out_upper, out_lower


def _draw_open_eye(c: Canvas, pal: Palette, side: int, shape: _EyeOpen) -> None:
    upper, lower = _eye_outline(shape)
    k = shape.size
    white = local(upper + lower[1:-1], EX, EY, side, k)
    lx, ly = shape.look
    icx, icy = side * (EX + 0.03 * k) + lx, EY + 0.05 * k + ly
    rx, ry = 0.15 * shape.iris * k, 0.2 * shape.iris * k
    with layer(c, bounds(white), clip=white) as sub:
        fill(sub, white, (252, 250, 255, 255))
        lid_shadow = local(upper, EX, EY, side, k) + local(upper[::-1], EX, EY + 0.07, side, k)
        fill(sub, lid_shadow, (200, 200, 228, 255))
        _draw_iris(sub, pal, (icx, icy), (rx, ry), shape.shine)
        fill(sub, local(upper, EX, EY, side, k) + local(upper[::-1], EX, EY + 0.06, side, k),
             mix(pal.eye_dark, INK, 0.3))
    taper(c, local(upper + [(0.31, -0.05)], EX, EY - 0.005, side, k), pal.lash, 0.075, ends=(0.35, 0.2))
    taper(c, local(lower[3:11], EX, EY, side, k), pal.lash, 0.022, ends=(0.2, 0.6))
    crease = [(u, v - 0.07) for u, v in upper[4:17]]
    taper(c, local(crease, EX, EY, side, k), pal.skin_line, 0.016)


def _draw_iris(c: Canvas, pal: Palette, centre: Pt, radius: Pt, shine: str) -> None:
    cx, cy = centre
    rx, ry = radius
    iris = oval(cx, cy, rx, ry)
    fill(c, iris, pal.eye, pal.eye_dark, 0.02)
    clip_fill(c, iris, oval(cx, cy + ry * 0.75, rx * 0.8, ry * 0.5), pal.eye_light, 0.9)
    fill(c, oval(cx, cy + ry * 0.05, rx * 0.5, ry * 0.55), pal.eye_dark)
    if shine == "heart":
        fill(c, heart(cx, cy + ry * 0.1, rx * 0.9), (255, 110, 160, 255), (190, 40, 100, 255), 0.014)
    if shine == "star":
        fill(c, star(cx - rx * 0.3, cy - ry * 0.3, rx * 0.75), WHITE)
        fill(c, star(cx + rx * 0.45, cy + ry * 0.45, rx * 0.35), WHITE)
    elif shine != "none":
        fill(c, oval(cx - rx * 0.35, cy - ry * 0.4, rx * 0.36, ry * 0.28), WHITE)
        fill(c, oval(cx + rx * 0.4, cy + ry * 0.45, rx * 0.16, ry * 0.12), WHITE)
    if shine == "teary":
        fill(c, oval(cx + rx * 0.25, cy - ry * 0.55, rx * 0.14, ry * 0.1), WHITE)
        fill(c, oval(cx - rx * 0.5, cy + ry * 0.35, rx * 0.22, ry * 0.08), WHITE)
        fill(c, oval(cx, cy + ry * 1.05, rx * 1.4, ry * 0.22), (190, 225, 255, 255))


def draw_closed_eye(c: Canvas, pal: Palette, side: int, kind: str) -> None:
    if kind == "happy":
        pts = bez((-0.2, 0.1), (-0.1, -0.14), (0.12, -0.14), (0.25, 0.08))
        taper(c, local(pts, EX, EY, side), pal.lash, 0.065, ends=(0.3, 0.3))
    elif kind == "squeeze":
        pts = [(0.22, -0.12), (0.04, -0.03), (-0.14, 0.05), (0.04, 0.12), (0.22, 0.2)]
        stroke(c, local(pts, EX, EY, side), pal.lash, 0.06)
    else:
        sag = 0.12 if kind == "closed" else 0.07
        pts = bez((-0.2, 0.06), (-0.08, 0.06 + sag), (0.12, 0.06 + sag), (0.27, 0.02))
        taper(c, local(pts, EX, EY, side), pal.lash, 0.06, ends=(0.3, 0.4))
        for u in (0.2, 0.25):
            taper(c, local([(u, 0.06), (u + 0.05, 0.12)], EX, EY, side), pal.lash, 0.02, ends=(0.8, 0.1))


def draw_eyes(c: Canvas, pal: Palette, face: Face) -> None:
    for index, side in enumerate((-1, 1)):
        _draw_brow(c, pal, side, face.brows[index])
        if face.eyes in _EYES:
            _draw_open_eye(c, pal, side, _EYES[face.eyes])
        else:
            draw_closed_eye(c, pal, side, face.eyes)


def draw_brows(c: Canvas, pal: Palette, face: Face) -> None:
    """Only the brows of `face` (previews over real pictures keep their own eyes where they do not change)."""
    for index, side in enumerate((-1, 1)):
        _draw_brow(c, pal, side, face.brows[index])


def draw_eye_shapes(c: Canvas, pal: Palette, face: Face) -> None:
    """Only the eyes of `face`, open or closed, without brows."""
    for side in (-1, 1):
        if face.eyes in _EYES:
            _draw_open_eye(c, pal, side, _EYES[face.eyes])
        else:
            draw_closed_eye(c, pal, side, face.eyes)
