"""The effects of stored readings, as durable rows: scores, sensor health, alarm rules, and
the hazard update of the touched elements (a ``hazards_due`` row, ``services/hazard_effects.py``).

Whoever stores readings calls :func:`readings_stored` in the same transaction: it writes an effect
row (``jobs`` table, name ``readings_stored``) and returns the event to publish after the commit.
The job runner applies the rows of an organisation, merged, with :func:`apply_readings_stored`
in one transaction that also deletes them; a crash before that commit leaves the rows queued and
the next start applies them. Handlers read from watermarks stored with their results, so applying
a row twice changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from infrasight.core.events import ReadingBatchStored
from infrasight.jobs.runner import JobContext, add_effect
from infrasight.services.alarms import evaluate_stored_readings
from infrasight.services.hazard_effects import hazards_due, scope_of_channels

if TYPE_CHECKING:
    from infrasight.platform import Platform

__all__ = [
    "READINGS_STORED",
    "apply_readings_stored",
    "merge_readings_stored",
    "readings_stored",
    "register_reading_effects",
]

READINGS_STORED = "readings_stored"


def readings_stored(
    session: Session,
    *,
    organization_id: int,
    channel_ids: tuple[int, ...],
    start_us: int,
    end_us: int,
    accepted: int,
) -> ReadingBatchStored:
    """Write the effect row of a stored batch in ``session``; return the event to publish.

    ``start_us``/``end_us`` bound the batch's times (microseconds since the epoch, inclusive).
    """
    channels = tuple(sorted(set(channel_ids)))
    add_effect(
        session,
        READINGS_STORED,
        {
            "organization_id": organization_id,
            "channel_ids": list(channels),
            "start_us": start_us,
            "end_us": end_us,
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


def merge_readings_stored(arguments: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for a burst: the union of the channels and the span of the times."""
    return {
        "organization_id": int(arguments[0]["organization_id"]),
        "channel_ids": sorted({int(c) for a in arguments for c in a["channel_ids"]}),
        "start_us": min(int(a["start_us"]) for a in arguments),
        "end_us": max(int(a["end_us"]) for a in arguments),
    }


def apply_readings_stored(
    context: JobContext, session: Session, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Effect handler: scores, sensor health and alarm rules of the (merged) batch; then a
    ``hazards_due`` row for the elements it touched (applied after this commit)."""
    organization_id = int(arguments["organization_id"])
    channel_ids = [int(c) for c in arguments["channel_ids"]]
    transitions = evaluate_stored_readings(
        session,
        organization_id,
        channel_ids,
        int(arguments["start_us"]),
        score_anomalies=context.settings.anomaly_scoring,
    )
    hazards_due(session, organization_id, scope_of_channels(session, channel_ids))
    return {"transitions": transitions}


def register_reading_effects(platform: Platform) -> None:
    """Register the handler and apply the rows when a stored batch is published."""
    platform.jobs.register_effect(
        READINGS_STORED, apply_readings_stored, merge=merge_readings_stored
    )

    def on_batch(event: ReadingBatchStored) -> None:
        platform.jobs.dispatch(READINGS_STORED, event.organization_id)

    platform.bus.subscribe(ReadingBatchStored, on_batch)
