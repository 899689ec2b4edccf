"""Notification facts are durable rows written in the transaction of the change they follow.

A session hook of the platform's database watches every flush: a new alarm event, hazard
transition, work-order event or SLA escalation, or a hazard whose risk band rose, becomes a
*fact*; the facts of one flush are written as one ``notify`` effect row (``jobs`` table) in the
same transaction. So whichever service made the change (rules, sensor health, the hazard engine,
a person through the API, the sweep), its notification commits or rolls back with it and can
never be lost. The effect handler (``fanout.py``) turns facts into events and deliveries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from infrasight.storage.db import Database
from infrasight.storage.models import (
    AlarmEventRecord,
    AlarmRecord,
    Hazard,
    HazardTransitionRecord,
    Job,
    SlaEscalation,
    WorkOrder,
    WorkOrderEvent,
)

__all__ = ["NOTIFY", "install_capture"]

NOTIFY = "notify"
_FACTS = "infrasight.notify.facts"
_COMMITTED = "infrasight.notify.orgs"


def _org(session: Session, model: type[Any], ident: int) -> int | None:
    with session.no_autoflush:
        row = session.get(model, ident)
    return int(row.organization_id) if row is not None else None


def _facts_of(session: Session) -> list[tuple[int, dict[str, Any]]]:
    facts: list[tuple[int, dict[str, Any]]] = []
    for obj in list(session.new):
        org: int | None = None
        fact: dict[str, Any] | None = None
        if isinstance(obj, AlarmEventRecord):
            org = _org(session, AlarmRecord, obj.alarm_id)
            fact = {"t": "alarm_event", "id": obj.id}
        elif isinstance(obj, HazardTransitionRecord):
            with session.no_autoflush:
                hazard = session.get(Hazard, obj.hazard_id)
            if hazard is not None:  # the band as it is now, not when the fact is fanned out
                org = hazard.organization_id
                fact = {"t": "hazard_transition", "id": obj.id, "band": hazard.risk_band}
        elif isinstance(obj, WorkOrderEvent) and obj.kind == "transition":
            org = _org(session, WorkOrder, obj.work_order_id)
            fact = {"t": "work_order_event", "id": obj.id}
        elif isinstance(obj, SlaEscalation):
            org, fact = obj.organization_id, {"t": "sla", "id": obj.id}
        if org is not None and fact is not None:
            facts.append((org, fact))
    for obj in list(session.dirty):
        if isinstance(obj, Hazard):
            history = inspect(obj).attrs.risk_band.history
            if history.deleted and history.added and history.deleted[0] != history.added[0]:
                facts.append(
                    (
                        obj.organization_id,
                        {
                            "t": "hazard_band",
                            "id": obj.id,
                            "from": str(history.deleted[0]),
                            "to": str(history.added[0]),
                        },
                    )
                )
    return facts


def install_capture(database: Database, on_commit: Callable[[set[int]], None]) -> None:
    """Write a ``notify`` effect row with every flush that holds notification facts.

    ``on_commit`` is called after a commit with the organisations that got rows (to wake the
    notifier); it must not touch the database in the caller's thread.
    """

    def after_flush(session: Session, _context: Any) -> None:
        facts = _facts_of(session)
        if facts:
            session.info.setdefault(_FACTS, []).extend(facts)

    def after_flush_postexec(session: Session, _context: Any) -> None:
        facts: list[tuple[int, dict[str, Any]]] = session.info.pop(_FACTS, [])
        by_org: dict[int, list[dict[str, Any]]] = {}
        for org, fact in facts:
            by_org.setdefault(org, []).append(fact)
        for org, items in by_org.items():
            session.add(Job(name=NOTIFY, arguments={"facts": items}, organization_id=org))
            session.info.setdefault(_COMMITTED, set()).add(org)

    def after_commit(session: Session) -> None:
        orgs: set[int] = session.info.pop(_COMMITTED, set())
        if orgs:
            on_commit(orgs)

    def after_rollback(session: Session) -> None:
        session.info.pop(_FACTS, None)
        session.info.pop(_COMMITTED, None)

    database.listen("after_flush", after_flush)
    database.listen("after_flush_postexec", after_flush_postexec)
    database.listen("after_commit", after_commit)
    database.listen("after_soft_rollback", lambda session, _previous: after_rollback(session))
