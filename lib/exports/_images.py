"""Image helpers shared by the writers: decode a fetched PNG safely and find where it differs from the base."""

from __future__ import annotations

import io

from PIL import Image, ImageChops

from lib.core.errors import InvalidInput
from lib.exports.model import Fetch

Bounds = tuple[int, int, int, int]  # left, top, right, bottom


def load_rgba(fetch: Fetch, key: str, size: tuple[int, int]) -> Image.Image:
    """The PNG stored at `key` as RGBA, refusing anything that is not a PNG of the set's size."""
    return decode_rgba(fetch(key), key, size)


def decode_rgba(data: bytes, key: str, size: tuple[int, int]) -> Image.Image:
    """Decode PNG bytes to RGBA, refusing other formats and other sizes."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if img.size != size:  # from the header, before decoding anything
                raise InvalidInput(f"image {key!r} is {img.width}x{img.height}, but the base is {size[0]}x{size[1]}")
            img.load()
            return img if img.mode == "RGBA" else img.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"image {key!r} is not a readable PNG: {exc}") from exc


def diff_box(base: Image.Image, other: Image.Image) -> Bounds | None:
    """The smallest box holding every pixel (colour or alpha) where `other` differs from `base` (both RGBA)."""
    return ImageChops.difference(base, other).getbbox(alpha_only=False)


def union(boxes: list[Bounds]) -> Bounds | None:
    """The box covering all `boxes`, or None when there are none."""
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def png_bytes(img: Image.Image, *, compress_level: int = 6) -> bytes:
    """Encode an image as PNG."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png_header(data: bytes, key: str, size: tuple[int, int]) -> None:
    """Cheaply confirm `data` is a PNG of `size` from its IHDR chunk, without decoding the pixels."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise InvalidInput(f"image {key!r} is not a PNG")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if (width, height) != size:
        raise InvalidInput(f"image {key!r} is {width}x{height}, but the base is {size[0]}x{size[1]}")
