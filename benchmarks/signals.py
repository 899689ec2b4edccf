"""Signal analytics benchmark: rule evaluation, online anomaly scoring, SSI-COV vs a peer.

Prints (or with --json emits) figures beside a baseline run in the same process:

* rule evaluation readings/s (one rule, 3 graded levels with hysteresis, rate-of-change limit
  and persistence) - one call on 10 M readings and the platform's way (batches of 10,000
  readings with the state carried over); baseline: a bare numpy ``v > limit`` pass;
* online anomaly scoring points/s on 2 M points (one call and batches of 10,000); baseline: an
  exponentially weighted z-score (scipy.signal.lfilter), the simplest online detector;
* SSI-COV seconds on a 65,536 x 5 record at 100 Hz (simulated, known modes; plus the Z24
  reference record when the datasets are present) side by side with koma-python (`koma.oma.covssi`
  + `find_stable_poles` + `PoleClusterer`), same block rows and model orders: frequencies found
  by both and the time ratio. If koma is not installed the script says so and still prints ours.

Usage: python benchmarks/signals.py [--json] [--datasets PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from infrasight.signals import (
    Level,
    Limit,
    Rule,
    evaluate_rule,
    load_record,
    score_online,
    ssi_cov,
)
from infrasight.signals.simulate import modal_response

ROOT = Path(__file__).resolve().parents[1]
BLOCK_ROWS = 50
MAX_ORDER = 80


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_rules(n: int, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=np.float64) * 60.0
    v = 60 + 30 * np.sin(2 * np.pi * t / (7 * 86400)) + rng.normal(0, 0.5, n)
    rule = Rule(
        id="bench",
        channels=("a",),
        control_value=100.0,
        persistence_count=3,
        rate_window_s=3600.0,
        rate_unit_s=3600.0,
        levels=(
            Level(name="70%", severity=1, limits=(Limit(upper_pct=70.0, hysteresis=1.0),)),
            Level(name="85%", severity=2, limits=(Limit(upper_pct=85.0, hysteresis=1.0),)),
            Level(
                name="100%",
                severity=3,
                limits=(Limit(upper_pct=100.0), Limit(quantity="rate", upper=20.0)),
            ),
        ),
    )
    t_one, ev = _best(lambda: evaluate_rule(rule, {"a": (t, v)}), repeat)

    def batched() -> int:
        state = None
        count = 0
        for s in range(0, n, 10_000):
            e = evaluate_rule(rule, {"a": (t[s : s + 10_000], v[s : s + 10_000])}, state)
            state = e.state
            count += len(e.transitions)
        return count

    nb = min(n, 2_000_000)
    t_batch, _ = _best(lambda: batched(), 1) if nb == n else (float("nan"), None)
    if nb != n:
        t2, v2 = t[:nb], v[:nb]

        def batched_small() -> None:
            state = None
            for s in range(0, nb, 10_000):
                state = evaluate_rule(
                    rule, {"a": (t2[s : s + 10_000], v2[s : s + 10_000])}, state
                ).state

        t_batch, _ = _best(batched_small, 1)
    t_base, _ = _best(lambda: int(np.count_nonzero(v > 70.0)), repeat)
    return {
        "readings": n,
        "readings_per_s": n / t_one,
        "batched_readings_per_s": nb / t_batch,
        "batch_size": 10_000,
        "transitions": len(ev.transitions),
        "baseline_numpy_threshold_readings_per_s": n / t_base,
        "target_readings_per_s": 5e6,
    }


def bench_anomaly(n: int, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    x = np.sin(np.arange(n) / 500.0) * 3 + rng.normal(0, 1, n)
    t_one, _ = _best(lambda: score_online(x)[0], repeat)

    def batched() -> None:
        st = None
        for s in range(0, n, 10_000):
            _, st = score_online(x[s : s + 10_000], st)

    t_batch, _ = _best(batched, 1)

    def ewma_z() -> np.ndarray:
        a = 0.01
        m = lfilter([a], [1, a - 1], x)
        var = lfilter([a], [1, a - 1], (x - np.r_[x[0], m[:-1]]) ** 2)
        return np.abs(x - np.r_[x[0], m[:-1]]) / np.sqrt(np.maximum(np.r_[1.0, var[:-1]], 1e-12))

    t_base, _ = _best(ewma_z, repeat)
    return {
        "points": n,
        "points_per_s": n / t_one,
        "batched_points_per_s": n / t_batch,
        "batch_size": 10_000,
        "baseline_ewma_z_points_per_s": n / t_base,
        "target_points_per_s": 2e5,
    }


def _koma(data: np.ndarray, fs: float) -> tuple[float, list[float]] | None:
    try:
        import koma.clustering
        import koma.oma
    except ImportError:
        return None

    def run() -> list[float]:
        orders = np.arange(2, MAX_ORDER + 1, 2)
        lambd, phi, order_arr = koma.oma.covssi(data, fs, BLOCK_ROWS, orders, showinfo=False)
        stab = koma.oma.find_stable_poles(
            lambd,
            phi,
            order_arr,
            2,
            stabcrit={"freq": 0.01, "damping": 0.05, "mac": 0.02},
            valid_range={"freq": [0, np.inf], "damping": [0, 0.1]},
            indicator="freq",
        )
        lambd_s, phi_s, orders_s = stab[0], stab[1], stab[2]
        pc = koma.clustering.PoleClusterer(
            lambd_s,
            phi_s,
            orders_s,
            min_cluster_size=10,
            min_samples=10,
            scaling={"mac": 1.0, "lambda_real": 1.0, "lambda_imag": 1.0},
        )
        args = pc.postprocess(prob_threshold=0.5, normalize_and_maxreal=True)
        grouped = koma.clustering.group_clusters(*args)
        omega = grouped[1]
        return sorted(float(np.median(w)) / (2 * np.pi) for w in omega)

    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        run()  # warm-up (imports, sklearn)
        t0 = time.perf_counter()
        freqs = run()
        dt = time.perf_counter() - t0
    return dt, freqs


def _match(ours: list[float], theirs: list[float], tol: float = 0.02) -> list[list[float]]:
    pairs = []
    for f in ours:
        if theirs:
            g = min(theirs, key=lambda x: abs(x - f))
            if abs(g - f) / f <= tol:
                pairs.append([round(f, 3), round(g, 3)])
    return pairs


def bench_ssi(data: np.ndarray, fs: float, label: str, repeat: int) -> dict[str, Any]:
    ssi_cov(data[:8192], fs, block_rows=BLOCK_ROWS, max_order=MAX_ORDER)  # warm-up
    t_ours, res = _best(
        lambda: ssi_cov(data, fs, block_rows=BLOCK_ROWS, max_order=MAX_ORDER), repeat
    )
    ours = [float(f) for f in res.frequencies_hz]
    out: dict[str, Any] = {
        "record": label,
        "shape": list(data.shape),
        "fs_hz": fs,
        "block_rows": BLOCK_ROWS,
        "orders": f"2..{MAX_ORDER} step 2",
        "ours_s": t_ours,
        "ours_frequencies_hz": [round(f, 3) for f in ours],
        "target_s": 2.0,
    }
    peer = _koma(data, fs)
    if peer is None:
        out["peer"] = (
            "koma-python NOT INSTALLED - peer comparison skipped (pip install koma-python)"
        )
        return out
    t_peer, theirs = peer
    out.update(
        peer="koma-python " + _version("koma-python"),
        peer_s=t_peer,
        peer_frequencies_hz=[round(f, 3) for f in theirs],
        found_by_both_hz=_match(ours, theirs),
        time_ratio_peer_over_ours=t_peer / t_ours,
    )
    return out


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat (seconds)")
    ap.add_argument(
        "--datasets",
        type=Path,
        default=Path(os.environ.get("INFRASIGHT_DATASETS", ROOT.parent / "shared" / "datasets")),
    )
    a = ap.parse_args()
    repeat = 1 if a.quick or a.smoke else 3
    n_rules = 100_000 if a.smoke else 2_000_000 if a.quick else 10_000_000
    n_anomaly = 50_000 if a.smoke else 500_000 if a.quick else 2_000_000
    report: dict[str, Any] = {
        "rules": bench_rules(n_rules, repeat),
        "anomaly": bench_anomaly(n_anomaly, repeat),
    }
    y, truth = modal_response(np.random.default_rng(0), n_samples=8192 if a.smoke else 65536)
    ssi = [
        bench_ssi(
            y,
            100.0,
            "simulated 5-mode bridge (truth "
            + ", ".join(f"{f:g}" for f in truth.frequencies_hz)
            + " Hz)",
            repeat,
        )
    ]
    z24 = a.datasets / "shm" / "z24-pdt-subset" / "01" / "01setup01_R.mat"
    if z24.is_file() and not a.smoke:
        rec = load_record(z24, fs=100.0)
        ssi.append(bench_ssi(rec.data, 100.0, "Z24 01setup01_R.mat", repeat))
    elif a.smoke:
        report["datasets"] = "Z24 SSI-COV row not run in --smoke"
    else:
        report["datasets"] = f"missing: {a.datasets} (Z24 SSI-COV row skipped)"
    report["ssi_cov"] = ssi
    if a.json:
        print(json.dumps(report, indent=2))
        return
    r, an = report["rules"], report["anomaly"]
    print(
        f"rule evaluation : {r['readings_per_s'] / 1e6:8.1f} M readings/s (one call, "
        f"{r['readings']:,}), {r['batched_readings_per_s'] / 1e6:.1f} M/s in batches of "
        f"10,000 | baseline numpy threshold "
        f"{r['baseline_numpy_threshold_readings_per_s'] / 1e6:.0f} M/s | target >= 5 M/s"
    )
    print(
        f"online anomaly  : {an['points_per_s'] / 1e6:8.2f} M points/s (one call), "
        f"{an['batched_points_per_s'] / 1e6:.2f} M/s in batches | baseline EWMA z-score "
        f"{an['baseline_ewma_z_points_per_s'] / 1e6:.1f} M/s | target >= 0.2 M/s"
    )
    for s in ssi:
        print(f"SSI-COV {s['record']} {s['shape'][0]}x{s['shape'][1]} @ {s['fs_hz']:g} Hz:")
        print(f"  ours  {s['ours_s']:.3f} s  {s['ours_frequencies_hz']}")
        if "peer_s" in s:
            print(f"  {s['peer']}  {s['peer_s']:.3f} s  {s['peer_frequencies_hz']}")
            print(f"  found by both (ours, peer): {s['found_by_both_hz']}")
            print(f"  time ratio peer / ours: {s['time_ratio_peer_over_ours']:.1f}x")
        else:
            print(f"  {s['peer']}")
    if "datasets" in report:
        print(report["datasets"])


if __name__ == "__main__":
    main()
