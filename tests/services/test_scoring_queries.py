"""Anomaly scoring of a chunk of channels costs a few queries, not a few per channel.

Under load (a thousand devices each posting a reading a second) the effect worker scores every
channel of a burst; queries per channel made it the largest share of the server's CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import event, func, select

from infrasight.platform import Platform
from infrasight.services.anomaly_scoring import score_channels
from infrasight.storage.models import Asset, Channel, ChannelAnalytics, Element, Reading
from infrasight.storage.readings import insert_readings
from tests.conftest import Tenant

MINUTE_US = 60_000_000
T0_US = 1_714_521_600_000_000  # 2024-05-01T00:00:00Z


def _channels(platform: Platform, tenant: Tenant, count: int) -> list[int]:
    with platform.database.transaction() as session:
        name = f"Viaduct of {count}"
        asset = Asset(organization_id=tenant.organization_id, name=name, kind="bridge")
        session.add(asset)
        session.flush()
        element = Element(asset_id=asset.id, name="Deck", kind="span")
        session.add(element)
        session.flush()
        channels = [
            Channel(
                organization_id=tenant.organization_id,
                key=f"S{count}-{i:03d}",
                quantity="strain",
                unit="µε",
                element_id=element.id,
            )
            for i in range(count)
        ]
        session.add_all(channels)
        session.flush()
        return [c.id for c in channels]


def _add_readings(platform: Platform, channel_ids: list[int], start: int, count: int) -> None:
    rng = np.random.default_rng(start)
    with platform.database.transaction() as session:
        insert_readings(
            session,
            [
                (c, T0_US + (start + i) * MINUTE_US, float(100 + rng.normal(0, 1)))
                for c in channel_ids
                for i in range(count)
            ],
        )


@contextmanager
def _counted(platform: Platform) -> Iterator[list[str]]:
    """The statements SQLAlchemy sends while the block runs."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(platform.database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(platform.database.engine, "before_cursor_execute", record)


def _score(platform: Platform, channel_ids: list[int]) -> dict[int, tuple[str, float]]:
    with platform.database.transaction() as session:
        return score_channels(session, tuple(channel_ids), T0_US)


def _scores(platform: Platform) -> int:
    with platform.database.session() as session:
        derived = select(ChannelAnalytics.anomaly_channel_id)
        return int(
            session.scalar(
                select(func.count()).select_from(Reading).where(Reading.channel_id.in_(derived))
            )
        )


def test_statements_do_not_grow_with_the_channels(platform: Platform, tenant: Tenant) -> None:
    counts = {}
    for size in (4, 40):
        ids = _channels(platform, tenant, size)
        _add_readings(platform, ids, 0, 30)
        _score(platform, ids)  # first scores: creates the score channels and states
        _add_readings(platform, ids[: size // 2], 30, 5)  # half the channels get new readings
        with _counted(platform) as statements:
            written = _score(platform, ids)
        assert sorted(written) == ids[: size // 2]
        counts[size] = len(statements)
    # The states are read per chunk; nothing is read per channel through SQLAlchemy (the
    # readings themselves go through the driver's cursor) and the states are flushed together.
    assert counts[40] == counts[4], counts
    assert counts[4] <= 10, counts


def test_channels_without_new_readings_keep_their_scores(
    platform: Platform, tenant: Tenant
) -> None:
    ids = _channels(platform, tenant, 3)
    _add_readings(platform, ids, 0, 30)
    assert sorted(_score(platform, ids)) == ids
    assert _scores(platform) == 90
    assert _score(platform, ids) == {}  # nothing new: nothing scored, nothing written
    assert _scores(platform) == 90
    _add_readings(platform, ids[1:2], 30, 4)
    written = _score(platform, ids)
    assert list(written) == [ids[1]]
    key, top = written[ids[1]]
    assert key == "S3-001.anomaly" and 0.0 <= top <= 1.0
    assert _scores(platform) == 94
