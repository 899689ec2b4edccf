"""What a report says, read from the store: language-neutral numbers, ids and images.

:func:`assemble_report` reads an asset and a period through the services the API uses
(condition standards, hazards and their recommendations, forecasts) and returns one immutable
:class:`ReportContent`; :mod:`infrasight.reports.render` translates and lays it out.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InfraSightError, NotFoundError
from infrasight.reasoning.remediation import load_catalogue
from infrasight.reasoning.standards import load_standards
from infrasight.services.capture_pixels import analysis_pixels
from infrasight.services.condition import asset_condition
from infrasight.services.crack_analysis import render_overlay
from infrasight.services.images import decode_image
from infrasight.services.remediation import hazard_recommendations
from infrasight.signals import NotEnoughDataError, SignalsError, fit_best_trend
from infrasight.storage.blobs import BlobStore
from infrasight.storage.models import (
    AlarmRecord,
    AlarmRule,
    Asset,
    Capture,
    CaptureAnalysis,
    Channel,
    Defect,
    DefectReview,
    Element,
    Hazard,
    User,
    WorkOrder,
    WorkOrderEvent,
)
from infrasight.storage.readings import downsample, fetch_series

__all__ = [
    "ChartContent",
    "ConditionRow",
    "DefectRow",
    "HazardContent",
    "ReportContent",
    "WorkOrderRow",
    "assemble_report",
]

_LOGGER = logging.getLogger(__name__)
_CRACK_MODEL = "crack-segmentation"
_CROP_PX = 480  # longest side of a defect's picture in the report
_OPEN_HAZARDS = ("open", "acknowledged", "mitigating")
_DONE_ORDERS = ("closed", "cancelled")
REPORT_EVIDENCE = 3  # evidence items of a hazard's top cause the report cites


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionRow:
    """An asset's rating under one standard (its worst element decides)."""

    standard: str
    rating: float
    label: str
    clause: str
    elements: int
    #: ``label`` / ``clause`` as a phrase's key and parameters (None: a data catalogue's text)
    label_message: dict[str, object] | None = None
    clause_message: dict[str, object] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectRow:
    """One defect found in the period, with its picture (JPEG) when it could be cut out."""

    id: int
    kind: str
    element: str
    capture_id: int
    time: datetime
    unit: str  # "mm" when the capture had a scale, else "px"
    length: float | None
    length_std: float | None
    width_max: float | None
    width_max_std: float | None
    confidence: float
    verdict: str | None
    crop_jpeg: bytes | None = field(default=None, repr=False)
    crop_mm_per_px: float | None = None  # millimetres per pixel of the crop (scale bar)
    crop_width_px: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartContent:
    """A channel over the period: buckets, alarm levels and a forecast band (seconds, values)."""

    key: str
    quantity: str
    unit: str
    times_s: tuple[float, ...]
    mean: tuple[float, ...]
    minimum: tuple[float, ...]
    maximum: tuple[float, ...]
    levels: tuple[tuple[str, int, float], ...]  # (name, severity, value)
    forecast_times_s: tuple[float, ...] = ()
    forecast_median: tuple[float, ...] = ()
    forecast_lower: tuple[float, ...] = ()
    forecast_upper: tuple[float, ...] = ()
    forecast_kind: str = ""
    last_value: float | None = None
    alarms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class HazardContent:
    """A hazard with its ranked causes and recommended actions."""

    id: int
    mechanism: str
    element: str
    status: str
    risk: int
    likelihood: int
    consequence: int
    band: str
    confidence: float
    causes: tuple[tuple[str, float, int, int], ...]  # (name, confidence, #for, #against)
    recommendations: tuple[tuple[int, str, int, str], ...]  # (rank, name, urgency days, source)
    #: The top cause's leading evidence: (English detail, stored phrase or None), rendered in
    #: the report's language.
    evidence: tuple[tuple[str, dict[str, Any] | None], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkOrderRow:
    """A work order of the asset and where its verification stands."""

    id: int
    title: str
    status: str
    due_at: datetime
    assignee: str
    hazard_id: int | None
    verification: str  # "verified", "verifying", "pending", "cancelled"
    verified_at: datetime | None
    #: The newest event's note (English as stored) and its phrase when the system wrote it
    note: str = ""
    note_message: dict[str, object] | None = None
    #: ``title`` as a phrase when the system composed it
    title_message: dict[str, object] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportContent:
    """Everything one report shows, before translation."""

    asset_id: int
    asset_name: str
    asset_kind: str
    governing_standard: str
    organization: str
    period_start: datetime
    period_end: datetime
    condition: tuple[ConditionRow, ...]
    defects: tuple[DefectRow, ...]
    charts: tuple[ChartContent, ...]
    hazards: tuple[HazardContent, ...]
    work_orders: tuple[WorkOrderRow, ...]
    active_alarms: int


def _us(value: datetime) -> int:
    return round(value.timestamp() * 1e6)


def _quantity(measurements: dict[str, Any], name: str) -> tuple[float | None, float | None]:
    item = measurements.get(name)
    if not isinstance(item, dict) or not isinstance(item.get("value"), int | float):
        return None, None
    std = item.get("std")
    return float(item["value"]), float(std) if isinstance(std, int | float) else None


def _conditions(session: Session, organization_id: int, asset_id: int) -> tuple[ConditionRow, ...]:
    registry = load_standards()
    rows = []
    for standard in registry.ids:
        try:
            result = asset_condition(session, organization_id, asset_id, standard, registry)
        except InfraSightError as err:  # a standard that does not apply to these elements
            _LOGGER.debug("standard %s not rated: %s", standard, err)
            continue
        summary = result.summary
        rows.append(
            ConditionRow(
                standard=standard,
                rating=summary.rating,
                label=summary.label,
                clause=summary.clause,
                elements=len(result.elements),
                label_message=summary.label_phrase.as_dict() if summary.label_phrase else None,
                clause_message=summary.clause_phrase.as_dict() if summary.clause_phrase else None,
            )
        )
    return tuple(rows)


def _crop(
    pixels: np.ndarray, mask: np.ndarray, defect: Defect, mm_per_px: float | None
) -> tuple[bytes, float | None, int] | None:
    bbox = defect.geometry.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        return None
    x, y, w, h = (int(v) for v in bbox)
    side = max(w, h, 64)
    margin = side // 4
    cx, cy = x + w // 2, y + h // 2
    half = side // 2 + margin
    x0, y0 = max(0, cx - half), max(0, cy - half)
    x1, y1 = min(pixels.shape[1], cx + half), min(pixels.shape[0], cy + half)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    line = np.asarray(defect.geometry.get("polyline_px", []), dtype=np.float64)
    if line.ndim == 2 and len(line):
        line = line - np.array([x0, y0], dtype=np.float64)
    jpeg = render_overlay(
        np.ascontiguousarray(pixels[y0:y1, x0:x1]),
        np.ascontiguousarray(mask[y0:y1, x0:x1]),
        [line],
        quality=85,
    )
    image = Image.open(io.BytesIO(jpeg))
    factor = min(1.0, _CROP_PX / max(image.size))
    if factor < 1.0:
        image = image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
            Image.Resampling.LANCZOS,
        )
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        jpeg = out.getvalue()
    scale = None if mm_per_px is None else mm_per_px / factor
    return jpeg, scale, image.width


