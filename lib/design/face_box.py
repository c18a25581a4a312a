"""The face box: where a character's face is in its base picture, the one region expressions may change.

One type and one validator for every user of it (the Characters page, the CLI, the renderer, alignment,
paste-back and the score), so a box that one of them accepts is never refused later by another. Beside it:
where a box came from (`FaceSource`) and where the eyes and mouth are inside it (`FacePoints`).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any, Literal, NamedTuple, get_args

from lib.core.errors import InvalidInput

MIN_SIDE = 16  # px; smaller boxes cannot hold eyes and a mouth to redraw


class FaceBox(NamedTuple):
    """(x, y, width, height) in whole pixels of the base picture, from the brow line to the chin."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def checked(cls, box: Sequence[int], size: tuple[int, int]) -> FaceBox:
        """The box as a FaceBox when it is four whole numbers, at least MIN_SIDE px a side, inside `size`."""
        if len(box) != 4 or not all(isinstance(v, Integral) for v in box):
            raise InvalidInput(f"the face box must be x, y, width, height in whole pixels, not {tuple(box)}")
        x, y, w, h = (int(v) for v in box)
        width, height = size
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise InvalidInput(f"face box {x},{y},{w},{h} does not fit inside the {width}×{height} base")
        if w < MIN_SIDE or h < MIN_SIDE:
            raise InvalidInput(f"face box {x},{y},{w},{h} is too small: at least {MIN_SIDE}×{MIN_SIDE} px")
        return cls(x, y, w, h)

    @classmethod
    def parse(cls, text: str) -> FaceBox:
        """A box written as "x,y,w,h" (the CLI's form); `checked` against the picture where it is used."""
        try:
            x, y, w, h = (int(v) for v in text.split(","))
        except ValueError:
            raise InvalidInput(f"give the face box as x,y,w,h in whole pixels, not {text!r}") from None
        return cls(x, y, w, h)

    @property
    def corners(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), as Pillow's crop and paste take a box."""
        return self.x, self.y, self.x + self.w, self.y + self.h


FaceSource = Literal["detected", "estimated", "drawn", "user"]
FACE_SOURCES: tuple[str, ...] = get_args(FaceSource)
UNSURE_SOURCES = frozenset({"estimated"})  # a person confirms these boxes before the first batch

Point = tuple[int, int]


class FacePoints(NamedTuple):
    """Where the eyes and the mouth are, in whole pixels of the base (`left_eye` is the picture's left)."""

    left_eye: Point
    right_eye: Point
    mouth: Point

    @classmethod
    def from_json(cls, data: Any) -> FacePoints | None:
        """Points as stored ({"left_eye": [x, y], ...}); None for a missing or malformed value."""
        try:
            return cls(*(tuple(int(v) for v in data[k][:2]) for k in ("left_eye", "right_eye", "mouth")))
        except (KeyError, TypeError, ValueError, IndexError):
            return None

    def to_json(self) -> dict[str, list[int]]:
        return {"left_eye": list(self.left_eye), "right_eye": list(self.right_eye), "mouth": list(self.mouth)}

    def inside(self, box: FaceBox) -> bool:
        x0, y0, x1, y1 = box.corners
        return all(x0 <= x < x1 and y0 <= y < y1 for x, y in self)


def proportional_points(box: FaceBox) -> FacePoints:
    """Eyes and mouth where they usually sit in a face box of this studio (brows to chin), for boxes
    nobody measured: eyes at 40 % of the height, 26 % in from each side; the mouth at 72 %."""
    x, y, w, h = box
    eye_y = y + round(0.40 * h)
    return FacePoints((x + round(0.26 * w), eye_y), (x + round(0.74 * w), eye_y), (x + w // 2, y + round(0.72 * h)))
