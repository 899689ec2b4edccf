"""Hazards: derive them from stored readings, alarms, anomaly scores and defects, list them, move
them through their lifecycle. ``update_hazards`` is idempotent: run twice on the same data it
changes nothing; it runs as the durable effect ``hazards_due`` (``services/hazard_effects.py``)
after stored readings, capture analysis and modal identification."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.core.phrases import N_, Phrase, phrase, phrase_list
from infrasight.reasoning.causes import (
    ChannelData,
    ChannelRole,
    DefectEvidence,
    ElementContext,
    Inference,
    MechanismLibrary,
    Observations,
    infer_causes,
    load_mechanisms,
)
from infrasight.reasoning.causes.positions import load_position_rules
from infrasight.reasoning.evidence import Evidence, EvidenceKind
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
from infrasight.reasoning.hazards.housekeeping import load_housekeeping
from infrasight.services.auth import Principal
from infrasight.services.defect_reviews import latest_reviews
from infrasight.services.hazard_evidence import (
    HORIZONS_DAYS,
    Forecast,
    alarm_evidence,
    anomaly_evidence,
    channel_limits,
    defect_evidence,
    defect_region,
    forecast_channel,
    forecast_evidence,
    iso_hour,
)
from infrasight.services.hazard_housekeeping import (
    SEEN_KEY,
    merge_duplicates,
    resolve_unsupported,
    supersede_moved,
)
from infrasight.services.hazard_prediction import (
    PredictionCache,
    condition_prediction,
    crack_growth_prediction,
    summarise,
)
from infrasight.services.hazard_transitions import record_hazard_transition
from infrasight.storage.models import (
    Asset,
    Channel,
    Defect,
    Element,
    Hazard,
    HazardEvidenceLink,
    HazardTransitionRecord,
)
from infrasight.storage.readings import hourly_means, time_span

__all__ = [
    "AssetView",
    "ElementView",
    "element_observations",
    "transition_hazard",
    "update_hazards",
]

_log = logging.getLogger(__name__)

LIVE_STATUSES = frozenset({"open", "acknowledged", "mitigating", "resolved"})
"""States whose hazard still follows its evidence."""

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
    "support_force": ChannelRole.SETTLEMENT,  # a support reaction shifts when a support moves
    "support_reaction": ChannelRole.SETTLEMENT,
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
_MATERIALS = {
    "steel": "steel",
    "prestressed concrete": "psc",
    "psc": "psc",
    "reinforced concrete": "rc",
    "concrete": "rc",
    "rc": "rc",
}
"""Element material (as registered, lower case) -> the cause library's; others are unknown."""


def element_context(el: Element, at_us: int) -> ElementContext:
    """What the register knows about an element, for the cause tests at data time ``at_us``.

    A blank material or exposure class and a missing construction year are unknown (no
    evidence), not benign: only what an operator recorded counts for or against a mechanism.
    The age counts from the middle of the construction year.
    """
    cls = el.exposure_class.strip().upper()
    exposure: frozenset[str] | None = None
    if cls:
        exposure = frozenset(
            name
            for name, prefixes in (("chloride", ("XD", "XS")), ("freeze_thaw", ("XF",)))
            if any(c.startswith(prefixes) for c in cls.replace(",", " ").split())
        )
    age = None
    if el.construction_year is not None:
        at = datetime.fromtimestamp(at_us / 1e6, tz=UTC)
        years = at.year + (at.timetuple().tm_yday - 1) / 365.25
        age = max(years - (el.construction_year + 0.5), 0.0)
    return ElementContext(
        element_id=str(el.id),
        material=_MATERIALS.get(el.material.strip().lower()),
        age_years=age,
        exposure=exposure,
    )


MIN_POINTS = 48
"""Hourly values a gauge needs at the element to be read (two days)."""
MIN_FREQUENCY_POINTS = 8
"""Identified frequencies a frequency channel needs (one per analysed record)."""


ORIENTATIONS = frozenset({"transverse", "diagonal", "longitudinal", "map", "vertical"})


def _orientation(measurements: dict[str, Any]) -> str:
    """A crack's orientation: as recorded (``orientation``), else from the pattern or the
    angle to the element axis; "" unknown."""
    said = measurements.get("orientation")
    if isinstance(said, str) and said.strip().lower() in ORIENTATIONS:
        return said.strip().lower()
    if measurements.get("pattern") == "map":
        return "map"
    angle = measurements.get("angle_to_axis_deg")
    if not isinstance(angle, int | float):
        return ""
    return "longitudinal" if angle < 30 else "transverse" if angle > 60 else "diagonal"


