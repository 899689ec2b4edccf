"""Seed the demo organisation: a rail viaduct and a metro tunnel with 90 days of readings.

Idempotent: when the demo organisation exists it only issues a fresh admin token.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from PIL import Image
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.core.domain import AssetKind, DeviceKind, Role
from infrasight.demo.timeseries import DEMO_CHANNELS, TUNNEL, VIADUCT, generate_demo_series
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.services.alarms import parse_rule_definition, rule_definition
from infrasight.services.auth import Principal, issue_user_token, new_device_token
from infrasight.services.captures import CaptureRequest, store_capture
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.services.passwords import hash_password
from infrasight.storage.models import AlarmRecord, AlarmRule, Asset, Channel, Device, Element, User

__all__ = ["DEMO_ADMIN_EMAIL", "DEMO_ORGANIZATION", "DEMO_PASSWORD", "SeedOutcome", "seed_demo"]

DEMO_ORGANIZATION = "InfraSight Demo"
DEMO_ADMIN_EMAIL = "admin@demo.infrasight.example"
# Every demo user logs in with this published password: the demo is for trying, not for data.
DEMO_PASSWORD = "infrasight-demo"
CHUNK = 20_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedOutcome:
    """What seeding did; ``token`` is a new admin API token."""

    created: bool
    readings: int
    captures: int
    token: str
    summary: str
    #: The figures the summary names, for a caller that says it in another language:
    #: ``channels``, ``readings``, ``days``, ``captures``, ``rules``, ``alarms``, ``hazards``.
    figures: Mapping[str, int] = field(default_factory=dict)
    #: Work orders seeded by what happened to them (the closed loop's English phrases).
    work_orders: Mapping[str, int] = field(default_factory=dict)


_ASSETS = {
    VIADUCT: {
        "kind": AssetKind.BRIDGE,
        "description": "Three-span prestressed concrete viaduct (32 + 40 + 32 m) on a double-track "
        "rail line, piers on spread footings over alluvium.",
        "latitude": 47.3769,
        "longitude": 8.5417,
        "governing_standard": "EN 1992-2",
        "design_data": {"spans_m": [32, 40, 32], "year_built": 1978, "tracks": 2},
    },
    TUNNEL: {
        "kind": AssetKind.TUNNEL,
        "description": "Shield-driven metro tunnel, 6.2 m segmental lining, 1.2 m rings.",
        "latitude": 47.3780,
        "longitude": 8.5400,
        "governing_standard": "DAUB segmental lining recommendations",
        "design_data": {"inner_diameter_m": 6.2, "ring_width_m": 1.2, "cover_m": 14},
    },
}
# (name, kind, parent name, material) per asset, parents first.
_ELEMENTS = {
    VIADUCT: [
        ("Span 1", "span", None, "prestressed concrete"),
        ("Span 2", "span", None, "prestressed concrete"),
        ("Span 3", "span", None, "prestressed concrete"),
        ("Span 1 girder", "girder", "Span 1", "prestressed concrete"),
        ("Span 2 girder", "girder", "Span 2", "prestressed concrete"),
        ("Span 3 girder", "girder", "Span 3", "prestressed concrete"),
        ("Pier 1", "pier", None, "reinforced concrete"),
        ("Pier 2", "pier", None, "reinforced concrete"),
    ],
    TUNNEL: [
        ("Section K", "tunnel_section", None, "precast concrete"),
        ("Ring 101", "lining_ring", "Section K", "precast concrete"),
        ("Ring 103", "lining_ring", "Section K", "precast concrete"),
        ("Ring 105", "lining_ring", "Section K", "precast concrete"),
    ],
}
_DEVICES = {
    "VD-DL-01": (VIADUCT, DeviceKind.DATALOGGER),
    "VD-CAM-01": (VIADUCT, DeviceKind.CAMERA),
    "TN-DL-01": (TUNNEL, DeviceKind.DATALOGGER),
    "TN-ROBOT-01": (TUNNEL, DeviceKind.ROBOT),
}


# Graded rules of the demo (GB 50497-style: value, cumulative change and rate together).
def _level(name: str, severity: int, *limits: dict[str, object]) -> dict[str, object]:
    return {"name": name, "severity": severity, "limits": list(limits)}


def _limit(quantity: str, **bounds: float) -> dict[str, object]:
    return {"quantity": quantity, **bounds}


_RULES: list[dict[str, object]] = [
    {
        "id": "VD-P2-settlement",
        "name": "Pier 2 settlement",
        "channels": ["VD-P2-SETTLE"],
        "levels": [
            _level("amber", 1, _limit("value", upper=2.0, hysteresis=0.3)),
            _level("red", 2, _limit("value", upper=4.0, hysteresis=0.3), _limit("rate", upper=0.5)),
            _level("action", 3, _limit("value", upper=6.0, hysteresis=0.3)),
        ],
        "persistence_count": 6,
        "rate_window_s": 86400,
        "no_data_s": 7200,
    },
    {
        "id": "VD-crack-openings",
        "name": "Crack opening on span 2 and pier 1",
        "channels": ["VD-S2-CRACK-01", "VD-P1-CRACK-01"],
        "combine": "any",
        "levels": [
            _level("amber", 1, _limit("value", upper=0.30, hysteresis=0.03)),
            _level("red", 2, _limit("value", upper=0.40, hysteresis=0.03)),
        ],
        "persistence_count": 3,
    },
    {
        "id": "TN-R103-convergence",
        "name": "Ring 103 convergence",
        "channels": ["TN-R103-CONV"],
        "levels": [_level("amber", 1, _limit("change", lower=-1.0, hysteresis=0.1))],
        "persistence_count": 6,
    },
]
# (asset, element, device, seed) of the rendered captures.
_CAPTURES = [
    (VIADUCT, "Span 2 girder", "VD-CAM-01", 11),
    (VIADUCT, "Pier 1", "VD-CAM-01", 12),
    (TUNNEL, "Ring 103", "TN-ROBOT-01", 13),
]


def _build_structure(
    session: Session, org_id: int
) -> tuple[dict[str, int], dict[tuple[str, str], int], dict[str, int]]:
    assets: dict[str, int] = {}
    elements: dict[tuple[str, str], int] = {}
    devices: dict[str, int] = {}
    for name, attrs in _ASSETS.items():
        asset = Asset(organization_id=org_id, name=name, **attrs)
        session.add(asset)
        session.flush()
        assets[name] = asset.id
        for element_name, kind, parent, material in _ELEMENTS[name]:
            element = Element(
                asset_id=asset.id,
                name=element_name,
                kind=kind,
                material=material,
                parent_id=elements[(name, parent)] if parent else None,
                exposure_class="XC4" if name == VIADUCT else "XD2",
            )
            session.add(element)
            session.flush()
            elements[(name, element_name)] = element.id
    for device_name, (asset_name, kind) in _DEVICES.items():
        _token, digest = new_device_token()
        device = Device(
            organization_id=org_id,
            asset_id=assets[asset_name],
            name=device_name,
            kind=kind.value,
            token_hash=digest,
            model="demo",
        )
        session.add(device)
        session.flush()
        devices[device_name] = device.id
    for spec in DEMO_CHANNELS:
        session.add(
            Channel(
                organization_id=org_id,
                key=spec.key,
                quantity=spec.quantity,
                unit=spec.unit,
                element_id=elements[(spec.asset, spec.element)],
                device_id=devices[spec.device],
                description=spec.description,
            )
        )
    session.flush()
    return assets, elements, devices


def _png(image_rgb: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image_rgb).save(out, format="PNG")  # type: ignore[arg-type]
    return out.getvalue()


def seed_demo(
    platform: Platform,
    *,
    days: int,
    seed: int,
    console: Console,
    progress_label: str = "seeding readings",
) -> SeedOutcome:
    """Create the demo organisation with its assets, channels, readings and captures
    (``progress_label``: the progress bar's text, in the caller's language)."""
    from infrasight.synthetic import render_crack_scene

    with platform.database.transaction() as session:
        org, created = ensure_organization(session, DEMO_ORGANIZATION)
        org_id = org.id
        if not created:
            users = session.scalars(select(User).where(User.organization_id == org_id)).all()
            for user in users:  # demos seeded before passwords existed
                if user.password_hash is None:
                    user.password_hash = hash_password(DEMO_PASSWORD)
            admin = next(u for u in users if u.email == DEMO_ADMIN_EMAIL)
            token = issue_user_token(session, admin, label="demo")
            return SeedOutcome(
                created=False,
                readings=0,
                captures=0,
                token=token,
                summary=f"demo organisation {DEMO_ORGANIZATION!r} already seeded; log in as "
                f"{DEMO_ADMIN_EMAIL} with password {DEMO_PASSWORD!r}",
            )
        _admin, token = create_user(
            session, org, DEMO_ADMIN_EMAIL, Role.ADMIN, "Demo admin", password=DEMO_PASSWORD
        )
        for email, role in (
            ("engineer@demo.infrasight.example", Role.ENGINEER),
            ("inspector@demo.infrasight.example", Role.INSPECTOR),
            ("viewer@demo.infrasight.example", Role.VIEWER),
        ):
            create_user(session, org, email, role, role.value.title(), password=DEMO_PASSWORD)
        assets, elements, devices = _build_structure(session, org.id)
        caller = Principal(organization_id=org.id, name="demo seeder", role=Role.ENGINEER)
        for definition in _RULES:
            rule = parse_rule_definition(definition)
            session.add(
                AlarmRule(
                    organization_id=org.id,
                    key=rule.id,
                    definition=rule_definition(rule),
                    escalate_after_s=6 * 3600.0,
                )
            )

        series = generate_demo_series(end_s=time.time() - 600, days=days, seed=seed)
        stamps = [
            datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")
            for t in series.times_s
        ]
        total = len(stamps) * len(series.values)
        readings = 0
        events = []
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(progress_label, total=total)
            for key, values in series.values.items():
                value_list = values.tolist()
                for start in range(0, len(stamps), CHUNK):
                    stop = start + CHUNK
                    count = len(stamps[start:stop])
                    batch = ReadingColumns(
                        channels=[key] * count,
                        times=list(stamps[start:stop]),
                        values=list(value_list[start:stop]),
                        units=[None] * count,
                    )
                    result = ingest_readings(session, caller, batch, future_tolerance_s=600)
                    readings += result.accepted
                    if result.event is not None:
                        events.append(result.event)
                    progress.advance(task, count)

        job_ids = []
        for index, (asset_name, element_name, device_name, scene_seed) in enumerate(_CAPTURES):
            scene = render_crack_scene(width=1024, height=768, seed=scene_seed, mm_per_px=0.1)
            stored = store_capture(
                session,
                blobs=platform.blobs,
                jobs=platform.jobs,
                caller=caller,
                data=_png(scene.image),
                request=CaptureRequest(
                    asset_id=assets[asset_name],
                    element_id=elements[(asset_name, element_name)],
                    device_id=devices[device_name],
                    time=datetime.fromtimestamp(series.times_s[-1] - 86_400 * (7 - index), UTC),
                    mm_per_px=scene.mm_per_px,
                    filename=f"demo-{device_name.lower()}-{index + 1}.png",
                ),
                max_pixels=platform.settings.max_image_pixels,
            )
            job_ids.append(stored.job_id)
    for event in events:
        platform.bus.publish(event)
    platform.jobs.settle()
    from infrasight.demo.closed_loop import LOOP_MIN_DAYS, LoopOutcome, seed_closed_loop

    loop = (
        seed_closed_loop(
            platform,
            org_id,
            times_s=series.times_s,
            deck_temp=series.values["VD-DECK-TEMP"],
            seed=seed,
        )
        if days >= LOOP_MIN_DAYS
        else LoopOutcome(work_orders={}, hazards=0, captures=0)
    )
    with platform.database.session() as session:
        alarms = session.scalar(
            select(func.count())
            .select_from(AlarmRecord)
            .where(AlarmRecord.organization_id == org_id)
        )
    figures = {
        "channels": len(DEMO_CHANNELS) + (2 if loop.captures else 0),
        "readings": readings,
        "days": days,
        "captures": len(_CAPTURES) + loop.captures,
        "rules": len(_RULES),
        "alarms": int(alarms or 0),
        "hazards": loop.hazards,
    }
    summary = (
        f"seeded {DEMO_ORGANIZATION!r}: 2 assets, "
        f"{figures['channels']} channels, "
        f"{readings:,} readings over {days} days, {figures['captures']} captures, "
        f"{len(_RULES)} alarm rules ({alarms} alarms raised), {loop.hazards} hazards; work "
        f"orders: {', '.join(f'{n} {what}' for what, n in loop.work_orders.items()) or 'none'}; "
        f"log in as {DEMO_ADMIN_EMAIL} with password {DEMO_PASSWORD!r}"
    )
    return SeedOutcome(
        created=True,
        readings=readings,
        captures=len(_CAPTURES),
        token=token,
        summary=summary,
        figures=figures,
        work_orders=dict(loop.work_orders),
    )