def _defects(
    session: Session,
    blobs: BlobStore,
    asset_id: int,
    start: datetime,
    end: datetime,
    *,
    max_pixels: int,
    max_images: int,
) -> tuple[DefectRow, ...]:
    captures = session.scalars(
        select(Capture)
        .where(Capture.asset_id == asset_id, Capture.time >= start, Capture.time < end)
        .order_by(Capture.time, Capture.id)
    ).all()
    names = {
        int(i): str(n)
        for i, n in session.execute(
            select(Element.id, Element.name).where(Element.asset_id == asset_id)
        ).all()
    }
    rows: list[DefectRow] = []
    images = 0
    for capture in captures:
        analysis = session.scalars(
            select(CaptureAnalysis)
            .where(
                CaptureAnalysis.capture_id == capture.id,
                CaptureAnalysis.model_name == _CRACK_MODEL,
            )
            .order_by(CaptureAnalysis.id.desc())
            .limit(1)
        ).one_or_none()
        if analysis is None:
            continue
        defects = session.scalars(
            select(Defect).where(Defect.analysis_id == analysis.id).order_by(Defect.id)
        ).all()
        if not defects:
            continue
        scale = analysis.summary.get("scale") if isinstance(analysis.summary, dict) else None
        mm_per_px = (
            float(scale["mm_per_px"])
            if isinstance(scale, dict) and isinstance(scale.get("mm_per_px"), int | float)
            else None
        )
        pixels = mask = None
        if images < max_images and analysis.mask_sha256 is not None:
            try:
                pixels, _ = analysis_pixels(session, blobs, capture, max_pixels=max_pixels)
                mask = decode_image(blobs.get(analysis.mask_sha256), max_pixels=max_pixels) > 0
            except (InfraSightError, OSError, ValueError) as err:
                _LOGGER.warning("no pictures of capture %s in the report: %s", capture.id, err)
        for d in defects:
            verdict = session.scalars(
                select(DefectReview.verdict)
                .where(DefectReview.defect_id == d.id)
                .order_by(DefectReview.id.desc())
                .limit(1)
            ).one_or_none()
            length, length_std = _quantity(d.measurements, "length")
            width, width_std = _quantity(d.measurements, "width_max")
            crop = None
            if pixels is not None and mask is not None and images < max_images:
                crop = _crop(pixels, mask, d, mm_per_px)
                images += crop is not None
            rows.append(
                DefectRow(
                    id=d.id,
                    kind=d.kind,
                    element=names.get(d.element_id or 0, "–"),
                    capture_id=capture.id,
                    time=capture.time,
                    unit=str(d.measurements.get("unit", "px")),
                    length=length,
                    length_std=length_std,
                    width_max=width,
                    width_max_std=width_std,
                    confidence=d.confidence,
                    verdict=verdict,
                    crop_jpeg=None if crop is None else crop[0],
                    crop_mm_per_px=None if crop is None else crop[1],
                    crop_width_px=0 if crop is None else crop[2],
                )
            )
    return tuple(rows)