def _position(defect: Defect) -> str:
    """The defect's position on its element where its row records one (``geometry`` or
    ``measurements`` key ``position``, as an inspector or an analysis writes it, a word of
    ``reasoning/causes/positions.toml``); "" unknown."""
    positions = load_position_rules().positions
    for source in (defect.geometry, defect.measurements):
        value = source.get("position") if isinstance(source, dict) else None
        if isinstance(value, str) and value.strip().lower() in positions:
            return value.strip().lower()
    return ""


def _width_mm(measurements: dict[str, Any]) -> float | None:
    width = measurements.get("width_max")
    if measurements.get("unit") == "mm" and isinstance(width, dict):
        value = width.get("value")
        return float(value) if isinstance(value, int | float) else None
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementView:
    """One element as the hazard update reads it."""

    element: Element
    observations: Observations
    channels: tuple[Channel, ...]
    defects: tuple[Defect, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetView:
    """The asset's elements on one hourly grid of ``hours`` hours from ``start_us``."""

    start_us: int
    hours: int
    elements: tuple[ElementView, ...]


def element_observations(
    session: Session,
    asset: Asset,
    *,
    window_days: int = 90,
    element_ids: Collection[int] | None = None,
    fresh_spans: Mapping[int, tuple[int, int]] | None = None,
) -> AssetView:
    """Observations per element of ``asset`` that has readable channels or defects, on an
    hourly grid ending at the asset's latest reading (at most ``window_days`` long, and no
    earlier than its first reading).

    ``element_ids`` restricts the elements read (the drivers come from the whole asset). Defects
    an inspector rejected are left out. ``fresh_spans`` (channel id -> first and last time, µs,
    of the batch that triggers the update) marks the asset's other channels as not yet due from
    the batch's first time on (``ChannelData.judged_until``): a backfill sent channel by channel
    is data on its way, while a gauge missing from batch after batch falls ever further behind.
    """
    # the asset's channels as plain columns (most of a large fleet's are score channels and
    # channels of other elements), then as objects only those this update reads
    q = (
        select(Channel.id, Channel.quantity, Channel.element_id)
        .join(Element, Channel.element_id == Element.id)
        .where(Element.asset_id == asset.id)
        .order_by(Channel.id)
    )
    wanted = None if element_ids is None else set(element_ids)
    listed = {cid: (quantity.strip().lower(), eid) for cid, quantity, eid in session.execute(q)}
    read = [cid for cid, (quantity, _) in listed.items() if quantity in ROLES.keys() | DRIVERS]
    needed = [
        cid
        for cid in read
        if wanted is None or listed[cid][0] in DRIVERS or listed[cid][1] in wanted
    ]
    loaded = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(needed)))}
    rows = [loaded[cid] for cid in needed if cid in loaded]
    span = time_span(session, read)
    n, start = 0, 0
    if span is not None:
        first, latest = span
        end = (int(latest) // HOUR_US + 1) * HOUR_US
        n = min(window_days * 24, (end - int(first) // HOUR_US * HOUR_US) // HOUR_US)
        start = end - n * HOUR_US
    times_h = np.arange(n, dtype=np.float64)
    fresh = {c for c in rows if fresh_spans and c.id in fresh_spans}
    pending: int | None = None
    if fresh and fresh_spans:
        first_new = min(fresh_spans[c.id][0] for c in fresh)
        pending = int(np.clip((first_new - start) // HOUR_US, 0, n))
    drivers: dict[str, np.ndarray] = {}
    per_element: dict[int, list[tuple[Channel, ChannelData]]] = {}
    for ch in rows if n else ():
        q_name = ch.quantity.strip().lower()
        if q_name in DRIVERS and DRIVERS[q_name] not in drivers:
            v = hourly_means(session, ch.id, start, n)
            ok = np.isfinite(v)
            if ok.sum() >= 2:
                drivers[DRIVERS[q_name]] = np.interp(times_h, times_h[ok], v[ok])
        elif q_name in ROLES and (wanted is None or ch.element_id in wanted):
            v = hourly_means(session, ch.id, start, n)
            ok = np.isfinite(v)
            role = ROLES[q_name]
            frequency = role is ChannelRole.FREQUENCY
            if ok.sum() < (MIN_FREQUENCY_POINTS if frequency else MIN_POINTS):
                continue
            th, vv = (times_h[ok], v[ok]) if frequency else (times_h, v)
            per_element.setdefault(ch.element_id, []).append(
                (
                    ch,
                    ChannelData(
                        key=ch.key,
                        role=role,
                        times_h=th,
                        values=vv,
                        unit=ch.unit,
                        judged_until=None if frequency or ch in fresh else pending,
                    ),
                )
            )
    dq = (
        select(Defect)
        .join(Element, Defect.element_id == Element.id)
        .where(Element.asset_id == asset.id)
    )
    if wanted is not None:
        dq = dq.where(Element.id.in_(wanted))
    all_defects = session.scalars(dq.order_by(Defect.id)).all()
    reviews = latest_reviews(session, [d.id for d in all_defects])
    defects_of: dict[int, list[Defect]] = {}
    for d in all_defects:
        review = reviews.get(d.id)
        if d.element_id is not None and (review is None or review.verdict != "rejected"):
            defects_of.setdefault(d.element_id, []).append(d)
    ids = sorted(set(per_element) | set(defects_of))
    elements = {e.id: e for e in session.scalars(select(Element).where(Element.id.in_(ids))).all()}
    out = []
    for eid in ids:
        el = elements[eid]
        ctx = element_context(
            el, start + n * HOUR_US if n else int(datetime.now(UTC).timestamp() * 1e6)
        )
        defects = tuple(defects_of.get(eid, ()))
        devs = tuple(
            DefectEvidence(
                defect_id=str(d.id),
                kind=d.kind,
                orientation=_orientation(d.measurements),
                position=_position(d),
                width_mm=_width_mm(d.measurements),
                region=defect_region(d),
            )
            for d in defects
        )
        chans = per_element.get(eid, [])
        out.append(
            ElementView(
                element=el,
                observations=Observations(
                    context=ctx,
                    times_h=times_h,
                    drivers=drivers,
                    channels=tuple(c for _, c in chans),
                    defects=devs,
                ),
                channels=tuple(c for c, _ in chans),
                defects=defects,
            )
        )
    return AssetView(start_us=start, hours=n, elements=tuple(out))


_WINDOW = re.compile(r"\[(-?\d+)h/(-?\d+)h\]")
_CHANNEL_REF = re.compile(r"^(?:channel|anomaly):(.+?)\[")


def _absolute(ref: str, start_us: int, hours: int) -> str:
    """``channel:K[120h/2159h]`` (hours on the grid) -> ISO times; a window that starts at the
    grid's start or ends at its last hour is open there (``..``), so the ref of an ongoing
    change stays the same as data arrives."""

    def iso(h: str, open_at: int) -> str:
        return ".." if int(h) == open_at else iso_hour(start_us + int(h) * HOUR_US)

    return _WINDOW.sub(
        lambda m: f"[{iso(m.group(1), 0)}/{iso(m.group(2), hours - 1)}]",
        ref,
    )


def _ev_absolute(e: Evidence, start_us: int, hours: int) -> Evidence:
    return replace(
        e,
        ref=_absolute(e.ref, start_us, hours),
        value=None if e.value is None else round(e.value, 4),
    )


def _held(session: Session, hazard_id: int) -> tuple[Evidence, ...]:
    links = session.scalars(
        select(HazardEvidenceLink).where(HazardEvidenceLink.hazard_id == hazard_id)
    ).all()
    return tuple(
        Evidence(
            kind=EvidenceKind(h.kind),
            ref=h.ref,
            test=h.test,
            detail=h.detail,
            value=h.value,
            unit=h.unit,
            phrase=Phrase.from_dict(h.message),
            test_phrase=Phrase.from_dict(h.test_message),
        )
        for h in links
    )


def _forecasts(
    view: ElementView, keys: Collection[str], start_us: int, limits: dict[str, Any]
) -> list[Forecast]:
    times_s = start_us / 1e6 + view.observations.times_h * 3600.0
    out = []
    for ch, data in zip(view.channels, view.observations.channels, strict=True):
        if ch.key not in keys or ch.key not in limits or data.role is ChannelRole.FREQUENCY:
            continue
        f = forecast_channel(ch.key, ch.unit, times_s, data.values, limits[ch.key])
        if f is not None:
            out.append(f)
    return out


CRACK_QUANTITIES = frozenset({"crack_width", "crack_opening"})


def _crack_growth(view: ElementView, keys: Collection[str], start_us: int) -> list[dict[str, Any]]:
    """Growth forecasts of the hazard's crack-width gauges (mm) to the next MBEI boundary."""
    times_s = start_us / 1e6 + view.observations.times_h * 3600.0
    out = []
    for ch, data in zip(view.channels, view.observations.channels, strict=True):
        if (
            ch.key in keys
            and ch.quantity.strip().lower() in CRACK_QUANTITIES
            and ch.unit.strip().lower() == "mm"
        ):
            # unknown material: the reinforced-concrete width boundaries (the commonest)
            material = view.observations.context.material or "rc"
            p = crack_growth_prediction(ch.key, times_s, data.values, material)
            if p is not None:
                out.append(p)
    return out


def _refresh_confidence(session: Session, element_id: int, top: str, inf: Inference) -> list[int]:
    """Set the confidence of the element's live hazards whose mechanism is not on top to what
    the inference gives it now; returns the ids changed.

    A hazard's confidence is the present belief in its cause, not the belief when its cause
    was last on top: a sensor-fault hazard opened while a slow change was still unconfirmed
    must not stay listed above the structural hazard that the confirmed change opened since.
    Its evidence, risk and state are left as they are (housekeeping resolves it once its
    evidence is gone).
    """
    now = {c.mechanism: c.confidence for c in inf.causes}
    out = []
    for h in session.scalars(
        select(Hazard).where(
            Hazard.element_id == element_id,
            Hazard.mechanism != top,
            Hazard.status.in_(sorted(LIVE_STATUSES - {"resolved"})),
        )
    ):
        c = now.get(h.mechanism)
        if c is not None and abs(h.confidence - c) > 1e-9:
            h.confidence = c
            out.append(h.id)
    return out


def update_hazards(
    session: Session,
    organization_id: int,
    asset_id: int,
    *,
    window_days: int = 90,
    element_ids: Collection[int] | None = None,
    library: MechanismLibrary | None = None,
    matrix: RiskMatrix | None = None,
    fresh_spans: Mapping[int, tuple[int, int]] | None = None,
) -> list[int]:
    """Derive the asset's hazards from its stored evidence (idempotent).

    For each element with readable channels or defects (only ``element_ids`` when given) the
    mechanism library ranks causes; when the top cause is a damage mechanism or a sensor fault,
    its evidence is grouped into the element's hazard for that mechanism (new, updated, or a
    resolved one reopened), with the alarms, anomaly windows and defects that concern it and,
    for damage, the forecast of its channels to their next alarm limit, whose probability of
    being reached within a year enters the likelihood. Evidence already held is refreshed in
    place, never added twice, so a retry or a second run writes nothing new. ``fresh_spans``:
    see :func:`element_observations` (the ``hazards_due`` effect passes its batch's spans).

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
    view = element_observations(
        session, asset, window_days=window_days, element_ids=element_ids, fresh_spans=fresh_spans
    )
    start, hours = view.start_us, view.hours
    since = (
        datetime.fromtimestamp(start / 1e6, tz=UTC) if hours else datetime(1970, 1, 1, tzinfo=UTC)
    )
    limits: dict[str, Any] | None = None
    cache = PredictionCache()
    rules = load_housekeeping()
    touched: list[int] = []
    for ev in view.elements:
        el, obs = ev.element, ev.observations
        inf = infer_causes(obs, lib)
        top = inf.top
        touched += resolve_unsupported(
            session,
            rules,
            el.id,
            None if top.hazard_kind == "none" else top.mechanism,
            {c.mechanism: c.score for c in inf.causes},
            start_us=start,
            end_us=start + hours * HOUR_US,
        )
        touched += _refresh_confidence(session, el.id, top.mechanism, inf)
        if top.hazard_kind == "none":
            continue
        found = [_ev_absolute(e, start, hours) for e in top.evidence_for]
        keys = {m.group(1) for e in found if (m := _CHANNEL_REF.match(e.ref))}
        if not keys:
            keys = {c.key for c in ev.channels}
        cited = [c for c in ev.channels if c.key in keys]
        found += alarm_evidence(
            session, organization_id, asset.id, keys, hazard_kind=top.hazard_kind, since=since
        )
        found += anomaly_evidence(session, cited, start, hours)
        forecasts: list[Forecast] = []
        if top.damage:
            found += defect_evidence(ev.defects)
            if limits is None:
                limits = dict(channel_limits(session, organization_id))
            forecasts = _forecasts(ev, keys, start, limits)
            found += forecast_evidence(forecasts)
            condition = condition_prediction(session, organization_id, asset.id, el.id, cache)
            cracks = _crack_growth(ev, keys, start)
        else:
            condition, cracks = None, []
        outlook = summarise(condition, cracks, forecasts)
        progress = (
            None if outlook is None else outlook["probability_within"][f"{HORIZONS_DAYS[-1]}d"]
        )
        items = [
            HazardEvidence(element_id=str(el.id), mechanism=top.mechanism, evidence=e)
            for e in found
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
                refs=frozenset(e.ref for e in held),
                evidence=held,
            )
            for h in existing_rows
            for held in (_held(session, h.id),)
        ]
        risk = assess_risk(
            mtx,
            cause_confidence=top.confidence,
            progression_probability=progress,
            asset_criticality=asset.criticality,
            element_criticality=el.criticality,
            hazard_kind=top.hazard_kind,
        )
        causes = [
            {
                **c.as_dict(),
                "evidence_for": [_ev_absolute(e, start, hours).as_dict() for e in c.evidence_for],
                "evidence_against": [
                    _ev_absolute(e, start, hours).as_dict() for e in c.evidence_against
                ],
            }
            for c in inf.causes[:5]
        ]
        prediction: dict[str, Any] = {
            "risk_basis": risk.basis,
            "risk_basis_message": None
            if risk.basis_phrase is None
            else risk.basis_phrase.as_dict(),
            "forecasts": [f.as_dict() for f in forecasts],
            "progression_probability_1y": progress,
            "condition": condition,
            "crack_growth": cracks,
            "next": outlook,
            SEEN_KEY: start + hours * HOUR_US,
        }
        plans = group_evidence(items, existing)
        planned = {p.hazard_id for p in plans}
        for row in existing_rows:  # no new evidence, but the prediction or the risk moved
            if (
                str(row.id) not in planned
                and row.status in LIVE_STATUSES
                and (row.prediction != prediction or row.risk != risk.score)
            ):
                row.confidence = top.confidence
                row.likelihood, row.consequence = risk.likelihood, risk.consequence
                row.risk, row.risk_band = risk.score, risk.band
                row.causes, row.prediction = causes, prediction
                touched.append(row.id)
        for plan in plans:
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
                    prediction=prediction,
                )
                session.add(hazard)
                session.flush()
                session.add(
                    HazardTransitionRecord(
                        hazard_id=hazard.id,
                        from_status="",
                        action="open",
                        to_status=str(HazardStatus.OPEN),
                        note=N_("opened from evidence"),
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
                hazard.prediction = prediction
                if plan.transition is not None:
                    was = hazard.status
                    hazard.status = str(plan.transition.to_status)
                    if was == HazardStatus.RESOLVED and hazard.status == HazardStatus.OPEN:
                        from infrasight.services.verification import reopen_on_recurrence

                        said = [phrase("hazard {hazard} recurred", hazard=hazard.id)]
                        if plan.transition.phrase is not None:
                            said.append(plan.transition.phrase)
                        elif plan.transition.note:
                            said.append(phrase("{note}", note=plan.transition.note))
                        reopen_on_recurrence(session, hazard, phrase_list(*said, join=":"))
                    record_hazard_transition(session, hazard, plan.transition, actor="system")
                    _log.info("hazard %s reopened by new evidence", hazard.id)
            for old_ref, e in plan.updated_evidence:
                link = session.scalars(
                    select(HazardEvidenceLink).where(
                        HazardEvidenceLink.hazard_id == hazard.id, HazardEvidenceLink.ref == old_ref
                    )
                ).one()
                link.ref, link.test, link.detail = e.ref[:400], e.test[:200], e.detail
                link.value, link.unit = e.value, e.unit[:30]
                link.message = None if e.phrase is None else e.phrase.as_dict()
                link.test_message = None if e.test_phrase is None else e.test_phrase.as_dict()
            for e in plan.new_evidence:
                session.add(
                    HazardEvidenceLink(
                        hazard_id=hazard.id,
                        kind=str(e.kind),
                        ref=e.ref[:400],
                        test=e.test[:200],
                        detail=e.detail,
                        value=e.value,
                        unit=e.unit[:30],
                        message=None if e.phrase is None else e.phrase.as_dict(),
                        test_message=None if e.test_phrase is None else e.test_phrase.as_dict(),
                    )
                )
            session.flush()
            touched.append(hazard.id)
        touched += merge_duplicates(session, rules, asset.id, el.id, top.mechanism)
        if top.damage:
            touched += supersede_moved(
                session,
                rules,
                el.id,
                top.mechanism,
                {c.mechanism: c.confidence for c in inf.causes},
                start_us=start,
                end_us=start + hours * HOUR_US,
            )
    return sorted(set(touched))


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
    record_hazard_transition(
        session,
        hazard,
        apply_action(HazardStatus(hazard.status), action, note),
        actor=principal.name,
        audit_as=principal,
    )
    session.flush()
    return hazard
