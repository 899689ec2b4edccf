"""Series as loggers write them: sorting, repeated timestamps, gaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infrasight.signals import InputDataError, load_record
from infrasight.signals.readers import tidy_series


def test_repeated_timestamps_are_merged_by_the_stated_rule() -> None:
    t = [3.0, 1.0, 2.0, 2.0, 5.0, 10.0, 2.0]
    v = [30.0, 10.0, 20.0, 40.0, 50.0, 100.0, np.nan]
    mean = tidy_series(t, v)
    assert mean.times.tolist() == [1.0, 2.0, 3.0, 5.0, 10.0]
    assert mean.values.tolist() == [10.0, 30.0, 30.0, 50.0, 100.0]  # NaN ignored by the mean
    assert mean.duplicates == 2 and mean.unsorted == 4  # rows 1, 2, 3, 6 come after a later time
    assert mean.row_index.tolist() == [2, 0, 1, 1, 3, 4, 1]
    first = tidy_series(t, v, rule="first")
    assert first.values.tolist() == [10.0, 20.0, 30.0, 50.0, 100.0]  # first in file order
    # intervals 1, 1, 2, 5: median 1.5 -> two gaps longer than 3? only the 5
    assert (mean.gaps, mean.largest_gap, mean.median_interval) == (1, 5.0, 1.5)
    assert "2 repeated-timestamp rows merged (mean)" in mean.summary()
    only_nan = tidy_series([0.0, 0.0, 1.0], [np.nan, np.nan, 1.0])
    assert np.isnan(only_nan.values[0])


def test_clean_series_passes_unchanged_and_bad_input_is_named() -> None:
    t = np.arange(10.0)
    r = tidy_series(t, t * 2)
    assert (r.duplicates, r.unsorted, r.gaps) == (0, 0, 0)
    assert np.array_equal(r.values, t * 2) and np.array_equal(r.row_index, np.arange(10))
    with pytest.raises(InputDataError, match="rule"):
        tidy_series(t, t, rule="last")  # type: ignore[arg-type]
    with pytest.raises(InputDataError, match="row 3"):
        tidy_series([0.0, 1.0, np.nan], [1.0, 2.0, 3.0])
    with pytest.raises(InputDataError, match="length"):
        tidy_series([0.0, 1.0], [1.0])
    with pytest.raises(InputDataError, match="no rows"):
        tidy_series([], [])


def test_waveform_csv_with_a_repeated_and_a_swapped_row_loads(tmp_path: Path) -> None:
    t = np.arange(200) / 100.0
    x = np.sin(2 * np.pi * 5 * t)
    rows = [f"{a:.2f},{b:.6f}" for a, b in zip(t, x, strict=True)]
    rows.insert(51, rows[50])  # the logger wrote row 50 twice
    rows[10], rows[11] = rows[11], rows[10]
    (tmp_path / "acc.csv").write_text("time,ch0\n" + "\n".join(rows) + "\n")
    rec = load_record(tmp_path / "acc.csv")
    assert rec.fs == pytest.approx(100.0) and rec.data.shape == (200, 1)
    assert np.allclose(rec.data[:, 0], x, atol=1e-6)
