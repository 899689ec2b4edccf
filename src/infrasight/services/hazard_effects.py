"""Hazards derived from durable effects: the ``hazards_due`` effect re-evaluates the hazards of
the elements that new evidence touched.

Whoever stores evidence writes a ``hazards_due`` row in the same transaction
(:func:`hazards_due`): the ``readings_stored`` effect for the elements whose channels received
readings (modal frequencies from record analysis arrive as readings too; a driver such as
temperature touches the whole asset), and capture analysis for the element of the capture whose
defects it stored. The runner merges the rows of an organisation (a burst: the union of the
elements) and applies them in one transaction that also deletes them, so a crash replays them
and :func:`~infrasight.services.hazards.update_hazards`, idempotent, gives the same hazards.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.events import DefectsStored
from infrasight.jobs.runner import JobContext, add_effect
from infrasight.services.hazards import DRIVERS, ROLES, update_hazards
from infrasight.storage.models import Asset, Channel, Element

if TYPE_CHECKING:
    from infrasight.platform import Platform

__all__ = [
    "HAZARDS_DUE",
    "apply_hazards_due",
    "hazards_due",
    "merge_hazards_due",
    "register_hazard_effects",
    "scope_of_channels",
]

_log = logging.getLogger(__name__)

HAZARDS_DUE = "hazards_due"

Scope = Mapping[int, Collection[int] | None]
"""asset id -> the element ids to re-evaluate (None: every element of the asset)."""


def hazards_due(
    session: Session,
    organization_id: int,
    scope: Scope,
    spans: Mapping[int, tuple[int, int]] | None = None,
) -> int | None:
    """Write the effect row for ``scope`` in ``session`` (nothing when it is empty).

    ``spans`` (channel id -> first and last time, µs, of the new readings) tells the update
    which channels this batch brought: the others' silence since the batch's start is not yet
    a fault (see :func:`~infrasight.services.hazards.update_hazards`).
    """
    if not scope:
        return None
    assets = {str(a): None if e is None else sorted({int(i) for i in e}) for a, e in scope.items()}
    arguments: dict[str, Any] = {"organization_id": organization_id, "assets": assets}
    if spans:
        arguments["spans"] = {str(c): [int(a), int(b)] for c, (a, b) in sorted(spans.items())}
    return add_effect(session, HAZARDS_DUE, arguments, organization_id)


def merge_hazards_due(arguments: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for a burst: per asset the union of the elements (None, all, wins)."""
    assets: dict[str, set[int] | None] = {}
    for a in arguments:
        for asset, elements in a["assets"].items():
            if elements is None or (asset in assets and assets[asset] is None):
                assets[asset] = None
            else:
                held = assets.setdefault(asset, set())
                assert held is not None
                held.update(int(e) for e in elements)
    spans: dict[str, list[int]] = {}
    for a in arguments:  # the burst's batches: per channel, the span of its new readings
        for channel, (first, last) in a.get("spans", {}).items():
            was = spans.get(channel, [first, last])
            spans[channel] = [min(was[0], first), max(was[1], last)]
    merged: dict[str, Any] = {
        "organization_id": int(arguments[0]["organization_id"]),
        "assets": {k: None if v is None else sorted(v) for k, v in sorted(assets.items())},
    }
    if spans:
        merged["spans"] = dict(sorted(spans.items()))
    return merged


def scope_of_channels(session: Session, channel_ids: Collection[int]) -> dict[int, set[int] | None]:
    """The elements whose hazards readings of ``channel_ids`` may change.

    A channel the hazards read at its element (strain, crack width, settlement, frequency...)
    touches that element; a driver (temperature, rain, water level, traffic) every element of
    its asset; anything else (anomaly scores, humidity) nothing.
    """
    if not channel_ids:
        return {}
    rows = session.execute(
        select(Channel.quantity, Element.asset_id, Element.id)
        .join(Element, Channel.element_id == Element.id)
        .where(Channel.id.in_(list(channel_ids)))
    ).all()
    scope: dict[int, set[int] | None] = {}
    for quantity, asset_id, element_id in rows:
        q = quantity.strip().lower()
        if q in DRIVERS:
            scope[asset_id] = None
        elif q in ROLES:
            held = scope.setdefault(asset_id, set())
            if held is not None:
                held.add(element_id)
    return scope


def apply_hazards_due(
    context: JobContext, session: Session, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Effect handler: update the hazards of the (merged) scope; deleted assets are skipped."""
    organization_id = int(arguments["organization_id"])
    touched: list[int] = []
    spans = {int(c): (int(a), int(b)) for c, (a, b) in arguments.get("spans", {}).items()}
    for asset_key, elements in arguments["assets"].items():
        asset = session.get(Asset, int(asset_key))
        if asset is None or asset.organization_id != organization_id:
            continue
        touched += update_hazards(
            session,
            organization_id,
            asset.id,
            element_ids=None if elements is None else [int(e) for e in elements],
            fresh_spans=spans or None,
        )
    if touched:
        _log.info("hazards %s updated from new evidence", touched)
    return {"hazards": touched}


def register_hazard_effects(platform: Platform) -> None:
    """Register the handler; dispatch it when capture analysis stored defects.

    Rows written by the ``readings_stored`` effect are dispatched by the runner after that
    effect's commit. A burst is merged: it runs once dispatching pauses for 0.1 s, at the latest
    1 s after the first dispatch.
    """
    platform.jobs.register_effect(
        HAZARDS_DUE, apply_hazards_due, merge=merge_hazards_due, quiet_s=0.1, max_delay_s=1.0
    )

    def on_defects(event: DefectsStored) -> None:
        platform.jobs.dispatch(HAZARDS_DUE, event.organization_id)

    platform.bus.subscribe(DefectsStored, on_defects)
