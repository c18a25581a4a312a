"""Accessories: cat ears behind the head, hat, ribbon, hairclip, earrings and choker on top, glasses over the eyes."""

from __future__ import annotations

from lib.render.canvas import Canvas, clip_fill, fill, layer, stroke
from lib.render.colour import INK, Color, Palette, mix
from lib.render.geometry import bez, bounds, oval, path


def _draw_cat_ears(c: Canvas, pal: Palette) -> None:
    for side in (-1, 1):
        ear = [(side * 0.3, -1.1), (side * 0.9, -1.62), (side * 0.95, -0.78)]
        fill(c, ear, pal.hair, pal.hair_line, 0.024)
        inner = [(side * 0.45, -1.08), (side * 0.86, -1.45), (side * 0.86, -0.95)]
        fill(c, inner, (250, 180, 190, 255))


def _draw_hat(c: Canvas, pal: Palette) -> None:
    beret = oval(0.12, -1.08, 1.0, 0.34, 60)
    beret = [(x, y + 0.1 * x) for x, y in beret]
    color = mix(pal.cloth, pal.accent, 0.35)
    fill(c, beret, color, mix(color, INK, 0.7), 0.024)
    clip_fill(c, beret, [(-1.2, -1.0), (1.3, -0.9), (1.3, -0.6), (-1.2, -0.6)], mix(color, INK, 0.25))
    fill(c, oval(0.1, -1.44, 0.07, 0.06, 20), color, mix(color, INK, 0.7), 0.02)


def _draw_ribbon(c: Canvas, pal: Palette) -> None:
    line = mix(pal.accent, INK, 0.6)
    cx, cy = -0.62, -1.04
    for side in (-1, 1):
        loop = path(
            (cx, cy), ((cx + side * 0.12, cy - 0.35), (cx + side * 0.42, cy - 0.12), (cx + side * 0.34, cy + 0.1))
        )
        fill(c, loop + [(cx, cy)], pal.accent, line, 0.02)
        fill(c, [(cx, cy), (cx + side * 0.16, cy + 0.34), (cx + side * 0.05, cy + 0.3)], pal.accent, line, 0.018)
    fill(c, oval(cx, cy, 0.06, 0.07, 20), mix(pal.accent, INK, 0.15), line, 0.018)


def _draw_hairclip(c: Canvas, pal: Palette) -> None:
    gold: Color = (246, 200, 80, 255)
    for dy in (0.0, 0.1):
        fill(c, [(-0.74, -0.5 + dy), (-0.44, -0.58 + dy), (-0.43, -0.54 + dy), (-0.73, -0.46 + dy)], gold,
             (150, 100, 30, 255), 0.014)


def _draw_earrings(c: Canvas, pal: Palette) -> None:
    for side in (-1, 1):
        stroke(c, [(side * 0.97, 0.3), (side * 0.97, 0.42)], (200, 150, 50, 255), 0.015)
        fill(c, oval(side * 0.97, 0.47, 0.045, 0.05, 20), (246, 200, 80, 255), (150, 100, 30, 255), 0.012)


def _draw_choker(c: Canvas, pal: Palette) -> None:
    band = [(-0.28, 1.02), (0.28, 1.02), (0.29, 1.12), (-0.29, 1.12)]
    fill(c, band, (40, 34, 48, 255), INK, 0.012)
    fill(c, oval(0.0, 1.17, 0.04, 0.05, 20), pal.accent, INK, 0.012)


def draw_glasses(c: Canvas, pal: Palette) -> None:
    frame: Color = (60, 45, 60, 255)
    for side in (-1, 1):
        lens = oval(side * 0.42, 0.22, 0.3, 0.23, 48)
        with layer(c, bounds(lens), opacity=0.18) as sub:
            fill(sub, lens, (190, 220, 255, 255))
        stroke(c, lens + [lens[0]], frame, 0.026, caps=False)
        stroke(c, [(side * 0.72, 0.16), (side * 0.98, 0.1)], frame, 0.024)
    stroke(c, bez((-0.13, 0.16), (-0.06, 0.1), (0.06, 0.1), (0.13, 0.16), 8), frame, 0.024)


# Accessory name -> its drawing, behind the head or on top of the finished figure.
BEHIND = {"cat_ears": _draw_cat_ears}
ON_TOP = {
    "choker": _draw_choker,
    "earrings": _draw_earrings,
    "hairclip": _draw_hairclip,
    "hair_ribbon": _draw_ribbon,
    "hat": _draw_hat,
}
