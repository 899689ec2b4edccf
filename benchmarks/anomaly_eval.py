"""NAB evaluation of the online anomaly score (`infrasight.signals.score_online`).

Scores the 35 NAB v1.1 series shipped in ``<datasets>/signals/nab-dev`` with NAB's own rules
(:mod:`infrasight.signals.nab`: probationary period, scaled-sigmoid window rewards, one threshold
swept over the whole set, normalised between the null and the perfect detector) for the three
profiles, and prints in the same run:

* the published per-row outputs of Numenta HTM and ARTime (``reference-results``): the check of
  the scorer (NAB's own figures: 66.6 / 60.8 / 71.1 and 67.8 / 57.8 / 73.7);
* this project's detector (series fed in one call with its reading times; points per second on
  one core);
* baselines: a rolling z-score (mean and standard deviation of the previous 100 readings) and the
  project's previous detector (``benchmarks/_anomaly_v1.py``).

Also: the share of ``art_daily_no_noise`` rows scoring above 0.9, and the recommended threshold
(the standard-profile optimum) of the project's detector.

Cross-validation (``... (CV)`` rows): leave one NAB category out (4 folds). On the other three
categories the threshold is swept per profile and, for the project's detector, its two free
constants (seasons averaged into the profile and the spike margin, from ``GRID``) are chosen by
the standard-profile total; the held-out category is then scored at those constants and that
threshold. The folds' raw totals are summed and
normalised over all windows. The reference detectors get the same treatment for the threshold.

Usage: python benchmarks/anomaly_eval.py [--datasets PATH] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infrasight.signals.anomaly import SEASONS, SPIKE_MARGIN, anomaly_scores
from infrasight.signals.nab import (
    PROFILES,
    ScoredSeries,
    prepare_series,
    score_corpus,
    total_at_threshold,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _anomaly_v1 import anomaly_scores as v1_scores

ROOT = Path(__file__).resolve().parents[1]
SMOKE_FILES = (
    "artificialNoAnomaly/art_daily_no_noise.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
    "realKnownCause/ec2_request_latency_system_failure.csv",
)
# candidate (seasons, spike margin) for the cross-validation; --smoke tries the first and last
GRID = tuple((k, m) for k in (1, 2, 3, 5, 8) for m in (1.0, 1.1, 1.2))
Detector = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]
Prepared = dict[str, ScoredSeries]


def _ts(text: str) -> np.datetime64:
    return np.datetime64(text.strip().replace(" ", "T"), "s")


def load(nab: Path, smoke: bool) -> list[dict[str, Any]]:
    labels: dict[str, list[list[str]]] = json.loads(
        (nab / "labels" / "combined_windows.json").read_text(encoding="utf-8")
    )
    out = []
    for rel in sorted(labels):
        if smoke and rel not in SMOKE_FILES:
            continue
        with (nab / "data" / rel).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))[1:]
        stamps = np.array([_ts(r[0]) for r in rows])
        out.append(
            {
                "rel": rel,
                "stamps": stamps,
                "t": (stamps - stamps[0]).astype(np.float64),
                "v": np.array([float(r[1]) for r in rows]),
                "windows": [(_ts(a), _ts(b)) for a, b in labels[rel]],
            }
        )
    return out


def _reference(nab: Path, name: str, rel: str) -> NDArray[np.float64]:
    cat, file = rel.split("/")
    path = nab / "reference-results" / name / cat / f"{name}_{file}"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    return np.array([float(r[1]) for r in rows])


def rolling_z(t: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """|x - mean| / std of the previous 100 readings."""
    w = 100
    cs = np.concatenate([[0.0], np.cumsum(v)])
    cs2 = np.concatenate([[0.0], np.cumsum(v * v)])
    i = np.arange(v.size)
    lo = np.maximum(i - w, 0)
    cnt = np.maximum(i - lo, 1)
    mu = (cs[i] - cs[lo]) / cnt
    sd = np.sqrt(np.maximum((cs2[i] - cs2[lo]) / cnt - mu * mu, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(v - mu) / sd
    z = np.nan_to_num(z, nan=0.0, posinf=1e6)
    z[:10] = 0.0
    return z / (1.0 + z)


def evaluate(
    data: list[dict[str, Any]], scores: dict[str, NDArray[np.float64]]
) -> list[dict[str, Any]]:
    series = [prepare_series(d["stamps"], scores[d["rel"]], d["windows"]) for d in data]
    return [
        {
            "profile": r.profile,
            "score": round(r.score, 2),
            "threshold": r.threshold,
            "tp_windows": r.tp_windows,
            "fn_windows": r.fn_windows,
            "fp_rows": r.fp_rows,
        }
        for r in (score_corpus(series, p) for p in PROFILES)
    ]


def prepare(data: list[dict[str, Any]], scores: dict[str, NDArray[np.float64]]) -> Prepared:
    return {d["rel"]: prepare_series(d["stamps"], scores[d["rel"]], d["windows"]) for d in data}


def cross_validate(variants: dict[Any, Prepared]) -> tuple[list[float], list[Any]]:
    """Leave-one-category-out NAB score per profile, and the constant each fold chose.

    ``variants`` maps a value of the free constant to the prepared series of every file.
    """
    any_variant = next(iter(variants.values()))
    cats = sorted({rel.split("/")[0] for rel in any_variant})
    out, picks = [], []
    for prof in PROFILES:
        raw, n_win = 0.0, 0
        for cat in cats:
            train = [r for r in any_variant if not r.startswith(cat + "/")]
            test = [r for r in any_variant if r.startswith(cat + "/")]
            best = max(
                variants,
                key=lambda v: score_corpus([variants[v][r] for r in train], PROFILES[0]).raw,
            )
            thr = score_corpus([variants[best][r] for r in train], prof).threshold
            r_raw, r_win = total_at_threshold([variants[best][r] for r in test], prof, thr)
            raw, n_win = raw + r_raw, n_win + r_win
            if prof is PROFILES[0]:
                picks.append(best)
        out.append(100.0 * (raw + prof.a_fn * n_win) / ((prof.a_tp + prof.a_fn) * n_win))
    return out, picks


def run_detector(data: list[dict[str, Any]], fn: Detector) -> tuple[dict[str, Any], float]:
    out, total, n = {}, 0.0, 0
    for d in data:
        t0 = time.perf_counter()
        out[d["rel"]] = fn(d["t"], d["v"])
        total += time.perf_counter() - t0
        n += d["v"].size
    return out, n / total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--datasets",
        type=Path,
        default=Path(os.environ.get("INFRASIGHT_DATASETS", ROOT.parent / "shared" / "datasets")),
    )
    ap.add_argument("--smoke", action="store_true", help="4 files only (seconds)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    nab = a.datasets / "signals" / "nab-dev"
    if not (nab / "labels" / "combined_windows.json").is_file():
        print(
            f"datasets missing: {nab} not found (pass --datasets or set INFRASIGHT_DATASETS)",
            file=sys.stderr,
        )
        return 2
    data = load(nab, a.smoke)
    results: dict[str, Any] = {"files": len(data), "detectors": {}, "cross_validated": {}}
    for name in ("numenta", "ARTime"):
        ref = {d["rel"]: _reference(nab, name, d["rel"]) for d in data}
        results["detectors"][name] = {"nab": evaluate(data, ref), "points_per_s": None}
        results["cross_validated"][name] = {"nab": cross_validate({0.0: prepare(data, ref)})[0]}
    detectors: dict[str, Detector] = {
        "infrasight": lambda t, v: anomaly_scores(v, times=t),
        "rolling z-score (100)": rolling_z,
        "infrasight v1 (old)": lambda t, v: v1_scores(v),
    }
    for name, fn in detectors.items():
        fn(data[0]["t"], data[0]["v"])  # warm caches
        sc, pps = run_detector(data, fn)
        results["detectors"][name] = {"nab": evaluate(data, sc), "points_per_s": round(pps)}
        if name == "infrasight":
            variants = {(SEASONS, SPIKE_MARGIN): prepare(data, sc)}
            for k, m in (GRID[0], GRID[-1]) if a.smoke else GRID:
                if (k, m) not in variants:
                    variants[k, m] = prepare(
                        data,
                        {
                            d["rel"]: anomaly_scores(
                                d["v"], times=d["t"], seasons=k, spike_margin=m
                            )
                            for d in data
                        },
                    )
            cv, picks = cross_validate(variants)
            results["cross_validated"]["infrasight"] = {
                "nab": cv,
                "seasons_spike_margin_per_fold": [list(p) for p in picks],
            }
            for d in data:
                if d["rel"].endswith("art_daily_no_noise.csv"):
                    results["no_noise_rows_above_0.9"] = int(np.sum(sc[d["rel"]] > 0.9))
                    results["no_noise_rows"] = int(d["v"].size)
    if a.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"NAB v1.1 scoring on {len(data)} series of {nab} (threshold swept over the set)")
    print(f"{'detector':24s} {'standard':>9s} {'low_FP':>8s} {'low_FN':>8s} {'points/s':>12s}")
    for name, r in results["detectors"].items():
        s = [p["score"] for p in r["nab"]]
        pps = f"{r['points_per_s']:,}" if r["points_per_s"] else "-"
        print(f"{name:24s} {s[0]:9.1f} {s[1]:8.1f} {s[2]:8.1f} {pps:>12s}")
    for name, r in results["cross_validated"].items():
        s = r["nab"]
        print(f"{name + ' (CV)':24s} {s[0]:9.1f} {s[1]:8.1f} {s[2]:8.1f} {'-':>12s}")
    picks = results["cross_validated"]["infrasight"]["seasons_spike_margin_per_fold"]
    print(
        "CV: leave one NAB category out; the threshold, and for infrasight (seasons, spike "
        f"margin) (per fold: {', '.join(f'({k}, {m})' for k, m in picks)}; in use "
        f"({SEASONS}, {SPIKE_MARGIN})), picked on the other categories"
    )
    std = results["detectors"]["infrasight"]["nab"][0]
    print(
        f"infrasight at the standard optimum: threshold {std['threshold']:.3f}, "
        f"{std['tp_windows']} windows found, {std['fn_windows']} missed, "
        f"{std['fp_rows']} false-positive rows"
    )
    if "no_noise_rows" in results:
        print(
            f"art_daily_no_noise: {results['no_noise_rows_above_0.9']} of "
            f"{results['no_noise_rows']} rows score above 0.9"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
