"""The supersampled canvas: an RGBA image in design-space coordinates, brush strokes and composited layers."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from lib.render.colour import Color
from lib.render.geometry import Pt, bounds


@dataclass
class Canvas:
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


def fill(c: Canvas, pts: Sequence[Pt], color: Color, line: Color | None = None, width: float = 0.02) -> None:
    c.draw.polygon(c.pts(pts), fill=color)
    if line is not None:
        stroke(c, list(pts) + [pts[0], pts[1]], line, width, caps=False)


def stroke(c: Canvas, pts: Sequence[Pt], color: Color, width: float, caps: bool = True) -> None:
    xy = c.pts(pts)
    w = c.px(width)
    c.draw.line(xy, fill=color, width=max(1, round(w)), joint="curve")
    if caps:
        r = w / 2
        for x, y in (xy[0], xy[-1]):
            c.draw.ellipse((x - r, y - r, x + r, y + r), fill=color)


def taper(
    c: Canvas, pts: Sequence[Pt], color: Color, width: float, ends: tuple[float, float] = (0.1, 0.1)
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


@contextmanager
def layer(
    c: Canvas,
    area: tuple[float, float, float, float],
    *,
    clip: Sequence[Pt] | None = None,
    opacity: float = 1.0,
    blur: float = 0.0,
) -> Iterator[Canvas]:
    """Draw on a temporary local layer over `area` (design space), then composite it (clipped, blurred,
    faded) onto `c`."""
    pad = 3 * blur * c.scale
    x0, y0 = c.pt((area[0], area[1]))
    x1, y1 = c.pt((area[2], area[3]))
    bx0, by0 = max(0, math.floor(x0 - pad)), max(0, math.floor(y0 - pad))
    bx1, by1 = min(c.img.width, math.ceil(x1 + pad)), min(c.img.height, math.ceil(y1 + pad))
    empty = bx1 <= bx0 or by1 <= by0
    size = (1, 1) if empty else (bx1 - bx0, by1 - by0)
    sub = Canvas(Image.new("RGBA", size, (0, 0, 0, 0)), c.scale, c.ox - bx0, c.oy - by0)
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


def clip_fill(c: Canvas, clip: Sequence[Pt], pts: Sequence[Pt], color: Color, opacity: float = 1.0) -> None:
    """Fill `pts` only where it overlaps the polygon `clip` (cel shading)."""
    with layer(c, bounds(pts), clip=clip, opacity=opacity) as sub:
        fill(sub, pts, color)


def downsample(img: Image.Image, ss: int) -> Image.Image:
    """Box-reduce a canvas drawn at `ss` times the output size (premultiplied, so edges keep no dark fringe)."""
    if ss == 1:
        return img
    return img.convert("RGBa").reduce(ss).convert("RGBA")
