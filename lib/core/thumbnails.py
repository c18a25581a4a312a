"""Previews of stored images: a small WebP beside each PNG, made once, and animated mouth-flap/blink loops.

A review grid shows thumbnails, never the full PNGs (a Gemini 2K answer is megabytes; a 117-image set
would weigh hundreds of megabytes per view). Every thumbnail is letterboxed into the same box, so cards
in a grid have equal sizes whatever the source's shape. The full PNG is fetched only when asked for.
"""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from lib.core.storage import ObjectStore, check_key

THUMB_BOX = (360, 480)  # 3:4, the shape of most character bases
THUMB_QUALITY = 80
# Every generated image gets one on the worker, so both are chosen for speed at the same look: a box filter
# (area average, no aliasing at these 2-3x reductions; a third of Lanczos' time) and WebP effort 2 (a third
# of effort 4's time for files about a tenth larger).
THUMB_RESAMPLE = Image.Resampling.BOX
THUMB_METHOD = 2


def thumbnail_key(key: str) -> str:
    """Where the thumbnail of a stored PNG lives: beside it, `name.png` → `name.thumb.webp`."""
    stem = key[:-4] if key.endswith(".png") else key
    return check_key(f"{stem}.thumb.webp")


def _letterboxed(picture: bytes | Image.Image, box: tuple[int, int]) -> Image.Image:
    if isinstance(picture, Image.Image):
        image = picture.convert("RGBA") if picture.mode != "RGBA" else picture.copy()
    else:
        with Image.open(io.BytesIO(picture)) as source:
            image = source.convert("RGBA")
    image.thumbnail(box, THUMB_RESAMPLE)
    canvas = Image.new("RGBA", box, (0, 0, 0, 0))
    canvas.paste(image, ((box[0] - image.width) // 2, (box[1] - image.height) // 2))
    return canvas


def thumbnail_webp(picture: bytes | Image.Image, *, box: tuple[int, int] = THUMB_BOX) -> bytes:
    """A lossy WebP preview of an image (encoded, or already decoded), letterboxed into `box` on transparency."""
    out = io.BytesIO()
    _letterboxed(picture, box).save(out, format="WEBP", quality=THUMB_QUALITY, method=THUMB_METHOD)
    return out.getvalue()


def ensure_thumbnail(store: ObjectStore, key: str) -> str:
    """The key of a stored image's thumbnail, making it first when it does not exist yet."""
    thumb = thumbnail_key(key)
    if not store.exists(thumb):
        store.put(thumb, thumbnail_webp(store.get(key)), content_type="image/webp")
    return thumb


def animation_key(keys: list[str]) -> str:
    """Where the loop of these frames lives: beside the first frame, named by every frame it shows."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    stem = keys[0][:-4] if keys[0].endswith(".png") else keys[0]
    return check_key(f"{stem}.loop-{digest}.webp")


def animation_webp(frames: list[tuple[bytes, int]], *, box: tuple[int, int] = THUMB_BOX) -> bytes:
    """A looping animated WebP of (PNG, milliseconds) frames at thumbnail size."""
    images = [_letterboxed(png, box) for png, _ in frames]
    out = io.BytesIO()
    images[0].save(out, format="WEBP", save_all=True, append_images=images[1:], loop=0,
                   duration=[ms for _, ms in frames], quality=THUMB_QUALITY, method=4)
    return out.getvalue()


def ensure_animation(store: ObjectStore, frames: list[tuple[str, int]]) -> str:
    """The key of a loop of stored PNGs (key, milliseconds), made and stored once per set of frames."""
    key = animation_key([k for k, _ in frames] + [str(ms) for _, ms in frames])
    if not store.exists(key):
        store.put(key, animation_webp([(store.get(k), ms) for k, ms in frames]), content_type="image/webp")
    return key
