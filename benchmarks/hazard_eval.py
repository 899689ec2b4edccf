"""Hazards derived from durable effects, measured through the real services.

    python benchmarks/hazard_eval.py [--datasets PATH] [--n 48] [--first-seed 1000]
                                     [--batch-hours 24] [--latency-batches 40] [--workers 1]
                                     [--smoke] [--json] [--streamed-only] [--rows FILE]
    python benchmarks/hazard_eval.py --combine FILE [FILE ...]   (section 1 over saved rows)
                                     (--scenarios N is --n N)

1. Streamed scenarios. Generated scenarios (``infrasight.synthetic.scenarios``, 12 mechanisms
   including thermal only and sensor faults as decoys; seeds from 1000, not used for tuning) are
   ingested in time order, ``--batch-hours`` of every channel per batch, through
   ``services.ingest.ingest_readings`` and the event the API publishes; the ``readings_stored``
   effect (scores, sensor health, alarms) writes a ``hazards_due`` row and the hazards of the
   touched element are updated, all inline. Figures: detection (a damage hazard for a damage
   scenario, a maintenance hazard for a sensor fault) and the time from the onset in the data to
   the hazard being opened (data time: it includes the batching), the top mechanism at the end
   over the scored hazards, and top-3 from the top one's ranked causes. Scored: what an operator
   saw the system conclude about the element, for every mechanism alike: the live hazards at
   the end (open/acknowledged/mitigating, the most confident cause first), then those the
   system resolved during the scenario because their evidence went away (``evidence_gone``,
   the latest first; a transient sensor fault's maintenance hazard that resolved when the gauge
   recovered is the right answer), never one the system superseded or merged; thermal only is
   right with no damage hazard among them, as in ``rca_eval.py``. The live-only figures are
   printed beside them. False hazards (thermal only: any damage hazard at any batch; sensor fault:
   a structural hazard; damage: a sensor-fault hazard) and the cost of one hazard update.
   The element is registered as an operator would: the scenario's material, an exposure class
   for its exposures (XD3 chloride, XF3 freeze-thaw, else XC3) and construction year; its
   defects are recorded by an inspection a week after the onset through the services (a photo
   stored by ``store_capture``, each defect by ``record_defect`` as
   ``POST /captures/{id}/defects`` does: kind, orientation, position on the element, width).
   Baseline (same data, same process): a cause-less threshold detector, a gauge's daily mean
   more than 5 robust sigmas from its first week; its alarms before the onset are counted as
   false alarms (not detections).
2. Latency. A settlement scenario's data but its last 4 days are stored, then a process with
   background workers (as ``infrasight serve`` runs) receives the rest in 6-hour batches; from a
   batch's commit until its effects and the hazard update have committed, p50 and p95 (target
   2 s). Baseline: the direct ``update_hazards`` call on the same asset (the floor).
3. Real records (skipped with a message when ``--datasets`` lacks them):
   * Z24 progressive damage test: the reference setups (scenario 01) then the setups after the
     95 mm pier lowering (scenario 06), each cut into 2 records of about 5.5 min, stored as
     hourly vibration records of the pier and analysed by the ``analyse_record`` job (SSI-COV,
     tracked modes -> frequency readings -> effects -> hazards). Expected: a structural hazard
     at the pier after the lowering, none before. Baseline: the raw shift of the first mode
     (about 3.9 Hz) of the same identifications, median after vs before.
   * Yonghe: the hourly frequencies of 4 modes streamed a day at a time. Expected: no hazard
     on the healthy days 1-8, a structural hazard on day 9.

A deployment's ``INFRASIGHT_DATABASE_URL`` is ignored: the benchmark makes its own SQLite
databases in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.jobs.runner import JobContext
from infrasight.platform import Platform
from infrasight.reasoning.hazards.housekeeping import load_housekeeping
from infrasight.services.accounts import ensure_organization
from infrasight.services.auth import Principal
from infrasight.services.captures import CaptureRequest, store_capture
from infrasight.services.defect_records import DefectRecord, record_defect
from infrasight.services.hazard_effects import HAZARDS_DUE, apply_hazards_due, merge_hazards_due
from infrasight.services.hazards import update_hazards
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import (
    Asset,
    Channel,
    Element,
    Hazard,
    HazardTransitionRecord,
    Job,
)
from infrasight.synthetic.scenarios import (
    MECHANISMS,
    Scenario,
    generate_scenario,
    generate_suite,
)

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 1, 1, tzinfo=UTC)
STRUCTURAL = frozenset(MECHANISMS) - {"thermal", "sensor_fault", "water_ingress"}
# scenario channel -> (quantity, unit); drivers by name
QUANTITY = {
    "CRK-1": ("crack_width", "mm"),
    "CRK-2": ("crack_width", "mm"),
    "SET-P2": ("settlement", "mm"),
    "WET-1": ("moisture", "%"),
    "ACC-1": ("acceleration", "g"),
    "F1": ("frequency", "Hz"),
    "temperature": ("temperature", "degC"),
    "rain": ("rainfall", "mm"),
    "water_level": ("water_level", "m"),
    "traffic": ("traffic", "kN"),
    "DMS": ("strain", "um/m"),  # Munich: the girder's strain gauge
    "FRC-01": ("support_force", "kN"),  # Munich: the two support reactions
    "FRC-02": ("support_force", "kN"),
}
MUNICH_STATES = ("ref_support_load_01", "support_load_01", "support_load_02", "support_load_03")


def _settings(folder: Path, name: str) -> Settings:
    data = folder / name
    data.mkdir(parents=True)
    settings = Settings(data_dir=data, worker_threads=0)
    upgrade(settings)
    return settings


def _organisation(platform: Platform) -> Principal:
    with platform.database.transaction() as s:
        org, _ = ensure_organization(s, "Bench")
        return Principal(organization_id=org.id, name="bench", role=Role.ENGINEER)


MATERIAL_NAMES = {"rc": "reinforced concrete", "psc": "prestressed concrete", "steel": "steel"}
LIVE = ("open", "acknowledged", "mitigating")


def _register(sc: Scenario | None) -> dict[str, Any]:
    """The element's register fields as an operator records them for the scenario's element:
    material, an EN 206 exposure class for its exposures, the construction year (data start
    less its age). None: a real record's element, nothing recorded but the material."""
    if sc is None:
        return {"material": "reinforced concrete"}
    ctx = sc.observations.context
    classes = [
        c for e, c in (("chloride", "XD3"), ("freeze_thaw", "XF3")) if e in (ctx.exposure or ())
    ]
    year = None if ctx.age_years is None else int(np.floor(T0.year - ctx.age_years))
    return {
        "material": MATERIAL_NAMES.get(ctx.material or "", ""),
        "exposure_class": " ".join(classes) or "XC3",
        "construction_year": year,
    }


