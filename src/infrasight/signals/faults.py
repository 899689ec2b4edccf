"""Sensor-fault classification (IPC-SHM 2020 classes) and routing of anomalies.

:func:`classify_window` labels one window of a channel (e.g. one hour of acceleration) as
``normal``, ``missing``, ``minor`` (flat / far too small), ``outlier`` (spikes), ``square``
(square-wave / saturation steps), ``trend`` (linear run-away) or ``drift`` (slow non-linear
wander), from scale-free features. :func:`route_anomalies` then separates a broken gauge
(maintenance of the device) from a structural change (engineering review): a change seen
coherently on several channels is structural; a fault pattern on one channel is the gauge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from infrasight.signals.errors import NotEnoughDataError
from infrasight.signals.series import as_float_vector

__all__ = [
    "SENSOR_FAULTS",
    "FaultClass",
    "FaultClassification",
    "Routing",
    "classify_window",
    "route_anomalies",
]


class FaultClass(StrEnum):
    """The seven classes of the IPC-SHM 2020 anomaly-detection challenge."""

    NORMAL = "normal"
    MISSING = "missing"
    MINOR = "minor"
    OUTLIER = "outlier"
    SQUARE = "square"
    TREND = "trend"
    DRIFT = "drift"


SENSOR_FAULTS = frozenset(
    {FaultClass.MISSING, FaultClass.MINOR, FaultClass.OUTLIER, FaultClass.SQUARE}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultClassification:
    """Label of one window with the features that decided it.

    Attributes
    ----------
    label : FaultClass
    missing_fraction : float
        Share of NaN samples.
    amplitude_ratio : float
        Robust std of the window / reference std (1.0 without reference).
    spike_fraction : float
        Share of samples beyond 8 robust sigmas.
    bimodality : float
        Kurtosis of the window (about 1.0 for a square wave, 3.0 for Gaussian noise).
    trend_r2 : float
        Share of the low-pass variance explained by a straight line.
    lowpass_share : float
        Share of the variance in the moving average over 1/50 of the window.
    """

    label: FaultClass
    missing_fraction: float
    amplitude_ratio: float
    spike_fraction: float
    bimodality: float
    trend_r2: float
    lowpass_share: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.missing_fraction <= 1.0:
            raise ValueError("missing_fraction must be in [0, 1]")

    @property
    def is_sensor_fault(self) -> bool:
        """True for the classes that mean a faulty gauge whatever the other channels do."""
        return self.label in SENSOR_FAULTS


def classify_window(
    values: ArrayLike, *, reference_std: float | None = None, min_samples: int = 64
) -> FaultClassification:
    """Classify one window of a channel.

    Parameters
    ----------
    values : array_like, shape (n,)
        Samples of the window (any unit; NaN = missing).
    reference_std : float, optional
        Typical standard deviation of this channel in normal operation (same unit); enables the
        ``minor`` class for small-but-not-flat signals. Without it only flat windows are ``minor``.
    min_samples : int
        Fewer finite samples than this (and not mostly missing) raises.

    Returns
    -------
    FaultClassification

    Raises
    ------
    NotEnoughDataError
        Window shorter than ``min_samples``.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _classify(values, reference_std=reference_std, min_samples=min_samples)


