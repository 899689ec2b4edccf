"""Synthetic monitoring data with known ground truth, for the demo, tests and docs.

Models a three-span concrete rail viaduct and a metro tunnel section: daily and seasonal air
temperature, a thermally lagged structure temperature, strains and crack openings driven by it,
a slowly developing pier settlement, a faulty strain gauge and rain-driven water ingress.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DEMO_CHANNELS", "ChannelSpec", "DemoSeries", "generate_demo_series"]

STEP_S = 600  # 10-minute readings


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSpec:
    """One demo channel: where it is and what it measures."""

    key: str
    asset: str
    element: str
    quantity: str
    unit: str
    device: str
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSeries:
    """Generated readings and the truth behind them.

    Attributes
    ----------
    times_s
        Reading times, seconds since the Unix epoch, shape ``(n,)``.
    values
        Channel key -> values in the channel's unit, shape ``(n,)``.
    settlement_onset_s
        When the pier-2 settlement starts (epoch seconds).
    faulty_channel
        Key of the gauge with injected faults; ``fault_windows`` lists them as
        ``(kind, start_s, end_s)``.
    """

    times_s: np.ndarray
    values: dict[str, np.ndarray]
    settlement_onset_s: float
    settlement_rate_mm_per_day: float
    faulty_channel: str
    fault_windows: list[tuple[str, float, float]] = field(default_factory=list)


def _c(
    key: str, asset: str, element: str, quantity: str, unit: str, device: str, text: str
) -> ChannelSpec:
    return ChannelSpec(
        key=key,
        asset=asset,
        element=element,
        quantity=quantity,
        unit=unit,
        device=device,
        description=text,
    )


VIADUCT = "Riverside Rail Viaduct"
TUNNEL = "Metro Line 2 Tunnel, Section K"

#: The demo's channels, declared as data.
DEMO_CHANNELS: tuple[ChannelSpec, ...] = (
    _c(
        "VD-S1-STRAIN-01",
        VIADUCT,
        "Span 1 girder",
        "strain",
        "µε",
        "VD-DL-01",
        "Midspan bottom flange",
    ),
    _c(
        "VD-S2-STRAIN-01",
        VIADUCT,
        "Span 2 girder",
        "strain",
        "µε",
        "VD-DL-01",
        "Midspan bottom flange",
    ),
    _c(
        "VD-S2-STRAIN-02",
        VIADUCT,
        "Span 2 girder",
        "strain",
        "µε",
        "VD-DL-01",
        "Midspan web (faulty gauge)",
    ),
    _c(
        "VD-S3-STRAIN-01",
        VIADUCT,
        "Span 3 girder",
        "strain",
        "µε",
        "VD-DL-01",
        "Midspan bottom flange",
    ),
    _c(
        "VD-S2-CRACK-01",
        VIADUCT,
        "Span 2 girder",
        "crack_width",
        "mm",
        "VD-DL-01",
        "Crack meter over flexural crack",
    ),
    _c(
        "VD-P1-CRACK-01",
        VIADUCT,
        "Pier 1",
        "crack_width",
        "mm",
        "VD-DL-01",
        "Crack meter on pier cap",
    ),
    _c(
        "VD-P1-TILT",
        VIADUCT,
        "Pier 1",
        "tilt",
        "mrad",
        "VD-DL-01",
        "Biaxial tiltmeter, longitudinal",
    ),
    _c(
        "VD-P2-TILT",
        VIADUCT,
        "Pier 2",
        "tilt",
        "mrad",
        "VD-DL-01",
        "Biaxial tiltmeter, longitudinal",
    ),
    _c(
        "VD-P1-SETTLE",
        VIADUCT,
        "Pier 1",
        "settlement",
        "mm",
        "VD-DL-01",
        "Hydrostatic levelling cell",
    ),
    _c(
        "VD-P2-SETTLE",
        VIADUCT,
        "Pier 2",
        "settlement",
        "mm",
        "VD-DL-01",
        "Hydrostatic levelling cell",
    ),
    _c(
        "VD-AIR-TEMP",
        VIADUCT,
        "Span 2",
        "temperature",
        "degC",
        "VD-DL-01",
        "Shaded air temperature",
    ),
    _c(
        "VD-DECK-TEMP",
        VIADUCT,
        "Span 2",
        "temperature",
        "degC",
        "VD-DL-01",
        "Embedded deck thermistor",
    ),
    _c("VD-HUMIDITY", VIADUCT, "Span 2", "humidity", "%", "VD-DL-01", "Relative humidity"),
    _c(
        "TN-R101-CONV",
        TUNNEL,
        "Ring 101",
        "convergence",
        "mm",
        "TN-DL-01",
        "Horizontal diameter change",
    ),
    _c(
        "TN-R103-CONV",
        TUNNEL,
        "Ring 103",
        "convergence",
        "mm",
        "TN-DL-01",
        "Horizontal diameter change",
    ),
    _c(
        "TN-R105-CONV",
        TUNNEL,
        "Ring 105",
        "convergence",
        "mm",
        "TN-DL-01",
        "Horizontal diameter change",
    ),
    _c(
        "TN-R103-CRACK-01",
        TUNNEL,
        "Ring 103",
        "crack_width",
        "mm",
        "TN-DL-01",
        "Crack meter at crown joint",
    ),
    _c("TN-R103-STRAIN", TUNNEL, "Ring 103", "strain", "µε", "TN-DL-01", "Lining hoop strain"),
    _c(
        "TN-WATER-INGRESS",
        TUNNEL,
        "Section K",
        "water_ingress",
        "L/min",
        "TN-DL-01",
        "Drainage sump flow",
    ),
    _c(
        "TN-AIR-TEMP",
        TUNNEL,
        "Section K",
        "temperature",
        "degC",
        "TN-DL-01",
        "Tunnel air temperature",
    ),
    _c("TN-HUMIDITY", TUNNEL, "Section K", "humidity", "%", "TN-DL-01", "Relative humidity"),
)


def _lagged(signal: np.ndarray, tau_steps: float) -> np.ndarray:
    """First-order thermal lag (exponential smoothing with time constant ``tau_steps``)."""
    from scipy.signal import lfilter

    alpha = 1.0 / (1.0 + tau_steps)
    filtered = lfilter([alpha], [1.0, alpha - 1.0], signal - signal[0])
    lagged: np.ndarray = np.asarray(filtered) + signal[0]
    return lagged


#: Day-to-day weather on top of the seasonal and daily cycles: a mean-reverting (AR(1)) anomaly
#: of this standard deviation (degC) and correlation time (days). A random walk, as before, wandered
#: by up to 9 degC over the default 90 days and brought frost into the demo from late December.
WEATHER_STD_C = 2.0
WEATHER_CORRELATION_DAYS = 3.0


def _weather(innovations: np.ndarray) -> np.ndarray:
    """Stationary AR(1) weather anomaly (degC) from unit normal innovations, one per step."""
    from scipy.signal import lfilter

    phi = 1.0 - STEP_S / (WEATHER_CORRELATION_DAYS * 86_400.0)
    gain = WEATHER_STD_C * np.sqrt(1.0 - phi**2)
    # start in the stationary distribution, so the first days are as variable as the rest
    start = np.array([phi * WEATHER_STD_C * innovations[0]])
    anomaly, _ = lfilter([gain], [1.0, -phi], innovations[1:], zi=start)
    return np.concatenate([[WEATHER_STD_C * innovations[0]], anomaly])


def generate_demo_series(*, end_s: float, days: int, seed: int) -> DemoSeries:
    """Generate ``days`` of 10-minute readings ending at ``end_s`` (epoch seconds).

    Returns
    -------
    DemoSeries
        Values for every channel of :data:`DEMO_CHANNELS` plus the injected truth.
    """
    rng = np.random.default_rng(seed)
    n = days * 86_400 // STEP_S
    end_s = float(end_s // STEP_S * STEP_S)
    times = end_s - STEP_S * np.arange(n)[::-1]
    day = times / 86_400.0
    doy = (day % 365.25) / 365.25
    hour = (times % 86_400) / 3600.0
    # a mild coastal climate (seasonal air 14-26 degC, no frost in any month): the demo's
    # girder crack must read as shrinkage in every season (with frost, freeze-thaw ranks first
    # in winter, and the seeded closed loop follows the shrinkage hazard)
    seasonal = 20.0 - 6.0 * np.cos(2 * np.pi * (doy - 0.03))
    weather = _weather(rng.normal(0, 1.0, n))
    daily = 5.0 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    air = seasonal + daily + weather + rng.normal(0, 0.25, n)
    deck = _lagged(air, tau_steps=18.0)
    humidity = np.clip(70 - 1.8 * (air - air.mean()) + rng.normal(0, 2.0, n), 20, 100)
    rain_events = rng.random(n) < 0.002
    rain = _lagged(rain_events.astype(float) * 40.0, tau_steps=30.0)

    onset = times[0] + 0.35 * (times[-1] - times[0])
    rate = 0.06  # mm/day at onset, growing
    elapsed_days = np.clip((times - onset) / 86_400.0, 0, None)
    settlement_p2 = rate * elapsed_days * (1 + elapsed_days / 60.0)

    values: dict[str, np.ndarray] = {}

    def noise(sigma: float) -> np.ndarray:
        return rng.normal(0, sigma, n)

    dT = deck - deck.mean()

    def traffic() -> np.ndarray:
        return np.asarray(np.abs(rng.standard_t(3, n)) * 4.0 * (rng.random(n) < 0.3))

    values["VD-S1-STRAIN-01"] = 120 + 9.5 * dT + traffic() + noise(1.5)
    values["VD-S2-STRAIN-01"] = 140 + 10.0 * dT + traffic() + noise(1.5) + 6.0 * settlement_p2
    strain_2 = 95 + 8.0 * dT + traffic() + noise(1.5) + 5.0 * settlement_p2
    values["VD-S3-STRAIN-01"] = 118 + 9.0 * dT + traffic() + noise(1.5)
    values["VD-S2-CRACK-01"] = 0.22 - 0.006 * dT + 0.02 * settlement_p2 + noise(0.002)
    values["VD-P1-CRACK-01"] = 0.14 - 0.003 * dT + noise(0.002)
    values["VD-P1-TILT"] = 0.05 + 0.004 * dT + noise(0.003)
    values["VD-P2-TILT"] = -0.03 + 0.004 * dT + 0.08 * settlement_p2 + noise(0.003)
    values["VD-P1-SETTLE"] = 0.02 * dT + noise(0.05)
    values["VD-P2-SETTLE"] = 0.02 * dT + settlement_p2 + noise(0.05)
    values["VD-AIR-TEMP"] = air
    values["VD-DECK-TEMP"] = deck + noise(0.1)
    values["VD-HUMIDITY"] = humidity

    tunnel_t = 14.0 + 0.15 * (seasonal - seasonal.mean()) + noise(0.1)
    values["TN-R101-CONV"] = -1.2 + 0.05 * (tunnel_t - 14) + noise(0.03)
    values["TN-R103-CONV"] = -2.1 + 0.06 * (tunnel_t - 14) - 0.004 * (day - day[0]) + noise(0.03)
    values["TN-R105-CONV"] = -0.9 + 0.05 * (tunnel_t - 14) + noise(0.03)
    values["TN-R103-CRACK-01"] = 0.31 + 0.004 * rain + noise(0.002)
    values["TN-R103-STRAIN"] = -210 + 2.0 * (tunnel_t - 14) + 0.3 * rain + noise(1.0)
    values["TN-WATER-INGRESS"] = np.clip(0.8 + rain + noise(0.05), 0, None)
    values["TN-AIR-TEMP"] = tunnel_t
    values["TN-HUMIDITY"] = np.clip(85 + 0.1 * rain + noise(1.0), 20, 100)

    # The faulty gauge: spikes, then a drift, then a flat line (a broken wire).
    windows: list[tuple[str, float, float]] = []
    spikes = rng.choice(np.arange(n // 10, n // 3), size=12, replace=False)
    strain_2[spikes] += rng.choice([-1, 1], 12) * rng.uniform(150, 400, 12)
    windows.extend(("spike", times[i], times[i]) for i in sorted(spikes))
    drift_start, drift_end = int(0.55 * n), int(0.8 * n)
    strain_2[drift_start:drift_end] += np.linspace(0, 60, drift_end - drift_start)
    strain_2[drift_end:] += 60
    windows.append(("drift", times[drift_start], times[drift_end - 1]))
    flat_start = int(0.9 * n)
    strain_2[flat_start:] = strain_2[flat_start]
    windows.append(("flat", times[flat_start], times[-1]))
    values["VD-S2-STRAIN-02"] = strain_2

    return DemoSeries(
        times_s=times,
        values={key: np.round(v, 4) for key, v in values.items()},
        settlement_onset_s=float(onset),
        settlement_rate_mm_per_day=rate,
        faulty_channel="VD-S2-STRAIN-02",
        fault_windows=windows,
    )