def _asset(
    platform: Platform, caller: Principal, name: str, element: str, sc: Scenario | None = None
) -> tuple[int, int]:
    with platform.database.transaction() as s:
        asset = Asset(organization_id=caller.organization_id, name=name, kind="bridge")
        s.add(asset)
        s.flush()
        el = Element(asset_id=asset.id, name=element, kind="pier", **_register(sc))
        s.add(el)
        s.flush()
        return asset.id, el.id


def _channels(
    platform: Platform, caller: Principal, element_id: int, prefix: str, keys: list[str]
) -> None:
    with platform.database.transaction() as s:
        for key in keys:
            q, unit = QUANTITY[key]
            s.add(
                Channel(
                    organization_id=caller.organization_id,
                    key=f"{prefix}{key}",
                    quantity=q,
                    unit=unit,
                    element_id=element_id,
                )
            )


def _ingest(platform: Platform, caller: Principal, rows: list[tuple[str, float, float]]) -> float:
    """Store readings (key, hours from T0, value) as one batch; return the commit time."""
    batch = ReadingColumns(
        channels=[r[0] for r in rows],
        times=[(T0 + timedelta(hours=r[1])).isoformat() for r in rows],
        values=[r[2] for r in rows],
        units=[None] * len(rows),
    )
    with platform.database.transaction() as s:
        result = ingest_readings(s, caller, batch, future_tolerance_s=300)
    committed = time.perf_counter()
    if result.event is not None and result.accepted:
        platform.bus.publish(result.event)
    return committed


INSPECTION_DELAY_H = 7 * 24.0
"""The scenario's defects are found by an inspection a week after its onset (the middle of the
record for a scenario without one)."""


def _inspection_h(sc: Scenario) -> float:
    onset = sc.truth.onset_h
    base = float(onset) if onset is not None else 0.5 * float(sc.observations.times_h[-1])
    return base + INSPECTION_DELAY_H


def _record_defects(
    platform: Platform, caller: Principal, asset_id: int, element_id: int, sc: Scenario
) -> int:
    """The scenario's defects as an inspection records them through the services: a photo of
    the element (``store_capture``; its crack analysis is not run) and, per defect, its kind,
    orientation, position on the element and width in mm (``record_defect``, as
    ``POST /captures/{id}/defects`` does), which makes the element's hazards due."""
    if not sc.observations.defects:
        return 0
    when = T0 + timedelta(hours=_inspection_h(sc))
    grey = np.full((48, 64), 128 + sc.seed % 100, dtype=np.uint8)  # a distinct blob per scenario
    png = cv2.imencode(".png", grey)[1].tobytes()
    events = []
    with platform.database.transaction() as s:
        stored = store_capture(
            s,
            blobs=platform.blobs,
            jobs=platform.jobs,
            caller=caller,
            data=png,
            request=CaptureRequest(
                asset_id=asset_id, element_id=element_id, time=when, mm_per_px=0.1
            ),
            max_pixels=platform.settings.max_image_pixels,
        )
        for d in sc.observations.defects:
            recorded = record_defect(
                s,
                caller,
                stored.capture.id,
                DefectRecord(
                    kind=d.kind,
                    orientation=d.orientation,
                    position=d.position,
                    width_mm=d.width_mm,
                ),
            )
            events.append(recorded.event)
    for event in events:
        platform.bus.publish(event)
    return len(sc.observations.defects)


def _hazards(session: Session, asset_id: int) -> list[Hazard]:
    return list(session.scalars(select(Hazard).where(Hazard.asset_id == asset_id)).all())


