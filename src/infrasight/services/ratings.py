"""Inspector-recorded condition ratings and the deterioration forecast fitted to them."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.core.phrases import N_, phrase
from infrasight.reasoning.deterioration import RatingPair, fit_markov, forecast_state
from infrasight.reasoning.errors import OutOfRangeError
from infrasight.reasoning.standards import Standard, StandardRegistry, load_standards
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.storage.models import Asset, ConditionRatingRecord, Element

__all__ = ["deterioration_forecast", "record_rating"]

YEAR_S = 365.25 * 86400.0


def _recorded_range(std: Standard) -> tuple[int, int, bool]:
    rng = std.data.get("recorded_range")
    if not (isinstance(rng, list) and len(rng) == 2):
        raise InvalidInputError(
            field="standard",
            phrase=phrase("{standard} takes no recorded ratings", standard=std.id),
        )
    return int(rng[0]), int(rng[1]), std.data.get("worse", "higher") == "higher"


def _owned_asset(session: Session, organization_id: int, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.organization_id != organization_id:
        raise NotFoundError(f"asset {asset_id} not found")
    return asset


def record_rating(
    session: Session,
    principal: Principal,
    asset_id: int,
    *,
    element_id: int,
    standard: str,
    rating: int,
    inspected_at: datetime,
    inspector: str = "",
    note: str = "",
    registry: StandardRegistry | None = None,
) -> ConditionRatingRecord:
    """Store one inspector's rating (audited); nothing is written on bad input.

    Raises
    ------
    NotFoundError
        Asset unknown.
    InvalidInputError
        Element unknown or on another asset (``element_id`` names the body field).
    UnknownStandardError, OutOfRangeError
        Standard unknown, rating outside the standard's recorded range.
    """
    _owned_asset(session, principal.organization_id, asset_id)
    element = session.get(Element, element_id)
    if element is None or element.asset_id != asset_id:
        raise InvalidInputError(
            f"element {element_id} not found on asset {asset_id}", field="element_id"
        )
    std = (registry or load_standards()).get(standard)
    lo, hi, _ = _recorded_range(std)
    if not lo <= rating <= hi:
        raise OutOfRangeError(
            field="rating",
            phrase=phrase(
                "{rating} outside {lo}-{hi} for {standard}",
                rating=rating,
                lo=int(lo),
                hi=int(hi),
                standard=std.id,
            ),
        )
    row = ConditionRatingRecord(
        organization_id=principal.organization_id,
        asset_id=asset_id,
        element_id=element_id,
        standard=std.id,
        rating=rating,
        inspected_at=inspected_at,
        inspector=inspector,
        note=note,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        principal,
        "record_rating",
        "condition_rating",
        row.id,
        {"element_id": element_id, "standard": std.id, "rating": rating},
    )
    return row


def deterioration_forecast(
    session: Session,
    organization_id: int,
    asset_id: int,
    standard: str,
    registry: StandardRegistry | None = None,
) -> dict[str, Any]:
    """Fit the deterioration chain to the organisation's rating history of elements of the same
    kinds as the asset's, and forecast each rated element of the asset from its latest rating.

    Successive ratings of an element form pairs (state, next state, years between); pairs that
    improve (repairs) are left out of the fit and counted. One chain per element kind.
    """
    asset = _owned_asset(session, organization_id, asset_id)
    std = (registry or load_standards()).get(standard)
    lo, hi, higher_worse = _recorded_range(std)
    n_states = hi - lo + 1

    def state(r: int) -> int:
        return r - lo + 1 if higher_worse else hi - r + 1

    kinds = {e.kind for e in asset.elements}
    rows = session.execute(
        select(ConditionRatingRecord, Element.kind)
        .join(Element, ConditionRatingRecord.element_id == Element.id)
        .where(
            ConditionRatingRecord.organization_id == organization_id,
            ConditionRatingRecord.standard == std.id,
            Element.kind.in_(kinds),
        )
        .order_by(ConditionRatingRecord.element_id, ConditionRatingRecord.inspected_at)
    ).all()
    history: dict[int, list[tuple[datetime, int, str]]] = {}
    for rec, kind in rows:
        history.setdefault(rec.element_id, []).append((rec.inspected_at, rec.rating, kind))
    pairs: dict[str, list[RatingPair]] = {}
    for items in history.values():
        for (t0, r0, kind), (t1, r1, _) in pairwise(items):
            years = (t1 - t0).total_seconds() / YEAR_S
            if years > 0:
                pairs.setdefault(kind, []).append(
                    RatingPair(from_state=state(r0), to_state=state(r1), years=years)
                )
    out: dict[str, Any] = {"asset_id": asset_id, "standard": std.id, "kinds": {}, "elements": []}
    fits = {}
    for kind, ps in pairs.items():
        try:
            fit = fit_markov(ps, n_states)
        except InvalidInputError:
            continue
        fits[kind] = fit
        lo_r, hi_r = fit.rate_interval()
        out["kinds"][kind] = {
            "pairs": fit.n_pairs,
            "improvements_left_out": fit.n_improvements,
            "rates_per_year": [float(x) for x in fit.rates],
            "rates_interval_95": [[float(a), float(b)] for a, b in zip(lo_r, hi_r, strict=True)],
            "one_year_matrix": fit.transition_matrix(1.0).round(6).tolist(),
        }
    for element in asset.elements:
        seen = history.get(element.id)
        if not seen:
            continue
        latest_t, latest, kind = seen[-1]
        entry: dict[str, Any] = {
            "element_id": element.id,
            "name": element.name,
            "kind": kind,
            "latest_rating": latest,
            "inspected_at": latest_t.isoformat(),
        }
        if kind in fits:
            entry["forecast"] = forecast_state(fits[kind], state(latest)).as_dict()
        else:
            entry["forecast"] = None
            entry["why_none"] = N_("not enough rating pairs of this element kind to fit")
        out["elements"].append(entry)
    if not out["elements"]:
        raise InvalidInputError(
            field="standard",
            phrase=phrase(
                "no {standard} ratings recorded for asset {asset}",
                standard=std.id,
                asset=str(asset_id),
            ),
        )
    return out
