"""Face finding, colours and offline previews on real artist-made sprites (read from ../shared/real-dev/)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lib.consistency.face_finder import find_face
from lib.consistency.picture_features import read_features
from lib.design import expressions
from lib.render.preview import edit_face

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-dev"
ANIME = sorted(p for folder in ("tyrano", "webgal") for p in (REAL / folder).glob("*.png"))
EMOJI = sorted((REAL / "sillytavern").glob("*.png"))
# Frames of one character drawn pixel-aligned by the artist: where they differ is where the face changes.
ALIGNED = {"tyrano/akane": ("normal", "doki", "sad"),
           "webgal/outfit2": ("open_eyes", "closed_eyes", "halfopen_mouth", "open_mouth")}


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGBA")


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 60
    return cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0


def test_the_set_is_there() -> None:
    assert len(ANIME) == 18 and len(EMOJI) == 28, "../shared/real-dev/ is incomplete"


@pytest.mark.parametrize("group", sorted(ALIGNED))
def test_the_box_holds_everything_the_artist_changed_between_expressions(group: str) -> None:
    names = ALIGNED[group]
    frames = {n: np.asarray(_open(REAL / f"{group}_{n}.png")) for n in names}
    h, w = (min(f.shape[i] for f in frames.values()) for i in (0, 1))
    for name in names:
        changed = np.logical_or.reduce([_changed(frames[name][:h, :w], frames[o][:h, :w]) for o in names if o != name])
        ys, xs = np.nonzero(changed)
        x0, x1 = np.percentile(xs, [1, 99])
        y0, y1 = np.percentile(ys, [1, 99])
        found = find_face(_open(REAL / f"{group}_{name}.png"))
        bx0, by0, bx1, by1 = found.box.corners
        assert found.source == "detected" and not found.unsure, (name, found.reason)
        assert bx0 <= x0 and by0 <= y0 and bx1 >= x1 and by1 >= y1, (name, found.box, (x0, y0, x1, y1))
        assert found.box.w * found.box.h < 4 * (x1 - x0) * (y1 - y0), (name, "the box is far larger than the face")


@pytest.mark.parametrize("path", ANIME, ids=lambda p: p.stem)
def test_every_anime_sprite_gets_one_detected_face_with_eyes_above_the_mouth(path: Path) -> None:
    image = _open(path)
    found = find_face(image)
    assert found.source == "detected" and found.faces == 1
    (lx, ly), (rx, ry), (mx, my) = found.points
    assert found.points.inside(found.box) and lx < mx < rx and my > max(ly, ry)
    _, y, w, h = found.box
    assert 0.15 < w / image.width < 0.6 and 0.6 < h / w < 1.2  # a face, not a figure nor a strip
    assert y + h < 0.6 * image.height  # the face is in the upper figure, not on the skirt


def test_pictures_without_an_anime_face_are_marked_unsure_with_a_reason() -> None:
    for path in EMOJI:
        found = find_face(_open(path))
        assert found.unsure and found.reason, path.stem
        assert found.points.inside(found.box)


def test_colours_are_read_for_every_real_sprite() -> None:
    for path in ANIME:
        image = _open(path)
        features = read_features(image, find_face(image))
        assert {"hair_color", "skin_tone", "outfit_color"} <= features.given(), path.stem
        r, g, b = (int(features.skin_tone[i : i + 2], 16) for i in (1, 3, 5))
        assert r > 200 and r >= g >= b - 10, (path.stem, features.skin_tone)  # light warm skin on all of them
    pink = read_features(img := _open(REAL / "webgal" / "outfit1_open_eyes.png"), find_face(img)).hair_color
    r, g, b = (int(pink[i : i + 2], 16) for i in (1, 3, 5))
    assert r > g + 40 and r > b + 40, pink  # her hair is pink


@pytest.mark.parametrize("key", ["happy", "angry", "sad", "surprised"])
def test_previews_on_uploads_replace_the_mouth_inside_the_face_only(key: str) -> None:
    base = _open(REAL / "tyrano" / "akane_normal.png")
    found = find_face(base)
    out = edit_face(base, box=found.box, expression=expressions.get(key), points=found.points)
    a, b = np.asarray(base), np.asarray(out)
    x0, y0, x1, y1 = found.box.corners
    outside = np.ones(a.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(a[outside], b[outside]) and np.array_equal(a[..., 3], b[..., 3])
    mx, my = found.points.mouth
    d = found.points.right_eye[0] - found.points.left_eye[0]
    around_mouth = (slice(my - d // 6, my + d // 6), slice(mx - d // 4, mx + d // 4))
    assert _changed(a[around_mouth], b[around_mouth]).mean() > 0.01  # the old mouth is gone or redrawn
    below = (slice(my + d // 3, y1), slice(x0, x1))
    assert _changed(a[below], b[below]).mean() < 0.05  # no second mouth further down the face


def test_a_blink_preview_closes_the_eyes_where_they_are() -> None:
    base = _open(REAL / "webgal" / "outfit2_open_eyes.png")
    found = find_face(base)
    out = np.asarray(edit_face(base, box=found.box, expression=expressions.get("neutral"), variant="blink",
                               points=found.points))
    r = (found.points.right_eye[0] - found.points.left_eye[0]) // 4
    for ex, ey in found.points[:2]:
        def blue(a: np.ndarray, ex: int = ex, ey: int = ey) -> int:
            patch = a[ey - r : ey + r, ex - r : ex + r, :3].astype(int)
            return int((patch[..., 2] > patch[..., 0] + 30).sum())
        assert blue(np.asarray(base)) > 100 and blue(out) < 0.1 * blue(np.asarray(base)), (ex, ey)  # irises gone


@pytest.mark.parametrize("picture", [
    Image.new("RGBA", (16, 16), (255, 0, 0, 255)), Image.new("RGB", (16, 64), "white"),
    Image.new("RGB", (64, 16), "black"), Image.new("RGBA", (100, 100), (0, 0, 0, 0)), Image.new("L", (80, 120), 128),
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 200, 4), dtype=np.uint8)),
], ids=["speck", "strip", "band", "transparent", "grey", "noise"])
def test_pictures_without_any_face_get_a_valid_unsure_box(picture: Image.Image) -> None:
    from lib.design.face_box import FaceBox

    found = find_face(picture)
    assert found.unsure and found.reason and found.faces == 0
    assert FaceBox.checked(found.box, picture.size) == found.box and found.points.inside(found.box)
    read_features(picture.convert("RGBA"), found)  # reads what it can, never fails


def test_sessions_finding_faces_at_the_same_time_get_the_same_answers() -> None:
    from concurrent.futures import ThreadPoolExecutor

    pictures = [_open(p) for p in ANIME[::3]]
    alone = [find_face(p) for p in pictures]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(find_face, pictures * 2))
    assert together == alone * 2


def test_the_contact_sheet_command_draws_one_row_per_picture(tmp_path: Path) -> None:
    from devtools.__main__ import main

    folder = tmp_path / "two"
    folder.mkdir()
    for path in ANIME[:2]:
        (folder / path.name).write_bytes(path.read_bytes())  # a copy in the test's own temporary folder
    assert main(["face-sheet", str(tmp_path / "out"), str(folder)]) == 0
    with Image.open(tmp_path / "out" / "faces_two.png") as sheet:
        assert sheet.width == 6 * 150 and sheet.height % 2 == 0 and sheet.height // 2 > 100  # two rows of faces


def test_removed_eyes_are_filled_with_skin_not_with_the_hair_beside_them() -> None:
    """Where a removed eye touches the fringe and the temples' strands, the hole becomes skin, not a grey smear
    of hair and skin (the smear is what the hair at a hole's edge turns into when inpainting reads it)."""
    from lib.design.face_box import FaceBox, FacePoints

    skin, hair = (250, 228, 200), (95, 105, 90)
    rgb = np.full((400, 400, 3), skin, np.uint8)
    for x, y in [(150, 200), (250, 200)]:
        cv2.ellipse(rgb, (x, y), (26, 20), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(rgb, (x, y), 13, (120, 80, 40), -1)
        cv2.ellipse(rgb, (x, y), (26, 20), 0, 180, 360, (30, 20, 20), 4)  # the upper lash line
    hair_mask = np.zeros((400, 400), bool)
    for x0 in (108, 272):  # strands down the temples, beside the eyes' outer corners
        hair_mask[120:300, x0 : x0 + 20] = True
    hair_mask[100:172, 100:300] = True  # a fringe down to the lashes
    rgb[hair_mask] = hair
    base = Image.fromarray(np.dstack([rgb, np.full((400, 400), 255, np.uint8)]))
    out = np.asarray(edit_face(base, box=FaceBox(90, 100, 220, 230), expression=expressions.get("neutral"),
                               variant="blink", points=FacePoints((150, 200), (250, 200), (200, 280))))
    out = out[..., :3].astype(np.float32)
    drawn = (cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_RGB2GRAY) < 110).astype(np.uint8)  # closed eyes, brows
    line_art = cv2.dilate(drawn, np.ones((5, 5), np.uint8)) > 0  # with their anti-aliased edges
    changed = (np.abs(out - rgb).max(axis=2) > 8) & ~line_art
    assert changed.sum() > 3000  # the eyes were removed
    to_skin = np.linalg.norm(out - np.array(skin, np.float32), axis=2)
    to_hair = np.linalg.norm(out - np.array(hair, np.float32), axis=2)
    assert np.median(to_skin[changed & ~hair_mask]) < 12  # where there was no hair: skin
    smear = changed & (to_skin > 30) & (to_hair > 30)  # neither skin nor hair
    assert smear.sum() / changed.sum() < 0.10, smear.sum() / changed.sum()  # a soft edge only
