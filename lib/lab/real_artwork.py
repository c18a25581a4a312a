"""The real-artwork calibration set: artists' own expression differences and identity changes made from them.

Reads the artist-made sprites in `../shared/real-dev/` (never part of the project; see its SOURCE.md).
Positives are the artists' differences of one character (TyranoScript: normal → angry, doki, happy, sad,
tohoho; WebGAL: open eyes → closed eyes as a blink, → open and half-open mouth as mouth-open), as the
artist drew them and as an image model might hand them back (`calibration.mild_drift` drift). Negatives are
made in code from those positives: another iris colour, a fringe cut, a hat over the brow, glasses added
or removed, another character's face in the box; plus variants judged as the other variant, the base
handed back unchanged, and another character's whole picture.

Face boxes and eye/mouth boxes were measured by hand on the pictures (base pixels). With `faces="detected"`
the cases are scored on what the studio's face finder reports for the base sprite instead (`find_face`, then
`FaceParts.from_points`, as an upload gets them; for "glasses removed", on the base wearing the glasses);
the identity changes are still drawn where the hand-measured eyes and face are, since they stand for what a
model really changed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, get_args

import cv2
import numpy as np
from PIL import Image, ImageDraw

from lib.consistency.face_finder import find_face
from lib.consistency.face_parts import FaceParts
from lib.design.face_box import FaceBox
from lib.lab.calibration import Case, apply_drift, mild_drift

# The project's sibling folder `shared/real-dev` (present on developer machines and in CI).
REAL_DEV = Path(__file__).resolve().parents[2].parent / "shared" / "real-dev"


@dataclass(frozen=True)
class Sprite:
    """A character's base sprite with its hand-measured face and the artist's differences of it."""

    name: str
    base: str
    face_box: FaceBox
    parts: FaceParts
    differences: tuple[tuple[str, str | None, str | None], ...]  # (file, expression asked, variant asked)


_WEBGAL_PARTS = FaceParts(left_eye=(212, 153, 50, 46), right_eye=(290, 140, 54, 48), mouth=(262, 204, 42, 28))
SPRITES = (
    Sprite("akane", "tyrano/akane_normal.png", FaceBox(140, 128, 145, 120),
           FaceParts(left_eye=(145, 153, 44, 48), right_eye=(222, 150, 57, 50), mouth=(196, 208, 42, 26)),
           (("tyrano/akane_angry.png", "angry", None), ("tyrano/akane_doki.png", "surprised", None),
            ("tyrano/akane_happy.png", "happy", None), ("tyrano/akane_sad.png", "sad", None))),
    Sprite("yamato", "tyrano/yamato_normal.png", FaceBox(132, 150, 132, 120),
           FaceParts(left_eye=(132, 170, 44, 38), right_eye=(208, 165, 46, 38), mouth=(180, 226, 42, 26)),
           (("tyrano/yamato_angry.png", "angry", None), ("tyrano/yamato_happy.png", "happy", None),
            ("tyrano/yamato_sad.png", "sad", None), ("tyrano/yamato_tohoho.png", "worried", None))),
    Sprite("webgal1", "webgal/outfit1_open_eyes.png", FaceBox(206, 130, 144, 117), _WEBGAL_PARTS,
           (("webgal/outfit1_closed_eyes.png", None, "blink"), ("webgal/outfit1_open_mouth.png", None, "mouth_open"),
            ("webgal/outfit1_halfopen_mouth.png", None, "mouth_open"))),
    Sprite("webgal2", "webgal/outfit2_open_eyes.png", FaceBox(206, 130, 144, 117), _WEBGAL_PARTS,
           (("webgal/outfit2_closed_eyes.png", None, "blink"), ("webgal/outfit2_open_mouth.png", None, "mouth_open"),
            ("webgal/outfit2_halfopen_mouth.png", None, "mouth_open"))),
)
Faces = Literal["hand", "detected"]
FACES: tuple[Faces, ...] = get_args(Faces)
_OTHER = {"akane": "yamato", "yamato": "akane", "webgal1": "akane", "webgal2": "yamato"}
_SWAPPED = {"blink": "mouth_open", "mouth_open": "blink"}


def load(root: Path, name: str) -> Image.Image:
    with Image.open(root / name) as image:
        return image.convert("RGBA")


# ---------------------------------------------------------------- identity changes, drawn in code


def _hsv(arr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2HSV_FULL)


def iris_hue_of(base: Image.Image, parts: FaceParts) -> int:
    """The most common hue (0-255) of the saturated, not-too-light pixels in the base's eye boxes."""
    arr = np.asarray(base)
    hues = []
    for x, y, w, h in (parts.left_eye, parts.right_eye):
        patch = _hsv(arr[y : y + h, x : x + w])
        hues.append(patch[..., 0][(patch[..., 1] > 90) & (patch[..., 2] < 235)])
    return int(np.argmax(np.bincount(np.concatenate(hues) // 8, minlength=32))) * 8 + 4


def iris_colour(image: Image.Image, parts: FaceParts, *, iris_hue: int, turn: int = 110) -> Image.Image:
    """The irises recoloured: pixels of the iris hue (saturated, not too light) in the eye boxes turned
    `turn` degrees; unchanged when the eyes show too little iris to recolour (closed eyes)."""
    arr = np.asarray(image).copy()
    hsv = _hsv(arr)
    touched = 0
    for x, y, w, h in (parts.left_eye, parts.right_eye):
        patch = hsv[y : y + h, x : x + w].astype(np.int32)
        near = np.abs((patch[..., 0] - iris_hue + 128) % 256 - 128) < 20
        iris = near & (patch[..., 1] > 90) & (patch[..., 2] < 235) & (arr[y : y + h, x : x + w, 3] > 200)
        if iris.mean() < 0.05:
            continue
        touched += 1
        patch[..., 0] = np.where(iris, (patch[..., 0] + turn * 256 // 360) % 256, patch[..., 0])
        patch[..., 1] = np.where(iris, np.maximum(patch[..., 1], 150), patch[..., 1])
        arr[y : y + h, x : x + w, :3] = cv2.cvtColor(patch.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
    return Image.fromarray(arr, "RGBA") if touched else image


def _skin_colour(arr: np.ndarray, parts: FaceParts) -> np.ndarray:
    x, y, w, h = parts.left_eye
    cheek = arr[y + h : y + h + h // 2, x : x + w, :3].reshape(-1, 3)
    return np.median(cheek, axis=0).astype(np.uint8)


def fringe_cut(image: Image.Image, box: FaceBox, parts: FaceParts) -> Image.Image:
    """The fringe cut back: hair over the forehead and between the eyes (inside the box, down to the eyes'
    middle, never inside the eye boxes) painted as skin."""
    arr = np.asarray(image).copy()
    skin = _skin_colour(arr, parts)
    (lx, ly, lw, lh), (rx, ry, rw, rh) = parts.left_eye, parts.right_eye
    top, bottom = box.y, max(ly + lh // 2, ry + rh // 2)
    x0, x1 = min(lx, rx), max(lx + lw, rx + rw)
    keep = np.zeros(arr.shape[:2], bool)
    for x, y, w, h in (parts.left_eye, parts.right_eye):
        keep[y : y + h, x : x + w] = True
    hair = np.linalg.norm(arr[..., :3].astype(np.float32) - skin.astype(np.float32), axis=2) > 25
    cut = np.zeros_like(keep)
    cut[top:bottom, x0:x1] = True
    arr[cut & hair & ~keep & (arr[..., 3] > 0)] = (*skin, 255)
    return Image.fromarray(arr, "RGBA")


def hat(image: Image.Image, box: FaceBox, parts: FaceParts) -> Image.Image:
    """A hat pulled down over the brow: its crown and brim cover the box's top down to just above the eyes."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    brim = min(parts.left_eye[1], parts.right_eye[1]) - max(2, box.h // 20)
    draw.rectangle((box.x + box.w // 10, box.y - box.h // 2, box.x + box.w - box.w // 10, brim),
                   fill=(120, 40, 50, 255))
    draw.ellipse((box.x - box.w // 6, brim - box.h // 12, box.x + box.w + box.w // 6, brim + box.h // 20),
                 fill=(95, 30, 40, 255), outline=(40, 20, 20, 255), width=max(1, box.w // 60))
    return out


def glasses(image: Image.Image, box: FaceBox, parts: FaceParts) -> Image.Image:
    """Thin round-cornered glasses around both eye boxes, with a bridge and temples to the box's sides."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    width = max(2, box.w // 45)
    colour = (45, 35, 40, 255)
    rims = []
    for x, y, w, h in (parts.left_eye, parts.right_eye):
        rim = (x - w // 10, y - h // 10, x + w + w // 10, y + h + h // 10)
        draw.rounded_rectangle(rim, radius=max(2, h // 3), outline=colour, width=width)
        rims.append(rim)
    (lx0, ly0, lx1, ly1), (rx0, ry0, rx1, ry1) = rims
    mid = (ly0 + ly1) // 2
    draw.line((lx1, mid, rx0, (ry0 + ry1) // 2), fill=colour, width=width)
    draw.line((box.x, ly0 + (ly1 - ly0) // 3, lx0, ly0 + (ly1 - ly0) // 3), fill=colour, width=width)
    draw.line((rx1, ry0 + (ry1 - ry0) // 3, box.x + box.w, ry0 + (ry1 - ry0) // 3), fill=colour, width=width)
    return out


def other_face(image: Image.Image, box: FaceBox, donor: Image.Image, donor_box: FaceBox) -> Image.Image:
    """Another character's face (its face box, scaled) in place of this one's."""
    face = donor.crop(donor_box.corners).resize((box.w, box.h), Image.Resampling.LANCZOS)
    out = image.copy()
    out.alpha_composite(face, (box.x, box.y))
    return out


# ---------------------------------------------------------------- the set


def _case(label: bool, kind: str, sprite: Sprite, base: Image.Image, result: Image.Image, index: int,
          expression: str | None, variant: str | None) -> Case:
    """A case scored with `sprite`'s face box and parts (hand-measured or found)."""
    return Case(label, kind, base, result, sprite.face_box, 100 + index, expression=expression, variant=variant,
                parts=sprite.parts)


def detected(sprite: Sprite, base: Image.Image) -> Sprite:
    """`sprite` with the face box, eyes and mouth the face finder reports on its base, as on an upload."""
    found = find_face(base)
    return replace(sprite, face_box=found.box, parts=FaceParts.from_points(found.box, *found.points))


def build_real_set(root: Path = REAL_DEV, *, seed: int = 5, drift: bool = True, faces: Faces = "hand") -> list[Case]:
    """Positives and negatives from the real sprites under `root`; with `drift`, model-like copies too.
    `faces` says whose face box, eyes and mouth the score is given: measured by hand, or the face finder's."""
    if faces not in FACES:
        raise ValueError(f"faces must be one of {FACES}, not {faces!r}")
    rng = random.Random(seed)
    bases = {s.name: load(root, s.base) for s in SPRITES}
    scored_as = {s.name: detected(s, bases[s.name]) if faces == "detected" else s for s in SPRITES}
    glasses_bases: dict[str, Image.Image] = {}
    by_name = {s.name: s for s in SPRITES}
    cases: list[Case] = []
    for index, sprite in enumerate(SPRITES):
        judged = scored_as[sprite.name]  # the face box and parts the score is given
        base = bases[sprite.name]
        box, parts = sprite.face_box, sprite.parts
        donor = by_name[_OTHER[sprite.name]]
        for file, expression, variant in sprite.differences:
            art = load(root, file)
            kind = "real_variant" if variant else "real_expression"
            cases.append(_case(True, kind, judged, base, art, index, expression, variant))
            if drift:
                cases.append(_case(True, kind + "_drift", judged, base, apply_drift(art, mild_drift(rng), seed=index),
                                   index, expression, variant))
            if variant:
                cases.append(_case(False, "real_variant_swapped", judged, base, art, index, None, _SWAPPED[variant]))
            changes = {
                "real_iris_colour": iris_colour(art, parts, iris_hue=iris_hue_of(base, parts)),
                "real_fringe_cut": fringe_cut(art, box, parts),
                "real_hat": hat(art, box, parts),
                "real_glasses_added": glasses(art, box, parts),
                "real_other_face": other_face(art, box, bases[donor.name], donor.face_box),
            }
            for change, changed in changes.items():
                if changed is art:
                    continue  # e.g. no iris to recolour in closed eyes
                cases.append(_case(False, change, judged, base, changed, index, expression, variant))
            with_glasses = glasses_bases.setdefault(sprite.name, glasses(base, box, parts))
            # an upload with glasses: the face finder runs on that base
            on = detected(sprite, with_glasses) if faces == "detected" else sprite
            cases.append(_case(False, "real_glasses_removed", on, with_glasses, art, index, expression, variant))
        for asked in ("happy", "blink", "mouth_open"):
            expression, variant = (asked, None) if asked == "happy" else (None, asked)
            cases.append(_case(False, "real_unchanged", judged, base, base.copy(), index, expression, variant))
    akane, yamato = scored_as["akane"], scored_as["yamato"]
    cases.append(_case(False, "real_other_picture", akane, bases["akane"], load(root, "tyrano/yamato_happy.png"),
                       0, "happy", None))
    cases.append(_case(False, "real_other_picture", yamato, bases["yamato"], load(root, "tyrano/akane_happy.png"),
                       1, "happy", None))
    return cases
