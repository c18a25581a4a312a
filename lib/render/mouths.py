"""Mouths by kind (smile, frown, line, o, ...): a closed line, or open by an amount with tongue and teeth."""

from __future__ import annotations

import math

from lib.render.canvas import Canvas, clip_fill, fill, stroke, taper
from lib.render.colour import INK, WHITE, Color, Palette, mix
from lib.render.geometry import Pt, bez, bounds, oval

MY = 0.74  # height of the mouth line
_MOUTH_IN: Color = (150, 44, 62, 255)
_TONGUE: Color = (236, 118, 132, 255)


def _open_mouth(c: Canvas, pal: Palette, shape: list[Pt], teeth: bool) -> None:
    x0, y0, x1, y1 = bounds(shape)
    fill(c, shape, _MOUTH_IN)
    clip_fill(c, shape, oval((x0 + x1) / 2, y1, (x1 - x0) * 0.38, (y1 - y0) * 0.45), _TONGUE)
    if teeth:
        clip_fill(c, shape, [(x0, y0 - 0.05), (x1, y0 - 0.05), (x1, y0 + 0.035), (x0, y0 + 0.035)], WHITE)
    stroke(c, shape + [shape[0], shape[1]], mix(pal.skin_line, INK, 0.5), 0.022, caps=False)


def _mouth_smile(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        taper(c, bez((-0.13, MY - 0.03), (-0.06, MY + 0.05), (0.06, MY + 0.05), (0.13, MY - 0.03)),
              mix(pal.skin_line, INK, 0.4), 0.026)
        return
    w, h = 0.11 + 0.04 * min(amount, 1.2), 0.15 * amount
    top = bez((-w, MY - 0.04), (-w * 0.4, MY - 0.01), (w * 0.4, MY - 0.01), (w, MY - 0.04))
    bottom = bez((w, MY - 0.04), (w * 0.8, MY + h), (-w * 0.8, MY + h), (-w, MY - 0.04))
    _open_mouth(c, pal, top + bottom[1:-1], teeth)


def _mouth_frown(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        taper(c, bez((-0.12, MY + 0.05), (-0.05, MY - 0.03), (0.05, MY - 0.03), (0.12, MY + 0.05)),
              mix(pal.skin_line, INK, 0.4), 0.024)
        return
    w, h = 0.1 + 0.04 * min(amount, 1.2), 0.13 * amount
    top = bez((-w, MY + 0.06), (-w * 0.7, MY + 0.04 - h), (w * 0.7, MY + 0.04 - h), (w, MY + 0.06))
    bottom = bez((w, MY + 0.06), (w * 0.5, MY + 0.08), (-w * 0.5, MY + 0.08), (-w, MY + 0.06))
    _open_mouth(c, pal, top + bottom[1:-1], teeth)


def _mouth_line(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        taper(c, bez((-0.08, MY), (-0.03, MY + 0.015), (0.03, MY + 0.015), (0.08, MY)),
              mix(pal.skin_line, INK, 0.4), 0.022)
        return
    _mouth_smile(c, pal, amount * 0.6, teeth)


def _mouth_o(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    _open_mouth(c, pal, oval(0.0, MY + 0.02, 0.045 + 0.035 * amount, 0.04 + 0.085 * amount, 32), teeth)


def _wavy_line(width: float, y: float, amp: float) -> list[Pt]:
    return [(-width + 2 * width * i / 24, y + amp * math.sin(i / 24 * 4 * math.pi)) for i in range(25)]


def _mouth_wavy(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        stroke(c, _wavy_line(0.12, MY, 0.022), mix(pal.skin_line, INK, 0.4), 0.022)
        return
    top = _wavy_line(0.13, MY - 0.02, 0.02)
    bottom = _wavy_line(0.11, MY + 0.04 + 0.09 * amount, 0.018)[::-1]
    _open_mouth(c, pal, top + bottom, teeth)


def _mouth_smirk(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    if amount <= 0:
        pts = bez((-0.1, MY + 0.01), (-0.02, MY + 0.035), (0.08, MY + 0.02), (0.14, MY - 0.05))
        taper(c, pts, mix(pal.skin_line, INK, 0.4), 0.026, ends=(0.3, 0.1))
        return
    top = bez((-0.08, MY), (0.0, MY + 0.01), (0.08, MY), (0.14, MY - 0.05))
    bottom = bez((0.14, MY - 0.05), (0.1, MY + 0.1 * amount + 0.02), (-0.02, MY + 0.1 * amount), (-0.08, MY))
    _open_mouth(c, pal, top + bottom[1:-1], teeth)


def _mouth_grit(c: Canvas, pal: Palette, amount: float, teeth: bool, droop: float = 0.0) -> None:
    h = 0.06 + 0.1 * amount
    top = bez((-0.17, MY + droop), (-0.09, MY - 0.02), (0.09, MY - 0.02), (0.17, MY + droop))
    low = MY + h
    bottom = bez((0.15, low + droop), (0.07, low - 0.01), (-0.07, low - 0.01), (-0.15, low + droop))
    shape = top + bottom
    line = mix(pal.skin_line, INK, 0.5)
    fill(c, shape, WHITE)
    if amount > 0.5:
        gap = [(-0.2, MY + 0.04), (0.2, MY + 0.04), (0.2, low - 0.04), (-0.2, low - 0.04)]
        clip_fill(c, shape, gap, _MOUTH_IN)
    stroke(c, [(-0.14, MY + h / 2), (0.14, MY + h / 2)], line, 0.012)
    for x in (-0.07, 0.0, 0.07):
        stroke(c, [(x, MY), (x, MY + h)], line, 0.01)
    stroke(c, shape + [shape[0], shape[1]], line, 0.022, caps=False)


def _mouth_grimace(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    _mouth_grit(c, pal, amount, teeth, droop=0.05)


def _mouth_cat(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    line = mix(pal.skin_line, INK, 0.4)
    if amount > 0:
        depth = MY + 0.1 * amount + 0.04
        _open_mouth(c, pal, bez((-0.1, MY), (-0.07, depth), (0.07, depth), (0.1, MY)), teeth)
    for side in (-1, 1):
        pts = bez((side * 0.12, MY - 0.03), (side * 0.1, MY + 0.05), (side * 0.02, MY + 0.05), (0, MY - 0.005))
        taper(c, pts, line, 0.024, ends=(0.4, 0.6))


def _mouth_pout(c: Canvas, pal: Palette, amount: float, teeth: bool) -> None:
    if amount > 0:
        _open_mouth(c, pal, oval(0.04, MY + 0.01, 0.04 + 0.03 * amount, 0.03 + 0.06 * amount, 28), teeth)
        return
    taper(c, bez((-0.02, MY + 0.01), (0.02, MY - 0.01), (0.06, MY - 0.01), (0.09, MY + 0.015)),
          mix(pal.skin_line, INK, 0.4), 0.024)


MOUTHS = {
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
