"""Sensor health on generated channels with known faults (signals.health, signals.sensor_fleet)."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.demo.timeseries import DEMO_CHANNELS, generate_demo_series
from infrasight.signals import FaultClass, InputDataError, NotEnoughDataError
from infrasight.signals.health import HealthConfig, HealthFinding, assess_channel, judge_asset
from infrasight.signals.sensor_fleet import FLEET_FAULTS, FleetChannel, generate_fleet

DAY = 86_400.0
WINDOW = 21 * DAY


def judge(ch: FleetChannel, now: float, config: HealthConfig | None = None) -> HealthFinding:
    sel = (ch.times_s > now - WINDOW) & (ch.times_s <= now)
    return assess_channel(ch.times_s[sel], ch.values[sel], config=config)


@pytest.fixture(scope="module")
def fleet() -> list[FleetChannel]:
    return generate_fleet(seed=11, faulty_sites=6, healthy_sites=1, days=75)


def test_fleet_truth(fleet: list[FleetChannel]) -> None:
    faulty = [ch for ch in fleet if ch.fault is not FaultClass.NORMAL]
    assert [ch.fault for ch in faulty] == list(FLEET_FAULTS)
    assert len(fleet) == 7 * 7
    for ch in faulty:
        assert ch.fault_start_s is not None
        start_day = (ch.fault_start_s - ch.times_s[0]) / DAY
        assert 30 <= start_day <= 75 - 21
        before = ch.times_s < ch.fault_start_s
        assert np.isfinite(ch.values[before]).all()
    missing = next(ch for ch in faulty if ch.fault is FaultClass.MISSING)
    after = missing.times_s >= (missing.fault_start_s or 0)
    assert 0.25 < float(np.mean(np.isnan(missing.values[after]))) < 0.95
    again = generate_fleet(seed=11, faulty_sites=6, healthy_sites=1, days=75)
    assert np.array_equal(again[3].values, fleet[3].values, equal_nan=True)


@pytest.mark.parametrize("kind", [FaultClass.MISSING, FaultClass.MINOR, FaultClass.OUTLIER])
def test_each_injected_class_is_found_with_its_onset(
    fleet: list[FleetChannel], kind: FaultClass
) -> None:
    ch = next(c for c in fleet if c.fault is kind)
    start = ch.fault_start_s
    assert start is not None
    healthy = judge(ch, start - DAY)
    assert healthy.label is FaultClass.NORMAL, healthy.evidence
    found = [judge(ch, start + d * DAY) for d in range(1, 8)]
    first = next(f for f in found if f.label is not FaultClass.NORMAL)
    assert first.label is kind, first.evidence
    assert first.onset_s is not None and abs(first.onset_s - start) < 2 * DAY
    message = first.message(ch.key)
    assert ch.key in message and kind.value in message and "since" in message


def test_ramp_wander_and_square_on_a_daily_cycle() -> None:
    rng = np.random.default_rng(4)
    t = 1_700_000_000.0 + 600.0 * np.arange(21 * 144)
    base = 5.0 + 0.5 * np.cos(2 * np.pi * (t % DAY) / DAY) + rng.normal(0, 0.05, t.size)
    start = 16 * 144
    ramp = base.copy()
    ramp[start:] += np.linspace(0, 1.0, t.size - start)
    trend = assess_channel(t, ramp)
    assert trend.label is FaultClass.TREND, trend.evidence
    assert trend.onset_s is not None and abs(trend.onset_s - t[start]) < DAY
    walk = base.copy()
    u = np.linspace(0, 1, t.size - start)
    walk[start:] += 0.8 * u**0.3 + 0.3 * np.sin(6 * np.pi * u)
    drift = assess_channel(t, walk)
    assert drift.label is FaultClass.DRIFT, drift.evidence
    square = base.copy()
    on = (np.arange(t.size - start) // 40) % 2 == 1
    square[start:] += 0.8 * on
    found = assess_channel(t, square)
    assert found.label is FaultClass.SQUARE, found.evidence
    assert found.onset_s is not None and abs(found.onset_s - t[start + 40]) < 3600
    assert assess_channel(t, base).label is FaultClass.NORMAL


def test_healthy_channels_with_temperature_traffic_and_noise_are_not_flagged(
    fleet: list[FleetChannel],
) -> None:
    healthy_site = [ch for ch in fleet if ch.site == "S06"]
    assert all(ch.fault is FaultClass.NORMAL for ch in healthy_site)
    flagged = []
    for ch in healthy_site:
        for day in range(21, 75, 2):
            finding = judge(ch, ch.times_s[0] + day * DAY)
            if finding.label is not FaultClass.NORMAL:
                flagged.append((ch.key, day, finding.label.value))
    assert flagged == []


def test_demo_channels_only_the_faulty_gauge_is_a_gauge_fault() -> None:
    assets = {c.asset for c in DEMO_CHANNELS}
    for seed in (7, 3, 4):
        series = generate_demo_series(end_s=1_764_460_800.0, days=90, seed=seed)
        sel = series.times_s > series.times_s[-1] - WINDOW
        gauge: dict[str, FaultClass] = {}
        for asset in assets:
            keys = [c.key for c in DEMO_CHANNELS if c.asset == asset]
            temps = [
                c.key for c in DEMO_CHANNELS if c.asset == asset and c.quantity == "temperature"
            ]
            windows = {k: (series.times_s[sel], series.values[k][sel]) for k in keys}
            verdicts = judge_asset(windows, drivers=temps)
            gauge |= {k: v.finding.label for k, v in verdicts.items() if v.is_sensor_fault}
        assert gauge == {series.faulty_channel: FaultClass.MINOR}, seed
        flat_start = next(w[1] for w in series.fault_windows if w[0] == "flat")
        onset = verdicts_onset(series.times_s[sel], series.values[series.faulty_channel][sel])
        assert abs(onset - flat_start) <= 600


def verdicts_onset(t: np.ndarray, x: np.ndarray) -> float:
    onset = assess_channel(t, x).onset_s
    assert onset is not None
    return onset


def test_a_coherent_slow_change_is_not_a_gauge_fault() -> None:
    rng = np.random.default_rng(8)
    t = 1_700_000_000.0 + 600.0 * np.arange(21 * 144)
    ramp = np.clip((t - t[16 * 144]) / DAY, 0, None)
    settle = 0.3 * ramp + rng.normal(0, 0.02, t.size)
    tilt = 0.01 * ramp + rng.normal(0, 0.002, t.size)
    quiet = rng.normal(0, 0.02, t.size)
    both = judge_asset({"settle": (t, settle), "tilt": (t, tilt), "crack": (t, quiet)})
    assert both["settle"].finding.label is FaultClass.TREND
    assert not both["settle"].is_sensor_fault and not both["tilt"].is_sensor_fault
    alone = judge_asset({"settle": (t, settle), "crack": (t, quiet)}, only=["settle"])
    assert list(alone) == ["settle"] and alone["settle"].is_sensor_fault


def test_bad_input_is_refused() -> None:
    t = np.arange(100.0) * 600
    with pytest.raises(InputDataError, match="differ in length"):
        assess_channel(t, np.zeros(99))
    with pytest.raises(NotEnoughDataError):
        assess_channel(t[::-1], np.zeros(100))
    with pytest.raises(NotEnoughDataError, match="reference"):
        assess_channel(t[:20], np.zeros(20))
