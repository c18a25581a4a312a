"""Design-space geometry: Bezier paths, ovals, mirroring and small symbol shapes.

Everything is drawn in a design space: head centre at the origin, head half-width ~1, y down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Pt = tuple[float, float]

# Design-space frame of the figure (x0, y0, x1, y1) and of the face box.
FRAME = (-1.8, -1.7, 1.8, 2.3)
FACE = (-1.04, -0.92, 1.04, 1.1)


def bez(p0: Pt, p1: Pt, p2: Pt, p3: Pt, n: int = 18) -> list[Pt]:
    """Points along a cubic Bezier curve, both ends included."""
    out = []
    for i in range(n + 1):
        t = i / n
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def path(start: Pt, *segments: tuple[Pt, Pt, Pt]) -> list[Pt]:
    """A poly-Bezier: each segment is (control1, control2, end)."""
    pts = [start]
    for c1, c2, end in segments:
        pts += bez(pts[-1], c1, c2, end)[1:]
    return pts


def _mirror(pts: Sequence[Pt]) -> list[Pt]:
    return [(-x, y) for x, y in pts]


def symmetric(right: Sequence[Pt]) -> list[Pt]:
    """Close a right half (top to bottom, on x=0 at both ends) with its mirror image."""
    return list(right) + _mirror(right)[::-1][1:-1]


def oval(cx: float, cy: float, rx: float, ry: float, n: int = 48) -> list[Pt]:
    return [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n)]


def shift(pts: Sequence[Pt], dx: float, dy: float) -> list[Pt]:
    return [(x + dx, y + dy) for x, y in pts]


def local(pts: Sequence[Pt], cx: float, cy: float, side: int, k: float = 1.0) -> list[Pt]:
    """Map eye/brow-local points (u outward from the nose) to design space for one side."""
    return [(side * (cx + u * k), cy + v * k) for u, v in pts]


def bounds(pts: Sequence[Pt]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def heart(cx: float, cy: float, r: float) -> list[Pt]:
    """A heart of half-width `r` around (cx, cy)."""
    pts = []
    for i in range(40):
        t = 2 * math.pi * i / 40
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((cx + x / 16 * r, cy - y / 16 * r))
    return pts


def star(cx: float, cy: float, r: float) -> list[Pt]:
    """A four-pointed sparkle of radius `r` around (cx, cy)."""
    pts = []
    for i in range(8):
        a = math.pi / 4 * i - math.pi / 2
        k = r if i % 2 == 0 else r * 0.28
        pts.append((cx + k * math.cos(a), cy + k * math.sin(a)))
    return pts