def _rule_levels(rules: list[AlarmRule], key: str) -> tuple[tuple[str, int, float], ...]:
    levels = []
    for rule in rules:
        if not rule.enabled or key not in rule.definition.get("channels", []):
            continue
        for level in rule.definition.get("levels", []):
            for limit in level.get("limits", []):
                if limit.get("quantity") != "value":
                    continue
                for side in ("upper", "lower"):
                    if isinstance(limit.get(side), int | float):
                        levels.append(
                            (
                                str(level.get("name", "")),
                                int(level.get("severity", 0)),
                                float(limit[side]),
                            )
                        )
    return tuple(sorted(set(levels), key=lambda item: (item[2], item[0])))


def _charts(
    session: Session,
    organization_id: int,
    asset_id: int,
    start: datetime,
    end: datetime,
    *,
    max_charts: int,
    points: int,
    horizon_days: float,
) -> tuple[ChartContent, ...]:
    channels = session.scalars(
        select(Channel)
        .join(Element, Element.id == Channel.element_id)
        .where(Element.asset_id == asset_id, Channel.organization_id == organization_id)
        .order_by(Channel.key)
    ).all()
    rules = list(
        session.scalars(select(AlarmRule).where(AlarmRule.organization_id == organization_id)).all()
    )
    alarm_keys: dict[str, int] = {}
    for alarm in session.scalars(
        select(AlarmRecord).where(
            AlarmRecord.organization_id == organization_id,
            AlarmRecord.raised_at < end,
        )
    ).all():
        for key in alarm.key.split("|"):
            alarm_keys[key] = alarm_keys.get(key, 0) + 1
    # key channels: those with alarms, then those watched by rules, then the rest; never the
    # derived anomaly scores
    ranked = sorted(
        (c for c in channels if not c.key.endswith(".anomaly")),
        key=lambda c: (
            -sum(n for k, n in alarm_keys.items() if c.key in k),
            not _rule_levels(rules, c.key),
            c.key,
        ),
    )
    start_us, end_us = _us(start), _us(end)
    charts: list[ChartContent] = []
    for channel in ranked:
        if len(charts) >= max_charts:
            break
        buckets = downsample(session, channel.id, start_us, end_us, points)
        if not buckets:
            continue
        width_s = (buckets[1].start_us - buckets[0].start_us) / 1e6 if len(buckets) > 1 else 0.0
        forecast: dict[str, Any] = {}
        stamps, values = fetch_series(session, channel.id, from_us=start_us)
        keep = stamps < end_us
        stamps, values = stamps[keep], values[keep]
        if stamps.size >= 20:
            try:
                times = stamps / 1e6
                model = fit_best_trend(times, values, horizon_s=horizon_days * 86400.0)
                grid = times[-1] + np.linspace(0.0, horizon_days * 86400.0, 30)
                projected = model.predict(grid, level=0.95)
                forecast = {
                    "forecast_times_s": tuple(float(v) for v in grid),
                    "forecast_median": tuple(float(v) for v in projected.median),
                    "forecast_lower": tuple(float(v) for v in projected.lower),
                    "forecast_upper": tuple(float(v) for v in projected.upper),
                    "forecast_kind": model.kind,
                }
            except (NotEnoughDataError, SignalsError) as err:
                _LOGGER.debug("no forecast for %s: %s", channel.key, err)
        charts.append(
            ChartContent(
                key=channel.key,
                quantity=channel.quantity,
                unit=channel.unit,
                times_s=tuple(b.start_us / 1e6 + width_s / 2 for b in buckets),
                mean=tuple(b.mean for b in buckets),
                minimum=tuple(b.minimum for b in buckets),
                maximum=tuple(b.maximum for b in buckets),
                levels=_rule_levels(rules, channel.key),
                last_value=float(values[-1]) if values.size else None,
                alarms=sum(n for k, n in alarm_keys.items() if channel.key in k),
                **forecast,
            )
        )
    return tuple(charts)