def _scored_hazards(session: Session, asset_id: int) -> tuple[list[Hazard], int]:
    """The hazards a scenario is scored on, and how many of them are live.

    The live hazards (open, acknowledged, mitigating) at the end, most confident cause first
    (then risk), then those the system resolved during the scenario because their evidence went
    away (``evidence_gone``, not superseded by another hazard), the latest resolution first.
    The same rule for every mechanism: what an operator saw the system conclude about the
    element, a resolved condition included (a sensor fault that opened a maintenance hazard
    and resolved when the gauge recovered). A hazard the system itself replaced (superseded,
    merged) or a person closed is not an answer."""
    hazards = _hazards(session, asset_id)
    live = sorted(
        (h for h in hazards if h.status in LIVE),
        key=lambda h: (h.confidence, h.risk),
        reverse=True,
    )
    superseded = load_housekeeping().supersede_note.split("{")[0]
    resolved_at: dict[int, int] = {}
    for t in session.scalars(
        select(HazardTransitionRecord)
        .where(HazardTransitionRecord.hazard_id.in_([h.id for h in hazards]))
        .order_by(HazardTransitionRecord.id)
    ):
        if t.to_status == "resolved" and t.action == "evidence_gone" and t.actor == "system":
            if not t.note.startswith(superseded):
                resolved_at[t.hazard_id] = t.id
        else:
            resolved_at.pop(t.hazard_id, None)  # a later transition: not (still) that outcome
    ended = sorted(
        (h for h in hazards if h.status == "resolved" and h.id in resolved_at),
        key=lambda h: resolved_at[h.id],
        reverse=True,
    )
    return live + ended, len(live)


