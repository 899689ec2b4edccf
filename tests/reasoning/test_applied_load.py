"""An applied load against a support movement, and sensor-health checks across gauges, on
generated data of known truth."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.reasoning.causes import ElementContext, Observations, infer_causes, load_mechanisms
from infrasight.reasoning.causes.features import Z_CHANGE, _change, compute_features
from infrasight.reasoning.causes.library import MechanismLibrary
from infrasight.reasoning.causes.types import ChannelData, ChannelRole

N = 720  # hourly samples, 30 days
T = np.arange(N, dtype=np.float64)


@pytest.fixture(scope="module")
def lib() -> MechanismLibrary:
    return load_mechanisms()


def _obs(forces: list[np.ndarray], strain: np.ndarray | None = None, seed: int = 0) -> Observations:
    """Support reactions (kN, about 230) and a girder strain (um/m) with seeded noise."""
    rng = np.random.default_rng(seed)
    chans = [
        ChannelData(
            key=f"FRC-{i + 1:02d}",
            role=ChannelRole.SETTLEMENT,
            times_h=T,
            values=230.0 + f + rng.normal(0.0, 0.02, N),
            unit="kN",
        )
        for i, f in enumerate(forces)
    ]
    if strain is not None:
        chans.append(
            ChannelData(
                key="DMS",
                role=ChannelRole.RESPONSE,
                times_h=T,
                values=strain + rng.normal(0.0, 0.2, N),
                unit="um/m",
            )
        )
    return Observations(context=ElementContext(element_id="7"), times_h=T, channels=tuple(chans))


def _box(lo: int, hi: int, size: float) -> np.ndarray:
    x = np.zeros(N)
    x[lo:hi] = size
    return x


def test_a_proportional_load_step_does_not_open_settlement(lib: MechanismLibrary) -> None:
    # a load of 20 kN placed and removed (hours 100-160), then 12 kN placed at hour 600
    # and still on: both reactions up in the same proportion (0.55 / 0.45), the strain with them
    load = _box(100, 160, 20.0) + _box(600, N, 12.0)
    obs = _obs([0.55 * load, 0.45 * load], strain=0.4 * load)
    feats = compute_features(obs)
    assert feats["applied_load"].value == 1.0
    assert feats["settlement_change"].value is not None and feats["settlement_change"].value > 0.9
    inf = infer_causes(obs, lib)
    assert inf.top.mechanism == "applied_load"
    assert not inf.top.damage and inf.top.hazard_kind == "none"
    assert inf.top.confidence > 0.5
    assert any(e.test.startswith("applied_load high") for e in inf.top.evidence_for)
    # settlement is explicitly argued against by the same test
    settle = next(c for c in inf.causes if c.mechanism == "settlement")
    assert any(e.test.startswith("applied_load low") for e in settle.evidence_against)
    # no gauge is called faulty for carrying the load
    assert feats["fault_signature"].value == 0.0


@pytest.mark.parametrize(
    ("d1", "d2"),
    [
        (-10.0, -18.0),  # the measured supports shed load to an unmeasured one (Munich-like)
        (+12.0, -12.0),  # redistribution between the two measured supports
    ],
)
def test_a_persistent_redistribution_opens_settlement(
    lib: MechanismLibrary, d1: float, d2: float
) -> None:
    # the same earlier load that came back, then the supports move at hour 400 and stay
    load = _box(100, 160, 20.0)
    moved = _box(400, N, 1.0)
    obs = _obs([0.55 * load + d1 * moved, 0.45 * load + d2 * moved], strain=0.4 * load - moved)
    feats = compute_features(obs)
    assert feats["applied_load"].value == 0.0
    inf = infer_causes(obs, lib)
    assert inf.top.mechanism == "settlement"
    assert inf.top.damage


def test_a_change_larger_than_any_earlier_load_is_no_load(lib: MechanismLibrary) -> None:
    # earlier excursion 4 kN, present change 20 kN in the same proportion: more than twice the
    # largest load the element carried and shed
    load = _box(100, 160, 4.0) + _box(400, N, 20.0)
    feats = compute_features(_obs([0.5 * load, 0.5 * load], strain=0.4 * load))
    assert feats["applied_load"].value == 0.0


def test_applied_load_needs_two_support_channels() -> None:
    load = _box(100, 160, 20.0) + _box(600, N, 12.0)
    feats = compute_features(_obs([load], strain=0.4 * load))
    assert "applied_load" not in feats
    feats = compute_features(_obs([np.zeros(N), np.zeros(N)]))  # no significant change
    assert "applied_load" not in feats


def _spikes(at: list[int], size: float) -> np.ndarray:
    x = np.zeros(N)
    x[at] = size
    return x


def test_spikes_on_one_gauge_are_a_fault_spikes_on_two_are_the_structure() -> None:
    at = [150, 300, 450, 610]
    alone = compute_features(_obs([_spikes(at, 5.0), np.zeros(N)]))
    assert alone["fault_signature"].value == 1.0
    assert [e.test for e in alone["fault_signature"].evidence] == ["spikes"]
    assert alone["fault_signature"].evidence[0].ref == "channel:FRC-01[150h/610h]"
    both = compute_features(_obs([_spikes(at, 5.0), _spikes(at, 4.0)]))
    assert both["fault_signature"].value == 0.0


def test_a_noise_burst_on_one_gauge_is_a_fault_on_all_gauges_is_excitation() -> None:
    rng = np.random.default_rng(3)
    burst = np.where(T >= 400, rng.normal(0.0, 0.5, N), 0.0)
    alone = compute_features(_obs([burst, np.zeros(N)]))
    assert [e.test for e in alone["fault_signature"].evidence] == ["noise burst"]
    assert alone["fault_signature"].evidence[0].value == pytest.approx(25.0, rel=0.35)
    shared = np.where(T >= 400, rng.normal(0.0, 0.5, N), 0.0)
    both = compute_features(_obs([burst, shared]))
    assert both["fault_signature"].value == 0.0


def _wet_obs(storms: list[int], onset: int, gain_after: float, seed: int = 5) -> Observations:
    """A wetness sensor whose gain on rain rises from 0.3 to ``gain_after`` at ``onset`` (h)."""
    rng = np.random.default_rng(seed)
    rain = np.zeros(N)
    for s in storms:
        rain[s : s + 6] = 4.0
    wet = np.convolve(rain, np.exp(-np.arange(0, 48) / 6.0))[:N]
    gain = np.where(onset <= T, gain_after, 0.3)
    moist = 20.0 + gain * wet + rng.normal(0.0, 0.3, N)
    ch = ChannelData(key="MST", role=ChannelRole.MOISTURE, times_h=T, values=moist, unit="%")
    return Observations(
        context=ElementContext(element_id="9"), times_h=T, drivers={"rain": rain}, channels=(ch,)
    )


def test_a_dry_first_40_percent_compares_the_first_rain_with_the_last() -> None:
    # no rain before hour 300 (the first 40 % is 288 h), storms before and after the onset
    feats = compute_features(_wet_obs([320, 380, 520, 600, 660], onset=450, gain_after=5.0))
    f = feats["moisture_rain_gain"]
    assert f.value is not None and f.value > 0.9
    assert f.evidence[0].phrase is not None
    before = dict(f.evidence[0].phrase.params)["before"]
    assert before == pytest.approx(0.3, abs=0.15)  # the first storms' gain


def test_no_rain_before_the_onset_is_still_no_evidence() -> None:
    # every storm after the onset: there is no earlier gain to compare with
    feats = compute_features(_wet_obs([500, 560, 620, 680], onset=450, gain_after=5.0))
    assert "moisture_rain_gain" not in feats
    # and an unchanged gain with a dry start is no evidence either
    feats = compute_features(_wet_obs([320, 380, 520, 600, 660], onset=N, gain_after=0.3))
    assert "moisture_rain_gain" not in feats


def test_a_load_on_at_the_end_after_a_load_test_is_a_load_not_a_sensor_fault(
    lib: MechanismLibrary,
) -> None:
    # a load test in the first 30 % (20 and 40 kN placed and removed), then 12 kN placed at
    # hour 600 and still on; the girder strain follows only the last one (another load path).
    # The early steps inflate the reactions' noise level over the record (z of the present
    # change under Z_CHANGE), but against their short-term noise they step at the strain's change
    test = _box(60, 100, 20.0) + _box(110, 210, 40.0)
    last = _box(600, N, 12.0)
    obs = _obs([0.55 * (test + last), 0.45 * (test + last)], strain=0.5 * last)
    changes = {c.key: _change(c, obs) for c in obs.channels}
    assert max(abs(changes[k].z) for k in ("FRC-01", "FRC-02")) < Z_CHANGE
    assert abs(changes["FRC-01"].delta) / changes["FRC-01"].step_noise > 100.0
    feats = compute_features(obs)
    assert feats["applied_load"].value == 1.0
    assert infer_causes(obs, lib).top.mechanism == "applied_load"  # no hazard (was sensor fault)
