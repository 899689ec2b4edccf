"""NAB v1.1 scoring against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infrasight.signals import InputDataError
from infrasight.signals.nab import (
    PROFILES,
    prepare_series,
    probationary_length,
    scaled_sigmoid,
    score_corpus,
    total_at_threshold,
)

STANDARD, LOW_FP, LOW_FN = PROFILES


def _s(x: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def test_scaled_sigmoid_and_probation() -> None:
    assert scaled_sigmoid([0.0, -1.0, 1.0, 3.0, 3.5]) == pytest.approx(
        [0.0, 0.9866143, -0.9866143, -0.9999994, -1.0], abs=1e-6
    )
    assert probationary_length(100) == 15
    assert probationary_length(4032) == 604
    assert probationary_length(22695) == 750


def _series(scores: dict[int, float], n: int = 20, windows=((10, 13),)):  # type: ignore[no-untyped-def]
    sc = np.zeros(n)
    for i, v in scores.items():
        sc[i] = v
    return prepare_series(list(range(n)), sc, list(windows))


def test_detection_inside_a_window() -> None:
    # window rows 10..13 (width 4); a detection at row 11 is worth S(-(13 - 11 + 1) / 4) / S(-1)
    r = score_corpus([_series({11: 0.8})], STANDARD)
    tp = _s(-0.75) / _s(-1.0)
    assert tp == pytest.approx(0.966990, abs=1e-6)
    assert r.raw == pytest.approx(tp)
    assert r.score == pytest.approx(100 * (tp + 1) / 2)  # null -1, perfect +1
    assert (r.tp_windows, r.fn_windows, r.fp_rows, r.threshold) == (1, 0, 0, 0.8)
    # a detection at the window's first row is perfect; later rows of the window add nothing
    perfect = score_corpus([_series({10: 0.9, 11: 0.9, 12: 0.9})], STANDARD)
    assert perfect.score == pytest.approx(100.0)


def test_false_positive_before_the_window_and_the_sweep() -> None:
    series = [_series({5: 0.9, 11: 0.8})]
    tp = _s(-0.75) / _s(-1.0)
    # threshold 0.9: FP only (-0.11) and the window missed (-1); 0.8: FP + TP; best is 0.8
    std = score_corpus(series, STANDARD)
    assert std.raw == pytest.approx(tp - 0.11)
    assert std.score == pytest.approx(100 * (tp - 0.11 + 1) / 2)
    assert std.fp_rows == 1 and std.threshold == 0.8
    assert score_corpus(series, LOW_FP).raw == pytest.approx(tp - 0.22)
    low_fn = score_corpus(series, LOW_FN)
    assert low_fn.score == pytest.approx(100 * (tp - 0.11 + 2) / 3)  # null -2, perfect +1
    # a lone FP never beats detecting nothing (and flagging all 170 scored rows costs more):
    # score 0 at threshold inf
    none = score_corpus([_series({50: 0.9}, n=200, windows=((100, 103),))], STANDARD)
    assert none.score == 0.0 and none.threshold == math.inf


def test_total_at_a_fixed_threshold() -> None:
    # the threshold comes from elsewhere (cross-validation): no sweep on these series
    series = [_series({5: 0.9, 11: 0.8}), _series({2: 0.3})]
    tp = _s(-0.75) / _s(-1.0)
    # 0.8: one FP and the first window found; the second series' window is missed (-1)
    assert total_at_threshold(series, STANDARD, 0.8) == (pytest.approx(tp - 0.11 - 1.0), 2)
    # 0.85: only the FP; both windows missed
    assert total_at_threshold(series, LOW_FP, 0.85) == (pytest.approx(-0.22 - 2.0), 2)
    # equal to the sweep's raw total at the sweep's own threshold
    best = score_corpus(series, STANDARD)
    assert total_at_threshold(series, STANDARD, best.threshold)[0] == pytest.approx(best.raw)


def test_false_positive_after_a_window_costs_less() -> None:
    # row 15 is (15 - 13) / (4 - 1) window widths after the window
    r = score_corpus([_series({11: 0.9, 15: 0.8})], STANDARD)
    tp = _s(-0.75) / _s(-1.0)
    fp = 0.11 * _s(2 / 3)
    assert fp == pytest.approx(-0.102422, abs=1e-6)
    assert r.raw == pytest.approx(tp) and r.threshold == 0.9  # the FP does not pay off
    both = _series({11: 0.8, 15: 0.9})  # now the FP comes first in the sweep
    assert score_corpus([both], STANDARD).raw == pytest.approx(tp + fp)


def test_probationary_rows_and_windows_are_not_scored() -> None:
    # n = 20 -> 3 probationary rows; a window inside them is not counted at all
    s = _series({1: 1.0, 11: 0.8}, windows=((0, 2), (10, 13)))
    assert s.n_windows == 1 and s.scores.size == 17
    assert score_corpus([s], STANDARD).score == pytest.approx(100 * (_s(-0.75) / _s(-1) + 1) / 2)


def test_repeated_timestamps_match_their_first_row_and_bad_windows_are_refused() -> None:
    times = [0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
    s = prepare_series(times, np.zeros(20), [(3, 5)])
    assert np.flatnonzero(s.window >= 0).tolist() == [0, 1, 2, 3]  # rows 3..6 after probation 3
    with pytest.raises(InputDataError, match="row timestamps"):
        prepare_series(times, np.zeros(20), [(3, 99)])
    with pytest.raises(InputDataError, match="scores"):
        prepare_series(times, np.zeros(3), [])
