"""Instrumented-element scenarios with known cause, for root-cause evaluation.

One element (a girder over a pier) carries two crack/strain gauges, a settlement gauge at its
support, a wetness sensor, an accelerometer (hourly peak) and a daily identified frequency. The
drivers are realistic: seasonal and daily temperature with weather noise, rain storms, a river
level that follows the rain, and traffic with daily and weekly patterns, heavy vehicles and rare
overload peaks. The cause (one mechanism, or thermal only, or a sensor fault as decoys) leaves
its signature from its onset; defects and the element's context are drawn to match the cause
most of the time, and are ambiguous or missing otherwise. The context never contradicts the
cause: shrinkage, which starts on the record's first day, is on an element at most 3 years
old.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from infrasight.reasoning.causes.types import (
    ChannelData,
    ChannelRole,
    DefectEvidence,
    ElementContext,
    FloatArray,
    Observations,
)

__all__ = ["MECHANISMS", "Scenario", "ScenarioTruth", "generate_scenario", "generate_suite"]

MECHANISMS = (
    "thermal",
    "shrinkage",
    "flexural_overload",
    "shear",
    "settlement",
    "corrosion",
    "asr",
    "freeze_thaw",
    "water_ingress",
    "fatigue",
    "impact",
    "sensor_fault",
)
_FAULTS = ("drift", "step", "spikes", "stuck", "noise")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioTruth:
    """What really happened.

    Attributes
    ----------
    mechanism : str
        One of :data:`MECHANISMS`.
    onset_h : float or None
        When the cause started (hours from the origin); None for thermal only.
    damage : bool
        Whether the structure was damaged.
    fault : str
        For sensor faults: drift, step, spikes, stuck or noise; else empty.
    faulty_channel : str
    """

    mechanism: str
    onset_h: float | None
    damage: bool
    fault: str = ""
    faulty_channel: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A generated element with its observations and the truth behind them."""

    seed: int
    truth: ScenarioTruth
    observations: Observations


def _drivers(rng: np.random.Generator, t: FloatArray, cold: bool) -> dict[str, FloatArray]:
    n = t.size
    days = t / 24.0
    doy0 = rng.uniform(0, 365)
    mean = rng.uniform(-1.0, 3.0) if cold else rng.uniform(5.0, 22.0)
    seasonal = 10.0 * np.sin(2 * np.pi * (days + doy0) / 365.0)
    daily_amp = rng.uniform(3.0, 7.0)
    daily = daily_amp * np.sin(2 * np.pi * (t - 9.0) / 24.0)
    weather = np.cumsum(rng.normal(0, 0.35, n))
    weather -= np.convolve(weather, np.ones(240) / 240, mode="same")
    temperature = mean + 0.3 * seasonal + daily + weather
    rain = np.zeros(n)
    n_storms = rng.poisson(n / 24.0 / 5.0)
    for _ in range(n_storms):
        start = rng.integers(0, n)
        dur = rng.integers(2, 24)
        rain[start : start + dur] += rng.exponential(2.0)
    kernel = np.exp(-np.arange(0, 24 * 10) / 72.0)
    water = 1.0 + 0.08 * np.convolve(rain, kernel)[:n] + rng.normal(0, 0.01, n)
    hour = t % 24
    weekday = (days.astype(int) % 7) < 5
    pattern = 0.3 + np.exp(-((hour - 8) ** 2) / 4) + 0.8 * np.exp(-((hour - 17) ** 2) / 6)
    traffic = 400.0 * pattern * np.where(weekday, 1.0, 0.55) * rng.lognormal(0, 0.15, n)
    heavy = rng.random(n) < 0.03
    traffic[heavy] *= rng.uniform(1.2, 1.6, heavy.sum())
    return {"temperature": temperature, "rain": rain, "water_level": water, "traffic": traffic}