def _hazards(session: Session, organization_id: int, asset_id: int) -> tuple[HazardContent, ...]:
    rows = session.scalars(
        select(Hazard)
        .where(Hazard.asset_id == asset_id, Hazard.merged_into_id.is_(None))
        .order_by(Hazard.risk.desc(), Hazard.id)
    ).all()
    catalogue = load_catalogue()
    names = {
        int(i): str(n)
        for i, n in session.execute(
            select(Element.id, Element.name).where(Element.asset_id == asset_id)
        ).all()
    }
    out = []
    for h in rows:
        if h.status not in _OPEN_HAZARDS:
            continue
        try:
            ranked = hazard_recommendations(session, organization_id, h.id, catalogue)
            recommendations = tuple(
                (r.rank, r.action.name, r.urgency_days, r.action.source)
                for r in ranked.recommendations[:3]
            )
        except InfraSightError as err:
            _LOGGER.debug("no recommendations for hazard %s: %s", h.id, err)
            recommendations = ()
        causes = tuple(
            (
                str(c.get("name") or c.get("mechanism", "")),
                float(c.get("confidence", 0.0)),
                len(c.get("evidence_for", [])),
                len(c.get("evidence_against", [])),
            )
            for c in h.causes[:3]
        )
        top = h.causes[0] if h.causes else {}
        evidence = tuple(
            (str(e.get("detail", "")), e.get("message") if isinstance(e, dict) else None)
            for e in top.get("evidence_for", [])[:REPORT_EVIDENCE]
            if isinstance(e, dict) and (e.get("detail") or e.get("message"))
        )
        mechanism = next(
            (
                str(c["name"])
                for c in h.causes
                if c.get("mechanism") == h.mechanism and c.get("name")
            ),
            h.mechanism,
        )
        out.append(
            HazardContent(
                id=h.id,
                mechanism=mechanism,
                element=names.get(h.element_id or 0, "–"),
                status=h.status,
                risk=h.risk,
                likelihood=h.likelihood,
                consequence=h.consequence,
                band=h.risk_band,
                confidence=h.confidence,
                causes=causes,
                recommendations=recommendations,
                evidence=evidence,
            )
        )
    return tuple(out)


