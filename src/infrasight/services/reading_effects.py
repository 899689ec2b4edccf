"""The effects of stored readings, as durable rows: scores, sensor health, alarm rules, and
the hazard update of the touched elements (a ``hazards_due`` row, ``services/hazard_effects.py``).

Whoever stores readings calls :func:`readings_stored` in the same transaction: it writes an effect
row (``jobs`` table, name ``readings_stored``) and returns the event to publish after the commit.
The job runner applies the rows of an organisation, merged (per channel, the span of its new
readings): first it scores the new readings in short transactions (:func:`score_readings_stored`),
then applies :func:`apply_readings_stored` in one transaction that also deletes the rows; a crash
before that commit leaves the rows queued and the next start applies them. Handlers read from
watermarks stored with their results, or at instants the stored readings define, so applying a
row twice, or its batches merged differently, changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from infrasight.core.events import ReadingBatchStored
from infrasight.jobs.runner import JobContext, add_effect
from infrasight.services.alarms import evaluate_stored_readings
from infrasight.services.anomaly_scoring import score_channels
from infrasight.services.hazard_effects import hazards_due, scope_of_channels
from infrasight.services.sensor_health import judgement_instants
from infrasight.storage.exclusive import serialise_transaction

if TYPE_CHECKING:
    from infrasight.platform import Platform

__all__ = [
    "READINGS_STORED",
    "apply_readings_stored",
    "merge_readings_stored",
    "readings_stored",
    "register_reading_effects",
    "score_readings_stored",
]

READINGS_STORED = "readings_stored"
SCORE_CHUNK = 50
"""Channels scored in one transaction before the effect is applied."""


def readings_stored(
    session: Session,
    *,
    organization_id: int,
    channel_ids: tuple[int, ...],
    start_us: int,
    end_us: int,
    accepted: int,
    spans: Mapping[int, tuple[int, int]] | None = None,
    instants: Mapping[int, list[int]] | None = None,
) -> ReadingBatchStored:
    """Write the effect row of a stored batch in ``session``; return the event to publish.

    ``start_us``/``end_us`` bound the batch's times (microseconds since the epoch, inclusive);
    ``spans`` the times of each channel's readings (default: the batch's bounds for each). The
    row also keeps the instants the batch brings to the sensor-health judgement, fixed now
    (``instants``: fixed earlier, when batches stored in one transaction share the row).
    """
    channels = tuple(sorted(set(channel_ids)))
    spans = spans or dict.fromkeys(channels, (start_us, end_us))
    if instants is None:
        instants = judgement_instants(session, spans)
    add_effect(
        session,
        READINGS_STORED,
        {
            "organization_id": organization_id,
            "channel_ids": list(channels),
            "start_us": start_us,
            "end_us": end_us,
            "spans": {str(c): [int(spans[c][0]), int(spans[c][1])] for c in channels},
            "instants": {str(c): moments for c, moments in instants.items()},
        },
        organization_id,
    )
    return ReadingBatchStored(
        organization_id=organization_id,
        channel_ids=channels,
        start_us=start_us,
        end_us=end_us,
        accepted=accepted,
    )


def _spans(arguments: dict[str, Any]) -> dict[int, tuple[int, int]]:
    """Channel id -> (first, last) time of a row's readings (rows of old: the batch bounds)."""
    if "spans" in arguments:
        return {int(c): (int(s[0]), int(s[1])) for c, s in arguments["spans"].items()}
    bounds = (int(arguments["start_us"]), int(arguments["end_us"]))
    return {int(c): bounds for c in arguments["channel_ids"]}


def merge_readings_stored(arguments: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for a burst: per channel, the span of the times of its readings."""
    spans: dict[int, tuple[int, int]] = {}
    for row in arguments:
        for channel, (first, last) in _spans(row).items():
            was = spans.get(channel, (first, last))
            spans[channel] = (min(was[0], first), max(was[1], last))
    instants: dict[int, set[int]] = {}
    for row in arguments:  # rows written before instants existed bring none
        for channel, moments in row.get("instants", {}).items():
            instants.setdefault(int(channel), set()).update(int(m) for m in moments)
    return {
        "organization_id": int(arguments[0]["organization_id"]),
        "channel_ids": sorted(spans),
        "start_us": min(first for first, _ in spans.values()),
        "end_us": max(last for _, last in spans.values()),
        "spans": {str(c): [first, last] for c, (first, last) in sorted(spans.items())},
        "instants": {str(c): sorted(m) for c, m in sorted(instants.items())},
    }


def score_readings_stored(context: JobContext, arguments: dict[str, Any]) -> None:
    """Before the effect: score the new readings, :data:`SCORE_CHUNK` channels a transaction.

    Each chunk commits its scores with the scorer's watermarks (so the effect, or a replay,
    does not score them again); short transactions let ingest write between them. Two
    processes woken for the same rows score one chunk at a time (on PostgreSQL the effect's
    own lock is taken only after this step): the second reads the first one's watermarks and
    score channels, instead of creating them again beside it.
    """
    if not context.settings.anomaly_scoring:
        return
    spans = _spans(arguments)
    channels = sorted(spans)
    start_us = min(first for first, _ in spans.values())
    for at in range(0, len(channels), SCORE_CHUNK):
        with context.database.write_transaction() as session:
            serialise_transaction(session, f"infrasight-scoring:{arguments['organization_id']}")
            score_channels(session, tuple(channels[at : at + SCORE_CHUNK]), start_us)


def apply_readings_stored(
    context: JobContext, session: Session, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Effect handler: scores, sensor health and alarm rules of the (merged) batch; then a
    ``hazards_due`` row for the elements it touched (applied after this commit)."""
    organization_id = int(arguments["organization_id"])
    spans = _spans(arguments)
    transitions = evaluate_stored_readings(
        session,
        organization_id,
        spans,
        score_anomalies=context.settings.anomaly_scoring,
        instants={int(c): [int(m) for m in ms] for c, ms in arguments.get("instants", {}).items()},
    )
    hazards_due(session, organization_id, scope_of_channels(session, sorted(spans)), spans)
    return {"transitions": transitions}


def register_reading_effects(platform: Platform) -> None:
    """Register the handler and apply the rows when a stored batch is published."""
    platform.jobs.register_effect(
        READINGS_STORED,
        apply_readings_stored,
        merge=merge_readings_stored,
        prepare=score_readings_stored,
    )

    def on_batch(event: ReadingBatchStored) -> None:
        platform.jobs.dispatch(READINGS_STORED, event.organization_id)

    platform.bus.subscribe(ReadingBatchStored, on_batch)
