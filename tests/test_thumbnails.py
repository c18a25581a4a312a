"""Thumbnails and loops beside stored PNGs: made once, equal in size, small enough for a 117-image grid."""

import io

import numpy as np
from PIL import Image

from lib.core import thumbnails
from lib.core.images import png_bytes


def noisy_png(size: tuple[int, int], seed: int = 0) -> bytes:
    """A photographic-noise picture: the worst case for compression, as a Gemini 2K answer nearly is."""
    rng = np.random.default_rng(seed)
    smooth = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    pixels = np.clip(smooth + rng.normal(0, 40, smooth.shape), 0, 255).astype(np.uint8)
    return png_bytes(Image.fromarray(pixels, "RGB"))


def test_a_thumbnail_is_a_small_webp_letterboxed_into_the_same_box_whatever_the_shape(store) -> None:
    for size in ((2048, 2048), (600, 1800), (96, 128)):
        thumb = thumbnails.thumbnail_webp(noisy_png(size))
        with Image.open(io.BytesIO(thumb)) as image:
            assert (image.format, image.size) == ("WEBP", thumbnails.THUMB_BOX)
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
        assert len(thumb) < 128 * 1024  # 117 of them stay under 15 MB
        if size == (600, 1800):  # a tall sprite: transparent bars left and right
            assert alpha[:, 0].max() == 0 and alpha[thumbnails.THUMB_BOX[1] // 2, thumbnails.THUMB_BOX[0] // 2] > 0


def test_a_thumbnail_lives_beside_its_png_and_is_made_once(store) -> None:
    key = "characters/u/c/diffs/abc.png"
    store.put(key, noisy_png((256, 256)))
    assert thumbnails.thumbnail_key(key) == "characters/u/c/diffs/abc.thumb.webp"
    made = thumbnails.ensure_thumbnail(store, key)
    assert made == thumbnails.thumbnail_key(key) and store.exists(made)
    store.put(made, b"kept")  # a second call finds it and does not make it again
    assert thumbnails.ensure_thumbnail(store, key) == made and store.get(made) == b"kept"


def test_a_loop_plays_its_frames_forever_and_is_stored_once_per_set(store) -> None:
    keys = [f"characters/u/c/diffs/{n}.png" for n in ("closed", "open", "blink")]
    for n, key in enumerate(keys):
        store.put(key, noisy_png((128, 160), seed=n))
    frames = [(keys[0], 500), (keys[1], 160), (keys[0], 140), (keys[2], 130)]
    made = thumbnails.ensure_animation(store, frames)
    with Image.open(io.BytesIO(store.get(made))) as loop:
        assert (loop.format, loop.n_frames, loop.size) == ("WEBP", 4, thumbnails.THUMB_BOX)
        assert loop.is_animated and loop.info.get("loop") == 0  # forever
    assert thumbnails.ensure_animation(store, frames) == made
    assert thumbnails.ensure_animation(store, frames[:2]) != made  # other frames, another loop


def test_a_thumbnail_of_a_decoded_picture_is_the_thumbnail_of_its_png_and_leaves_it_alone() -> None:
    png = noisy_png((600, 800), seed=3)
    with Image.open(io.BytesIO(png)) as decoded:
        picture = decoded.convert("RGBA")
    before = picture.tobytes()
    assert thumbnails.thumbnail_webp(picture) == thumbnails.thumbnail_webp(png)
    assert picture.size == (600, 800) and picture.tobytes() == before  # the caller's picture is not shrunk
