"""The demo's closed loop: hazards found in the seeded data driven through work orders.

* Span 3 girder (replaced the year before): two crack gauges show early-age shrinkage cracking
  and a camera captures the crack; the shrinkage hazard gets the top recommendation, a crew
  seals the crack and uploads a photo, a re-inspection capture (camera moved, light changed)
  shows the crack sealed, and the verification closes the work order and resolves the hazard.
* Span 2 girder: the faulty strain gauge's hazard gets a sensor repair; the gauge still reads a
  flat line after the repair, so the verification fails and reopens the work order.
* Pier 2: the settlement hazard's work order is in progress.

The history is dated in the past (the repairs were done days ago) so that the measurements
after each repair exist. A demo of fewer than :data:`LOOP_MIN_DAYS` days has no loop.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infrasight.core.domain import Role
from infrasight.demo.timeseries import VIADUCT
from infrasight.platform import Platform
from infrasight.reasoning.remediation import load_catalogue
from infrasight.services.accounts import create_user
from infrasight.services.auth import Principal
from infrasight.services.captures import CaptureRequest, store_capture
from infrasight.services.hazards import transition_hazard, update_hazards
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.services.verification import verify_work_order
from infrasight.services.work_order_attachments import add_attachment
from infrasight.services.work_orders import (
    create_work_order,
    transition_work_order,
    update_work_order,
)
from infrasight.storage.models import (
    Asset,
    Channel,
    Device,
    Element,
    Hazard,
    Organization,
    User,
    WorkOrderEvent,
)
from infrasight.synthetic import render_crack_series
from infrasight.synthetic.crack_series import SeriesVisit

__all__ = ["CREW_EMAIL", "LOOP_MIN_DAYS", "LoopOutcome", "seed_closed_loop"]

_log = logging.getLogger(__name__)

CREW_EMAIL = "crew@demo.infrasight.example"
ENGINEER_EMAIL = "engineer@demo.infrasight.example"
GIRDER = "Span 3 girder"
GAUGES = ("VD-S3-CRACK-01", "VD-S3-CRACK-02")
#: Fewest days of demo data the loop is seeded with (hazards need weeks of readings; the
#: repairs are dated up to 24 days back).
LOOP_MIN_DAYS = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopOutcome:
    """Work orders seeded by what happened to them, the organisation's hazards, captures added."""

    work_orders: dict[str, int]
    hazards: int
    captures: int


_STATUS = {
    "passed": "closed after a passed verification",
    "failed": "reopened after a failed verification",
    "pending": "verifying",
}


def _png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def _jpeg(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _gauges(
    session: Session, caller: Principal, times_s: np.ndarray, deck_temp: np.ndarray, seed: int
) -> None:
    """Two crack gauges on the Span 3 girder: thermal breathing plus early-age shrinkage."""
    element = session.scalars(select(Element).where(Element.name == GIRDER)).one()
    device = session.scalars(
        select(Device).where(
            Device.organization_id == caller.organization_id, Device.name == "VD-DL-01"
        )
    ).one()
    for key in GAUGES:
        session.add(
            Channel(
                organization_id=caller.organization_id,
                key=key,
                quantity="crack_width",
                unit="mm",
                element_id=element.id,
                device_id=device.id,
                description="Crack gauge on the Span 3 girder web (shrinkage crack)",
            )
        )
    session.flush()
    rng = np.random.default_rng(seed)
    d_t = deck_temp - deck_temp.mean()
    days = (times_s - times_s[0]) / 86_400.0
    stamps: list[object] = [datetime.fromtimestamp(t, tz=UTC).isoformat() for t in times_s]
    for k, key in enumerate(GAUGES):
        growth = (0.09, 0.06)[k] * (1 - np.exp(-days / 25.0))
        values = 0.12 + 0.03 * k - 0.004 * d_t + growth + rng.normal(0, 0.002, times_s.size)
        ingest_readings(
            session,
            caller,
            ReadingColumns(
                channels=[key] * len(stamps),
                times=stamps,
                values=np.round(values, 4).tolist(),
                units=[None] * len(stamps),
            ),
            future_tolerance_s=600,
        )


def _dates(session: Session, work_order_id: int, times: list[datetime]) -> None:
    """Date the work order's events (oldest first) at ``times`` (the last repeats)."""
    events = session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == work_order_id)
        .order_by(WorkOrderEvent.id)
    ).all()
    for i, event in enumerate(events):
        session.execute(
            update(WorkOrderEvent)
            .where(WorkOrderEvent.id == event.id)
            .values(at=times[min(i, len(times) - 1)])
        )


def _girder_capture(
    session: Session,
    platform: Platform,
    caller: Principal,
    ids: tuple[int, int],
    visit: SeriesVisit,
    time: datetime,
    filename: str,
) -> None:
    """Store one photo of the span-3 girder as the inspector would upload it."""
    store_capture(
        session,
        blobs=platform.blobs,
        jobs=platform.jobs,
        caller=caller,
        data=_png(visit.image),
        request=CaptureRequest(
            asset_id=ids[0],
            element_id=ids[1],
            time=time,
            mm_per_px=visit.mm_per_px,
            filename=filename,
        ),
        max_pixels=platform.settings.max_image_pixels,
    )


def _hazard(session: Session, org_id: int, element: str, mechanism: str) -> Hazard | None:
    return session.scalars(
        select(Hazard)
        .join(Element, Hazard.element_id == Element.id)
        .join(Asset, Element.asset_id == Asset.id)
        .where(Asset.organization_id == org_id, Element.name == element)
        .where(Hazard.mechanism == mechanism)
    ).first()


