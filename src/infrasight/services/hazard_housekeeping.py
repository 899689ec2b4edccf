"""Hazard housekeeping inside every hazard update: merge duplicates into the oldest hazard of an
element and mechanism, and resolve hazards whose evidence is gone for the rule's quiet time.
Both by the rules of ``reasoning/hazards/housekeeping.toml``, idempotent (a merged or resolved
hazard is not touched again), each transition written as a ``system`` transition row."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from infrasight.core.phrases import N_, Phrase, phrase
from infrasight.reasoning.hazards import HazardAction, HazardStatus, apply_action
from infrasight.reasoning.hazards.housekeeping import (
    HousekeepingRules,
    evidence_gone,
    superseded,
)
from infrasight.services.hazard_transitions import record_hazard_transition
from infrasight.storage.models import (
    AlarmRecord,
    Hazard,
    HazardEvidenceLink,
)

__all__ = ["SEEN_KEY", "merge_duplicates", "resolve_unsupported", "supersede_moved"]

_log = logging.getLogger(__name__)

HOUR_US = 3_600_000_000
DAMAGE_KINDS = frozenset({"structural", "durability"})
ASSET_ALARM_PREFIX = "structural-change/asset-"
"""The asset-level coherent-change alarm: context for every damage hazard of the asset, but it
names no channel, so it alone does not keep a hazard from resolving (its mechanism's own score
and its channel alarms do)."""
#: The packaged mechanisms' ids, which the notes cite (``{mechanism!t}``), marked for the
#: ``evidence`` catalogue (translated as the mechanisms' names are).
MECHANISM_IDS = (
    N_("applied_load"),
    N_("asr"),
    N_("corrosion"),
    N_("fatigue"),
    N_("flexural_overload"),
    N_("freeze_thaw"),
    N_("impact"),
    N_("sensor_fault"),
    N_("settlement"),
    N_("shear"),
    N_("shrinkage"),
    N_("stiffness_loss"),
    N_("thermal"),
    N_("water_ingress"),
)
SEEN_KEY = "evidence_seen_until_us"
"""Key of a hazard's ``prediction``: the data time (µs) its mechanism was last the top cause."""


def _system(session: Session, hazard: Hazard, action: HazardAction, note: Phrase) -> None:
    record_hazard_transition(
        session, hazard, apply_action(HazardStatus(hazard.status), action, note), actor="system"
    )


def merge_duplicates(
    session: Session, rules: HousekeepingRules, asset_id: int, element_id: int, mechanism: str
) -> list[int]:
    """Merge the live duplicates of (element, mechanism) and live asset-level hazards of the
    mechanism into the element's oldest live hazard; returns the ids changed (survivor first)."""
    rows = session.scalars(
        select(Hazard)
        .where(
            Hazard.asset_id == asset_id,
            Hazard.mechanism == mechanism,
            Hazard.status.in_(sorted(rules.merge_statuses)),
            or_(Hazard.element_id == element_id, Hazard.element_id.is_(None)),
        )
        .order_by(Hazard.id)
    ).all()
    own = [h for h in rows if h.element_id == element_id]
    if not own or len(rows) < 2:
        return []
    survivor = own[0]
    held = set(
        session.scalars(
            select(HazardEvidenceLink.ref).where(HazardEvidenceLink.hazard_id == survivor.id)
        )
    )
    changed = [survivor.id]
    for dup in (h for h in rows if h is not survivor):
        for link in session.scalars(
            select(HazardEvidenceLink).where(HazardEvidenceLink.hazard_id == dup.id)
        ).all():
            if link.ref not in held:
                held.add(link.ref)
                session.add(
                    HazardEvidenceLink(
                        hazard_id=survivor.id,
                        kind=link.kind,
                        ref=link.ref,
                        test=link.test,
                        detail=link.detail,
                        value=link.value,
                        unit=link.unit,
                        message=link.message,
                        test_message=link.test_message,
                    )
                )
        _system(session, dup, HazardAction.MERGE, phrase(rules.merge_note, survivor=survivor.id))
        dup.merged_into_id = survivor.id
        changed.append(dup.id)
        _log.info("hazard %s merged into %s", dup.id, survivor.id)
    session.flush()
    return changed


