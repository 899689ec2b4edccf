"""Rolling-origin backtests of the trend forecasts: interval coverage and error vs a naive forecast.

At every origin a forecast is fitted on the preceding ``history`` only and compared with the
readings of the following ``horizon`` (4 lead times per origin; at most 12 origins per series,
evenly spread). Printed per dataset and
overall: the empirical coverage of the 95 % prediction interval, the mean absolute error (MAE)
of the forecast's mean and of the naive last-value forecast (the baseline, same origins, same
process) with their ratio, the same ratio for the forecast's median (``median``: the line the
web page, the reports and ``--plot`` draw), and the figures of a plain robust linear trend (the
former default).

Datasets (``--datasets``, default ``../shared/datasets``; see the READMEs under ``shm/``):

Munich test bridge (UniBw)
    strain during the four support-lowering runs, 1 s means; history 120 s, horizon 30 s.
Yonghe (SMC benchmark)
    hourly FDD frequencies of 4 modes, the 192 healthy hours; history 48 h, horizon 12 h.
Mukilteo (USGS)
    the 14-day station records (battery voltage and raw sensor channels, 15 min); history
    3 days, horizon 12 h.
Demo settlement (generated, truth known)
    ``VD-P2-SETTLE`` of ``infrasight.demo`` (seeds 0-4), origins 55-70 days into a 100-day
    record, all history since its start, horizon 30 days. Also: the current value inside its
    interval (the mean of its last 24 h, and the last reading) and the time to 10 mm against the
    generator's truth on the 90-day demo record (forecast made for a 30-day horizon).

Usage: python benchmarks/forecast_eval.py [--datasets PATH] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from infrasight.demo.timeseries import generate_demo_series
from infrasight.signals import fit_best_trend, fit_trend, time_to_limit
from infrasight.signals.errors import SignalsError
from infrasight.signals.tables import parse_times

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400.0
LEVEL = 0.95
DEMO_END_S = 1_780_000_000.0


@dataclass
class Tally:
    """Accumulated backtest errors of one dataset."""

    inside: list[bool] = field(default_factory=list)
    inside_linear: list[bool] = field(default_factory=list)
    err: list[float] = field(default_factory=list)
    err_naive: list[float] = field(default_factory=list)
    err_linear: list[float] = field(default_factory=list)
    err_median: list[float] = field(default_factory=list)
    origins: int = 0

    def add(self, other: Tally) -> None:
        self.inside += other.inside
        self.inside_linear += other.inside_linear
        self.err += other.err
        self.err_naive += other.err_naive
        self.err_linear += other.err_linear
        self.err_median += other.err_median
        self.origins += other.origins

    def summary(self) -> dict[str, Any]:
        if not self.inside:
            return {"origins": 0}
        return {
            "origins": self.origins,
            "points": len(self.inside),
            "coverage_95": float(np.mean(self.inside)),
            "mae": float(np.mean(self.err)),
            "mae_naive": float(np.mean(self.err_naive)),
            "mae_ratio": float(np.mean(self.err) / max(np.mean(self.err_naive), 1e-300)),
            "median_mae_ratio": float(
                np.mean(self.err_median) / max(np.mean(self.err_naive), 1e-300)
            ),
            "linear_coverage_95": float(np.mean(self.inside_linear)),
            "linear_mae_ratio": float(
                np.mean(self.err_linear) / max(np.mean(self.err_naive), 1e-300)
            ),
        }


def backtest(
    t: np.ndarray,
    y: np.ndarray,
    *,
    history_s: float | None,
    horizon_s: float,
    step_s: float,
    leads: int = 4,
    first_origin_s: float | None = None,
    max_origins: int | None = None,
) -> Tally:
    """Rolling-origin backtest of one series (``history_s=None``: all readings before)."""
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    tally = Tally()
    start = t[0] + (history_s if history_s is not None else 0.0)
    first = max(start, first_origin_s) if first_origin_s is not None else start
    origins = np.arange(first, t[-1] - horizon_s + 1e-9, step_s)
    if max_origins is not None and origins.size > max_origins:  # evenly spread subset
        origins = origins[np.linspace(0, origins.size - 1, max_origins).round().astype(int)]
    for origin in origins:
        lo = -np.inf if history_s is None else origin - history_s
        h = (t >= lo) & (t <= origin)
        future = t > origin
        # evaluate at `leads` readings spread over the horizon
        idx = np.flatnonzero(future & (t <= origin + horizon_s))
        if h.sum() >= 8 and idx.size:
            pick = idx[np.unique(np.linspace(0, idx.size - 1, leads).round().astype(int))]
            try:
                sel = fit_best_trend(t[h], y[h], horizon_s=horizon_s)
                lin = fit_trend(t[h], y[h], kind="linear")
            except SignalsError:
                continue
            fc = sel.predict(t[pick], level=LEVEL)
            fl = lin.predict(t[pick], level=LEVEL)
            truth = y[pick]
            last = y[h][-1]
            tally.inside += list((truth >= fc.lower) & (truth <= fc.upper))
            tally.inside_linear += list((truth >= fl.lower) & (truth <= fl.upper))
            tally.err += list(np.abs(fc.mean - truth))
            tally.err_median += list(np.abs(fc.median - truth))  # the line the pages draw
            tally.err_linear += list(np.abs(fl.mean - truth))
            tally.err_naive += list(np.abs(last - truth))
            tally.origins += 1
    return tally


# ------------------------------------------------------------------------------------ datasets
def _read_zip_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with zipfile.ZipFile(path) as z:
        data = z.read(z.namelist()[0])
    if data[:2] == b"PK":  # zip in zip
        with zipfile.ZipFile(io.BytesIO(data)) as z2:
            data = z2.read(z2.namelist()[0])
    lines = data.decode("utf-8-sig").splitlines()
    return lines[0].split(","), [ln.split(",") for ln in lines[1:] if ln]


def munich_series(folder: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Strain of each support-lowering run as 1 s means."""
    for path in sorted((folder / "Settlements" / "Lowering").glob("*.zip")):
        hdr, rows = _read_zip_csv(path)
        t = parse_times([r[0] for r in rows], column=hdr[0])
        v = np.array([float(r[1]) if len(r) > 1 and r[1] else np.nan for r in rows])
        nb = t.size // 100
        yield (
            path.name.split("_support_")[1].split("DMS")[0],
            t[: nb * 100].reshape(nb, 100).mean(axis=1),
            np.nanmean(v[: nb * 100].reshape(nb, 100), axis=1),
        )