def seed_closed_loop(
    platform: Platform,
    organization_id: int,
    *,
    times_s: np.ndarray,
    deck_temp: np.ndarray,
    seed: int,
) -> LoopOutcome:
    """Seed the loop (see the module docstring) into the demo organisation."""
    end = datetime.fromtimestamp(float(times_s[-1]), UTC)
    # the hazards' hourly grid covers the data (a longer grid starts with empty hours)
    window = max(1, min(90, int((times_s[-1] - times_s[0]) // 86_400)))
    series = render_crack_series(seed=31, n_visits=2, n_cracks=1, sealed_from_visit=1)
    with platform.database.transaction() as session:
        org = session.get_one(Organization, organization_id)
        crew_user, _ = create_user(session, org, CREW_EMAIL, Role.CREW, "Repair crew")
        from infrasight.demo.seed import DEMO_PASSWORD
        from infrasight.services.passwords import hash_password

        crew_user.password_hash = hash_password(DEMO_PASSWORD)
        engineer = session.scalars(
            select(User).where(User.organization_id == org.id, User.email == ENGINEER_EMAIL)
        ).one()
        eng = Principal(
            organization_id=org.id, name=engineer.email, role=Role.ENGINEER, user_id=engineer.id
        )
        crew = Principal(
            organization_id=org.id, name=CREW_EMAIL, role=Role.CREW, user_id=crew_user.id
        )
        crew_id = crew_user.id
        asset = session.scalars(
            select(Asset).where(Asset.organization_id == org.id, Asset.name == VIADUCT)
        ).one()
        element = session.scalars(
            select(Element).where(Element.asset_id == asset.id, Element.name == GIRDER)
        ).one()
        # the girder was replaced the year before the data end (0.5-1.5 years old): young
        # concrete, which the shrinkage mechanism asks for and which counts against ASR. Left
        # unknown, the choice between the two rested on how decelerating the growth looked,
        # which depends on the time of day the demo was seeded at (at 23:50 UTC it chose ASR)
        element.construction_year = end.year - 1
        ids = (asset.id, element.id)
        _gauges(session, eng, times_s, deck_temp, seed)
        _girder_capture(
            session,
            platform,
            eng,
            ids,
            series.visits[0],
            # inside the hazards' hourly grid, which starts at most ``window`` days before the
            # end on a whole hour (30 days before the end fell just before it at some minutes)
            end - timedelta(days=25),
            "demo-span3-girder-before.png",
        )
    platform.jobs.settle()
    with platform.database.transaction() as session:
        for asset_row in session.scalars(select(Asset).where(Asset.organization_id == org.id)):
            update_hazards(session, org.id, asset_row.id, window_days=window)
    catalogue = load_catalogue()
    statuses: dict[str, int] = {}
    # 1. the crack: sealed, re-inspected, verified, closed
    crack_wo: int | None = None
    with platform.database.transaction() as session:
        hz = _hazard(session, org.id, GIRDER, "shrinkage")
        if hz is not None:
            transition_hazard(session, eng, hz.id, "acknowledged", "seen in the data")
            wo = create_work_order(session, eng, catalogue, hazard_id=hz.id, assignee_id=crew_id)
            for to, who in (("assigned", eng), ("in_progress", crew)):
                transition_work_order(session, who, wo.id, to)
            add_attachment(
                session,
                platform.blobs,
                crew,
                wo.id,
                data=_jpeg(series.visits[1].image[100:400, 200:600]),
                filename="span3-girder-after-sealing.jpg",
                max_bytes=platform.settings.max_attachment_bytes,
            )
            transition_work_order(session, crew, wo.id, "completed", "crack sealed, 1.1 m")
            _dates(session, wo.id, [end - timedelta(days=d) for d in (20, 19, 12, 10, 10, 10)])
            crack_wo = wo.id
            _girder_capture(
                session,
                platform,
                eng,
                ids,
                series.visits[1],
                end - timedelta(days=5),
                "demo-span3-girder-reinspection.png",
            )
    platform.jobs.settle()
    with platform.database.transaction() as session:
        if crack_wo is not None:
            v = verify_work_order(session, eng, crack_wo, note="re-inspection reviewed")
            statuses[_STATUS[str(v.outcome)]] = statuses.get(_STATUS[str(v.outcome)], 0) + 1
        # 2. the faulty gauge: repaired, but still reads a flat line: reopened
        hz = _hazard(session, org.id, "Span 2 girder", "sensor_fault")
        if hz is not None:
            transition_hazard(session, eng, hz.id, "acknowledged", "seen in the data")
            wo = create_work_order(session, eng, catalogue, hazard_id=hz.id, assignee_id=crew_id)
            for to, who in (("assigned", eng), ("in_progress", crew), ("completed", crew)):
                transition_work_order(session, who, wo.id, to, "gauge rewired")
            _dates(session, wo.id, [end - timedelta(days=d) for d in (24, 23, 22, 21)])
            v = verify_work_order(session, eng, wo.id)
            statuses[_STATUS[str(v.outcome)]] = statuses.get(_STATUS[str(v.outcome)], 0) + 1
        # 3. the settlement: a work order in progress
        hz = _hazard(session, org.id, "Pier 2", "settlement")
        if hz is not None:
            transition_hazard(session, eng, hz.id, "acknowledged", "seen in the data")
            wo = create_work_order(session, eng, catalogue, hazard_id=hz.id)
            update_work_order(session, eng, wo.id, {"assignee_id": crew_id})
            for to, who in (("assigned", eng), ("in_progress", crew)):
                transition_work_order(session, who, wo.id, to)
            statuses["in progress"] = 1
        n_hazards = len(
            session.scalars(select(Hazard.id).where(Hazard.organization_id == org.id)).all()
        )
    _log.info("demo closed loop: %s", statuses)
    return LoopOutcome(
        work_orders=statuses, hazards=n_hazards, captures=1 if crack_wo is None else 2
    )
