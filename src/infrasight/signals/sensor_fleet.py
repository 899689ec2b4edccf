"""A generated monitoring fleet with known sensor faults, to measure sensor health.

Each site is one structure with an air and a deck thermometer and five structural gauges (two
strain gauges, a tiltmeter, a crack meter, a levelling cell), read every 10 minutes. Healthy
behaviour: a seasonal and a daily temperature cycle, day-to-day weather (a mean-reverting
anomaly of about 1.5 degC with a 2-day memory), a lagged structure temperature, temperature
response of every gauge, heavy-tailed traffic peaks on the strain gauges in day-time hours and
white noise. One channel of a faulty site gets one IPC-SHM 2020 fault class from a known start
to the end of the record. Fault sizes are multiples of the channel's own short-term variability
``scale`` (std of the healthy record minus its 7-day moving average):

* ``missing`` - each reading lost with probability U(0.3, 0.9) (NaN);
* ``minor`` - gain U(0, 0.1) about the value at the start (0 = stuck);
* ``outlier`` - U(2, 8) spikes a day of +/- U(3, 8) ``scale``;
* ``square`` - an offset of U(1.5, 3) ``scale`` switched on and off, each state lasting
  exponential(12 h), at least 1 h;
* ``trend`` - a straight ramp reaching U(1, 3) ``scale`` after 7 days, going on;
* ``drift`` - a random-walk wander (6-hour moving average) whose largest excursion over the
  first 7 days is U(1, 3) ``scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from infrasight.signals.faults import FaultClass

__all__ = ["FLEET_FAULTS", "FleetChannel", "generate_fleet"]

FloatArray = NDArray[np.float64]
STEP_S = 600.0
DAY_S = 86_400.0

#: The injected classes, in the order faulty sites receive them.
FLEET_FAULTS: tuple[FaultClass, ...] = (
    FaultClass.MISSING,
    FaultClass.MINOR,
    FaultClass.OUTLIER,
    FaultClass.SQUARE,
    FaultClass.TREND,
    FaultClass.DRIFT,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetChannel:
    """One generated channel and its truth.

    Attributes
    ----------
    site, key, quantity : str
    times_s : ndarray, shape (n,)
        Epoch seconds, every 600 s.
    values : ndarray, shape (n,)
        Readings (NaN = lost).
    fault : FaultClass
        ``NORMAL`` for a healthy channel.
    fault_start_s : float or None
        When the fault starts, epoch seconds.
    scale : float
        Short-term variability of the healthy record (the fault size unit).
    """

    site: str
    key: str
    quantity: str
    times_s: FloatArray
    values: FloatArray
    fault: FaultClass
    fault_start_s: float | None
    scale: float


def _lag(x: FloatArray, tau: float) -> FloatArray:
    alpha = 1.0 / (1.0 + tau)
    out: FloatArray = np.asarray(lfilter([alpha], [1.0, alpha - 1.0], x - x[0])) + x[0]
    return out


def _scale(y: FloatArray) -> float:
    w = int(7 * DAY_S / STEP_S)
    kernel = np.ones(w) / w
    smooth = np.convolve(y, kernel, mode="same")
    core = slice(w, y.size - w)
    return float(np.std((y - smooth)[core]))


def _inject(
    kind: FaultClass,
    y: FloatArray,
    t: FloatArray,
    start: int,
    scale: float,
    rng: np.random.Generator,
) -> FloatArray:
    out = y.copy()
    n = y.size - start
    if kind is FaultClass.MISSING:
        lost = rng.random(n) < rng.uniform(0.3, 0.9)
        out[start:][lost] = np.nan
    elif kind is FaultClass.MINOR:
        gain = rng.uniform(0.0, 0.1)
        out[start:] = y[start] + gain * (y[start:] - y[start])
    elif kind is FaultClass.OUTLIER:
        days = n * STEP_S / DAY_S
        count = max(int(rng.poisson(rng.uniform(2, 8) * days)), 2)
        idx = start + rng.choice(n, size=min(count, n), replace=False)
        idx[0] = start  # the fault is seen from its start
        out[idx] += rng.choice([-1.0, 1.0], idx.size) * rng.uniform(3, 8, idx.size) * scale
    elif kind is FaultClass.SQUARE:
        amp = rng.uniform(1.5, 3.0) * scale * rng.choice([-1.0, 1.0])
        on = np.zeros(n, dtype=bool)
        i, state = 0, True
        while i < n:
            length = max(int(rng.exponential(12 * 3600 / STEP_S)), 6)
            on[i : i + length] = state
            i += length
            state = not state
        out[start:] += amp * on
    elif kind is FaultClass.TREND:
        amp = rng.uniform(1.0, 3.0) * scale * rng.choice([-1.0, 1.0])
        out[start:] += amp * (t[start:] - t[start]) / (7 * DAY_S)
    elif kind is FaultClass.DRIFT:
        walk = np.cumsum(rng.normal(0.0, 1.0, n))
        smooth = int(6 * 3600 / STEP_S)  # a slow wander: no sample-to-sample jitter of its own
        walk = np.convolve(walk, np.ones(smooth) / smooth, mode="full")[:n]
        walk -= walk[0]
        week = min(int(7 * DAY_S / STEP_S), n)
        walk *= rng.uniform(1.0, 3.0) * scale / max(float(np.max(np.abs(walk[:week]))), 1e-12)
        out[start:] += walk
    return out


def generate_fleet(
    *,
    seed: int,
    faulty_sites: int = 6,
    healthy_sites: int = 2,
    days: int = 365,
    start_s: float = 1_704_067_200.0,
) -> list[FleetChannel]:
    """Generate sites of 7 channels; faulty site ``i`` has one gauge with ``FLEET_FAULTS[i % 6]``.

    Parameters
    ----------
    seed : int
        Seeds :func:`numpy.random.default_rng`; the same seed gives the same fleet.
    faulty_sites, healthy_sites : int
        Sites with one faulty channel, and sites with none.
    days : int
        Length of every record (at least 60).
    start_s : float
        First reading, epoch seconds (default 2024-01-01).

    Returns
    -------
    list of FleetChannel
        Faults start uniformly between day 30 and ``days - 21``.
    """
    if days < 60:
        raise ValueError("days must be at least 60")
    rng = np.random.default_rng(seed)
    n = int(days * DAY_S / STEP_S)
    t: FloatArray = start_s + STEP_S * np.arange(n, dtype=np.float64)
    hour = (t % DAY_S) / 3600.0
    doy = ((t - start_s) / DAY_S) % 365.25
    out: list[FleetChannel] = []
    for s in range(faulty_sites + healthy_sites):
        site = f"S{s:02d}"
        mean_t = rng.uniform(6.0, 14.0)
        season = mean_t - rng.uniform(6.0, 11.0) * np.cos(
            2 * np.pi * (doy - rng.uniform(0, 40)) / 365.25
        )
        ar = np.exp(-STEP_S / (2 * DAY_S))
        weather = np.asarray(
            lfilter([1.0], [1.0, -ar], rng.normal(0.0, 1.5 * np.sqrt(1 - ar**2), n))
        )
        daily_amp = np.clip(rng.uniform(3.0, 6.0) + 0.8 * weather, 0.5, None)
        air = season + weather + daily_amp * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
        deck = _lag(air, tau=rng.uniform(10.0, 30.0))
        d_t = deck - deck.mean()
        busy = (hour > 6) & (hour < 22)

        def traffic(busy: NDArray[np.bool_] = busy) -> FloatArray:
            p = np.where(busy, 0.35, 0.05)
            peaks = np.abs(rng.standard_t(3, n)) * rng.uniform(2.0, 6.0)
            return np.asarray(peaks * (rng.random(n) < p))

        def noise(sigma: float) -> FloatArray:
            return rng.normal(0.0, sigma, n)

        healthy: dict[str, tuple[str, FloatArray]] = {
            "AIR-TEMP": ("temperature", air + noise(0.2)),
            "DECK-TEMP": ("temperature", deck + noise(0.1)),
            "STRAIN-01": (
                "strain",
                rng.uniform(80, 160) + rng.uniform(6, 12) * d_t + traffic() + noise(1.5),
            ),
            "STRAIN-02": (
                "strain",
                rng.uniform(80, 160) + rng.uniform(6, 12) * d_t + traffic() + noise(1.5),
            ),
            "TILT": ("tilt", rng.uniform(-0.1, 0.1) + 0.004 * d_t + noise(0.003)),
            "CRACK": ("crack_width", rng.uniform(0.1, 0.3) - 0.005 * d_t + noise(0.002)),
            "SETTLE": ("settlement", 0.02 * d_t + noise(0.05)),
        }
        faulty_key = None
        kind = FaultClass.NORMAL
        if s < faulty_sites:
            kind = FLEET_FAULTS[s % len(FLEET_FAULTS)]
            faulty_key = list(healthy)[int(rng.integers(len(healthy)))]
        for key, (quantity, y) in healthy.items():
            scale = _scale(y)
            values = np.round(y, 4)
            start_at: float | None = None
            fault = FaultClass.NORMAL
            if key == faulty_key:
                i0 = int(rng.integers(int(30 * DAY_S / STEP_S), n - int(21 * DAY_S / STEP_S)))
                values = _inject(kind, values, t, i0, scale, rng)
                start_at, fault = float(t[i0]), kind
            out.append(
                FleetChannel(
                    site=site,
                    key=f"{site}-{key}",
                    quantity=quantity,
                    times_s=t,
                    values=values,
                    fault=fault,
                    fault_start_s=start_at,
                    scale=scale,
                )
            )
    return out
