"""Cues around the features: blush, tears, sweat, and marks such as anger veins, sparkles, hearts and gloom."""

from __future__ import annotations

from lib.render.canvas import Canvas, fill, layer, stroke, taper
from lib.render.colour import WHITE
from lib.render.face import Face
from lib.render.geometry import Pt, bez, heart, oval, path, shift, star


def _drop(cx: float, cy: float, r: float, up: bool = True) -> list[Pt]:
    """A teardrop with its point up (sweat) or down."""
    s = -1 if up else 1
    right = path(
        (cx, cy + s * 2.0 * r),
        ((cx + 0.3 * r, cy + s * 1.2 * r), (cx + r, cy + s * 0.5 * r), (cx + r, cy)),
        ((cx + r, cy - s * 0.6 * r), (cx + 0.5 * r, cy - s * r), (cx, cy - s * r)),
    )
    return right + [(2 * cx - x, y) for x, y in right[::-1][1:-1]]


def draw_blush(c: Canvas, level: int) -> None:
    k = 1.0 if level == 1 else 1.3
    with layer(c, (-0.85, 0.3, 0.85, 0.7), opacity=0.45 + 0.15 * level, blur=0.035) as sub:
        for side in (-1, 1):
            fill(sub, oval(side * 0.56, 0.5, 0.17 * k, 0.075 * k), (255, 108, 128, 255))
    if level >= 2:
        for side in (-1, 1):
            for i in range(3):
                x = side * 0.56 + (i - 1) * 0.08
                taper(c, [(x + 0.03, 0.45), (x - 0.02, 0.55)], (225, 80, 100, 255), 0.018)


def draw_tears(c: Canvas, level: int) -> None:
    water, line = (180, 222, 255, 255), (90, 150, 215, 255)
    if level == 1:
        fill(c, _drop(0.5, 0.58, 0.045, up=True), water, line, 0.012)
        return
    for side in (-1, 1):
        stream = bez((side * 0.36, 0.42), (side * 0.34, 0.6), (side * 0.5, 0.72), (side * 0.46, 1.05), 16)
        with layer(c, (side * 0.2, 0.38, side * 0.7, 1.1) if side > 0 else (-0.7, 0.38, -0.2, 1.1),
                   opacity=0.9) as sub:
            taper(sub, stream, line, 0.1, ends=(0.5, 1.0))
            taper(sub, stream, water, 0.07, ends=(0.4, 1.0))
            taper(sub, shift(stream[2:12], -side * 0.012, 0), WHITE, 0.018)
        fill(c, _drop(side * 0.6, 0.96, 0.035, up=True), water, line, 0.01)


def draw_sweat(c: Canvas, level: int) -> None:
    spots = [(0.84, -0.46, 0.07), (-0.86, -0.25, 0.05), (0.9, 0.06, 0.035)][: 1 + 2 * (level > 1)]
    for x, y, r in spots:
        fill(c, _drop(x, y, r), (190, 228, 255, 255), (80, 140, 210, 255), 0.014)
        fill(c, oval(x - r * 0.35, y + r * 0.1, r * 0.18, r * 0.3, 16), WHITE)


def _draw_anger(c: Canvas, cx: float, cy: float, r: float) -> None:
    for sx in (-1, 1):
        for sy in (-1, 1):
            pts = bez((cx + sx * 0.25 * r, cy + sy * r), (cx + sx * 0.3 * r, cy + sy * 0.4 * r),
                      (cx + sx * 0.4 * r, cy + sy * 0.3 * r), (cx + sx * r, cy + sy * 0.25 * r), 12)
            taper(c, pts, (150, 20, 40, 255), 0.32 * r, ends=(0.7, 0.7))
            taper(c, pts, (235, 50, 70, 255), 0.2 * r, ends=(0.6, 0.6))


def _draw_question(c: Canvas, cx: float, cy: float, r: float) -> None:
    pts = path((cx - 0.7 * r, cy - 0.5 * r), ((cx - 0.6 * r, cy - 1.2 * r), (cx + 0.8 * r, cy - 1.2 * r),
                                              (cx + 0.6 * r, cy - 0.4 * r)),
               ((cx + 0.45 * r, cy), (cx, cy), (cx, cy + 0.45 * r)))
    stroke(c, pts, (60, 80, 170, 255), 0.32 * r)
    fill(c, oval(cx, cy + 0.85 * r, 0.17 * r, 0.17 * r, 16), (60, 80, 170, 255))


