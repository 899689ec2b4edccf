"""A gauge's temperature response with a lag between the tried lags is removed to its noise,
so a late noise burst on it is not hidden by the compensation's residual. Known answers on
generated data."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.reasoning.causes import ElementContext, Observations, infer_causes, load_mechanisms
from infrasight.reasoning.causes.features import _robust_std, compute_features, damage_signal
from infrasight.reasoning.causes.types import ChannelData, ChannelRole
from infrasight.synthetic.scenarios import generate_scenario

N = 45 * 24  # hourly samples
T = np.arange(N, dtype=np.float64)
SD = 0.003  # gauge noise (mm)
K = 0.01  # thermal coefficient (mm/degC)


def _obs(lag_h: float, burst_from: int | None = None, seed: int = 7) -> Observations:
    """Two crack gauges following the air temperature ``lag_h`` hours late, white noise of
    ``SD``; the first one's noise is 8 times larger from ``burst_from``."""
    rng = np.random.default_rng(seed)
    weather = np.cumsum(rng.normal(0.0, 0.35, N))
    temp = 12.0 + 5.0 * np.sin(2 * np.pi * (T - 9.0) / 24.0) + weather - weather.mean()
    lagged = np.interp(T - lag_h, T, temp)
    chans = []
    for i, key in enumerate(("CRK-1", "CRK-2")):
        noise = rng.normal(0.0, SD, N)
        if i == 0 and burst_from is not None:
            noise[burst_from:] *= 8.0
        values = 0.2 + (K if i == 0 else 0.7 * K) * lagged + noise
        chans.append(
            ChannelData(key=key, role=ChannelRole.RESPONSE, times_h=T, values=values, unit="mm")
        )
    return Observations(
        context=ElementContext(element_id="G2"),
        times_h=T,
        drivers={"temperature": temp},
        channels=tuple(chans),
    )


@pytest.mark.parametrize("lag_h", [0.0, 1.0, 2.5, 5.5, 7.5])
def test_a_lag_between_the_tried_ones_leaves_only_the_noise(lag_h: float) -> None:
    obs = _obs(lag_h)
    d = damage_signal(obs.channels[0], obs)
    # the residual's scatter is the gauge's noise (the old 0/2/4/8-h grid left 2-6 times it)
    assert _robust_std(d) == pytest.approx(SD, rel=0.15)


def test_a_late_noise_burst_is_not_hidden_by_the_temperature_residual() -> None:
    # the burst starts at 63 % of the window: diluted in the second half, it must still stand
    # out of the first half's noise, which the compensation leaves at the gauge's own
    feats = compute_features(_obs(1.0, burst_from=int(0.63 * N)))
    tests = [e.test for e in feats["fault_signature"].evidence]
    assert tests == ["noise burst"]
    assert feats["fault_signature"].evidence[0].ref.startswith("channel:CRK-1")


def test_tuning_seed_1263_late_noise_burst_reads_as_a_sensor_fault() -> None:
    sc = generate_scenario("sensor_fault", 1263, days=45)
    assert (sc.truth.fault, sc.truth.faulty_channel) == ("noise", "CRK-1")
    assert sc.truth.onset_h == pytest.approx(676.6, abs=0.1)  # 63 % of the 1080-h window
    inf = infer_causes(sc.observations, load_mechanisms())
    assert inf.top.mechanism == "sensor_fault"
