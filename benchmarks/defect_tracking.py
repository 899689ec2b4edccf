"""Defect tracking benchmark: the same cracks across inspections, camera moved, lighting changed.

Generated capture series with known crack identities (``synthetic.render_crack_series``: the
camera rotated by up to 15 degrees, shifted by up to 5 % and zoomed by 0.9-1.1 between visits,
exposure changed by up to 25 % and uneven light; the cracks lengthen at both tips and widen at
each visit; some series are sealed at the last visit). Every capture goes through the platform's
own pipeline (store, crack segmentation and measurement, registration, matching) on a temporary
SQLite database. Figures, beside a baseline run on the same detections in the same process
(matching in raw image coordinates, i.e. assuming a fixed camera):

* ``identity_accuracy``: detections at a later visit of a crack seen before, assigned to the
  track holding that crack's earlier detections (target >= 0.95);
* ``link_precision`` / ``link_recall``: links from a new detection to an earlier one, correct
  among all links made / among all true links;
* ``sealed_detected_as_not_detected``: sealed cracks whose track records "not detected";
* ``length_rate_abs_error_mm_per_day`` (median) and ``length_rate_within_uncertainty``: the
  tracked length growth rate against the true rate, and the share within twice the fitted
  rate's standard uncertainty (from the measurements' own uncertainties) plus the truth's
  discretisation; the same for the largest width.

This is the project's own generated data: no public multi-visit crack data set with identities
exists in ``--datasets`` (the flag is accepted for the common interface and reported).

Usage: python benchmarks/defect_tracking.py [--json] [--smoke] [--series N] [--datasets PATH]
[--database-url URL]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.measure.defect_tracking import DefectShape, fit_growth, match_defects
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.services.auth import Principal
from infrasight.services.captures import CaptureRequest, store_capture
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Asset, Defect, DefectSighting, Element
from infrasight.synthetic import CrackSeries, render_crack_series

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 1, 1, tzinfo=UTC)
TARGETS = {"identity_accuracy": 0.95, "length_rate_within_uncertainty": 0.95}


def _png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def _identity(polyline: list[list[float]], visit_truth: Any, tol_px: float = 8.0) -> int | None:
    """The true crack a detected polyline lies on (median distance within ``tol_px``)."""
    pts = np.asarray(polyline, np.float64).reshape(-1, 2)
    best, best_d = None, tol_px
    for crack in visit_truth:
        d = np.min(
            np.hypot(*(pts[:, None, :] - crack.centreline_px[None, ::2, :]).transpose(2, 0, 1)),
            axis=1,
        )
        med = float(np.median(d))
        if med < best_d:
            best, best_d = crack.identity, med
    return best


def run_series(platform: Platform, index: int, series: CrackSeries) -> dict[str, Any]:
    """Store the series' captures on one element and return detections, tracks and truth."""
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Tracking bench")
        asset = Asset(organization_id=org.id, name=f"Bridge {index}", kind="bridge")
        session.add(asset)
        session.flush()
        element = Element(asset_id=asset.id, name="Girder", kind="girder")
        session.add(element)
        session.flush()
        caller = Principal(organization_id=org.id, name="bench", role=Role.ENGINEER)
        ids = (asset.id, element.id)
    capture_ids = []
    for visit in series.visits:
        with platform.database.transaction() as session:
            stored = store_capture(
                session,
                blobs=platform.blobs,
                jobs=platform.jobs,
                caller=caller,
                data=_png(visit.image),
                request=CaptureRequest(
                    asset_id=ids[0],
                    element_id=ids[1],
                    time=T0 + timedelta(days=visit.day),
                    mm_per_px=visit.mm_per_px,
                ),
                max_pixels=platform.settings.max_image_pixels,
            )
            capture_ids.append(stored.capture.id)
        platform.jobs.run_pending()
    visits = []
    with platform.database.session() as session:
        for k, cid in enumerate(capture_ids):
            rows = []
            for d in session.scalars(select(Defect).where(Defect.capture_id == cid)):
                track = session.scalar(
                    select(DefectSighting.track_id).where(DefectSighting.defect_id == d.id)
                )
                rows.append(
                    {
                        "defect_id": d.id,
                        "kind": d.kind,
                        "polyline": d.geometry.get("polyline_px") or [],
                        "truth": _identity(
                            d.geometry.get("polyline_px") or [], series.visits[k].cracks
                        ),
                        "track": track,
                        "length": d.measurements.get("length"),
                        "width_max": d.measurements.get("width_max"),
                    }
                )
            not_detected = set(
                session.scalars(
                    select(DefectSighting.track_id).where(
                        DefectSighting.capture_id == cid, DefectSighting.defect_id.is_(None)
                    )
                )
            )
            visits.append({"detections": rows, "not_detected": not_detected})
    return {"visits": visits, "series": series}