def _draw_exclaim(c: Canvas, cx: float, cy: float, r: float) -> None:
    fill(c, [(cx - 0.22 * r, cy - 1.1 * r), (cx + 0.22 * r, cy - 1.1 * r), (cx + 0.06 * r, cy + 0.4 * r),
             (cx - 0.06 * r, cy + 0.4 * r)], (220, 60, 60, 255), (140, 20, 30, 255), 0.012)
    fill(c, oval(cx, cy + 0.78 * r, 0.17 * r, 0.17 * r, 16), (220, 60, 60, 255), (140, 20, 30, 255), 0.012)


def draw_gloom(c: Canvas) -> None:
    """Anime "gloom": a soft shadow and hanging vertical lines over the forehead."""
    with layer(c, (-0.9, -0.7, 0.9, 0.2), opacity=0.35, blur=0.06) as sub:
        fill(sub, oval(0.0, -0.42, 0.62, 0.26), (60, 50, 130, 255))
    with layer(c, (-0.7, -0.9, 0.7, 0.2), opacity=0.7) as sub:
        for i in range(11):
            x = -0.5 + i * 0.1
            end = -0.12 + 0.1 * ((i * 7) % 3) - 0.12 * abs(x)
            taper(sub, [(x, -0.86), (x, (end - 0.86) / 2), (x, end)], (50, 40, 115, 255), 0.024, ends=(1.0, 0.0))


def _draw_zzz(c: Canvas) -> None:
    for x, y, r in ((0.62, -0.5, 0.06), (0.76, -0.66, 0.08), (0.9, -0.84, 0.05)):
        stroke(c, [(x - r, y - r), (x + r, y - r), (x - r, y + r), (x + r, y + r)], (90, 110, 190, 255), 0.022)


def draw_marks(c: Canvas, marks: tuple[str, ...]) -> None:
    gold, outline = (255, 246, 180, 255), (205, 125, 20, 255)
    pink, pink_line = (255, 110, 160, 255), (200, 50, 110, 255)
    actions = {
        "anger": lambda: _draw_anger(c, 0.64, -0.66, 0.16),
        "anger2": lambda: _draw_anger(c, -0.78, -0.6, 0.12),
        "sparkles": lambda: [fill(c, star(x, y, r), gold, outline, 0.018)
                             for x, y, r in ((-0.84, -0.64, 0.13), (0.86, -0.2, 0.1), (-0.88, 0.42, 0.08))],
        "sparkle": lambda: fill(c, star(0.82, -0.62, 0.13), gold, outline, 0.018),
        "hearts": lambda: [fill(c, heart(x, y, r), pink, pink_line, 0.014)
                           for x, y, r in ((0.82, -0.6, 0.12), (-0.86, -0.3, 0.09), (0.9, 0.28, 0.07))],
        "heart": lambda: fill(c, heart(0.82, -0.6, 0.1), pink, pink_line, 0.014),
        "question": lambda: _draw_question(c, -0.8, -0.56, 0.14),
        "exclaim": lambda: _draw_exclaim(c, 0.82, -0.62, 0.16),
        "gloom": lambda: draw_gloom(c),
        "zzz": lambda: _draw_zzz(c),
    }
    for mark in marks:
        actions[mark]()


def draw_cues_under(c: Canvas, face: Face) -> None:
    """The cues drawn before the eyes and mouth: gloom and blush."""
    if "gloom" in face.marks:
        draw_gloom(c)
    if face.blush:
        draw_blush(c, face.blush)


def draw_cues_over(c: Canvas, face: Face) -> None:
    """The cues drawn after the eyes and mouth: tears, sweat and the other marks."""
    if face.tears:
        draw_tears(c, face.tears)
    if face.sweat:
        draw_sweat(c, face.sweat)
    draw_marks(c, tuple(m for m in face.marks if m != "gloom"))