def _classify(
    values: ArrayLike, *, reference_std: float | None, min_samples: int
) -> FaultClassification:
    x = as_float_vector(values, name="window")
    if x.size < min_samples:
        raise NotEnoughDataError(f"window: {x.size} samples, at least {min_samples} needed")
    ok = np.isfinite(x)
    miss = 1.0 - float(ok.mean())
    base = {"missing_fraction": miss}
    if miss >= 0.2 or ok.sum() < min_samples:
        return FaultClassification(
            label=FaultClass.MISSING,
            amplitude_ratio=float("nan"),
            spike_fraction=0.0,
            bimodality=float("nan"),
            trend_r2=0.0,
            lowpass_share=0.0,
            **base,
        )
    y = x[ok]
    n = y.size
    med = float(np.median(y))
    mad = 1.4826 * float(np.median(np.abs(y - med)))
    sd = float(np.std(y))
    robust = mad if mad > 0 else sd
    if reference_std is not None and reference_std > 0:
        amp = robust / reference_std
    else:
        amp = 1.0 if robust > 0 else 0.0
    if robust == 0.0 or np.ptp(y) == 0.0 or amp < 0.1:
        return FaultClassification(
            label=FaultClass.MINOR,
            amplitude_ratio=amp,
            spike_fraction=0.0,
            bimodality=float("nan"),
            trend_r2=0.0,
            lowpass_share=0.0,
            **base,
        )
    # low-pass (moving average over 1/20 of the window)
    w = max(n // 50, 3)
    kernel = np.ones(w) / w
    lp = np.convolve(y - med, kernel, mode="valid")
    tt = np.arange(lp.size, dtype=np.float64)
    var = float(np.var(y))
    lp_share = float(np.var(lp)) / var if var > 0 else 0.0
    slope, icpt = np.polyfit(tt, lp, 1)
    lin = slope * tt + icpt
    lp_var = float(np.var(lp))
    trend_r2 = 1.0 - float(np.var(lp - lin)) / lp_var if lp_var > 0 else 0.0
    # spikes: samples far from the median of their 5-sample neighbourhood (smooth drifts and
    # steps leave this residual small)
    loc = np.median(sliding_window_view(np.pad(y, 2, mode="edge"), 5), axis=1)
    e = y - loc
    esd = 1.4826 * float(np.median(np.abs(e - np.median(e))))
    spikes = (np.abs(e) > 8.0 * max(esd, 1e-12 * robust)) & (np.abs(y - med) > 5.0 * robust)
    spike_frac = float(spikes.mean())
    z = (y - y.mean()) / sd if sd > 0 else np.zeros(n)
    kurt = float(np.mean(z**4))
    feats = {
        "amplitude_ratio": amp,
        "spike_fraction": spike_frac,
        "bimodality": kurt,
        "trend_r2": trend_r2,
        "lowpass_share": lp_share,
        **base,
    }
    if 0 < spike_frac < 0.02:
        return FaultClassification(label=FaultClass.OUTLIER, **feats)
    if kurt < 1.6 and lp_share > 0.5 and trend_r2 < 0.5:
        return FaultClassification(label=FaultClass.SQUARE, **feats)
    if lp_share > 0.4 and trend_r2 > 0.8:
        return FaultClassification(label=FaultClass.TREND, **feats)
    if lp_share > 0.4:
        return FaultClassification(label=FaultClass.DRIFT, **feats)
    return FaultClassification(label=FaultClass.NORMAL, **feats)


class Judged(Protocol):
    """Anything that says whether a channel's gauge looks faulty."""

    @property
    def is_sensor_fault(self) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """Where an anomaly goes.

    Attributes
    ----------
    structural : bool
        True when the change is coherent on at least ``min_channels`` channels without a sensor
        fault: page the engineer.
    maintenance : tuple of str
        Channels whose gauge looks faulty: work order for the device.
    reason : str
    """

    structural: bool
    maintenance: tuple[str, ...]
    reason: str


def route_anomalies(
    labels: Mapping[str, Judged],
    changed: Mapping[str, bool],
    *,
    min_channels: int = 2,
) -> Routing:
    """Separate a broken gauge from a structural change.

    Parameters
    ----------
    labels : mapping of channel -> FaultClassification or HealthFinding
        Judgement of the current window of each channel (``is_sensor_fault``).
    changed : mapping of channel -> bool
        Whether the channel's (compensated) behaviour changed (alarm, change point, high score).
    min_channels : int
        Channels that must change together for a structural change.
    """
    maint = tuple(sorted(ch for ch, lab in labels.items() if lab.is_sensor_fault))
    moving = [ch for ch, c in changed.items() if c and ch not in maint]
    if len(moving) >= min_channels:
        return Routing(
            structural=True,
            maintenance=maint,
            reason=f"coherent change on {len(moving)} channels: {', '.join(sorted(moving))}",
        )
    lonely = tuple(sorted(set(maint) | set(moving)))
    if moving:
        return Routing(
            structural=False,
            maintenance=lonely,
            reason=f"change on a single channel ({moving[0]}): check the gauge first",
        )
    if maint:
        return Routing(structural=False, maintenance=maint, reason="sensor fault pattern")
    return Routing(structural=False, maintenance=(), reason="no change")
