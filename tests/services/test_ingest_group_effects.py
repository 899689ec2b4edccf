"""Stored batches of one group commit share one last-seen update and one effect row.

The merged row must bring the same sensor-health instants as the rows of the batches stored one
by one (the crash-equivalence of the effects rests on it) and the spans of all the batches.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from infrasight.platform import Platform
from infrasight.services.ingest import (
    ValidatedReadings,
    finish_stored_readings,
    store_readings,
)
from infrasight.services.reading_effects import READINGS_STORED
from infrasight.storage.models import Channel, Device, Job
from tests.conftest import Site

HOUR_US = 3_600_000_000
T0_US = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1_000_000)

# (first hour, last hour, readings) of three batches; the third back-fills before the first
BATCHES = [(0.5, 2.5, 5), (3.0, 7.9, 8), (-2.0, 0.2, 4)]


def _batch(
    organization_id: int, device_id: int, channel_id: int, spec: tuple[float, float, int]
) -> ValidatedReadings:
    first, last, count = spec
    step = (last - first) / (count - 1)
    times = [T0_US + round((first + i * step) * HOUR_US) for i in range(count)]
    return ValidatedReadings(
        organization_id=organization_id,
        device_id=device_id,
        rows=[(channel_id, t, float(i)) for i, t in enumerate(times)],
        spans={channel_id: (times[0], times[-1])},
    )


def _rows(platform: Platform) -> list[dict[str, object]]:
    with platform.database.session() as session:
        return [
            dict(a)
            for a in session.scalars(
                select(Job.arguments).where(Job.name == READINGS_STORED).order_by(Job.id)
            )
        ]


def test_deferred_batches_write_one_row_with_the_instants_of_the_batches_one_by_one(
    platform: Platform, site: Site
) -> None:
    with platform.database.session() as session:
        organization_id = session.scalar(
            select(Channel.organization_id).where(Channel.id == site.strain_channel_id)
        )
    assert organization_id is not None
    alone, grouped = site.settlement_channel_id, site.strain_channel_id
    for spec in BATCHES:  # one transaction each, as before group commits shared the row
        with platform.database.transaction() as session:
            store_readings(session, _batch(organization_id, site.device_id, alone, spec))
    one_by_one = _rows(platform)
    assert len(one_by_one) == 3
    with platform.database.transaction() as session:
        results = [
            store_readings(
                session, _batch(organization_id, site.device_id, grouped, spec), deferred=True
            )
            for spec in BATCHES
        ]
        assert _rows(platform) == one_by_one  # nothing of the group's effects before finish
        finish_stored_readings(session)
        finish_stored_readings(session)  # a second call finds nothing left: no second row
    assert [r.accepted for r in results] == [5, 8, 4]
    assert all(r.event is not None and r.event.channel_ids == (grouped,) for r in results)
    merged = _rows(platform)[3:]
    assert len(merged) == 1
    expected_instants: set[int] = set()
    for row in one_by_one:
        expected_instants.update(row["instants"][str(alone)])  # type: ignore[index]
    assert merged[0]["instants"] == {str(grouped): sorted(expected_instants)}
    # -2.0 h to 7.9 h: every whole hour from the first reading on (at most 6 per batch)
    assert sorted(expected_instants) == [T0_US + h * HOUR_US for h in range(-2, 8)]
    first = T0_US + round(-2.0 * HOUR_US)
    last = T0_US + round(7.9 * HOUR_US)
    assert merged[0]["spans"] == {str(grouped): [first, last]}
    assert (merged[0]["start_us"], merged[0]["end_us"]) == (first, last)
    with platform.database.session() as session:
        seen = session.scalar(select(Device.last_seen_at).where(Device.id == site.device_id))
    assert seen is not None


def test_a_group_without_new_readings_writes_no_effect_row(platform: Platform, site: Site) -> None:
    with platform.database.session() as session:
        organization_id = session.scalar(
            select(Channel.organization_id).where(Channel.id == site.strain_channel_id)
        )
    assert organization_id is not None
    batch = _batch(organization_id, site.device_id, site.strain_channel_id, BATCHES[0])
    with platform.database.transaction() as session:
        store_readings(session, batch)
    before = len(_rows(platform))
    with platform.database.transaction() as session:  # the same batch again: all duplicates
        result = store_readings(session, batch, deferred=True)
        finish_stored_readings(session)
    assert (result.accepted, result.duplicates, result.event) == (0, 5, None)
    assert len(_rows(platform)) == before
