"""Online anomaly scores of every channel, stored as readings of a derived channel.

For a channel ``KEY`` the scores live in channel ``KEY.anomaly`` (dimensionless, in [0, 1]),
created on first use, so they can be plotted, queried and watched by alarm rules like any other
reading. Each score uses only earlier readings (:func:`infrasight.signals.score_online`, given
the reading times so that it learns daily and weekly cycles); the scorer's state is kept per
channel between batches (a state of an older format starts the scorer afresh).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.services.compensation import compensated
from infrasight.signals import AnomalyState, score_online_many
from infrasight.storage.models import Channel, ChannelAnalytics, ChannelCompensation
from infrasight.storage.readings import fetch_series, insert_readings, newest_reading_us

__all__ = ["ANOMALY_SUFFIX", "score_channel_keys", "score_channels"]

ANOMALY_SUFFIX = ".anomaly"


def _derived_channels(session: Session, sources: list[Channel]) -> dict[int, Channel]:
    """Source channel id -> its score channel, created where missing: one query and one flush
    for the chunk (a thousand channels commissioned at once are scored for the first time in
    the same burst)."""
    if not sources:
        return {}
    existing: dict[tuple[int, str], Channel] = {}
    for org in {s.organization_id for s in sources}:
        keys = [s.key + ANOMALY_SUFFIX for s in sources if s.organization_id == org]
        for channel in session.scalars(
            select(Channel).where(Channel.organization_id == org, Channel.key.in_(keys))
        ):
            existing[(org, channel.key)] = channel
    derived: dict[int, Channel] = {}
    for source in sources:
        key = source.key + ANOMALY_SUFFIX
        found = existing.get((source.organization_id, key))
        if found is None:
            found = existing[(source.organization_id, key)] = Channel(
                organization_id=source.organization_id,
                key=key,
                quantity="dimensionless",
                unit="dimensionless",
                element_id=source.element_id,
                device_id=None,
                description=f"Online anomaly score of {source.key} (0 = normal, 1 = anomalous)",
            )
            session.add(found)
        derived[source.id] = found
    session.flush()
    return derived


def score_channels(
    session: Session, channel_ids: tuple[int, ...], from_us: int
) -> dict[int, tuple[str, float]]:
    """Score the new readings of ``channel_ids``.

    Returns
    -------
    dict
        Source channel id -> (key of its score channel, highest new score).

    Readings older than the last scored one (late back-fills) are not scored again.
    """
    written: dict[int, tuple[str, float]] = {}
    channels = session.scalars(select(Channel).where(Channel.id.in_(channel_ids))).all()
    # A few queries for the whole chunk instead of a few per channel: the scorer states and
    # their score channels, which channels have a compensation model, and each channel's newest
    # reading (none new: nothing to do). No ORM query then runs per scored channel, so the
    # changed states are not flushed one by one.
    states = {
        a.channel_id: a
        for a in session.scalars(
            select(ChannelAnalytics).where(ChannelAnalytics.channel_id.in_(channel_ids))
        )
    }
    score_channels_of = {
        c.id: c
        for c in session.scalars(
            select(Channel).where(Channel.id.in_([a.anomaly_channel_id for a in states.values()]))
        )
    }
    modelled = set(
        session.scalars(
            select(ChannelCompensation.channel_id).where(
                ChannelCompensation.channel_id.in_(channel_ids)
            )
        )
    )
    newest = newest_reading_us(session, list(states))
    first_scored = _derived_channels(
        session, [c for c in channels if c.id not in states and not c.key.endswith(ANOMALY_SUFFIX)]
    )
    # what each channel brings: its score channel, state and new readings; then all of them
    # are scored at once (a fleet in its steady state costs about one channel's arithmetic)
    todo: list[tuple[Channel, Channel, ChannelAnalytics | None, np.ndarray]] = []
    batches: list[tuple[np.ndarray, AnomalyState | None, np.ndarray]] = []
    for channel in channels:
        if channel.key.endswith(ANOMALY_SUFFIX):
            continue
        analytics = states.get(channel.id)
        if analytics is not None and newest.get(channel.id, analytics.last_ts) <= analytics.last_ts:
            continue  # nothing after the last scored reading
        if analytics is None:
            derived = first_scored[channel.id]
            state = None
            stamps, values = fetch_series(session, channel.id, from_us=from_us)
        else:
            derived = score_channels_of[analytics.anomaly_channel_id]
            state = AnomalyState.from_dict(analytics.anomaly_state)
            stamps, values = fetch_series(session, channel.id, after_us=analytics.last_ts)
        if not stamps.size:
            continue
        residual = (
            compensated(session, channel.id, stamps, values) if channel.id in modelled else values
        )
        todo.append((channel, derived, analytics, stamps))
        batches.append((residual, state, stamps / 1e6))  # the times let it learn cycles
    scored = score_online_many(batches)
    rows: list[tuple[int, int, float]] = []
    for (channel, derived, analytics, stamps), (scores, new_state) in zip(
        todo, scored, strict=True
    ):
        times = stamps.tolist()
        rows.extend(zip([derived.id] * len(times), times, scores.tolist(), strict=True))
        if analytics is None:
            analytics = ChannelAnalytics(
                channel_id=channel.id, anomaly_channel_id=derived.id, last_ts=times[-1]
            )
            session.add(analytics)
        analytics.last_ts = times[-1]
        analytics.anomaly_state = new_state.to_dict()
        written[channel.id] = (derived.key, float(scores.max()))
    if rows:
        insert_readings(session, rows)
    return written


def score_channel_keys(session: Session, channel_ids: tuple[int, ...]) -> set[str]:
    """Keys of the score channels of ``channel_ids`` (those scored at least once)."""
    return set(
        session.scalars(
            select(Channel.key)
            .join(ChannelAnalytics, ChannelAnalytics.anomaly_channel_id == Channel.id)
            .where(ChannelAnalytics.channel_id.in_(channel_ids))
        )
    )
