"""Modal identification you can trust: spurious modes, interval coverage, Z24 first bending.

Printed beside a baseline run in the same process (SSI-COV as it was: model orders up to 80, no
block stage, uncertainty = scatter of the stable poles, interval = value +- 1.96 of it):

* on ``--seeds`` generated 3-channel records with exactly two modes (3.90 and 12.10 Hz, 2 %
  damping, 65,536 samples at 100 Hz, 5 % noise; ``infrasight.signals.simulate.modal_response``
  with seeds 0..N-1): the share with exactly 2 modes, and the share of the true frequencies and
  damping ratios inside the reported 95 % intervals (a missed mode counts as not covered);
* Z24 (``shm/z24-pdt-subset``, reference scenario 01, setups 01-03): the first bending
  frequency against the published 3.9 Hz and whether the close pair (about 9.8-10.0 and
  10.3-10.4 Hz) comes out as two modes.

BLAS is limited to one thread (set before numpy is imported) so that the timings mean something
on a shared machine.

Usage: python benchmarks/modal_eval.py [--seeds 100] [--datasets PATH] [--smoke] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from infrasight.signals import ModalResult, load_record, ssi_cov
from infrasight.signals.simulate import modal_response

ROOT = Path(__file__).resolve().parents[1]
TRUE_F = (3.90, 12.10)
TRUE_Z = (0.02, 0.02)


def _intervals(res: ModalResult, baseline: bool) -> list[tuple[float, Any, Any]]:
    out = []
    for m in res.modes:
        if baseline:
            fi = (
                m.frequency_hz - 1.96 * m.frequency_std_hz,
                m.frequency_hz + 1.96 * m.frequency_std_hz,
            )
            zi = (m.damping_ratio - 1.96 * m.damping_std, m.damping_ratio + 1.96 * m.damping_std)
        else:
            fi, zi = m.frequency_ci_hz, m.damping_ci
        out.append((m.frequency_hz, fi, zi))
    return out


def _score(res: ModalResult, baseline: bool) -> dict[str, Any]:
    ints = _intervals(res, baseline)
    cov_f, cov_z = [], []
    for f_true, z_true in zip(TRUE_F, TRUE_Z, strict=True):
        near = [x for x in ints if abs(x[0] - f_true) / f_true < 0.02]
        if not near:
            cov_f.append(False)
            cov_z.append(False)
            continue
        _, fi, zi = min(near, key=lambda x: abs(x[0] - f_true))
        cov_f.append(fi is not None and fi[0] <= f_true <= fi[1])
        cov_z.append(zi is not None and zi[0] <= z_true <= zi[1])
    return {"n_modes": len(res.modes), "cov_f": cov_f, "cov_z": cov_z}


def two_mode(seeds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"infrasight": [], "baseline": []}
    secs = {"infrasight": 0.0, "baseline": 0.0}
    for seed in range(seeds):
        y, _ = modal_response(
            np.random.default_rng(seed),
            n_channels=3,
            frequencies_hz=TRUE_F,
            damping_ratios=TRUE_Z,
        )
        t0 = time.perf_counter()
        runs["infrasight"].append(_score(ssi_cov(y, 100.0), baseline=False))
        t1 = time.perf_counter()
        runs["baseline"].append(_score(ssi_cov(y, 100.0, max_order=80, n_blocks=0), True))
        secs["infrasight"] += t1 - t0
        secs["baseline"] += time.perf_counter() - t1
        if (seed + 1) % 10 == 0:
            print(f"  {seed + 1} records done", file=sys.stderr, flush=True)
    out = {}
    for name, rows in runs.items():
        out[name] = {
            "records": len(rows),
            "exactly_2_modes": sum(r["n_modes"] == 2 for r in rows),
            "coverage_frequency": float(np.mean([c for r in rows for c in r["cov_f"]])),
            "coverage_damping": float(np.mean([c for r in rows for c in r["cov_z"]])),
            "seconds_per_record": secs[name] / max(len(rows), 1),
        }
    return out


def z24(folder: Path, setups: tuple[str, ...]) -> dict[str, Any]:
    rows = []
    for setup in setups:
        path = folder / "01" / f"01setup{setup}_R.mat"
        rec = load_record(path, fs=100.0)
        res = ssi_cov(rec.data, rec.fs)
        base = ssi_cov(rec.data, rec.fs, max_order=80, n_blocks=0)
        f1 = min(res.frequencies_hz, key=lambda f: abs(f - 3.9))
        pair = [m for m in res.modes if 9.5 <= m.frequency_hz <= 10.6]
        rows.append(
            {
                "setup": setup,
                "frequencies_hz": [round(float(f), 3) for f in res.frequencies_hz],
                "baseline_frequencies_hz": [round(float(f), 3) for f in base.frequencies_hz],
                "first_bending_hz": float(f1),
                "first_bending_error": abs(float(f1) - 3.9) / 3.9,
                "first_bending_ci_hz": next(
                    m.frequency_ci_hz for m in res.modes if m.frequency_hz == f1
                ),
                "close_pair_hz": [round(m.frequency_hz, 3) for m in pair],
            }
        )
    return {"setups": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--smoke", action="store_true", help="5 seeds and one Z24 setup (seconds)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    seeds = 5 if args.smoke else args.seeds
    res: dict[str, Any] = {"two_mode": two_mode(seeds)}
    folder = args.datasets / "shm" / "z24-pdt-subset"
    if folder.is_dir():
        res["z24"] = z24(folder, ("01",) if args.smoke else ("01", "02", "03"))
    else:
        res["z24"] = None
    if args.json:
        print(json.dumps(res, indent=2, default=list))
        return
    print(f"generated 2-mode records (3.90 / 12.10 Hz, 2 % damping), {seeds} seeds")
    print(f"{'':12s} {'exactly 2':>10s} {'cover f 95':>11s} {'cover z 95':>11s} {'s/record':>9s}")
    for name, s in res["two_mode"].items():
        print(
            f"{name:12s} {s['exactly_2_modes']:5d}/{s['records']:<4d} "
            f"{s['coverage_frequency']:11.3f} {s['coverage_damping']:11.3f} "
            f"{s['seconds_per_record']:9.2f}"
        )
    if res["z24"] is None:
        print(f"\nZ24 not found under {folder}: skipped")
        return
    print("\nZ24 scenario 01 (reference state)")
    for r in res["z24"]["setups"]:
        lo, hi = r["first_bending_ci_hz"] or (float("nan"), float("nan"))
        print(
            f"  setup {r['setup']}: first bending {r['first_bending_hz']:.3f} Hz "
            f"[{lo:.3f}, {hi:.3f}] ({100 * r['first_bending_error']:.2f} % from 3.9); "
            f"close pair {r['close_pair_hz']}; modes {r['frequencies_hz']}; "
            f"baseline modes {r['baseline_frequencies_hz']}"
        )


if __name__ == "__main__":
    main()
