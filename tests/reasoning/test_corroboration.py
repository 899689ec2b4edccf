"""Sensor fault against a slow structural change. The absence of a co-located confirmation,
weighed by the chance that it would have shown:
a slow structural change just significant on its most sensitive gauge is not a sensor fault;
a change no other gauge shows once they would have is. Generated data of known truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from infrasight.reasoning.causes import ElementContext, Observations, infer_causes, load_mechanisms
from infrasight.reasoning.causes.features import (
    MIN_SHARE,
    Z_CONFIRM,
    Z_FOLLOW,
    _change,
    _follows,
    _unconfirmed,
    compute_features,
)
from infrasight.reasoning.causes.library import MechanismLibrary
from infrasight.reasoning.causes.types import ChannelData, ChannelRole

N = 720  # hourly samples, 30 days
T = np.arange(N, dtype=np.float64)
SD = 0.004  # gauge noise (mm)


@pytest.fixture(scope="module")
def lib() -> MechanismLibrary:
    return load_mechanisms()


def _obs(a: np.ndarray, b: np.ndarray, seed: int = 3) -> Observations:
    """Two crack gauges (mm) of one element: white noise of ``SD`` plus the given changes."""
    rng = np.random.default_rng(seed)
    chans = tuple(
        ChannelData(
            key=key,
            role=ChannelRole.RESPONSE,
            times_h=T,
            values=0.2 + x + rng.normal(0.0, SD, N),
            unit="mm",
        )
        for key, x in (("CRK-1", a), ("CRK-2", b))
    )
    return Observations(context=ElementContext(element_id="G2"), times_h=T, channels=chans)


def _ramp(start: int, size: float) -> np.ndarray:
    """A change growing linearly from sample ``start`` to ``size`` (mm) at the end."""
    return np.clip((T - start) / (N - 1 - start), 0.0, None) * size


def test_the_weight_of_a_missing_confirmation_follows_its_power() -> None:
    # 0.5 (P(confirmation) unknown) times the chance a gauge seeing MIN_SHARE would NOT confirm
    for z, want in ((5.0, 0.5 * norm.cdf(0.5)), (10.0, 0.5 * norm.cdf(-2.0)), (-6.0, 0.25)):
        assert _unconfirmed(z) == pytest.approx(want, abs=1e-9)
    assert MIN_SHARE * 6.0 == Z_CONFIRM  # at 6 sigmas such a gauge confirms half the time
    assert _unconfirmed(30.0) < 1e-6


def test_a_slow_change_its_neighbour_follows_below_z_confirm_is_corroborated(
    lib: MechanismLibrary,
) -> None:
    # an expansion growing over the last 40 % of the record: about 5.5 noise sigmas on CRK-1 in
    # the last 15 %, and 0.45 of it (2.4 sigmas, under Z_CONFIRM) on CRK-2 in the same course
    size = 6.5 * SD
    obs = _obs(_ramp(430, size), _ramp(430, 0.45 * size))
    changes = {c.key: _change(c, obs) for c in obs.channels}
    assert 5.0 < changes["CRK-1"].z < 6.0
    assert Z_FOLLOW < changes["CRK-2"].z < Z_CONFIRM
    assert _follows(changes["CRK-1"], changes["CRK-2"])
    feats = compute_features(obs)
    assert feats["corroboration"].value == 1.0
    assert any("CRK-2" in e.ref for e in feats["corroboration"].evidence)
    assert feats["fault_signature"].value == 0.0
    assert infer_causes(obs, lib).top.mechanism != "sensor_fault"
    # the same change on CRK-1 with a flat neighbour: not followed, only the weak absence
    lone = _obs(_ramp(430, size), np.zeros(N))
    flat = {c.key: _change(c, lone) for c in lone.channels}
    assert not _follows(flat["CRK-1"], flat["CRK-2"])
    corr = compute_features(lone)["corroboration"].value
    assert corr is not None and corr == pytest.approx(_unconfirmed(flat["CRK-1"].z))
    assert 0.25 < corr < 0.45  # not yet the evidence of a fault that it was (0.0)


def test_a_lone_step_no_other_gauge_shows_is_a_sensor_fault(lib: MechanismLibrary) -> None:
    step = np.where(T >= 400, 12.0 * SD, 0.0)  # 12 sigmas, at hour 400, on CRK-1 only
    obs = _obs(step, np.zeros(N))
    feats = compute_features(obs)
    corr = feats["corroboration"].value
    assert corr is not None and corr < 0.05
    assert infer_causes(obs, lib).top.mechanism == "sensor_fault"


def test_a_lone_drift_becomes_a_sensor_fault_once_a_neighbour_would_have_seen_it(
    lib: MechanismLibrary,
) -> None:
    drift = _ramp(300, 15.0 * SD)  # a gauge drifting 15 sigmas, its neighbour flat
    obs = _obs(drift, np.zeros(N))
    assert infer_causes(obs, lib).top.mechanism == "sensor_fault"
    both = _obs(drift, _ramp(300, 0.6 * 15.0 * SD))  # the same course on both: structural
    assert infer_causes(both, lib).top.mechanism not in ("sensor_fault", "thermal")