def baseline_tracks(run: dict[str, Any]) -> None:
    """Give each detection a ``base_track``: match to the previous visit in raw image px."""
    next_id = 0
    previous: list[dict[str, Any]] = []
    for k, visit in enumerate(run["visits"]):
        dets = [d for d in visit["detections"] if d["polyline"]]
        visit["base_not_detected"] = set()
        if k == 0 or not previous:
            for d in dets:
                d["base_track"] = next_id
                next_id += 1
        else:
            size = run["series"].visits[k].image.shape[1::-1]
            m = match_defects(
                [
                    DefectShape(kind=p["kind"], polyline_px=np.asarray(p["polyline"]))
                    for p in previous
                ],
                [DefectShape(kind=d["kind"], polyline_px=np.asarray(d["polyline"])) for d in dets],
                homography=None,
                new_size=(int(size[0]), int(size[1])),
            )
            for i, j, _ in m.pairs:
                dets[j]["base_track"] = previous[i]["base_track"]
            for j in m.new:
                dets[j]["base_track"] = next_id
                next_id += 1
            visit["base_not_detected"] = {previous[i]["base_track"] for i in m.not_detected}
            for i in m.out_of_view:  # keep following a crack out of view
                dets.append(previous[i])
        previous = [d for d in dets]


def score(runs: list[dict[str, Any]], key: str, nd_key: str) -> dict[str, float | None]:
    correct = total = links = good_links = true_links = 0
    sealed_total = sealed_found = 0
    rate_err: dict[str, list[float]] = defaultdict(list)
    rate_ok: dict[str, list[bool]] = defaultdict(list)
    for run in runs:
        series: CrackSeries = run["series"]
        owner: dict[int, Any] = {}  # truth identity -> track of its first detection
        prev_track_of: dict[Any, int | None] = {}
        per_track: dict[Any, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        for k, visit in enumerate(run["visits"]):
            for d in visit["detections"]:
                t, tr = d["truth"], d.get(key)
                if tr is not None:
                    per_track[tr].append((series.visits[k].day, d))
                if t is None:
                    if tr is not None and tr in prev_track_of:
                        links += 1  # a false detection linked to a track
                    continue
                if t in owner:
                    total += 1
                    true_links += 1
                    correct += int(tr is not None and tr == owner[t])
                    if tr is not None and tr in prev_track_of:
                        links += 1
                        good_links += int(prev_track_of[tr] == t)
                elif tr is not None and tr in prev_track_of:
                    links += 1
                if t not in owner and tr is not None:
                    owner[t] = tr
            for d in visit["detections"]:
                if d.get(key) is not None:
                    prev_track_of.setdefault(d[key], d["truth"])
            sealed = series.visits[k].sealed
            for ident in sealed:
                if ident in owner and all(series.visits[j].sealed == () for j in range(k)):
                    sealed_total += 1
                    sealed_found += int(owner[ident] in visit[nd_key])
        for ident, tr in owner.items():
            points = [(day, d) for day, d in per_track[tr] if d["truth"] == ident]
            truth_days = [
                v.day for v in series.visits if any(c.identity == ident for c in v.cracks)
            ]
            if len(points) < 3 or len(truth_days) < 3:
                continue
            for name in ("length", "width_max"):
                q = [(day, d[name]) for day, d in points if d[name] and d[name].get("unit") == "mm"]
                if len(q) < 3:
                    continue
                fit = fit_growth(
                    np.array([x for x, _ in q]),
                    np.array([v["value"] for _, v in q]),
                    np.array([v["std"] for _, v in q]),
                )
                true_vals = [
                    next(c for c in v.cracks if c.identity == ident)
                    for v in series.visits
                    if any(c.identity == ident for c in v.cracks)
                ]
                tv = [c.length_mm if name == "length" else c.width_max_mm for c in true_vals]
                true_rate = float(np.polyfit(truth_days, tv, 1)[0])
                if fit is None:
                    continue
                err = abs(fit.rate_per_day - true_rate)
                rate_err[name].append(err)
                rate_ok[name].append(err <= 2 * fit.rate_std_per_day)
    out: dict[str, float | None] = {
        "identity_accuracy": correct / total if total else None,
        "link_precision": good_links / links if links else None,
        "link_recall": good_links / true_links if true_links else None,
        "sealed_detected_as_not_detected": sealed_found / sealed_total if sealed_total else None,
    }
    for name in ("length", "width_max"):
        out[f"{name}_rate_abs_error_mm_per_day"] = (
            float(np.median(rate_err[name])) if rate_err[name] else None
        )
        out[f"{name}_rate_within_uncertainty"] = (
            float(np.mean(rate_ok[name])) if rate_ok[name] else None
        )
    return out


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="emit JSON")
    parser.add_argument("--smoke", action="store_true", help="two short series (seconds)")
    parser.add_argument("--series", type=int, default=12, help="growing series (4 visits)")
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(os.environ.get("INFRASIGHT_DATASETS", ROOT.parent / "shared" / "datasets")),
    )
    parser.add_argument(
        "--database-url", default="", help="database to use (default: a temporary SQLite)"
    )
    args = parser.parse_args()
    n_grow, n_sealed, n_visits = (
        (1, 1, 3) if args.smoke else (args.series, max(args.series // 3, 1), 4)
    )
    began = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.database_url, worker_threads=0)
        upgrade(settings)
        platform = Platform.create(settings, workers=0)
        try:
            for i in range(n_grow + n_sealed):
                sealed = i >= n_grow
                series = render_crack_series(
                    seed=1000 + i,
                    n_visits=n_visits,
                    n_cracks=2,
                    sealed_from_visit=n_visits - 1 if sealed else None,
                )
                runs.append(run_series(platform, i, series))
        finally:
            platform.close()
    for run in runs:
        baseline_tracks(run)
    ours = score(runs, "track", "not_detected")
    base = score(runs, "base_track", "base_not_detected")
    meta = {
        "series": n_grow + n_sealed,
        "sealed_series": n_sealed,
        "visits_per_series": n_visits,
        "seconds": round(time.perf_counter() - began, 1),
        "data": "generated (synthetic.render_crack_series); no public multi-visit crack set",
        "datasets": str(args.datasets),
        "datasets_present": args.datasets.exists(),
    }
    if args.json:
        print(json.dumps({**ours, "baseline": base, "targets": TARGETS, "meta": meta}, indent=2))
        return
    print(
        f"{meta['series']} generated series ({n_sealed} sealed at the last visit), "
        f"{n_visits} visits each; {meta['seconds']} s. Baseline: matching in raw image px."
    )
    print(f"{'figure':38s} {'ours':>10s} {'baseline':>10s} {'target':>10s}")
    for key, val in ours.items():
        t = TARGETS.get(key)
        print(f"{key:38s} {_fmt(val):>10s} {_fmt(base[key]):>10s} {_fmt(t):>10s}")


if __name__ == "__main__":
    main()
