"""The NAB scorer against NAB's published figures (skipped without ../shared/datasets)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from infrasight.signals.anomaly import RECOMMENDED_THRESHOLD, anomaly_scores
from infrasight.signals.nab import PROFILES, prepare_series, score_corpus

ROOT = Path(
    os.environ.get("INFRASIGHT_DATASETS", Path(__file__).parents[3] / "shared" / "datasets")
)
NAB = ROOT / "signals" / "nab-dev"
pytestmark = pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB subset not found under {ROOT}")


def _ts(text: str) -> np.datetime64:
    return np.datetime64(text.strip().replace(" ", "T"), "s")


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]


@pytest.fixture(scope="module")
def labels() -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = json.loads(
        (NAB / "labels" / "combined_windows.json").read_text(encoding="utf-8")
    )
    return out


@pytest.mark.parametrize(
    ("detector", "expected"),
    [("numenta", (66.6, 60.8, 71.1)), ("ARTime", (67.8, 57.8, 73.7))],
)
def test_published_figures_are_reproduced(
    labels: dict[str, list[list[str]]], detector: str, expected: tuple[float, ...]
) -> None:
    series = []
    for rel, windows in sorted(labels.items()):
        cat, name = rel.split("/")
        rows = _rows(NAB / "reference-results" / detector / cat / f"{detector}_{name}")
        series.append(
            prepare_series(
                [_ts(r[0]) for r in rows],
                [float(r[1]) for r in rows],
                [(_ts(a), _ts(b)) for a, b in windows],
            )
        )
    got = [score_corpus(series, p).score for p in PROFILES]
    assert got == pytest.approx(list(expected), abs=0.1)


def test_project_detector_figures(labels: dict[str, list[list[str]]]) -> None:
    series = []
    for rel, windows in sorted(labels.items()):
        rows = _rows(NAB / "data" / rel)
        stamps = np.array([_ts(r[0]) for r in rows])
        t = (stamps - stamps[0]).astype(np.float64)
        s = anomaly_scores(np.array([float(r[1]) for r in rows]), times=t)
        series.append(prepare_series(stamps, s, [(_ts(a), _ts(b)) for a, b in windows]))
    std, low_fp, low_fn = (score_corpus(series, p) for p in PROFILES)
    # the figures in README / docs/signals.md (70.9 / 63.4 / 75.8)
    assert (std.score, low_fp.score, low_fn.score) == pytest.approx((70.9, 63.4, 75.8), abs=0.1)
    assert std.threshold == pytest.approx(RECOMMENDED_THRESHOLD, abs=0.01)