def _work_orders(session: Session, asset_id: int, end: datetime) -> tuple[WorkOrderRow, ...]:
    orders = session.scalars(
        select(WorkOrder)
        .where(WorkOrder.asset_id == asset_id, WorkOrder.created_at < end)
        .order_by(WorkOrder.due_at, WorkOrder.id)
    ).all()
    users = {u.id: u.email for u in session.scalars(select(User)).all()} if orders else {}
    out = []
    for wo in orders:
        closed_at = session.scalars(
            select(WorkOrderEvent.at)
            .where(WorkOrderEvent.work_order_id == wo.id, WorkOrderEvent.to_status == "closed")
            .order_by(WorkOrderEvent.id.desc())
            .limit(1)
        ).one_or_none()
        noted = session.scalars(
            select(WorkOrderEvent)
            .where(WorkOrderEvent.work_order_id == wo.id, WorkOrderEvent.note != "")
            .order_by(WorkOrderEvent.id.desc())
            .limit(1)
        ).one_or_none()
        verification = {
            "closed": "verified",
            "verifying": "verifying",
            "cancelled": "cancelled",
        }.get(wo.status, "pending")
        out.append(
            WorkOrderRow(
                id=wo.id,
                title=wo.title,
                status=wo.status,
                due_at=wo.due_at,
                assignee=users.get(wo.assignee_id or 0, "–"),
                hazard_id=wo.hazard_id,
                verification=verification,
                verified_at=closed_at,
                note="" if noted is None else noted.note,
                note_message=None if noted is None else noted.message,
                title_message=wo.title_message,
            )
        )
    return tuple(out)


def assemble_report(
    session: Session,
    blobs: BlobStore,
    *,
    organization_id: int,
    asset_id: int,
    start: datetime,
    end: datetime,
    max_pixels: int = 100_000_000,
    max_images: int = 60,
    max_charts: int = 6,
    chart_points: int = 240,
    horizon_days: float = 30.0,
) -> ReportContent:
    """Read what the report of ``asset_id`` over ``[start, end)`` shows.

    Raises
    ------
    NotFoundError
        No such asset in the organisation.
    """
    asset = session.get(Asset, asset_id)
    if asset is None or asset.organization_id != organization_id:
        raise NotFoundError(f"asset {asset_id} not found")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    from infrasight.storage.models import Organization

    org = session.get(Organization, organization_id)
    active = session.scalars(
        select(AlarmRecord.key).where(
            AlarmRecord.organization_id == organization_id,
            AlarmRecord.status.in_(("active", "acknowledged")),
        )
    ).all()
    keys = set(
        session.scalars(
            select(Channel.key)
            .join(Element, Element.id == Channel.element_id)
            .where(Element.asset_id == asset_id)
        ).all()
    )
    return ReportContent(
        asset_id=asset.id,
        asset_name=asset.name,
        asset_kind=asset.kind,
        governing_standard=asset.governing_standard,
        organization=org.name if org is not None else "",
        period_start=start,
        period_end=end,
        condition=_conditions(session, organization_id, asset_id),
        defects=_defects(
            session, blobs, asset_id, start, end, max_pixels=max_pixels, max_images=max_images
        ),
        charts=_charts(
            session,
            organization_id,
            asset_id,
            start,
            end,
            max_charts=max_charts,
            points=chart_points,
            horizon_days=horizon_days,
        ),
        hazards=_hazards(session, organization_id, asset_id),
        work_orders=_work_orders(session, asset_id, end),
        active_alarms=sum(1 for k in active if any(c in k for c in keys)),
    )