def _timed_hazards(platform: Platform, costs: list[float]) -> None:
    """Re-register the hazard effect with a stopwatch around the real handler."""

    def timed(context: JobContext, session: Session, arguments: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            return apply_hazards_due(context, session, arguments)
        finally:
            costs.append(time.perf_counter() - t0)

    platform.jobs.register_effect(HAZARDS_DUE, timed, merge=merge_hazards_due, quiet_s=0.1)


def _scenario_rows(sc: Scenario, prefix: str) -> list[tuple[str, float, float]]:
    obs = sc.observations
    rows: list[tuple[str, float, float]] = []
    for c in obs.channels:
        rows += [
            (f"{prefix}{c.key}", float(t), float(v))
            for t, v in zip(c.times_h, c.values, strict=True)
            if np.isfinite(v)
        ]
    for name, v in obs.drivers.items():
        rows += [
            (f"{prefix}{name}", float(t), float(x)) for t, x in zip(obs.times_h, v, strict=True)
        ]
    rows.sort(key=lambda r: r[1])
    return rows


def baseline_detect(sc: Scenario, *, k: float = 5.0) -> float | None:
    """First hour (end of a day) when a gauge's daily mean leaves its first week by k robust
    sigmas; None when it never does."""
    first: float | None = None
    for c in sc.observations.channels:
        if c.key not in ("CRK-1", "CRK-2", "SET-P2"):
            continue
        days = np.floor(c.times_h / 24).astype(int)
        means = np.array(
            [
                np.nanmean(c.values[days == d])
                if np.isfinite(c.values[days == d]).any()
                else np.nan
                for d in range(days.max() + 1)
            ]
        )
        ref = means[:7][np.isfinite(means[:7])]
        if ref.size < 3:
            continue
        med = float(np.median(ref))
        mad = max(1.4826 * float(np.median(np.abs(ref - med))), 1e-9)
        out = np.flatnonzero(np.abs(means - med) > k * mad)
        out = out[out >= 7]
        if out.size:
            hour = float((out[0] + 1) * 24)
            first = hour if first is None else min(first, hour)
    return first


def _stream_shard(
    folder: Path, name: str, specs: list[tuple[str, int]], days: int, batch_hours: int
) -> dict[str, Any]:
    """One worker's share of section 1: regenerate its scenarios, stream them."""
    suite = [generate_scenario(m, seed, days=days) for m, seed in specs]
    return stream_scenarios(folder, suite, batch_hours, name=name)


def stream_parallel(
    folder: Path, suite: list[Scenario], days: int, batch_hours: int, workers: int
) -> dict[str, Any]:
    """Section 1 in ``workers`` processes, each with its own database, results concatenated in
    the suite's order (the figures do not depend on the split; the update costs run under the
    extra load)."""
    if workers <= 1:
        return stream_scenarios(folder, suite, batch_hours)
    specs = [(sc.truth.mechanism, sc.seed) for sc in suite]
    shards = [specs[k::workers] for k in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        parts = list(
            pool.map(
                _stream_shard,
                [folder] * workers,
                [f"stream{k}" for k in range(workers)],
                shards,
                [days] * workers,
                [batch_hours] * workers,
            )
        )
    by_seed = {r["seed"]: r for part in parts for r in part["scenarios"]}
    return {
        "scenarios": [by_seed[sc.seed] for sc in suite],
        "update_costs_s": [c for part in parts for c in part["update_costs_s"]],
    }


def stream_scenarios(
    folder: Path,
    suite: list[Scenario],
    batch_hours: int,
    *,
    name: str = "stream",
    with_defects: bool = True,
) -> dict[str, Any]:
    """Section 1: every scenario streamed through the services (inline effects)."""
    settings = _settings(folder, name)
    platform = Platform.create(settings, workers=0)
    costs: list[float] = []
    _timed_hazards(platform, costs)
    caller = _organisation(platform)
    out = []
    try:
        for i, sc in enumerate(suite):
            prefix = f"S{i}-"
            aid, eid = _asset(platform, caller, f"scenario {sc.seed}", "Girder over pier", sc)
            keys = [c.key for c in sc.observations.channels] + list(sc.observations.drivers)
            _channels(platform, caller, eid, prefix, keys)
            rows = _scenario_rows(sc, prefix)
            first_open: dict[str, float] = {}
            end_h = float(sc.observations.times_h[-1]) + 1
            edges = np.arange(0.0, end_h + batch_hours, batch_hours)
            j = 0
            inspect_h = _inspection_h(sc) if with_defects else float("inf")
            for b in edges[1:]:
                if b - batch_hours >= inspect_h:  # found before this batch's readings arrive
                    _record_defects(platform, caller, aid, eid, sc)
                    inspect_h = float("inf")
                k = j
                while k < len(rows) and rows[k][1] < b:
                    k += 1
                if k > j:
                    _ingest(platform, caller, rows[j:k])
                    j = k
                    with platform.database.session() as s:
                        for h in _hazards(s, aid):
                            first_open.setdefault(f"{h.hazard_kind}:{h.mechanism}", float(b))
            with platform.database.session() as s:
                scored, n_live = _scored_hazards(s, aid)
                final = [(h.risk, h.hazard_kind, h.mechanism) for h in scored]
                # the top hazard's ranked causes (its top 3), as rca_eval's top-3
                top3 = [str(c["mechanism"]) for c in (scored[0].causes or [])[:3]] if scored else []
                live_top3 = (
                    [str(c["mechanism"]) for c in (scored[0].causes or [])[:3]] if n_live else []
                )
            print(  # progress on stderr, so --json stays clean
                f"  scenario {i + 1}/{len(suite)} ({sc.truth.mechanism}): "
                f"{final[0][2] if final else 'no hazard'}",
                file=sys.stderr,
                flush=True,
            )
            out.append(
                {
                    "seed": sc.seed,
                    "truth": sc.truth.mechanism,
                    "onset_h": sc.truth.onset_h,
                    "first_open": first_open,
                    "final": final,
                    "top3": top3,
                    "live": n_live,
                    "live_top3": live_top3,
                    "baseline_h": baseline_detect(sc),
                }
            )
    finally:
        platform.close()
    return {"scenarios": out, "update_costs_s": costs}


def summarise(stream: dict[str, Any]) -> dict[str, Any]:
    """Section 1 figures, for the services and for the threshold baseline."""
    rows = stream["scenarios"]
    damage = [r for r in rows if r["truth"] not in ("thermal", "sensor_fault")]
    faults = [r for r in rows if r["truth"] == "sensor_fault"]
    thermal = [r for r in rows if r["truth"] == "thermal"]

    def opened(r: dict[str, Any], kinds: tuple[str, ...]) -> float | None:
        times = [t for key, t in r["first_open"].items() if key.split(":")[0] in kinds]
        return min(times) if times else None

    delays, base_delays = [], []
    detected = base_detected = 0
    for r in damage:
        t = opened(r, ("structural", "durability"))
        onset = r["onset_h"] or 0.0
        if t is not None and t >= onset:
            detected += 1
            delays.append((t - onset) / 24)
        b = r["baseline_h"]
        if b is not None and b >= onset:
            base_detected += 1
            base_delays.append((b - onset) / 24)
    fault_detected = sum(opened(r, ("maintenance",)) is not None for r in faults)
    top1 = sum(bool(r["final"]) and r["final"][0][2] == r["truth"] for r in damage + faults) / max(
        len(damage) + len(faults), 1
    )

    def right(r: dict[str, Any], k: int, *, live_only: bool = False) -> bool:
        """rca_eval's sense over the scored hazards (see ``_scored_hazards``): thermal is right
        with no damage hazard among them. ``live_only``: the live hazards alone (the rule of
        the earlier figures)."""
        final = r["final"][: r.get("live", len(r["final"]))] if live_only else r["final"]
        top3 = r.get("live_top3", r["top3"]) if live_only else r["top3"]
        if r["truth"] == "thermal":
            return not any(kind in ("structural", "durability") for _, kind, _ in final)
        return r["truth"] in (top3[:k] if k > 1 else [m for _, _, m in final[:1]])

    early = sum(
        1
        for r in damage
        if (t := opened(r, ("structural", "durability"))) is not None and t < (r["onset_h"] or 0)
    )
    base_early = sum(
        1 for r in damage if r["baseline_h"] is not None and r["baseline_h"] < (r["onset_h"] or 0)
    )
    costs = np.array(stream["update_costs_s"]) * 1e3
    any_kind = ("structural", "durability", "maintenance")

    def pct(v: list[float], q: float) -> float | None:
        return float(np.percentile(v, q)) if v else None

    return {
        "n": len(rows),
        "damage_detected": detected / max(len(damage), 1),
        "onset_to_open_days_p50": pct(delays, 50),
        "onset_to_open_days_p90": pct(delays, 90),
        "damage_hazard_before_onset": early / max(len(damage), 1),
        "fault_detected": fault_detected / max(len(faults), 1),
        "top1_final_hazard": top1,
        "top1_all": sum(right(r, 1) for r in rows) / max(len(rows), 1),
        "top3_all": sum(right(r, 3) for r in rows) / max(len(rows), 1),
        "top1_live_only": sum(right(r, 1, live_only=True) for r in rows) / max(len(rows), 1),
        "top3_live_only": sum(right(r, 3, live_only=True) for r in rows) / max(len(rows), 1),
        "scored_resolved": sum(len(r["final"]) > r.get("live", len(r["final"])) for r in rows),
        "thermal_no_damage_hazard": sum(
            opened(r, ("structural", "durability")) is None for r in thermal
        )
        / max(len(thermal), 1),
        "sensor_fault_hazard_on_damage": sum(
            any(k == "maintenance:sensor_fault" for k in r["first_open"]) for r in damage
        )
        / max(len(damage), 1),
        "structural_hazard_on_sensor_fault": sum(
            any(k.split(":")[1] in STRUCTURAL for k in r["first_open"]) for r in faults
        )
        / max(len(faults), 1),
        # the same at the end of the stream: the top live hazard (as rca_eval's top cause)
        "sensor_fault_top_on_structural": sum(
            bool(r["final"]) and r["final"][0][2] == "sensor_fault"
            for r in damage
            if r["truth"] in STRUCTURAL
        )
        / max(sum(r["truth"] in STRUCTURAL for r in damage), 1),
        "structural_top_on_sensor_fault": sum(
            bool(r["final"]) and r["final"][0][2] in STRUCTURAL for r in faults
        )
        / max(len(faults), 1),
        "update_ms_p50": float(np.percentile(costs, 50)) if costs.size else None,
        "update_ms_p95": float(np.percentile(costs, 95)) if costs.size else None,
        "updates": int(costs.size),
        "baseline": {
            "damage_detected": base_detected / max(len(damage), 1),
            "alarm_before_onset": base_early / max(len(damage), 1),
            "onset_to_open_days_p50": pct(base_delays, 50),
            "onset_to_open_days_p90": pct(base_delays, 90),
            "thermal_no_alarm": sum(r["baseline_h"] is None for r in thermal)
            / max(len(thermal), 1),
            "fault_flagged_as_change": sum(r["baseline_h"] is not None for r in faults)
            / max(len(faults), 1),
        },
        "per_mechanism_detected": {
            m: f"{sum(opened(r, any_kind) is not None for r in rows if r['truth'] == m)}"
            f"/{sum(r['truth'] == m for r in rows)}"
            for m in MECHANISMS
        },
        "final_top": Counter(
            f"{r['truth']}->{r['final'][0][2] if r['final'] else 'none'}" for r in rows
        ),
    }


def latency(folder: Path, sc: Scenario, batches: int, preload_days: int = 60) -> dict[str, Any]:
    """Section 2: commit -> hazards updated, with background workers."""
    settings = _settings(folder, "latency")
    prefix = "L-"
    rows = _scenario_rows(sc, prefix)
    cut = preload_days * 24.0
    inline = Platform.create(settings, workers=0)
    caller = _organisation(inline)
    aid, eid = _asset(inline, caller, "latency", "Pier 2")
    keys = [c.key for c in sc.observations.channels] + list(sc.observations.drivers)
    _channels(inline, caller, eid, prefix, keys)
    head = [r for r in rows if r[1] < cut]
    for k in range(0, len(head), 20000):
        _ingest(inline, caller, head[k : k + 20000])
    inline.close()
    platform = Platform.create(settings, workers=1)
    lat: list[float] = []
    raw: list[float] = []
    try:
        for b in range(batches):
            lo, hi = cut + 6 * b, cut + 6 * (b + 1)
            part = [r for r in rows if lo <= r[1] < hi]
            if not part:
                break
            committed = _ingest(platform, caller, part)
            platform.jobs.wait_idle(60)
            lat.append(time.perf_counter() - committed)
            with platform.database.transaction() as s:  # the floor: the service call itself
                t0 = time.perf_counter()
                update_hazards(s, caller.organization_id, aid, element_ids=[eid])
                raw.append(time.perf_counter() - t0)
                s.rollback()
        with platform.database.session() as s:
            hazards = [(h.mechanism, h.status) for h in _hazards(s, aid)]
    finally:
        platform.close()
    return {
        "batches": len(lat),
        "latency_s_p50": float(np.percentile(lat, 50)),
        "latency_s_p95": float(np.percentile(lat, 95)),
        "latency_s_max": float(np.max(lat)),
        "direct_update_s_p50": float(np.percentile(raw, 50)),
        "direct_update_s_p95": float(np.percentile(raw, 95)),
        "hazards": hazards,
    }


def z24(folder: Path, datasets: Path, pieces: int = 2) -> dict[str, Any] | None:
    """Section 3a: Z24 records through the analysis job, the effects and the hazards."""
    root = datasets / "shm" / "z24-pdt-subset"
    if not root.exists():
        return None
    from infrasight.services.analysis import ANALYSE_RECORD
    from infrasight.services.records import record_to_npy
    from infrasight.signals import load_record
    from infrasight.storage.blobs import register_blob
    from infrasight.storage.models import Record

    settings = _settings(folder, "z24")
    platform = Platform.create(settings, workers=0)
    caller = _organisation(platform)
    aid, eid = _asset(platform, caller, "Z24", "Pier (Koppigen side)")
    timeline = []
    first_freqs: dict[str, list[float]] = {"01": [], "06": []}
    hour = 0
    try:
        for scen in ("01", "06"):
            for setup in ("01", "02", "03"):
                rec = load_record(root / scen / f"{scen}setup{setup}_R.mat", fs=100.0)
                n = rec.data.shape[0] // pieces
                for p in range(pieces):
                    data = np.ascontiguousarray(rec.data[p * n : (p + 1) * n])
                    blob = record_to_npy(data)
                    sha, _ = platform.blobs.put(blob)
                    with platform.database.transaction() as s:
                        register_blob(s, sha, len(blob), "application/x-npy")
                        record = Record(
                            organization_id=caller.organization_id,
                            asset_id=aid,
                            element_id=eid,
                            quantity="acceleration",
                            unit="m/s**2",
                            start_time=T0 + timedelta(hours=hour),
                            sample_rate_hz=rec.fs,
                            n_samples=int(data.shape[0]),
                            channel_names=[f"R{i + 1}" for i in range(data.shape[1])],
                            dtype=str(data.dtype),
                            blob_sha256=sha,
                        )
                        s.add(record)
                        s.flush()
                        platform.jobs.create(
                            s, ANALYSE_RECORD, {"record_id": record.id}, caller.organization_id
                        )
                    platform.jobs.run_pending()
                    with platform.database.session() as s:
                        job = s.scalars(select(Job).order_by(Job.id.desc()).limit(1)).one()
                        modes = np.array([m["frequency_hz"] for m in job.result.get("modes", [])])
                        near = modes[np.abs(modes - 3.9) < 0.4] if modes.size else modes
                        if near.size:  # the baseline reads the same SSI-COV identification
                            first_freqs[scen].append(float(near[0]))
                        hz = [
                            (h.element_id == eid, h.hazard_kind, h.mechanism)
                            for h in _hazards(s, aid)
                        ]
                    timeline.append({"scenario": scen, "setup": setup, "piece": p, "hazards": hz})
                    hour += 1
    finally:
        platform.close()
    ref, dam = np.array(first_freqs["01"]), np.array(first_freqs["06"])
    before = [t for t in timeline if t["scenario"] == "01"]
    after = [t for t in timeline if t["scenario"] == "06"]
    first_after = next(
        (
            i
            for i, t in enumerate(after)
            if any(at_pier and kind == "structural" for at_pier, kind, _ in t["hazards"])
        ),
        None,
    )
    shift = 100 * (float(np.median(dam)) - float(np.median(ref))) / float(np.median(ref))
    return {
        "records": len(timeline),
        "reference_no_hazard": all(not t["hazards"] for t in before),
        "structural_hazard_at_pier_after_lowering": first_after is not None,
        "records_after_lowering_until_hazard": None if first_after is None else first_after + 1,
        "final_hazards": timeline[-1]["hazards"],
        "baseline_first_mode_shift_pct": shift,
        "baseline_reference_hz": [round(f, 3) for f in ref],
        "baseline_lowered_hz": [round(f, 3) for f in dam],
    }


def yonghe(folder: Path, datasets: Path) -> dict[str, Any] | None:
    """Section 3b: Yonghe hourly frequencies streamed a day at a time."""
    path = datasets / "shm" / "yonghe" / "Yonghe_Modal_FDD.mat"
    if not path.exists():
        return None
    from scipy.io import loadmat

    freqs = np.asarray(loadmat(path)["freq_fdd"], dtype=np.float64).T
    settings = _settings(folder, "yonghe")
    platform = Platform.create(settings, workers=0)
    caller = _organisation(platform)
    aid, eid = _asset(platform, caller, "Yonghe", "Deck")
    with platform.database.transaction() as s:
        for k in range(freqs.shape[1]):
            s.add(
                Channel(
                    organization_id=caller.organization_id,
                    key=f"Y-MODE{k + 1}",
                    quantity="frequency",
                    unit="Hz",
                    element_id=eid,
                )
            )
    by_day = {}
    try:
        for day in range(9):
            rows = [
                (f"Y-MODE{k + 1}", float(h), float(freqs[h, k]))
                for h in range(24 * day, 24 * (day + 1))
                for k in range(freqs.shape[1])
                if np.isfinite(freqs[h, k])
            ]
            _ingest(platform, caller, rows)
            with platform.database.session() as s:
                by_day[day + 1] = sorted({(h.hazard_kind, h.mechanism) for h in _hazards(s, aid)})
    finally:
        platform.close()
    return {
        "hazards_by_day": by_day,
        "healthy_days_no_hazard": all(not by_day[d] for d in range(1, 9)),
        "damaged_day_structural": any(k == "structural" for k, _ in by_day[9]),
    }


def munich(folder: Path, datasets: Path, batch: int = 24) -> dict[str, Any] | None:
    """Section 3c: Munich test bridge support lowerings streamed through the services."""
    root = datasets / "shm" / "munich-bridge" / "Settlements"
    if not root.exists():
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from shm_eval import _munich_series

    data: dict[str, dict[str, np.ndarray]] = {}
    for st in MUNICH_STATES:
        series: dict[str, np.ndarray] = {}
        for kind in ("DMS_CN", "Force"):
            _, ch = _munich_series(root / f"UniBw_2022-04-11_{st}{kind}At100Hz.csv.zip")
            for name, v in ch.items():
                series["DMS" if kind == "DMS_CN" else name.split()[0]] = v
        data[st] = series
    settings = _settings(folder, "munich")
    platform = Platform.create(settings, workers=0)
    caller = _organisation(platform)
    out: dict[str, Any] = {}
    try:
        for i in range(1, 4):
            before, after = data[MUNICH_STATES[i - 1]], data[MUNICH_STATES[i]]
            aid, eid = _asset(platform, caller, f"Munich lowering {i}", f"Support {i}")
            prefix = f"M{i}-"
            _channels(platform, caller, eid, prefix, list(before))
            onset = min(v.size for v in before.values())
            rows = sorted(
                (
                    (f"{prefix}{key}", float(h), float(x))
                    for key in before
                    for h, x in enumerate(np.concatenate([before[key], after[key]]))
                    if np.isfinite(x)
                ),
                key=lambda r: r[1],
            )
            first_open: dict[str, float] = {}
            end = max(r[1] for r in rows) + 1
            for lo in np.arange(0.0, end, batch):
                part = [r for r in rows if lo <= r[1] < lo + batch]
                if part:
                    _ingest(platform, caller, part)
                with platform.database.session() as s:
                    for h in _hazards(s, aid):
                        first_open.setdefault(f"{h.hazard_kind}:{h.mechanism}", lo + batch)
            with platform.database.session() as s:
                final = sorted(
                    ((h.risk, h.hazard_kind, h.mechanism, h.causes[0]["mechanism"]))
                    for h in _hazards(s, aid)
                )[::-1]
            out[f"lowering {i}"] = {
                "samples_before": onset,
                "first_open": first_open,
                "before_lowering": sorted(k for k, t in first_open.items() if t <= onset),
                "final": final,
            }
    finally:
        platform.close()
    return {
        "by_lowering": out,
        "settlement_on_top": all(
            r["final"] and r["final"][0][2] == "settlement" and r["final"][0][3] == "settlement"
            for r in out.values()
        ),
        "none_before_lowering": all(not r["before_lowering"] for r in out.values()),
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _print_streamed(figures: dict[str, Any]) -> None:
    b = figures["baseline"]
    print(f"\n== streamed scenarios ({figures['n']}, {figures['wall_s']:.0f} s) ==")
    print(f"  {'figure':40s} {'InfraSight':>12s} {'threshold baseline':>20s}")
    for label, ours, base in (
        ("damage scenarios detected", figures["damage_detected"], b["damage_detected"]),
        (
            "onset -> open hazard, days p50",
            figures["onset_to_open_days_p50"],
            b["onset_to_open_days_p50"],
        ),
        (
            "onset -> open hazard, days p90",
            figures["onset_to_open_days_p90"],
            b["onset_to_open_days_p90"],
        ),
        (
            "thermal only: no damage hazard",
            figures["thermal_no_damage_hazard"],
            b["thermal_no_alarm"],
        ),
        ("sensor faults: maintenance hazard", figures["fault_detected"], None),
        (
            "sensor faults flagged as a change",
            figures["structural_hazard_on_sensor_fault"],
            b["fault_flagged_as_change"],
        ),
        ("damage: sensor-fault hazard opened", figures["sensor_fault_hazard_on_damage"], None),
        (
            "end: sensor fault top of a structural",
            figures["sensor_fault_top_on_structural"],
            None,
        ),
        ("end: structural top of a sensor fault", figures["structural_top_on_sensor_fault"], None),
        (
            "damage hazard/alarm before the onset",
            figures["damage_hazard_before_onset"],
            b["alarm_before_onset"],
        ),
        ("top-1, damage + faults (scored hazards)", figures["top1_final_hazard"], None),
        ("top-1, all (as rca_eval)", figures["top1_all"], None),
        ("top-3, all (as rca_eval)", figures["top3_all"], None),
        ("top-1, all, live hazards only", figures["top1_live_only"], None),
        ("top-3, all, live hazards only", figures["top3_live_only"], None),
        ("hazard update, ms p50", figures["update_ms_p50"], None),
        ("hazard update, ms p95", figures["update_ms_p95"], None),
    ):
        print(f"  {label:40s} {_fmt(ours):>12s} {_fmt(base):>20s}")
    print(f"  detected per mechanism: {figures['per_mechanism_detected']}")
    print(f"  truth -> top mechanism at the end: {dict(figures['final_top'])}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default = os.environ.get("INFRASIGHT_DATASETS", str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--datasets", type=Path, default=Path(default))
    ap.add_argument(
        "--n",
        "--scenarios",
        dest="n",
        type=int,
        default=48,
        help="scenarios (a multiple of 12 is balanced)",
    )
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--batch-hours", type=int, default=24)
    ap.add_argument("--latency-batches", type=int, default=40)
    ap.add_argument("--smoke", action="store_true", help="4 short scenarios, Z24 reduced")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes streaming the scenarios in parallel (each its own database)",
    )
    ap.add_argument(
        "--streamed-only",
        action="store_true",
        help="section 1 only (no latency, no real records): for long runs in chunks",
    )
    ap.add_argument("--rows", type=Path, help="write section 1's per-scenario rows (JSON) here")
    ap.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        help="print section 1's figures over --rows files of earlier runs (nothing is run)",
    )
    args = ap.parse_args()
    os.environ.pop("INFRASIGHT_DATABASE_URL", None)
    if args.combine:
        parts = [json.loads(f.read_text()) for f in args.combine]
        combined = {
            "scenarios": [r for p in parts for r in p["scenarios"]],
            "update_costs_s": [c for p in parts for c in p["update_costs_s"]],
        }
        figures = summarise(combined)
        figures["wall_s"] = sum(p.get("wall_s", 0.0) for p in parts)
        _print_streamed(figures)
        return 0
    if args.smoke:  # a decoy, two damage mechanisms and a sensor fault, 30 days, 3-day batches
        days, lat_batches, batch_hours = 30, 4, 72
        suite = [
            generate_scenario(m, args.first_seed + i, days=days)
            for i, m in enumerate(("thermal", "settlement", "fatigue", "sensor_fault"))
        ]
    else:
        days, lat_batches, batch_hours = args.days, args.latency_batches, args.batch_hours
        suite = generate_suite(args.n, args.first_seed, days=days)
    n = len(suite)
    log: Callable[[str], None] = (lambda _m: None) if args.json else print
    log(
        f"hazard_eval: {n} generated scenarios (seeds {args.first_seed}-{args.first_seed + n - 1},"
        f" {days} days), streamed {batch_hours} h per batch through ingest -> effects -> hazards"
    )
    with tempfile.TemporaryDirectory(prefix="hazard-eval-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        stream = stream_parallel(folder, suite, days, batch_hours, args.workers)
        figures = summarise(stream)
        figures["wall_s"] = time.perf_counter() - t0
        if args.rows is not None:
            args.rows.write_text(json.dumps({**stream, "wall_s": figures["wall_s"]}, default=str))
        if args.streamed_only:
            if args.json:
                print(json.dumps({"streamed": figures}, indent=1, default=str))
            else:
                _print_streamed(figures)
            return 0
        settle = next(
            sc
            for sc in generate_suite(12, args.first_seed, days=max(days, 62))
            if sc.truth.mechanism == "settlement"
        )
        lat = latency(folder, settle, lat_batches, preload_days=min(60, max(days, 62) - 2))
        real_z24 = z24(folder, args.datasets)
        real_yonghe = None if args.smoke else yonghe(folder, args.datasets)
        real_munich = None if args.smoke else munich(folder, args.datasets)
    result = {
        "streamed": figures,
        "latency": lat,
        "z24": real_z24,
        "yonghe": real_yonghe,
        "munich": real_munich,
    }
    if args.json:
        print(json.dumps(result, indent=1, default=str))
        return 0
    _print_streamed(figures)
    print(
        f"\n== latency: commit -> hazards updated, background workers ({lat['batches']} batches) =="
    )
    print(
        f"  p50 {lat['latency_s_p50']:.2f} s, p95 {lat['latency_s_p95']:.2f} s (target 2 s), "
        f"max {lat['latency_s_max']:.2f} s; baseline direct update_hazards call: "
        f"p50 {lat['direct_update_s_p50']:.2f} s, p95 {lat['direct_update_s_p95']:.2f} s; "
        f"hazards {lat['hazards']}"
    )
    print("\n== real records ==")
    if real_z24 is None:
        print(f"  Z24: dataset missing under {args.datasets}/shm/z24-pdt-subset (skipped)")
    else:
        print(
            f"  Z24 ({real_z24['records']} records): reference no hazard "
            f"{real_z24['reference_no_hazard']}; structural hazard at the pier after the "
            f"lowering {real_z24['structural_hazard_at_pier_after_lowering']} "
            f"(after {real_z24['records_after_lowering_until_hazard']} records); final "
            f"{real_z24['final_hazards']}; baseline raw first-mode shift "
            f"{real_z24['baseline_first_mode_shift_pct']:+.2f} %"
        )
    if args.smoke:
        print("  Yonghe: skipped in --smoke")
    elif real_yonghe is None:
        print(f"  Yonghe: dataset missing under {args.datasets}/shm/yonghe (skipped)")
    else:
        print(
            f"  Yonghe hazards by day: {real_yonghe['hazards_by_day']}; healthy days none "
            f"{real_yonghe['healthy_days_no_hazard']}; day 9 structural "
            f"{real_yonghe['damaged_day_structural']}"
        )
    if args.smoke:
        print("  Munich: skipped in --smoke")
    elif real_munich is None:
        print(f"  Munich: dataset missing under {args.datasets}/shm/munich-bridge (skipped)")
    else:
        for name, r in real_munich["by_lowering"].items():
            top = r["final"][0] if r["final"] else None
            print(
                f"  Munich {name}: top hazard "
                f"{'none' if top is None else f'{top[1]} {top[2]} (top cause {top[3]})'}; "
                f"all {[(k, m) for _, k, m, _ in r['final']]}; opened before the lowering "
                f"{r['before_lowering'] or 'none'}"
            )
        print(
            f"  Munich: settlement hazard with settlement on top {real_munich['settlement_on_top']}"
            f"; none before the lowerings {real_munich['none_before_lowering']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
