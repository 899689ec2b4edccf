"""Hazards: derive them from stored readings and defects, list them, move them through their
lifecycle. ``update_hazards`` is idempotent: run twice on the same data it changes nothing, so it
can be registered as the handler of a durable effect."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.reasoning.causes import (
    ChannelData,
    ChannelRole,
    DefectEvidence,
    ElementContext,
    MechanismLibrary,
    Observations,
    infer_causes,
    load_mechanisms,
)
from infrasight.reasoning.evidence import Evidence
from infrasight.reasoning.hazards import (
    ExistingHazard,
    HazardEvidence,
    HazardStatus,
    RiskMatrix,
    action_to,
    apply_action,
    assess_risk,
    group_evidence,
    load_risk_matrix,
)
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.storage.models import (
    Asset,
    Channel,
    Defect,
    Element,
    Hazard,
    HazardEvidenceLink,
    HazardTransitionRecord,
    Reading,
)
from infrasight.storage.readings import fetch_series

__all__ = ["element_observations", "transition_hazard", "update_hazards"]

_log = logging.getLogger(__name__)

HOUR_US = 3_600_000_000

# channel quantity -> role at the element (anything else is ignored)
ROLES = {
    "strain": ChannelRole.RESPONSE,
    "crack_width": ChannelRole.RESPONSE,
    "crack_opening": ChannelRole.RESPONSE,
    "convergence": ChannelRole.RESPONSE,
    "displacement": ChannelRole.RESPONSE,
    "deflection": ChannelRole.RESPONSE,
    "settlement": ChannelRole.SETTLEMENT,
    "tilt": ChannelRole.SETTLEMENT,
    "inclination": ChannelRole.SETTLEMENT,
    "moisture": ChannelRole.MOISTURE,
    "wetness": ChannelRole.MOISTURE,
    "water_ingress": ChannelRole.MOISTURE,
    "acceleration": ChannelRole.ACCELERATION,
    "frequency": ChannelRole.FREQUENCY,
}
# channel quantity -> driver name (any element of the asset)
DRIVERS = {
    "temperature": "temperature",
    "air_temperature": "temperature",
    "rain": "rain",
    "rainfall": "rain",
    "water_level": "water_level",
    "traffic": "traffic",
    "traffic_load": "traffic",
}
_MATERIALS = {"steel": "steel", "prestressed concrete": "psc"}


def _hourly(session: Session, channel_id: int, start_us: int, n: int) -> np.ndarray:
    t, v = fetch_series(session, channel_id, from_us=start_us)
    out = np.full(n, np.nan)
    if t.size == 0:
        return out
    idx = (t - start_us) // HOUR_US
    ok = (idx >= 0) & (idx < n)
    sums = np.bincount(idx[ok], weights=v[ok], minlength=n)
    counts = np.bincount(idx[ok], minlength=n)
    has = counts > 0
    out[has] = sums[has] / counts[has]
    return out


def _orientation(measurements: dict[str, Any]) -> str:
    if measurements.get("pattern") == "map":
        return "map"
    angle = measurements.get("angle_to_axis_deg")
    if not isinstance(angle, int | float):
        return ""
    return "longitudinal" if angle < 30 else "transverse" if angle > 60 else "diagonal"


def element_observations(
    session: Session, asset: Asset, *, window_days: int = 90
) -> tuple[list[tuple[Element, Observations]], int]:
    """Observations per instrumented element of ``asset`` on an hourly grid ending at its
    latest reading, and the grid's start (µs)."""
    rows = session.execute(
        select(Channel, Element)
        .join(Element, Channel.element_id == Element.id)
        .where(Element.asset_id == asset.id)
        .order_by(Channel.id)
    ).all()
    latest = session.scalar(
        select(func.max(Reading.ts)).where(Reading.channel_id.in_([c.id for c, _ in rows]))
    )
    if latest is None:
        return [], 0
    n = window_days * 24
    start = (int(latest) // HOUR_US + 1) * HOUR_US - n * HOUR_US
    times_h = np.arange(n, dtype=np.float64)
    drivers: dict[str, np.ndarray] = {}
    per_element: dict[int, tuple[Element, list[ChannelData]]] = {}
    for ch, el in rows:
        q = ch.quantity.strip().lower()
        if q in DRIVERS and DRIVERS[q] not in drivers:
            v = _hourly(session, ch.id, start, n)
            ok = np.isfinite(v)
            if ok.sum() >= 2:
                drivers[DRIVERS[q]] = np.interp(times_h, times_h[ok], v[ok])
        elif q in ROLES:
            v = _hourly(session, ch.id, start, n)
            ok = np.isfinite(v)
            if ok.sum() < 48:
                continue
            role = ROLES[q]
            th, vv = (times_h[ok], v[ok]) if role is ChannelRole.FREQUENCY else (times_h, v)
            per_element.setdefault(el.id, (el, []))[1].append(
                ChannelData(key=ch.key, role=role, times_h=th, values=vv, unit=ch.unit)
            )
    out = []
    for el, chans in per_element.values():
        defects = session.scalars(
            select(Defect).where(Defect.element_id == el.id).order_by(Defect.id)
        ).all()
        exposure = set()
        if el.exposure_class.upper().startswith(("XD", "XS")):
            exposure.add("chloride")
        if el.exposure_class.upper().startswith("XF"):
            exposure.add("freeze_thaw")
        ctx = ElementContext(
            element_id=str(el.id),
            material=_MATERIALS.get(el.material.strip().lower(), "rc"),
            exposure=frozenset(exposure),
        )
        devs = tuple(
            DefectEvidence(
                defect_id=str(d.id),
                kind=d.kind,
                orientation=_orientation(d.measurements),
                region=f"capture:{d.capture_id}",
            )
            for d in defects
        )
        out.append(
            (
                el,
                Observations(
                    context=ctx,
                    times_h=times_h,
                    drivers=drivers,
                    channels=tuple(chans),
                    defects=devs,
                ),
            )
        )
    return out, start


_WINDOW = re.compile(r"\[(-?\d+)h/(-?\d+)h\]")


def _absolute(ref: str, start_us: int) -> str:
    """``channel:K[120h/240h]`` (hours from the grid start) -> ISO times."""

    def iso(h: str) -> str:
        t = datetime.fromtimestamp(start_us / 1e6, tz=UTC) + timedelta(hours=int(h))
        return t.strftime("%Y-%m-%dT%H:%MZ")

    return _WINDOW.sub(lambda m: f"[{iso(m.group(1))}/{iso(m.group(2))}]", ref)


def _ev_absolute(e: Evidence, start_us: int) -> Evidence:
    return Evidence(
        kind=e.kind,
        ref=_absolute(e.ref, start_us),
        test=e.test,
        detail=e.detail,
        value=e.value,
        unit=e.unit,
    )


def update_hazards(
    session: Session,
    organization_id: int,
    asset_id: int,
    *,
    window_days: int = 90,
    library: MechanismLibrary | None = None,
    matrix: RiskMatrix | None = None,
) -> list[int]:
    """Derive the asset's hazards from its stored readings and defects (idempotent).

    For each instrumented element the mechanism library ranks causes; when the top cause is a
    damage mechanism or a sensor fault, its evidence is grouped into the element's hazard for
    that mechanism (new, updated, or a resolved one reopened). Evidence already held changes
    nothing, so a retry or a second run writes nothing new.

    Returns
    -------
    list of int
        Ids of the hazards opened or changed.
    """
    asset = session.get(Asset, asset_id)
    if asset is None or asset.organization_id != organization_id:
        raise NotFoundError(f"asset {asset_id} not found")
    lib = library if library is not None else load_mechanisms()
    mtx = matrix if matrix is not None else load_risk_matrix()
    observed, start = element_observations(session, asset, window_days=window_days)
    touched: list[int] = []
    for el, obs in observed:
        inf = infer_causes(obs, lib)
        top = inf.top
        if top.hazard_kind == "none":
            continue
        items = [
            HazardEvidence(
                element_id=str(el.id), mechanism=top.mechanism, evidence=_ev_absolute(e, start)
            )
            for e in top.evidence_for
        ]
        existing_rows = session.scalars(
            select(Hazard).where(Hazard.element_id == el.id, Hazard.mechanism == top.mechanism)
        ).all()
        existing = [
            ExistingHazard(
                hazard_id=str(h.id),
                element_id=str(el.id),
                mechanism=h.mechanism,
                status=HazardStatus(h.status),
                refs=frozenset(
                    session.scalars(
                        select(HazardEvidenceLink.ref).where(HazardEvidenceLink.hazard_id == h.id)
                    ).all()
                ),
            )
            for h in existing_rows
        ]
        risk = assess_risk(
            mtx,
            cause_confidence=top.confidence,
            progression_probability=None,
            asset_criticality=asset.criticality,
            element_criticality=el.criticality,
            hazard_kind=top.hazard_kind,
        )
        causes = [
            {
                **c.as_dict(),
                "evidence_for": [_ev_absolute(e, start).as_dict() for e in c.evidence_for],
                "evidence_against": [_ev_absolute(e, start).as_dict() for e in c.evidence_against],
            }
            for c in inf.causes[:5]
        ]
        for plan in group_evidence(items, existing):
            if plan.hazard_id is None:
                hazard = Hazard(
                    organization_id=organization_id,
                    asset_id=asset.id,
                    element_id=el.id,
                    mechanism=top.mechanism,
                    hazard_kind=top.hazard_kind,
                    status=str(HazardStatus.OPEN),
                    confidence=top.confidence,
                    likelihood=risk.likelihood,
                    consequence=risk.consequence,
                    risk=risk.score,
                    risk_band=risk.band,
                    causes=causes,
                    prediction={"risk_basis": risk.basis},
                )
                session.add(hazard)
                session.flush()
                session.add(
                    HazardTransitionRecord(
                        hazard_id=hazard.id,
                        from_status="",
                        action="open",
                        to_status=str(HazardStatus.OPEN),
                        note="opened from evidence",
                        actor="system",
                    )
                )
                _log.info("hazard %s opened: element %s, %s", hazard.id, el.id, top.mechanism)
            else:
                hazard = session.get_one(Hazard, int(plan.hazard_id))
                hazard.confidence = top.confidence
                hazard.likelihood, hazard.consequence = risk.likelihood, risk.consequence
                hazard.risk, hazard.risk_band = risk.score, risk.band
                hazard.causes = causes
                if plan.transition is not None:
                    was = hazard.status
                    hazard.status = str(plan.transition.to_status)
                    if was == HazardStatus.RESOLVED and hazard.status == HazardStatus.OPEN:
                        from infrasight.services.verification import reopen_on_recurrence

                        reopen_on_recurrence(
                            session, hazard, f"hazard {hazard.id} recurred: {plan.transition.note}"
                        )
                    session.add(
                        HazardTransitionRecord(
                            hazard_id=hazard.id,
                            from_status=str(plan.transition.from_status),
                            action=str(plan.transition.action),
                            to_status=str(plan.transition.to_status),
                            note=plan.transition.note,
                            actor="system",
                        )
                    )
            for e in plan.new_evidence:
                session.add(
                    HazardEvidenceLink(
                        hazard_id=hazard.id,
                        kind=str(e.kind),
                        ref=e.ref[:400],
                        test=e.test[:200],
                        detail=e.detail,
                        value=e.value,
                        unit=e.unit,
                    )
                )
            session.flush()
            touched.append(hazard.id)
    return touched


def transition_hazard(
    session: Session, principal: Principal, hazard_id: int, to: str, note: str = ""
) -> Hazard:
    """Move a hazard to state ``to`` by the lifecycle table (audited).

    Raises
    ------
    NotFoundError
        No such hazard in the caller's organisation.
    InvalidInputError
        ``to`` is not a hazard state.
    TransitionNotAllowedError
        The table forbids it (HTTP 409, naming the allowed states).
    """
    hazard = session.get(Hazard, hazard_id)
    if hazard is None or hazard.organization_id != principal.organization_id:
        raise NotFoundError(f"hazard {hazard_id} not found")
    try:
        target = HazardStatus(to)
    except ValueError:
        raise InvalidInputError(
            f"{to!r} is not a state; states: {', '.join(s.value for s in HazardStatus)}",
            field="to",
        ) from None
    action = action_to(HazardStatus(hazard.status), target)
    tr = apply_action(HazardStatus(hazard.status), action, note)
    hazard.status = str(tr.to_status)
    session.add(
        HazardTransitionRecord(
            hazard_id=hazard.id,
            from_status=str(tr.from_status),
            action=str(tr.action),
            to_status=str(tr.to_status),
            note=note,
            actor=principal.name,
        )
    )
    record_audit(
        session,
        principal,
        f"hazard.{action}",
        "hazard",
        hazard.id,
        {"from": str(tr.from_status), "to": str(tr.to_status), "note": note},
    )
    session.flush()
    return hazard
