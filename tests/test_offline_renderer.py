"""The offline renderer: determinism, transparency, the face-box invariant and the uploaded-picture preview."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from lib.core.errors import InvalidInput
from lib.design.expressions import LIBRARY, PRESETS, custom_expression
from lib.design.features import Features
from lib.render.colour import palette
from lib.render.face import resolve, vary
from lib.render.portrait import _canvas, _draw_face, _figure, face_box, render_portrait
from lib.render.preview import edit_face

SIZE = (256, 320)
FEATURES = Features(accessories=["glasses", "hairclip"])
ALL_KEYS = sorted(LIBRARY)
CLOSED_EYES = {"amusement", "embarrassment", "gratitude", "grief", "joy", "laughing", "pride", "relief"}


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _outside(pixels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    masked = pixels.copy()
    masked[y : y + h, x : x + w] = 0
    return masked


def _inside(pixels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return pixels[y : y + h, x : x + w]


@pytest.fixture(scope="module")
def renders() -> dict[tuple[str, str | None], np.ndarray]:
    """Every built-in expression with no variant and with each variant, rendered once."""
    return {
        (key, variant): _pixels(render_portrait(FEATURES, expression=LIBRARY[key], variant=variant, size=SIZE))
        for key in ALL_KEYS
        for variant in (None, "mouth_open", "blink")
    }


def test_same_inputs_give_identical_pixels() -> None:
    first = render_portrait(FEATURES, expression=LIBRARY["joy"], size=SIZE).tobytes()
    _figure.cache_clear()  # also compare a fresh figure, not just the cache
    second = render_portrait(FEATURES, expression=LIBRARY["joy"], size=SIZE).tobytes()
    assert first == second


@pytest.mark.parametrize("size", [(256, 320), (320, 256), (300, 600), (768, 1024)])
def test_rgba_size_and_transparent_corners(size: tuple[int, int]) -> None:
    image = render_portrait(FEATURES, size=size)
    assert image.mode == "RGBA"
    assert image.size == size
    alpha = np.asarray(image.getchannel("A"))
    w, h = size
    for x, y in itertools.product((0, w - 1), (0, h - 1)):
        assert alpha[y, x] == 0, (x, y)
    assert alpha[h // 2, w // 2] == 255  # the figure itself is opaque
    assert alpha.mean() > 60  # and fills a good part of the frame


def test_large_render_is_antialiased() -> None:
    image = render_portrait(Features(), size=(2048, 2048))
    assert image.size == (2048, 2048)
    alpha = np.asarray(image.getchannel("A"))
    partial = np.count_nonzero((alpha > 0) & (alpha < 255))
    assert partial > 2000  # silhouette edges are blended, not stair-stepped


def test_neutral_is_the_default(renders: dict) -> None:
    assert np.array_equal(_pixels(render_portrait(FEATURES, size=SIZE)), renders[("neutral", None)])


def test_everything_outside_the_face_box_is_identical(renders: dict) -> None:
    box = face_box(SIZE)
    reference = _outside(renders[("neutral", None)], box)
    for (key, variant), pixels in renders.items():
        assert np.array_equal(_outside(pixels, box), reference), (key, variant)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_expression_differs_from_neutral_in_the_face_box(renders: dict, name: str) -> None:
    box = face_box(SIZE)
    neutral = _inside(renders[("neutral", None)], box)
    for key in PRESETS[name]:
        if key != "neutral":
            changed = np.count_nonzero(np.any(_inside(renders[(key, None)], box) != neutral, axis=2))
            assert changed > 200, key


def test_built_in_faces_are_all_distinct(renders: dict) -> None:
    digests = {renders[(key, None)].tobytes() for key in ALL_KEYS}
    assert len(digests) == len(ALL_KEYS)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_variants_change_the_expression(renders: dict, key: str) -> None:
    plain = renders[(key, None)]
    assert not np.array_equal(renders[(key, "mouth_open")], plain)
    if key in CLOSED_EYES:  # eyes already shut: the blink frame is the expression itself
        assert np.array_equal(renders[(key, "blink")], plain)
    else:
        assert not np.array_equal(renders[(key, "blink")], plain)


def test_custom_expression_draws_its_face(renders: dict) -> None:
    custom = custom_expression(
        key="pouting", label_en="Pouting", label_ja="ふくれっ面", prompt="puffed cheeks", intensity=2, face="annoyance"
    )
    drawn = _pixels(render_portrait(FEATURES, expression=custom, size=SIZE))
    assert np.array_equal(drawn, renders[("annoyance", None)])


def test_features_change_the_picture() -> None:
    box = face_box(SIZE)
    dark = _pixels(render_portrait(Features(hair_color="#222222"), size=SIZE))
    pink = _pixels(render_portrait(Features(hair_color="#ff88cc"), size=SIZE))
    assert np.count_nonzero(np.any(_outside(dark, box) != _outside(pink, box), axis=2)) > 2000
    plain = _pixels(render_portrait(Features(), size=SIZE))
    hat = _pixels(render_portrait(Features(accessories=["hat"]), size=SIZE))
    assert not np.array_equal(plain, hat)


def test_face_box_lies_inside_the_picture() -> None:
    for size in ((256, 320), (2048, 2048), (1024, 300), (300, 1024)):
        x, y, w, h = face_box(size)
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= size[0] and y + h <= size[1]
        assert w * h < size[0] * size[1] / 2


@pytest.mark.parametrize("size", [(10, 10), (256, 5000), (256.0, 320), [256, 320]])
def test_bad_size_is_refused(size: object) -> None:
    with pytest.raises(InvalidInput):
        render_portrait(FEATURES, size=size)  # type: ignore[arg-type]


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(InvalidInput, match="variant"):
        render_portrait(FEATURES, variant="wink", size=SIZE)


def _upload() -> Image.Image:
    """A stand-in for an uploaded picture: a colour gradient with a soft alpha ramp."""
    y, x = np.mgrid[0:300, 0:240]
    rgba = np.stack([x, y % 256, (x + y) % 256, np.clip(x * 2, 0, 255)], axis=2).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


@pytest.mark.parametrize(("key", "variant"), [("happy", None), ("crying", "blink"), ("neutral", "mouth_open")])
def test_edit_face_keeps_outside_pixels_and_alpha(key: str, variant: str | None) -> None:
    base = _upload()
    box = (60, 40, 120, 130)
    edited = edit_face(base, box=box, expression=LIBRARY[key], variant=variant)
    before, after = _pixels(base), _pixels(edited)
    assert edited.size == base.size and edited.mode == "RGBA"
    assert np.array_equal(_outside(after, box), _outside(before, box))
    assert np.array_equal(after[..., 3], before[..., 3])
    assert np.count_nonzero(np.any(_inside(after, box) != _inside(before, box), axis=2)) > 100


def test_edit_face_neutral_leaves_the_picture_alone() -> None:
    base = _upload()
    edited = edit_face(base, box=(60, 40, 120, 130), expression=LIBRARY["neutral"])
    assert edited.tobytes() == base.tobytes()


@pytest.mark.parametrize("box", [(200, 40, 120, 130), (-1, 0, 50, 50), (0, 0, 4, 4), (0, 0, 50.0, 50)])
def test_edit_face_refuses_a_box_outside_the_picture(box: tuple) -> None:
    with pytest.raises(InvalidInput, match="box"):
        edit_face(_upload(), box=box, expression=LIBRARY["happy"])


@pytest.mark.parametrize("variant", [None, "mouth_open", "blink"])
def test_face_cues_fit_inside_the_face_box(variant: str | None) -> None:
    """The face box crops whatever is drawn in it, so a cue placed outside would be silently cut off."""
    box = face_box(SIZE)
    pal = palette(FEATURES)
    for key in ALL_KEYS:
        canvas = _canvas(SIZE, 1, (0, 0), SIZE)
        _draw_face(canvas, pal, resolve(LIBRARY[key], variant))
        alpha = np.asarray(canvas.img.getchannel("A"))
        assert alpha.any(), key
        assert not _outside(alpha[..., None], box).any(), key


@pytest.mark.parametrize("key", ["neutral", "happy", "angry", "sleepy"])
def test_another_take_of_a_face_differs_from_the_first_and_repeats_itself(key: str) -> None:
    face = resolve(LIBRARY[key], None)
    assert vary(face, 1) == face
    takes = [vary(face, n) for n in range(2, 6)]
    assert all(t != face for t in takes)
    assert takes == [vary(face, n) for n in range(2, 6)]  # deterministic
    first = render_portrait(Features(), expression=LIBRARY[key], size=(96, 128))
    second = render_portrait(Features(), expression=LIBRARY[key], size=(96, 128), take=2)
    assert first.tobytes() != second.tobytes()
    box = face_box((96, 128))
    assert (edit_face(first, box=box, expression=LIBRARY[key], take=3).tobytes()
            != edit_face(first, box=box, expression=LIBRARY[key]).tobytes())
