"""Reading time-series columns from CSV files (numbers or ISO-8601 timestamps)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from infrasight.signals.errors import InputDataError

__all__ = ["CsvTable", "parse_times", "read_csv_table"]

FloatArray = NDArray[np.float64]


def parse_times(cells: list[str], *, column: str = "time") -> FloatArray:
    """Convert time cells to seconds: plain numbers, or ISO-8601 (naive = UTC) timestamps.

    Raises
    ------
    InputDataError
        A cell that is neither, naming the row (1 = first data row).
    """
    out = np.empty(len(cells))
    numeric = True
    for i, c in enumerate(cells):
        s = c.strip()
        if numeric:
            try:
                out[i] = float(s)
                continue
            except ValueError:
                if i > 0:
                    raise InputDataError(
                        f"column {column!r}: row {i + 1} is {s!r}, earlier rows are numbers"
                    ) from None
                numeric = False
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            raise InputDataError(
                f"column {column!r}: row {i + 1} value {s!r} is not a number or ISO-8601 time"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        out[i] = dt.timestamp()
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvTable:
    """A CSV file read as text rows plus the parsed time column."""

    header: list[str]
    rows: list[list[str]]
    times: FloatArray

    def __post_init__(self) -> None:
        if len(self.rows) != self.times.size:
            raise ValueError("one time per row expected")

    def values(self, column: str) -> FloatArray:
        """Column as floats (empty cell or ``nan`` = NaN)."""
        if column not in self.header:
            raise InputDataError(f"no column {column!r}; columns are {self.header}")
        j = self.header.index(column)
        out = np.empty(len(self.rows))
        for i, r in enumerate(self.rows):
            cell = r[j].strip() if j < len(r) else ""
            try:
                out[i] = float(cell) if cell else np.nan
            except ValueError:
                raise InputDataError(
                    f"column {column!r}: row {i + 1} value {cell!r} is not a number"
                ) from None
        return out


def read_csv_table(path: str | Path, *, time_col: str) -> CsvTable:
    """Read a CSV file with a header row; parse ``time_col`` to seconds.

    Raises
    ------
    InputDataError
        Missing file, no header, unknown time column, bad cells.
    """
    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"{p}: no such file")
    with p.open(newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(8192)
        fh.seek(0)
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputDataError(f"{p}: empty file") from None
        rows = [r for r in reader if r and any(c.strip() for c in r)]
    if time_col not in header:
        raise InputDataError(f"{p}: no column {time_col!r}; columns are {header}")
    j = header.index(time_col)
    times = parse_times([r[j] if j < len(r) else "" for r in rows], column=time_col)
    return CsvTable(header=header, rows=rows, times=times)
