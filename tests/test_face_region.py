"""The face box estimate: contains the renderer's true face box, follows the variants, stays inside."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from lib.consistency.face_region import estimate_face_box
from lib.design.expressions import LIBRARY
from lib.lab.calibration import Drift, apply_drift, random_character
from lib.render.portrait import face_box, render_portrait


def _contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1]
            and outer[0] + outer[2] >= inner[0] + inner[2] and outer[1] + outer[3] >= inner[1] + inner[3])


def _inside(box: tuple[int, int, int, int], size: tuple[int, int]) -> bool:
    return box[0] >= 0 and box[1] >= 0 and box[0] + box[2] <= size[0] and box[1] + box[3] <= size[1]


@pytest.mark.parametrize("seed", range(6))
def test_heuristic_box_contains_the_true_face_box(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([(384, 512), (512, 512), (512, 384)])
    base = render_portrait(random_character(rng), size=size)
    box = estimate_face_box(base)
    assert _inside(box, size) and _contains(box, face_box(size))
    assert box[2] * box[3] < 3 * face_box(size)[2] * face_box(size)[3]  # and is not the whole picture


def test_box_from_variants_follows_the_change() -> None:
    rng = random.Random(3)
    features, size = random_character(rng), (384, 512)
    base = render_portrait(features, size=size)
    variants = [apply_drift(render_portrait(features, size=size, expression=LIBRARY[name]), Drift(shift=(0.02, 0.01)))
                for name in ("angry", "crying", "surprised")]
    box, true = estimate_face_box(base, variants), face_box(size)
    assert _inside(box, size)
    # Most of the estimate lies on the true face box, and it covers most of it.
    ix = max(0, min(box[0] + box[2], true[0] + true[2]) - max(box[0], true[0]))
    iy = max(0, min(box[1] + box[3], true[1] + true[3]) - max(box[1], true[1]))
    overlap = ix * iy
    assert overlap > 0.8 * box[2] * box[3] and overlap > 0.6 * true[2] * true[3]


def test_unchanged_variants_fall_back_to_the_heuristic() -> None:
    base = render_portrait(random_character(random.Random(1)), size=(384, 512))
    assert estimate_face_box(base, [base.copy()]) == estimate_face_box(base)


def test_blank_picture_gives_a_box_inside_it() -> None:
    assert _inside(estimate_face_box(Image.new("RGBA", (200, 300))), (200, 300))


@pytest.mark.parametrize("background", [(236, 240, 228, 255), (255, 255, 255, 255), (250, 232, 220, 255)])
def test_heuristic_holds_on_opaque_light_backgrounds(background) -> None:
    """An upload is usually opaque; a light background close to the skin tone must not swallow the face."""
    from PIL import Image

    from lib.design.features import Features
    from lib.render.portrait import face_box, render_portrait

    portrait = render_portrait(Features(hair_color="#5a3a28", hair_style="wavy"), size=(300, 400))
    upload = Image.new("RGBA", portrait.size, background)
    upload.alpha_composite(portrait)
    x, y, w, h = estimate_face_box(upload)
    tx, ty, tw, th = face_box((300, 400))
    assert x <= tx and y <= ty and x + w >= tx + tw and y + h >= ty + th  # contains the true face
    assert w * h <= 1.6 * tw * th  # and not much more
