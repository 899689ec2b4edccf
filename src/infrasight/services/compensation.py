"""Temperature (or other driver) compensation of a channel, learned on a reference period.

An engineer names a driver channel and a reference period; the response (gain, lag, offset) is
fitted with :func:`infrasight.signals.fit_compensation` on the stored readings. From then on the
channel's online anomaly score is computed on what the driver does not explain, so a hot
afternoon is not an anomaly but a change of the structure's behaviour is.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError
from infrasight.signals import CompensationModel, SignalsError, fit_compensation
from infrasight.storage.models import Channel, ChannelAnalytics, ChannelCompensation
from infrasight.storage.readings import fetch_series

__all__ = ["compensated", "describe", "fit_channel_compensation", "model_from_record"]

DRIVER = "driver"


def model_from_record(record: ChannelCompensation) -> CompensationModel:
    """The stored model."""
    data = dict(record.model)
    return CompensationModel(
        drivers=tuple(data["drivers"]),
        lags_s=tuple(data["lags_s"]),
        coefficients=tuple(data["coefficients"]),
        intercept=float(data["intercept"]),
        residual_scale=float(data["residual_scale"]),
        r2=float(data["r2"]),
        n_reference=int(data["n_reference"]),
    )


def _driver_series(
    session: Session, driver_id: int, start_us: int, end_us: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    stamps, values = fetch_series(session, driver_id, from_us=start_us)
    if end_us is not None:
        keep = stamps <= end_us
        stamps, values = stamps[keep], values[keep]
    return stamps / 1e6, values


def fit_channel_compensation(
    session: Session,
    channel: Channel,
    driver: Channel,
    *,
    start_us: int,
    end_us: int,
    max_lag_s: float,
) -> ChannelCompensation:
    """Fit and store the channel's driver response; the anomaly scorer restarts on residuals."""
    if driver.id == channel.id:
        raise InvalidInputError("a channel cannot compensate itself", field="driver_channel_id")
    if end_us <= start_us:
        raise InvalidInputError(
            "reference_end must be after reference_start", field="reference_end"
        )
    stamps, values = fetch_series(session, channel.id, from_us=start_us)
    keep = stamps <= end_us
    lag_us = round(max_lag_s * 1e6)
    drivers = {DRIVER: _driver_series(session, driver.id, start_us - lag_us, end_us)}
    try:
        model = fit_compensation(
            stamps[keep] / 1e6,
            values[keep],
            drivers,
            reference=(start_us / 1e6, end_us / 1e6),
            max_lag_s=max_lag_s,
        )
    except SignalsError as err:
        raise InvalidInputError(
            f"cannot fit the compensation: {err}", field="reference_start"
        ) from err
    record = session.get(ChannelCompensation, channel.id)
    if record is None:
        record = ChannelCompensation(channel_id=channel.id)
        session.add(record)
    record.driver_channel_id = driver.id
    record.reference_start_us = start_us
    record.reference_end_us = end_us
    record.max_lag_s = max_lag_s
    record.model = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model).items()}
    analytics = session.get(ChannelAnalytics, channel.id)
    if analytics is not None:
        analytics.anomaly_state = {"n_seen": 0, "tail": [], "last_finite": None}
    return record


def compensated(
    session: Session, channel_id: int, stamps: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """What the channel's driver does not explain (the values unchanged without a model).

    Past the driver's last reading its last value is held, so that a driver batch arriving a
    little later than the channel's does not turn readings into gaps.
    """
    record = session.get(ChannelCompensation, channel_id)
    if record is None or not stamps.size:
        return values
    model = model_from_record(record)
    lag_us = round(max(model.lags_s, default=0.0) * 1e6)
    t_driver, v_driver = _driver_series(
        session, record.driver_channel_id, int(stamps[0]) - lag_us - 86_400_000_000
    )
    if t_driver.size < 2:
        return values
    times = stamps / 1e6
    if times[-1] > t_driver[-1]:
        t_driver = np.append(t_driver, times[-1])
        v_driver = np.append(v_driver, v_driver[-1])
    residual: np.ndarray = np.asarray(
        model.residuals(times, values, {DRIVER: (t_driver, v_driver)})
    )
    return residual


def describe(record: ChannelCompensation) -> dict[str, Any]:
    """The model as users read it: gain per driver unit, lag, offset and fit quality."""
    model = model_from_record(record)
    return {
        "driver_channel_id": record.driver_channel_id,
        "gain": model.coefficients[0],
        "lag_s": model.lags_s[0],
        "intercept": model.intercept,
        "residual_scale": model.residual_scale,
        "r2": model.r2,
        "n_reference": model.n_reference,
        "reference_start_us": record.reference_start_us,
        "reference_end_us": record.reference_end_us,
    }
