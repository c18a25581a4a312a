"""Upload hardening: only real PNG, JPEG or WebP stills within size and shape limits become a clean PNG.

The format is decided from the bytes; the size and shape are checked from the header, before decoding.
EXIF orientation is applied, metadata is dropped by re-encoding, transparency is kept, and CMYK,
16-bit and palette images are converted to 8-bit RGB(A).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from lib.core.errors import InvalidUpload

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")


@dataclass(frozen=True)
class CleanImage:
    """A decoded, normalised upload re-encoded as PNG."""

    png: bytes
    width: int
    height: int
    has_alpha: bool


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def shape_problem(width: int, height: int, *, min_side: int, max_aspect: float) -> str | None:
    """Why a picture of this size cannot be a character base, or None when it can.

    Strips and specks (100000×1, 5×5) pass every format check but leave no room for a face and break
    thumbnails, overlays and face finding, so the short side has a floor and the long side a ratio cap.
    """
    if min(width, height) >= min_side and max(width, height) <= max_aspect * min(width, height):
        return None
    return (f"The image is {width}×{height} px; a character base needs at least {min_side} px on each side "
            f"and at most {max_aspect:g}:1 between its long and short sides.")


def _open(data: bytes, *, max_pixels: int, min_side: int, max_aspect: float) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except UnidentifiedImageError:
        raise InvalidUpload(
            "This file is not a PNG, JPEG or WebP image (SVG, GIF, PSD and other files are not accepted)."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidUpload("This image declares too many pixels to open safely.") from None
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidUpload(
            f"The image is {width}×{height} ({width * height / 1e6:.1f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels."
        )
    if problem := shape_problem(width, height, min_side=min_side, max_aspect=max_aspect):
        raise InvalidUpload(problem)
    if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
        raise InvalidUpload("Animated images are not accepted: upload a single still frame.")
    return image


def _decode(image: Image.Image) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise InvalidUpload(f"The image file is damaged or truncated ({exc}).") from None
    return ImageOps.exif_transpose(image)


def _sixteen_bit_to_eight(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.uint32)
    return Image.fromarray((values // 257).clip(0, 255).astype(np.uint8))


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to Pillow's plain conversion
    return image.convert("RGB")


def _normalise(image: Image.Image) -> Image.Image:
    """Any decoded mode → 8-bit RGB, or RGBA when the picture has transparency."""
    if image.mode == "CMYK":
        return _cmyk_to_rgb(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _sixteen_bit_to_eight(image).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")  # an alpha channel that is fully opaque carries nothing
    return image


def clean_upload(data: bytes, *, max_bytes: int, max_pixels: int, min_side: int, max_aspect: float) -> CleanImage:
    """Validate an uploaded file and return it as a clean PNG, or raise InvalidUpload.

    `min_side` (px) and `max_aspect` (long side ÷ short side) are the shape rule of `shape_problem`.
    """
    return clean_upload_picture(data, max_bytes=max_bytes, max_pixels=max_pixels, min_side=min_side,
                                max_aspect=max_aspect)[0]


def clean_upload_picture(data: bytes, *, max_bytes: int, max_pixels: int, min_side: int,
                         max_aspect: float) -> tuple[CleanImage, Image.Image]:
    """`clean_upload`, plus the decoded picture it encoded (so the caller need not decode the PNG again)."""
    if not data:
        raise InvalidUpload("The file is empty.")
    if len(data) > max_bytes:
        raise InvalidUpload(f"The file is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}.")
    image = _normalise(_decode(_open(data, max_pixels=max_pixels, min_side=min_side, max_aspect=max_aspect)))
    png = png_bytes(image)  # pixels only: whatever metadata the upload carried is gone
    return CleanImage(png=png, width=image.width, height=image.height, has_alpha=image.mode == "RGBA"), image


def png_bytes(image: Image.Image) -> bytes:
    """Encode a Pillow image as PNG bytes, fast: every generated image passes through here.

    OpenCV's encoder with the "up" filter at zlib level 3 takes a third of the time of Pillow's
    adaptive filters even at level 1 and writes files as small for drawn art. Lossless: the pixels
    read back exactly (L, RGB and RGBA are written as they are; other modes as RGBA).
    """
    if image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGBA")
    pixels = np.asarray(image)
    if image.mode != "L":
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if image.mode == "RGBA" else cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 3,
                                                cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP])
    if not ok:
        raise ValueError(f"could not encode a {image.mode} {image.size} image as PNG")
    return encoded.tobytes()


def png_pixels(data: bytes) -> np.ndarray | None:
    """An 8-bit RGB or RGBA PNG's pixels as an RGB(A) array, decoded by OpenCV straight into the array (no
    Pillow copy, and without holding the GIL); None for anything else (other bit depths, grey, palette), which
    the caller opens with Pillow. Every model answer passes through here at up to 2K."""
    # The IHDR chunk follows the 8-byte signature: bit depth at byte 24, colour type (2 RGB, 6 RGBA) at 25.
    header_ok = len(data) >= 26 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    if not header_ok or data[24] != 8 or data[25] not in (2, 6):
        return None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] != (3 if data[25] == 2 else 4):
        return None  # unreadable, or an RGB key colour made transparent: Pillow reads it as it always has
    return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
