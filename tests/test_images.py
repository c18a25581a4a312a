"""The upload corpus: what a studio user might drop on the uploader, good and bad."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lib.core.errors import InvalidUpload
from lib.core.images import clean_upload, png_bytes
from lib.core.settings import load_settings

MB = 1024 * 1024
# The format corpus is made of tiny pictures: the shape rule is tested on its own, with the real defaults.
LIMITS = {"max_bytes": 20 * MB, "max_pixels": 40_000_000, "min_side": 1, "max_aspect": 4.0}


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares a huge canvas, followed by a tiny IDAT (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_accepted_formats_become_png(fmt: str) -> None:
    source = Image.new("RGB", (64, 48), (10, 120, 200))
    clean = clean_upload(encode(source, fmt), **LIMITS)
    out = decode(clean.png)
    assert (clean.width, clean.height) == (64, 48) == out.size
    assert out.mode == "RGB" and not clean.has_alpha
    assert np.abs(np.asarray(out, dtype=int) - [10, 120, 200]).max() <= 6


def test_transparency_is_kept() -> None:
    source = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    source.paste((0, 255, 0, 255), (8, 8, 24, 24))
    clean = clean_upload(encode(source, "PNG"), **LIMITS)
    out = decode(clean.png)
    assert clean.has_alpha and out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((16, 16)) == (0, 255, 0, 255)


def test_palette_with_transparency_becomes_rgba() -> None:
    source = Image.new("P", (16, 16), 1)
    source.putpalette([0, 0, 0, 250, 10, 10] + [0] * 762)
    source.paste(0, (0, 0, 8, 16))
    clean = clean_upload(encode(source, "PNG", transparency=0), **LIMITS)
    out = decode(clean.png)
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((12, 0)) == (250, 10, 10, 255)


def test_cmyk_jpeg_becomes_rgb() -> None:
    source = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = decode(clean_upload(encode(source, "JPEG", quality=95), **LIMITS).png)
    assert out.mode == "RGB"
    r, g, b = out.getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    values = np.array([[0, 32896, 65535, 1000]], dtype=np.uint16)
    source = Image.fromarray(values)
    assert source.mode == "I;16"
    out = decode(clean_upload(encode(source, "PNG"), **LIMITS).png)
    assert [out.getpixel((x, 0))[0] for x in range(4)] == [0, 128, 255, 3]


def test_exif_orientation_is_applied_and_metadata_stripped() -> None:
    source = Image.new("RGB", (40, 20), (200, 200, 200))
    source.paste((255, 0, 0), (0, 0, 10, 20))  # red band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    exif[0x010E] = "secret description"
    data = encode(source, "JPEG", exif=exif.tobytes(), quality=95)
    out = decode(clean_upload(data, **LIMITS).png)
    assert out.size == (20, 40)
    assert out.getpixel((10, 2))[0] > 200 and out.getpixel((10, 38))[0] > 150  # red band now on top
    assert out.getpixel((10, 2))[1] < 80
    assert not out.getexif() and "exif" not in out.info


def test_png_text_metadata_is_stripped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "someone@example.com")
    out = decode(clean_upload(encode(Image.new("RGB", (8, 8)), "PNG", pnginfo=info), **LIMITS).png)
    assert "Author" not in out.info


def gif_bytes() -> bytes:
    return encode(Image.new("P", (8, 8)), "GIF")


def apng_bytes() -> bytes:
    frames = [Image.new("RGBA", (8, 8), c) for c in ((255, 0, 0, 255), (0, 0, 255, 255))]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


def animated_webp_bytes() -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])


REFUSED = {
    "empty": (b"", "empty"),
    "text renamed .png": (b"hello, this is not a picture\n", "not a PNG, JPEG or WebP"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not a PNG, JPEG or WebP"),
    "gif": (gif_bytes(), "not a PNG, JPEG or WebP"),
    "animated png": (apng_bytes(), "Animated"),
    "animated webp": (animated_webp_bytes(), "Animated"),
    "truncated png": (encode(Image.effect_noise((256, 256), 50).convert("RGB"), "PNG")[:3000], "damaged or truncated"),
    "truncated jpeg": (encode(Image.effect_noise((256, 256), 50).convert("RGB"), "JPEG")[:2000],
                       "damaged or truncated"),
    "decompression bomb": (png_header_only(30_000, 30_000), "too many pixels"),
    "over the megapixel cap": (png_header_only(8_000, 6_000), "megapixels"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_refused_uploads_have_clear_messages(case: str) -> None:
    data, message = REFUSED[case]
    with pytest.raises(InvalidUpload, match=message):
        clean_upload(data, **LIMITS)


def test_too_many_bytes_is_refused_before_decoding() -> None:
    data = encode(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(InvalidUpload, match=r"limit is 0\.0 MB|limit is"):
        clean_upload(data, **(LIMITS | {"max_bytes": len(data) - 1}))
    assert clean_upload(data, **(LIMITS | {"max_bytes": len(data)})).width == 8


def shape_limits() -> dict:
    settings = load_settings()
    return {"max_bytes": settings.max_upload_bytes, "max_pixels": settings.max_upload_pixels,
            "min_side": settings.min_upload_side, "max_aspect": settings.max_upload_aspect}


@pytest.mark.parametrize("size", [(100_000, 1), (1, 100_000), (63, 200), (200, 63), (1000, 249), (249, 1000)])
def test_degenerate_shapes_are_refused_before_decoding_with_the_numbers(size: tuple[int, int]) -> None:
    data = encode(Image.new("RGBA", size, (240, 200, 180, 255)), "PNG")
    with pytest.raises(InvalidUpload) as refused:
        clean_upload(data, **shape_limits())
    message = str(refused.value)
    assert f"{size[0]}×{size[1]}" in message and "64 px" in message and "4:1" in message


@pytest.mark.parametrize("size", [(64, 64), (64, 256), (256, 64), (600, 2000), (1000, 250)])
def test_sprite_shapes_within_the_rule_are_accepted(size: tuple[int, int]) -> None:
    clean = clean_upload(encode(Image.new("RGB", size, (240, 200, 180)), "PNG"), **shape_limits())
    assert (clean.width, clean.height) == size


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P"])
def test_png_bytes_is_lossless(mode: str) -> None:
    rng = np.random.default_rng(1)
    channels = {"L": 1, "RGB": 3, "RGBA": 4, "LA": 2, "P": 1}[mode]
    pixels = rng.integers(0, 256, (37, 53, channels), dtype=np.uint8).squeeze()
    image = Image.fromarray(pixels, "L" if mode == "P" else mode)
    if mode == "P":
        image = image.convert("P")
    with Image.open(io.BytesIO(png_bytes(image))) as decoded:
        assert decoded.format == "PNG"
        expected = image if mode in ("L", "RGB", "RGBA") else image.convert("RGBA")
        assert decoded.mode == expected.mode
        assert np.array_equal(np.asarray(decoded), np.asarray(expected))