def yonghe_series(folder: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Hourly frequencies of modes 1-4, healthy hours only (samples 1-192)."""
    lines = (folder / "Yonghe_Modal_FDD_with_headers.csv").read_text().splitlines()
    for line in lines[1:]:
        cells = line.split(",")
        f = np.array([float(x) for x in cells[1:193]])
        yield cells[0], np.arange(f.size) * 3600.0, f


def mukilteo_series(folder: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Battery voltage and sensor channels of the 14-day station records (15 min)."""
    for path in sorted((folder / "data" / "RALHS").glob("*_14d.txt")):
        rows = [ln.split("\t") for ln in path.read_text().splitlines() if ln.strip()]
        t = parse_times([r[0] for r in rows], column="timestamp")
        width = min(len(r) for r in rows)
        for j in range(2, width):
            try:
                v = np.array([float(r[j]) for r in rows])
            except ValueError:
                continue
            if np.nanstd(v) > 0 and np.unique(v).size > 20:
                yield f"{path.stem.removesuffix('_14d')}:{j}", t, v


def demo_settlement(seed: int, days: int) -> tuple[np.ndarray, np.ndarray, Any]:
    d = generate_demo_series(end_s=DEMO_END_S, days=days, seed=seed)
    return d.times_s, d.values["VD-P2-SETTLE"], d


def demo_truth_check(seeds: range) -> dict[str, Any]:
    """The 90-day demo record: current value in its interval, time to 10 mm vs the truth."""
    rows = []
    for seed in seeds:
        t, y, d = demo_settlement(seed, 90)
        sel = fit_best_trend(t, y, horizon_s=30 * DAY)
        now = sel.predict([t[-1]], level=LEVEL)
        ttl = time_to_limit(sel, 10.0, horizon_s=60 * DAY)
        current = float(np.mean(y[t > t[-1] - DAY]))
        r = d.settlement_rate_mm_per_day
        e_end = (t[-1] - d.settlement_onset_s) / DAY
        # settlement = r e (1 + e / 60): reaches 10 mm at e = (-60 + sqrt(3600 + 240 * 10 / r)) / 2
        true_eta = (-60 + np.sqrt(3600 + 4 * 60 * 10 / r)) / 2 - e_end
        eta = None if ttl.eta_s is None else ttl.eta_s / DAY
        lin = fit_trend(t, y)
        lin_ttl = time_to_limit(lin, 10.0, horizon_s=60 * DAY)
        rows.append(
            {
                "seed": seed,
                "kind": sel.kind,
                "last_reading": float(y[-1]),
                "current_24h_mean": current,
                "now": [float(now.mean[0]), float(now.lower[0]), float(now.upper[0])],
                "current_inside": bool(now.lower[0] <= current <= now.upper[0]),
                "last_reading_inside": bool(now.lower[0] <= y[-1] <= now.upper[0]),
                "eta_days": eta,
                "true_eta_days": float(true_eta),
                "eta_error": None if eta is None else abs(eta - true_eta) / true_eta,
                "linear_eta_days": None if lin_ttl.eta_s is None else lin_ttl.eta_s / DAY,
            }
        )
    return {"runs": rows}


def run(datasets: Path, smoke: bool) -> dict[str, Any]:
    shm = datasets / "shm"
    out: dict[str, Any] = {"datasets": {}}
    overall = Tally()
    cap = 3 if smoke else 12  # origins per series, evenly spread
    specs: list[tuple[str, Iterator[tuple[str, np.ndarray, np.ndarray]], float, float, float]] = []
    if (shm / "munich-bridge").is_dir():
        specs.append(("munich-lowering", munich_series(shm / "munich-bridge"), 120, 30, 15))
    if (shm / "yonghe").is_dir():
        specs.append(("yonghe", yonghe_series(shm / "yonghe"), 48 * 3600, 12 * 3600, 6 * 3600))
    if (shm / "mukilteo-rain").is_dir():
        specs.append(
            ("mukilteo", mukilteo_series(shm / "mukilteo-rain"), 3 * DAY, DAY / 2, DAY / 2)
        )
    if not specs:
        print(f"real records not found under {shm}: only the generated demo settlement is run")
    for name, series, hist, hor, step in specs:
        tally = Tally()
        for k, (_, t, y) in enumerate(series):
            if smoke and k >= 2:
                break
            tally.add(backtest(t, y, history_s=hist, horizon_s=hor, step_s=step, max_origins=cap))
        out["datasets"][name] = tally.summary()
        print(f"  {name}: {tally.origins} origins done", file=sys.stderr, flush=True)
        overall.add(tally)
    demo = Tally()
    for seed in range(2 if smoke else 5):
        t, y, _ = demo_settlement(seed, 100)
        demo.add(
            backtest(
                t,
                y,
                history_s=None,
                horizon_s=30 * DAY,
                step_s=5 * DAY,
                first_origin_s=t[0] + 55 * DAY,
                max_origins=2 if smoke else None,
            )
        )
    out["datasets"]["demo-settlement"] = demo.summary()
    overall.add(demo)
    out["overall"] = overall.summary()
    out["demo_90d"] = demo_truth_check(range(1 if smoke else 5))
    return out


def _print(res: dict[str, Any]) -> None:
    print(
        f"{'dataset':18s} {'origins':>7s} {'points':>6s} {'cover95':>8s} {'MAE':>10s} "
        f"{'naive MAE':>10s} {'ratio':>6s} {'median':>6s} | linear: {'cover95':>8s} {'ratio':>6s}"
    )
    for name, s in [*res["datasets"].items(), ("OVERALL", res["overall"])]:
        if not s.get("origins"):
            print(f"{name:18s} (no origins)")
            continue
        print(
            f"{name:18s} {s['origins']:7d} {s['points']:6d} {s['coverage_95']:8.3f} "
            f"{s['mae']:10.4g} {s['mae_naive']:10.4g} {s['mae_ratio']:6.2f} "
            f"{s['median_mae_ratio']:6.2f} | "
            f"linear: {s['linear_coverage_95']:8.3f} {s['linear_mae_ratio']:6.2f}"
        )
    print("\ndemo VD-P2-SETTLE, 90 days (default forecast), limit 10 mm:")
    for r in res["demo_90d"]["runs"]:
        eta = "none" if r["eta_days"] is None else f"{r['eta_days']:.1f} d"
        lin = "none" if r["linear_eta_days"] is None else f"{r['linear_eta_days']:.1f} d"
        print(
            f"  seed {r['seed']}: {r['kind']:11s} now {r['now'][0]:.2f} "
            f"[{r['now'][1]:.2f}, {r['now'][2]:.2f}]; last 24 h {r['current_24h_mean']:.2f} "
            f"(inside: {r['current_inside']}), last reading {r['last_reading']:.2f} "
            f"(inside: {r['last_reading_inside']}); 10 mm in {eta} "
            f"(truth {r['true_eta_days']:.1f} d, "
            f"error {100 * (r['eta_error'] or float('nan')):.1f} %; linear {lin})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--smoke", action="store_true", help="3 origins per series, 2 series (seconds)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run(args.datasets, args.smoke)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        _print(res)


if __name__ == "__main__":
    main()