def _ar_noise(rng: np.random.Generator, n: int, sd: float, phi: float = 0.6) -> FloatArray:
    e = rng.normal(0, sd * np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    out[0] = e[0] / np.sqrt(1 - phi**2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _defect(
    i: int, kind: str, orientation: str = "", position: str = "", width: float | None = None
) -> DefectEvidence:
    return DefectEvidence(
        defect_id=str(i),
        kind=kind,
        orientation=orientation,
        position=position,
        width_mm=width,
        region=f"capture:{i}#bbox={10 * i},{20 * i},120,16",
    )


_TYPICAL: dict[str, Callable[[np.random.Generator], list[DefectEvidence]]] = {
    "thermal": lambda r: [
        _defect(1, "crack", "transverse", "midspan_soffit", round(r.uniform(0.05, 0.15), 2))
    ],
    "shrinkage": lambda r: [
        _defect(
            1,
            "crack",
            str(r.choice(["map", "transverse"])),
            "surface",
            round(r.uniform(0.05, 0.2), 2),
        )
    ],
    "flexural_overload": lambda r: [
        _defect(1, "crack", "transverse", "midspan_soffit", round(r.uniform(0.3, 1.2), 2))
    ],
    "shear": lambda r: [
        _defect(1, "crack", "diagonal", "near_support", round(r.uniform(0.3, 1.5), 2))
    ],
    "settlement": lambda r: [
        _defect(
            1,
            "crack",
            str(r.choice(["vertical", "diagonal"])),
            "pier",
            round(r.uniform(0.2, 1.0), 2),
        )
    ],
    "corrosion": lambda r: [
        _defect(1, "crack", "longitudinal", "along_bar", round(r.uniform(0.2, 0.8), 2)),
        _defect(2, "rust_staining", position="along_bar"),
    ],
    "asr": lambda r: [_defect(1, "crack", "map", "surface", round(r.uniform(0.1, 0.6), 2))],
    "freeze_thaw": lambda r: [_defect(1, "scaling", position="surface")],
    "water_ingress": lambda r: [
        _defect(1, str(r.choice(["leakage", "efflorescence"])), position="joint")
    ],
    "fatigue": lambda r: [
        _defect(1, "crack", "transverse", "weld_toe", round(r.uniform(0.05, 0.3), 2))
    ],
    "impact": lambda r: [_defect(1, "spall", position="edge")],
    "sensor_fault": lambda r: [
        _defect(1, "crack", "transverse", "midspan_soffit", round(r.uniform(0.05, 0.15), 2))
    ],
}


def _context(rng: np.random.Generator, mech: str, typical: bool) -> ElementContext:
    material = "steel" if mech == "fatigue" and typical else str(rng.choice(["rc", "psc", "rc"]))
    if mech == "shrinkage":
        # drying shrinkage from the record's first day is young concrete's (ACI 224R-01 ch. 3):
        # the atypical element is older than usual, never decades old
        age = float(rng.uniform(0.1, 1.0) if typical else rng.uniform(1.0, 3.0))
    elif mech == "asr" and typical:
        age = float(rng.uniform(10, 40))
    else:
        age = float(rng.uniform(3, 50))
    exposure = set()
    if (mech == "corrosion" and typical) or rng.random() < 0.2:
        exposure.add("chloride")
    if mech == "freeze_thaw" or rng.random() < 0.15:
        exposure.add("freeze_thaw")
    return ElementContext(
        element_id="G2", material=material, age_years=age, exposure=frozenset(exposure)
    )


def _signature(
    mech: str, rng: np.random.Generator, t: FloatArray, onset: float, drv: dict[str, FloatArray]
) -> tuple[FloatArray, float, FloatArray, FloatArray, FloatArray]:
    """The cause's signature from ``onset``: damage signal on the gauges (mm), relative drop of
    the frequency, settlement (mm), gain of the wetness sensor on rain, acceleration impulses
    (g). May raise one traffic sample to an overload peak (in ``drv``)."""
    n = t.size
    after = np.clip(t - onset, 0.0, None)
    on = (t >= onset).astype(float)
    sig = np.zeros(n)
    settle = np.zeros(n)
    moist_gain = np.zeros(n)
    acc = np.zeros(n)
    fdrop = 0.0
    if mech == "shrinkage":
        tau = rng.uniform(15, 40) * 24
        sig = rng.uniform(0.04, 0.12) * (1 - np.exp(-after / tau))
    elif mech in ("flexural_overload", "shear"):
        k = int(np.searchsorted(t, onset))
        drv["traffic"][k] = float(np.quantile(drv["traffic"], 0.999)) * rng.uniform(2.0, 3.0)
        sig = rng.uniform(0.05, 0.2) * on
        fdrop = rng.uniform(0.01, 0.04) if mech == "flexural_overload" else rng.uniform(0.02, 0.05)
        acc[k] = rng.uniform(1.3, 1.8)
    elif mech == "settlement":
        ramp = rng.uniform(6, 72)
        amp = rng.uniform(3.0, 12.0)
        settle = amp * np.clip(after / ramp, 0, 1)
        sig = amp * rng.uniform(0.01, 0.03) * np.clip(after / ramp, 0, 1)
        fdrop = rng.uniform(0.0, 0.01)
    elif mech in ("corrosion", "asr"):
        wet = np.convolve(drv["rain"], np.exp(-np.arange(0, 96) / 36.0))[:n]
        wet = wet / (wet.mean() + 1e-9)
        rate = rng.uniform(0.05, 0.15) / (t[-1] - onset)
        accel = 1.0 + (after / (t[-1] - onset)) * (
            rng.uniform(0.5, 1.5) if mech == "corrosion" else 0.2
        )
        share = 0.8 if mech == "corrosion" else 0.5
        sig = np.cumsum(rate * on * accel * ((1 - share) + share * wet))
    elif mech == "freeze_thaw":
        temp = drv["temperature"]
        day = ((t - t[0]) // 24).astype(int)
        ft = np.zeros(n)
        for d in np.unique(day):
            m = day == d
            if temp[m].min() < 0.0 < temp[m].max():
                ft[np.flatnonzero(m)[-1]] = 1.0
        step = rng.uniform(0.004, 0.012)
        sig = np.cumsum(ft * on * step * rng.uniform(0.5, 1.5, n))
    elif mech == "water_ingress":
        moist_gain = on * rng.uniform(3.0, 8.0)
        sig = np.zeros(n)
    elif mech == "fatigue":
        tr = drv["traffic"]
        sig = np.cumsum(on * tr) / np.sum(tr) * rng.uniform(0.08, 0.2) * 2.0
    elif mech == "impact":
        k = int(np.searchsorted(t, onset))
        sig = rng.uniform(0.05, 0.2) * on
        acc[k] = rng.uniform(3.0, 8.0)
        fdrop = rng.uniform(0.0, 0.015)
    return sig, fdrop, settle, moist_gain, acc


def generate_scenario(mechanism: str, seed: int, *, days: int = 90) -> Scenario:
    """One element with known cause.

    Parameters
    ----------
    mechanism : str
        One of :data:`MECHANISMS`.
    seed : int
        Seed of ``np.random.default_rng``; the scenario is a pure function of both.
    days : int
        Length of the hourly record.

    Returns
    -------
    Scenario
    """
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism: unknown {mechanism!r}; known: {', '.join(MECHANISMS)}")
    rng = np.random.default_rng(seed)
    n = days * 24
    t = np.arange(n, dtype=np.float64)
    cold = mechanism == "freeze_thaw" or rng.random() < 0.1
    drv = _drivers(rng, t, cold)
    onset = float(rng.uniform(0.35, 0.65) * t[-1]) if mechanism not in ("thermal",) else None
    if mechanism == "shrinkage":
        onset = 0.0
    sig, fdrop, settle, moist_gain, acc_imp = _signature(
        mechanism, rng, t, onset if onset is not None else np.inf, drv
    )
    temp = drv["temperature"]
    traffic = drv["traffic"]
    lag = rng.uniform(0, 6)
    t_lag = np.interp(t - lag, t, temp)
    # gauges (crack opening, mm): thermal + traffic response + damage + noise
    k1, k2 = rng.uniform(0.004, 0.012), rng.uniform(0.003, 0.010)
    l1, l2 = rng.uniform(5e-5, 2e-4), rng.uniform(5e-5, 2e-4)
    s2 = rng.uniform(0.5, 1.2)
    noise_sd = rng.uniform(0.002, 0.006)
    g1 = 0.2 + k1 * t_lag + l1 * traffic + sig + _ar_noise(rng, n, noise_sd)
    g2 = 0.3 + k2 * t_lag + l2 * traffic + s2 * sig + _ar_noise(rng, n, noise_sd)
    st = 0.02 * t_lag + settle + _ar_noise(rng, n, 0.1)
    rain_conv = np.convolve(drv["rain"], np.exp(-np.arange(0, 48) / 6.0))[:n]
    moist = 20.0 + 0.3 * rain_conv + moist_gain * rain_conv + _ar_noise(rng, n, 0.8)
    acc = 0.02 + 0.00004 * traffic * rng.lognormal(0, 0.2, n) + acc_imp * 0.05
    days_t = t[::24] + 12.0
    f0 = rng.uniform(2.5, 6.0)
    t_day = np.interp(days_t, t, temp)
    after_day = (days_t >= (onset if onset is not None else np.inf)).astype(float)
    freq = f0 * (1 - 0.002 * (t_day - 10.0)) * (1 - fdrop * after_day) + rng.normal(
        0, 0.002 * f0, days_t.size
    )
    truth_fault = ""
    faulty = ""
    if mechanism == "sensor_fault":
        truth_fault = str(rng.choice(_FAULTS))
        faulty = str(rng.choice(["CRK-1", "CRK-2"]))
        g = g1 if faulty == "CRK-1" else g2
        k = int(np.searchsorted(t, float(onset if onset is not None else 0.0)))
        if truth_fault == "drift":
            g[k:] += rng.uniform(0.03, 0.15) * (t[k:] - t[k]) / (t[-1] - t[k])
        elif truth_fault == "step":
            g[k:] += rng.choice([-1, 1]) * rng.uniform(0.05, 0.2)
        elif truth_fault == "spikes":
            idx = rng.choice(np.arange(k, n), size=int(rng.integers(5, 30)), replace=False)
            g[idx] += rng.choice([-1, 1], idx.size) * rng.uniform(0.3, 1.0, idx.size)
        elif truth_fault == "stuck":
            g[k : k + int(rng.integers(48, 400))] = g[k]
        else:
            g[k:] += _ar_noise(rng, n - k, noise_sd * rng.uniform(5, 10), phi=0.1)
    typical = rng.random() < 0.8
    mech_for_defects = mechanism if typical else str(rng.choice(MECHANISMS))
    defects = tuple(_TYPICAL[mech_for_defects](rng)) if rng.random() < 0.9 else ()
    context = _context(rng, mechanism, rng.random() < 0.8)
    channels = (
        ChannelData(key="CRK-1", role=ChannelRole.RESPONSE, times_h=t, values=g1, unit="mm"),
        ChannelData(key="CRK-2", role=ChannelRole.RESPONSE, times_h=t, values=g2, unit="mm"),
        ChannelData(key="SET-P2", role=ChannelRole.SETTLEMENT, times_h=t, values=st, unit="mm"),
        ChannelData(key="WET-1", role=ChannelRole.MOISTURE, times_h=t, values=moist, unit="%"),
        ChannelData(key="ACC-1", role=ChannelRole.ACCELERATION, times_h=t, values=acc, unit="g"),
        ChannelData(key="F1", role=ChannelRole.FREQUENCY, times_h=days_t, values=freq, unit="Hz"),
    )
    obs = Observations(context=context, times_h=t, drivers=drv, channels=channels, defects=defects)
    truth = ScenarioTruth(
        mechanism=mechanism,
        onset_h=onset,
        damage=mechanism not in ("thermal", "sensor_fault"),
        fault=truth_fault,
        faulty_channel=faulty,
    )
    return Scenario(seed=seed, truth=truth, observations=obs)


def generate_suite(n: int, first_seed: int, *, days: int = 90) -> list[Scenario]:
    """``n`` scenarios cycling through :data:`MECHANISMS`, seeds ``first_seed ...``."""
    return [
        generate_scenario(MECHANISMS[i % len(MECHANISMS)], first_seed + i, days=days)
        for i in range(n)
    ]
