"""High-rate waveform records: one blob (an .npy array, samples x channels) plus a metadata row."""

from __future__ import annotations

import io

import numpy as np

from infrasight.core.errors import InvalidInputError

__all__ = ["load_record_array", "parse_record_upload", "record_to_csv", "record_to_npy"]

MAX_CHANNELS = 256


def load_record_array(data: bytes) -> np.ndarray:
    """The stored array (float32 or float64, shape ``(n_samples, n_channels)``)."""
    array = np.load(io.BytesIO(data), allow_pickle=False)
    return np.asarray(array)


def _load_npy(data: bytes) -> np.ndarray:
    """Read an .npy upload after checking that its header matches the bytes that follow."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, OSError, EOFError) as err:
        raise InvalidInputError(f"corrupt .npy record ({err})", field="file") from err
    if dtype.hasobject:
        raise InvalidInputError("record must hold numbers, not objects", field="file")
    expected = dtype.itemsize * int(np.prod(shape, dtype=object))
    available = len(data) - stream.tell()
    if expected != available:
        raise InvalidInputError(
            f".npy header claims shape {tuple(shape)} of {dtype} ({expected} bytes) but the "
            f"file holds {available} bytes of data",
            field="file",
        )
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InvalidInputError(f"corrupt .npy record ({err})", field="file") from err
    return np.asarray(array)


def _from_csv(data: bytes) -> tuple[np.ndarray, list[str] | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInputError("CSV record is not UTF-8 text", field="file") from err
    lines = text.splitlines()
    if not lines:
        raise InvalidInputError("CSV record is empty", field="file")
    first = lines[0].split(",")
    names: list[str] | None = None
    try:
        [float(cell) for cell in first]
    except ValueError:
        names = [cell.strip() for cell in first]
        lines = lines[1:]
    try:
        array = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=2)
    except ValueError as err:
        raise InvalidInputError(f"CSV record has a non-numeric cell ({err})", field="file") from err
    return array, names


def parse_record_upload(data: bytes, filename: str) -> tuple[np.ndarray, list[str] | None]:
    """Decode an uploaded record (.npy, or CSV with an optional header row).

    Returns the ``(n_samples, n_channels)`` array and the column names found in the file.
    """
    if data[:6] == b"\x93NUMPY":
        array = _load_npy(data)
        names = None
    elif filename.lower().endswith((".csv", ".txt")) or not filename:
        array, names = _from_csv(data)
    else:
        raise InvalidInputError("record must be a .npy array or a CSV file", field="file")
    if array.dtype.kind not in "fiu":
        raise InvalidInputError(f"record must hold numbers, not {array.dtype}", field="file")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] < 1:
        raise InvalidInputError(
            f"record must be samples x channels, got shape {array.shape}", field="file"
        )
    if array.shape[1] > MAX_CHANNELS:
        raise InvalidInputError(
            f"record has {array.shape[1]} channels, more than {MAX_CHANNELS}; is it transposed?",
            field="file",
        )
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise InvalidInputError(
            f"record has a non-finite sample at row {int(bad[0])}, column {int(bad[1])}",
            field="file",
        )
    return array, names


def record_to_npy(array: np.ndarray) -> bytes:
    """Serialise an array as .npy bytes."""
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def record_to_csv(array: np.ndarray, names: list[str], start_s: float, rate_hz: float) -> str:
    """CSV with a ``time_s`` column (seconds from the record start) then one column per channel."""
    times = start_s + np.arange(array.shape[0]) / rate_hz
    out = io.StringIO()
    out.write(",".join(["time_s", *names]) + "\n")
    np.savetxt(out, np.column_stack([times, array]), delimiter=",", fmt="%.9g")
    return out.getvalue()
