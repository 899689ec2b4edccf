"""Image decoding for captures: validated, orientation-corrected, bounded in size.

Accepts JPEG, PNG and TIFF (8 and 16 bit, grey, RGB, RGBA). Corrupt or truncated files and
images with more pixels than the configured limit (decompression bombs) are refused before any
pixel buffer of that size is allocated.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from infrasight.core.errors import InvalidInputError, PayloadTooLargeError

__all__ = ["ImageInfo", "decode_image", "inspect_image"]

_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")


def _unreadable(data: bytes) -> InvalidInputError:
    if data.startswith(_SIGNATURES):
        return InvalidInputError(
            "corrupt or truncated image (cannot parse its header)", field="file"
        )
    return InvalidInputError("not a readable image (JPEG, PNG or TIFF expected)", field="file")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageInfo:
    """What a capture's file holds, after EXIF orientation (width x height in pixels)."""

    media_type: str
    width: int
    height: int
    bit_depth: int
    bands: int
    orientation: int


def _open(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise InvalidInputError("the image file is empty", field="file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except Image.DecompressionBombError as err:
        raise PayloadTooLargeError(
            f"image has too many pixels (limit {max_pixels:,})", field="file"
        ) from err
    except UnidentifiedImageError as err:
        raise _unreadable(data) from err
    except Exception as err:  # any decoder failure on an untrusted file means a bad file
        raise InvalidInputError(f"corrupt or truncated image ({err})", field="file") from err
    return image


def _check_pixels(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise InvalidInputError("the image file is empty", field="file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            header = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as err:
        raise _unreadable(data) from err
    except Image.DecompressionBombError as err:
        raise PayloadTooLargeError(
            f"image has too many pixels (limit {max_pixels:,}): {err}", field="file"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:
        raise InvalidInputError(f"corrupt or truncated image ({err})", field="file") from err
    if header.format not in _FORMATS:
        raise InvalidInputError(
            f"unsupported image format {header.format!r} (JPEG, PNG or TIFF expected)",
            field="file",
        )
    pixels = header.width * header.height
    if pixels > max_pixels:
        raise PayloadTooLargeError(
            f"image has too many pixels: {pixels:,} ({header.width}x{header.height}), "
            f"more than the limit of {max_pixels:,}",
            field="file",
        )
    return header


def _depth_and_bands(image: Image.Image) -> tuple[int, int]:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return 16, 1
    if mode == "1":
        return 1, 1
    bands = len(image.getbands())
    return 8, bands


def inspect_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Validate an uploaded image fully and describe it (raises on bad input)."""
    header = _check_pixels(data, max_pixels)
    media_type = _FORMATS[str(header.format)]
    image = _open(data, max_pixels)
    orientation = int(image.getexif().get(0x0112, 1) or 1)
    depth, bands = _depth_and_bands(image)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageInfo(
        media_type=media_type,
        width=width,
        height=height,
        bit_depth=depth,
        bands=bands,
        orientation=orientation if 1 <= orientation <= 8 else 1,
    )


def decode_image(data: bytes, *, max_pixels: int) -> np.ndarray:
    """Pixels as a numpy array after EXIF orientation.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` for grey or ``(H, W, C)`` (RGB/RGBA channel order), uint8 or uint16.
    """
    _check_pixels(data, max_pixels)
    image = _open(data, max_pixels)
    ImageOps.exif_transpose(image, in_place=True)  # no copy of an upright image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.uint16)
    if image.mode == "I":
        clipped: np.ndarray = np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
        return clipped
    if image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return np.asarray(image)


def oriented_png(data: bytes, *, max_pixels: int) -> bytes:
    """The image re-encoded as PNG with its EXIF orientation applied (lossless)."""
    image = ImageOps.exif_transpose(_open(data, max_pixels))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
