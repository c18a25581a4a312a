"""Alignment recovers known drift and refuses pictures it cannot honestly place."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from lib.consistency.align import Alignment, AlignmentFailed, align_to_base
from lib.core.errors import InvalidInput
from lib.design.expressions import LIBRARY
from lib.design.features import Features
from lib.lab.calibration import Drift, apply_drift
from lib.render.portrait import face_box, render_portrait

SIZE = (384, 512)
FEATURES = Features(hair_color="#d94f70", hair_style="ponytail", outfit_color="#2f7d4f", accessories=["cat_ears"])


@pytest.fixture(scope="module")
def base() -> Image.Image:
    return render_portrait(FEATURES, size=SIZE)


def _happy(drift: Drift) -> Image.Image:
    return apply_drift(render_portrait(FEATURES, size=SIZE, expression=LIBRARY["happy"]), drift)


@pytest.mark.parametrize(("shift", "scale"), [((0.03, -0.02), 1.0), ((0.0, 0.0), 1.05), ((-0.02, 0.02), 0.95)])
def test_known_shift_and_scale_are_recovered(base: Image.Image, shift: tuple[float, float], scale: float) -> None:
    al = align_to_base(base, _happy(Drift(shift=shift, scale=scale, jpeg=90)), face_box=face_box(SIZE))
    assert isinstance(al, Alignment) and al.image.size == base.size and al.image.mode == "RGBA"
    assert al.scale == pytest.approx(1 / scale, abs=0.01)
    # The matrix undoes the drift: the drifted position of a point maps back onto the point.
    w, h = SIZE
    for px, py in ((60.0, 480.0), (330.0, 300.0), (192.0, 40.0)):
        dx = (px - w / 2) * scale + w / 2 + shift[0] * w
        dy = (py - h / 2) * scale + h / 2 + shift[1] * h
        m = np.array(al.matrix)
        back = m[:, :2] @ (dx, dy) + m[:, 2]
        assert math.dist(back, (px, py)) < 2.0


def test_other_size_and_colour_cast_align_to_identity(base: Image.Image) -> None:
    drift = Drift(gain=(1.08, 1.0, 0.9), offset=(10, 0, -10), out_size=(768, 1024), noise=3, jpeg=80)
    al = align_to_base(base, _happy(drift), face_box=face_box(SIZE))
    assert al.scale == pytest.approx(1.0, abs=0.01)
    assert al.shift_px < 2.0 and abs(al.rotation_deg) < 0.5 and al.inlier_ratio > 0.5


@pytest.mark.parametrize(
    "other",
    [
        render_portrait(Features(hair_color="#f2c35b", hair_style="short_spiky", outfit_color="#b8324a",
                                 accessories=["hat"]), size=SIZE),
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 384, 3), dtype=np.uint8)),
        Image.new("RGB", SIZE, (255, 255, 255)),
    ],
    ids=["other_character", "noise", "blank"],
)
def test_unrelated_pictures_are_refused(base: Image.Image, other: Image.Image) -> None:
    with pytest.raises(AlignmentFailed) as info:
        align_to_base(base, other, face_box=face_box(SIZE))
    assert isinstance(info.value, InvalidInput) and len(str(info.value)) > 20


def test_implausible_zoom_is_refused(base: Image.Image) -> None:
    with pytest.raises(AlignmentFailed, match="zoomed"):
        align_to_base(base, _happy(Drift(scale=1.6)), face_box=face_box(SIZE))


def test_work_derived_from_a_base_is_done_once_per_base_and_freed_with_it() -> None:
    from lib.consistency import align

    calls: list[str] = []

    def compute(name: str) -> np.ndarray:
        calls.append(name)
        return np.zeros((2, 2), np.uint8)

    first, second = Image.new("RGBA", (8, 8)), Image.new("RGBA", (8, 8))
    shared = align.base_memo(first, "grey", lambda: compute("first"))
    assert align.base_memo(first, "grey", lambda: compute("again")) is shared
    align.base_memo(second, "grey", lambda: compute("second"))  # equal pixels, another picture: its own entry
    assert calls == ["first", "second"]
    assert not shared.flags.writeable  # shared between results: nobody may change it in place
    with pytest.raises(ValueError):
        shared[0, 0] = 1
    entries = len(align._memos)
    del first
    assert len(align._memos) == entries - 1


def test_a_decoded_base_shared_by_many_results_scores_them_as_a_fresh_one_would() -> None:
    import io

    from lib.consistency import postprocess
    from lib.consistency import score as consistency
    from lib.core.images import png_bytes

    base_png = png_bytes(render_portrait(FEATURES, size=SIZE))
    box = face_box(SIZE)
    variants = [_happy(Drift(shift=(s, -s), scale=1.0 + s, jpeg=90)) for s in (0.0, 0.01, 0.02)]
    for variant in variants * 2:  # the second round reuses everything derived from the base
        shared = postprocess.finish(base_png, png_bytes(variant), face_box=box, threshold=70.0)
        fresh = consistency.score(Image.open(io.BytesIO(base_png)), variant, face_box=box)
        assert shared.score.to_json() == fresh.to_json()
    assert postprocess.decoded_base(base_png) is postprocess.decoded_base(base_png)


@pytest.mark.parametrize("answer", [(1776, 2368), (2048, 2048), (1537, 2049)])
def test_a_big_answer_is_brought_to_the_base_like_one_area_average(answer: tuple[int, int]) -> None:
    """2K answers are reduced in two steps for speed; the picture must match one area average of the whole
    (same framing, no shift) to within rounding."""
    import cv2

    from lib.consistency.align import normalize_to_base

    big = render_portrait(Features(), size=answer).convert("RGB")
    got = normalize_to_base(big, (768, 1024))
    arr = np.asarray(big)
    k = max(768 / answer[0], 1024 / answer[1])
    nw, nh = max(768, round(answer[0] * k)), max(1024, round(answer[1] * k))
    one = cv2.resize(arr, (nw, nh), interpolation=cv2.INTER_AREA)
    x0, y0 = (nw - 768) // 2, (nh - 1024) // 2
    expected = one[y0 : y0 + 1024, x0 : x0 + 768]
    assert got.shape == (1024, 768, 4) and (got[..., 3] == 255).all()
    diff = np.abs(got[..., :3].astype(int) - expected.astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 8


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_answers_are_decoded_to_the_same_pixels_as_pillow_reads(mode: str) -> None:
    import io

    from lib.core.images import png_pixels

    picture = render_portrait(Features(), size=(300, 400)).convert(mode)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    pixels = png_pixels(out.getvalue())
    assert pixels is not None and pixels.shape == (400, 300, len(mode))
    assert np.array_equal(pixels, np.asarray(picture))  # channels in RGB(A) order, not OpenCV's BGR


@pytest.mark.parametrize("mode", ["P", "L", "I;16", "LA"])
def test_other_pngs_are_left_to_pillow(mode: str) -> None:
    import io

    from lib.core.images import png_pixels

    out = io.BytesIO()
    Image.new(mode, (40, 30)).save(out, format="PNG")
    assert png_pixels(out.getvalue()) is None


def test_a_damaged_answer_is_left_to_pillow_to_refuse() -> None:
    from lib.core.images import png_pixels

    assert png_pixels(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) is None
    assert png_pixels(b"GIF89a" + b"\x00" * 40) is None
    assert png_pixels(b"\x89PNG") is None
