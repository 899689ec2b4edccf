"""Image and mask loading: bit depths, channel layouts, and clear errors for bad files."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from infrasight.vision import (
    ImageDecodeError,
    ImageTooLargeError,
    VisionInputError,
    load_image,
    load_mask,
    to_rgb8,
)
from infrasight.vision.imageio import check_image, value_scale


def test_colour_file_comes_back_rgb(tmp_path: Path) -> None:
    bgr = np.zeros((20, 30, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    img = load_image(tmp_path / "red.png")
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8
    assert (img[..., 0] == 255).all() and (img[..., 1:] == 0).all()


def test_rgba_and_16bit_grey_keep_their_layout(tmp_path: Path) -> None:
    bgra = np.zeros((20, 30, 4), np.uint8)
    bgra[..., 0] = 200  # blue
    bgra[..., 3] = 77
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    rgba = load_image(tmp_path / "a.png")
    assert rgba.shape == (20, 30, 4)
    assert (rgba[..., 2] == 200).all() and (rgba[..., 3] == 77).all()
    g16 = np.full((20, 30), 40000, np.uint16)
    cv2.imwrite(str(tmp_path / "g.png"), g16)
    g = load_image(tmp_path / "g.png")
    assert g.dtype == np.uint16 and g.shape == (20, 30) and int(g[0, 0]) == 40000


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.full((16, 16), 4095, np.uint16), 255),  # 12-bit data: full scale 4095
        (np.full((16, 16), 2048, np.uint16), 128),
        (np.full((16, 16, 1), 65535, np.uint16), 255),
        (np.full((16, 16, 3), 0.5, np.float32), 128),
        (np.full((16, 16, 4), 9, np.uint8), 9),
    ],
)
def test_to_rgb8_scales_known_values(image: np.ndarray, expected: int) -> None:
    out = to_rgb8(image)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert (out == expected).all()


def test_sixteen_bit_tiles_share_one_scale() -> None:
    img = np.zeros((32, 32), np.uint16)
    img[0, 0] = 60000  # full 16-bit image: a dark tile must not be read as 12-bit
    img[16:, 16:] = 4000
    assert value_scale(img) == 65535.0
    tile = to_rgb8(img[16:, 16:], full_scale=value_scale(img))
    assert int(tile[0, 0, 0]) == round(4000 * 255 / 65535)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((8, 100), np.uint8), VisionInputError, "too small"),
        (np.zeros((20, 20, 2), np.uint8), VisionInputError, "shape"),
        (np.zeros((20, 20), np.int32), VisionInputError, "dtype"),
        (np.full((20, 20), 1.5, np.float32), VisionInputError, r"\[0, 1\]"),
        (np.full((20, 20), np.nan, np.float32), VisionInputError, "NaN"),
        ([[1, 2], [3, 4]], VisionInputError, "numpy array"),
    ],
)
def test_bad_arrays_are_rejected(image: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        to_rgb8(image)


def test_huge_image_is_rejected_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("infrasight.vision.imageio.MAX_PIXELS", 1000)
    with pytest.raises(ImageTooLargeError, match="MP"):
        check_image(np.zeros((40, 40), np.uint8))


def _jpeg(tmp_path: Path) -> Path:
    p = tmp_path / "x.jpg"
    cv2.imwrite(str(p), np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return p


def _missing(d: Path) -> Path:
    return d / "missing.png"


def _directory(d: Path) -> Path:
    return d


def _empty(d: Path) -> Path:
    (d / "e.png").write_bytes(b"")
    return d / "e.png"


def _text(d: Path) -> Path:
    (d / "t.png").write_text("hello, not an image")
    return d / "t.png"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (_missing, "no such file"),
        (_directory, "directory"),
        (_empty, "empty"),
        (_text, "not a readable image"),
    ],
)
def test_unreadable_files_raise_decode_error(
    tmp_path: Path, make: Callable[[Path], Path], match: str
) -> None:
    with pytest.raises(ImageDecodeError, match=match):
        load_image(make(tmp_path))
    with pytest.raises(ImageDecodeError, match=match.replace("image", "mask")):
        load_mask(make(tmp_path))


def test_truncated_jpeg_and_png_are_rejected(tmp_path: Path) -> None:
    jp = _jpeg(tmp_path)
    data = jp.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError, match="truncated JPEG"):
        load_image(tmp_path / "cut.jpg")
    cv2.imwrite(str(tmp_path / "p.png"), np.zeros((64, 64), np.uint8))
    png = (tmp_path / "p.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[:-20])
    with pytest.raises(ImageDecodeError, match="truncated PNG"):
        load_image(tmp_path / "cut.png")


def test_masks_in_every_storage_convention_read_alike(tmp_path: Path) -> None:
    truth = np.zeros((20, 24), bool)
    truth[5:9, 3:20] = True
    cv2.imwrite(str(tmp_path / "m255.png"), truth.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "m01.png"), truth.astype(np.uint8))
    Image.fromarray(truth).convert("1").save(tmp_path / "m1bit.png")
    rgb = np.zeros((20, 24, 3), np.uint8)
    rgb[truth] = (255, 255, 255)
    cv2.imwrite(str(tmp_path / "mrgb.png"), rgb)
    for name in ("m255", "m01", "m1bit", "mrgb"):
        m = load_mask(tmp_path / f"{name}.png")
        assert m.dtype == np.bool_
        np.testing.assert_array_equal(m, truth, err_msg=name)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but that carries no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(15000, 10001), (60000, 60000)])
def test_huge_file_is_rejected_from_its_header(tmp_path: Path, width: int, height: int) -> None:
    p = tmp_path / "huge.png"
    p.write_bytes(_png_header_only(width, height))
    with pytest.raises(ImageTooLargeError, match="more than 150 MP"):
        load_image(p)
    with pytest.raises(ImageTooLargeError):
        load_mask(p)


def test_header_without_pixels_is_a_decode_error(tmp_path: Path) -> None:
    p = tmp_path / "nopix.png"
    p.write_bytes(_png_header_only(64, 64))
    with pytest.raises(ImageDecodeError, match="not a readable"):
        load_image(p)
