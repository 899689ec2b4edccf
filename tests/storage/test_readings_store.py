"""Storage: bulk insert idempotency and SQL downsampling against a slow reference."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.readings import (
    bucket_width_us,
    downsample,
    hourly_means,
    insert_readings,
    newest_reading_us,
    session_plan,
    time_bounds,
    time_span,
)
from infrasight.storage.timeseries import HOUR_US, readings_layout
from tests.conftest import Site, Tenant

MINUTE = 60_000_000


def test_insert_skips_existing_and_repeated_keys(platform: Platform, site: Site) -> None:
    channel = site.strain_channel_id
    with platform.database.transaction() as session:
        assert (
            insert_readings(session, [(channel, 0, 1.0), (channel, MINUTE, 2.0), (channel, 0, 9.0)])
            == 2
        )
    with platform.database.transaction() as session:
        assert insert_readings(session, [(channel, MINUTE, 5.0), (channel, 2 * MINUTE, 3.0)]) == 1
        assert time_bounds(session, channel) == (0, 2 * MINUTE)
        buckets = downsample(session, channel, 0, 3 * MINUTE, 3)
    assert [b.mean for b in buckets] == [1.0, 2.0, 3.0]  # first write wins


def test_rollback_leaves_nothing(platform: Platform, site: Site) -> None:
    with pytest.raises(RuntimeError), platform.database.transaction() as session:
        insert_readings(session, [(site.strain_channel_id, 0, 1.0)])
        raise RuntimeError("boom")
    with platform.database.session() as session:
        assert time_bounds(session, site.strain_channel_id) is None


@pytest.mark.parametrize("max_points", [1, 7, 100, 500])
def test_downsample_matches_reference(platform: Platform, site: Site, max_points: int) -> None:
    rng = np.random.default_rng(max_points)
    times = np.sort(rng.choice(np.arange(0, 5000) * 10 * MINUTE, size=3000, replace=False))
    values = rng.normal(size=times.size)
    with platform.database.transaction() as session:
        insert_readings(
            session,
            list(
                zip(
                    [site.strain_channel_id] * times.size,
                    times.tolist(),
                    values.tolist(),
                    strict=True,
                )
            ),
        )
    start, end = int(times[0]) + 3 * MINUTE, int(times[-1]) - 7 * MINUTE
    with platform.database.session() as session:
        buckets = downsample(session, site.strain_channel_id, start, end, max_points)
        plan = session_plan(session, start, end, max_points)  # PostgreSQL: roll-ups, long ranges
    assert 0 < len(buckets) <= max_points
    if plan.rollup is None:
        assert plan.width_us == bucket_width_us(start, end, max_points)
    width, origin = plan.width_us, plan.origin_us
    inside = (times >= start) & (times < end)
    index = (times[inside] - origin) // width
    for bucket in buckets:
        chosen = values[inside][index == (bucket.start_us - origin) // width]
        assert bucket.count == chosen.size
        assert bucket.minimum == pytest.approx(chosen.min())
        assert bucket.maximum == pytest.approx(chosen.max())
        assert bucket.mean == pytest.approx(chosen.mean())
    assert sum(b.count for b in buckets) == int(inside.sum())


def test_http_query_never_exceeds_max_points(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    items = [
        {
            "channel": "VD-SETTLE",
            "time": (t0 + timedelta(minutes=10 * i)).isoformat(),
            "value": float(i),
        }
        for i in range(5000)
    ]
    assert (
        client.post(
            "/api/v1/ingest/readings", json={"readings": items}, headers=site.device_headers
        ).status_code
        == 200
    )
    url = f"/api/v1/channels/{site.settlement_channel_id}/readings"
    h = tenant.headers(Role.VIEWER)
    series = client.get(url, params={"max_points": 37}, headers=h).json()
    assert len(series["points"]) <= 37
    assert sum(p["count"] for p in series["points"]) == 5000
    assert series["points"][0]["min"] == 0 and series["points"][-1]["max"] == 4999
    window = client.get(
        url,
        params={"start": "2023-01-02T00:00:00Z", "end": "2023-01-03T00:00:00Z", "max_points": 24},
        headers=h,
    ).json()
    assert [p["count"] for p in window["points"]] == [6] * 24
    assert window["points"][0]["time"].startswith("2023-01-02T00:00:00")
    assert window["points"][0]["mean"] == pytest.approx(144 + 2.5)
    bad = client.get(
        url, params={"start": "2023-01-03T00:00:00Z", "end": "2023-01-02T00:00:00Z"}, headers=h
    )
    assert bad.status_code == 422
    assert client.get(url, params={"max_points": 0}, headers=h).status_code == 422
    assert client.get(url, params={"start": "garbage"}, headers=h).status_code == 422


def test_hourly_means_span_and_newest(platform: Platform, site: Site) -> None:
    """Hourly means against a reference (empty hours NaN), also after retention deleted the
    raw readings where roll-ups keep the hours (PostgreSQL); first and last times over
    channels, and each one's newest."""
    strain, settlement = site.strain_channel_id, site.settlement_channel_id
    start = 1_000 * HOUR_US
    rng = np.random.default_rng(4)
    times = np.sort(rng.choice(np.arange(0, 10 * 60) * MINUTE, size=300, replace=False))
    times = times[(times < 3 * HOUR_US) | (times >= 4 * HOUR_US)] + start  # hour 3: none
    values = rng.normal(10.0, 2.0, size=times.size)
    with platform.database.transaction() as session:
        rows = list(zip([strain] * times.size, times.tolist(), values.tolist(), strict=True))
        insert_readings(session, [*rows, (settlement, start - 5 * MINUTE, 1.0)])
    hour = (times - start) // HOUR_US
    expected = [values[hour == h].mean() if (hour == h).any() else np.nan for h in range(12)]
    with platform.database.session() as session:
        means = hourly_means(session, strain, start, 12)
        assert means == pytest.approx(expected, nan_ok=True, rel=1e-12)
        assert np.isnan(means[3]) and np.isnan(means[10:]).all()
        assert hourly_means(session, strain, start, 0).size == 0
        assert time_span(session, [strain, settlement]) == (start - 5 * MINUTE, int(times[-1]))
        assert time_span(session, [strain]) == (int(times[0]), int(times[-1]))
        assert time_span(session, []) is None
        assert newest_reading_us(session, [strain, settlement, 987_654]) == {
            strain: int(times[-1]),
            settlement: start - 5 * MINUTE,
        }
        keeps_hours = readings_layout(session) != "plain"
    with platform.database.transaction() as session:  # retention: raw rows before hour 6 go
        session.execute(text("DELETE FROM readings WHERE ts < :t"), {"t": start + 6 * HOUR_US})
    with platform.database.session() as session:
        after = hourly_means(session, strain, start, 12)
    if keeps_hours:
        assert after == pytest.approx(expected, nan_ok=True, rel=1e-12)
    else:
        assert np.isnan(after[:6]).all() and after[6:] == pytest.approx(expected[6:], nan_ok=True)