def _alarms_active(session: Session, hazard_id: int) -> bool:
    refs = session.scalars(
        select(HazardEvidenceLink.ref).where(
            HazardEvidenceLink.hazard_id == hazard_id, HazardEvidenceLink.kind == "alarm"
        )
    ).all()
    ids = [int(r.split(":", 1)[1]) for r in refs if r.startswith("alarm:") and r[6:].isdigit()]
    if not ids:
        return False
    return (
        session.scalars(
            select(AlarmRecord.id).where(
                AlarmRecord.id.in_(ids),
                AlarmRecord.status != "cleared",
                AlarmRecord.key.not_like(f"{ASSET_ALARM_PREFIX}%"),
            )
        ).first()
        is not None
    )


def resolve_unsupported(
    session: Session,
    rules: HousekeepingRules,
    element_id: int,
    top: str | None,
    scores: Mapping[str, float],
    *,
    start_us: int,
    end_us: int,
) -> list[int]:
    """Resolve the element's hazards whose evidence is gone (see :func:`evidence_gone`).

    ``top`` is the element's top damage or fault mechanism now (None: none), ``scores`` every
    mechanism's score, ``start_us``/``end_us`` the data window read. A hazard that never
    recorded when its mechanism was last on top counts from the window's start.
    """
    rows = session.scalars(
        select(Hazard)
        .where(
            Hazard.element_id == element_id,
            Hazard.status.in_(sorted(rules.resolve_statuses)),
        )
        .order_by(Hazard.id)
    ).all()
    out = []
    for h in rows:
        seen = (h.prediction or {}).get(SEEN_KEY)
        since = int(seen) if isinstance(seen, int | float) else start_us
        hours = (end_us - since) / HOUR_US
        if evidence_gone(
            rules,
            is_top=h.mechanism == top,
            score=scores.get(h.mechanism),
            unsupported_h=hours,
            alarms_active=_alarms_active(session, h.id),
        ):
            note = phrase(rules.resolve_note, hours=hours, mechanism=h.mechanism)
            _system(session, h, HazardAction.EVIDENCE_GONE, note)
            out.append(h.id)
            _log.info("hazard %s resolved: %s", h.id, note)
    return out


def supersede_moved(
    session: Session,
    rules: HousekeepingRules,
    element_id: int,
    top: str,
    confidences: Mapping[str, float],
    *,
    start_us: int,
    end_us: int,
) -> list[int]:
    """Resolve the element's live damage hazards whose mechanism the top damage cause ``top``
    has displaced (see :func:`superseded`), each with a note naming the hazard that took over.

    ``confidences``: every mechanism's confidence now; ``start_us``/``end_us``: the data window
    read. Returns the ids changed. Nothing happens while ``top`` has no live hazard.
    """
    rows = session.scalars(
        select(Hazard)
        .where(
            Hazard.element_id == element_id,
            Hazard.hazard_kind.in_(sorted(DAMAGE_KINDS)),
            Hazard.status.in_(sorted(rules.supersede_statuses | {"mitigating"})),
        )
        .order_by(Hazard.id)
    ).all()
    survivor = next((h for h in rows if h.mechanism == top), None)
    if survivor is None:
        return []
    confidence = confidences.get(top, 0.0)
    out = []
    for h in rows:
        if h.mechanism == top or h.status not in rules.supersede_statuses:
            continue
        seen = (h.prediction or {}).get(SEEN_KEY)
        since = int(seen) if isinstance(seen, int | float) else start_us
        hours = (end_us - since) / HOUR_US
        own = confidences.get(h.mechanism, 0.0)
        if superseded(
            rules, is_top=False, top_confidence=confidence, own_confidence=own, off_top_h=hours
        ):
            note = phrase(
                rules.supersede_note,
                survivor=survivor.id,
                mechanism=top,
                confidence=confidence,
                own=own,
                hours=hours,
            )
            _system(session, h, HazardAction.EVIDENCE_GONE, note)
            out.append(h.id)
            _log.info("hazard %s superseded: %s", h.id, note)
    return out
