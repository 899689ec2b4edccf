"""Operational modal analysis of stored vibration records, and each mode tracked over time.

Every acceleration (or velocity, strain, displacement) record long enough is identified with
SSI-COV (:func:`infrasight.signals.ssi_cov`). The first identified record of an asset becomes its
modal reference (an engineer can choose another); the modes of later records are matched to the
reference (frequency and MAC) and each tracked frequency is stored as a reading of channel
``A<asset>-MODE<k>-FREQ`` (Hz) at the record's start time, so alarm rules can watch a frequency
drop like any other reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.events import ReadingBatchStored
from infrasight.core.timeparse import datetime_to_us
from infrasight.services.reading_effects import readings_stored
from infrasight.signals import InputDataError, Mode, NotEnoughDataError, match_modes, ssi_cov
from infrasight.storage.models import Channel, Element, ModalReference, Record
from infrasight.storage.readings import insert_readings

__all__ = ["MIN_MODAL_SAMPLES", "identify_record_modes", "mode_from_dict", "mode_to_dict"]

MODAL_QUANTITIES = frozenset({"acceleration", "velocity", "strain", "displacement"})
MIN_MODAL_SAMPLES = 2048


def mode_to_dict(mode: Mode) -> dict[str, Any]:
    """JSON form keeping the complex shape (needed to match modes by MAC)."""
    out = mode.to_dict()
    out["mode_shape_complex"] = [[float(z.real), float(z.imag)] for z in mode.mode_shape_complex]
    return out


def mode_from_dict(data: dict[str, Any]) -> Mode:
    """Inverse of :func:`mode_to_dict`."""
    shape = np.asarray(data["mode_shape"], dtype=np.float64)
    complex_shape = np.array([complex(re, im) for re, im in data["mode_shape_complex"]])
    damping = data.get("damping_ratio")
    return Mode(
        frequency_hz=float(data["frequency_hz"]),
        damping_ratio=float("nan") if damping is None else float(damping),
        mode_shape=shape,
        mode_shape_complex=complex_shape,
        n_poles=int(data.get("n_poles", 1)),
        mpc=float(data.get("mpc", 1.0)),
    )


def _frequency_channel(session: Session, record: Record, index: int) -> Channel | None:
    key = f"A{record.asset_id}-MODE{index + 1}-FREQ"
    channel = session.scalars(
        select(Channel).where(Channel.organization_id == record.organization_id, Channel.key == key)
    ).one_or_none()
    if channel is not None:
        return channel
    element_id = record.element_id or session.scalar(
        select(Element.id).where(Element.asset_id == record.asset_id).order_by(Element.id).limit(1)
    )
    if element_id is None:
        return None
    channel = Channel(
        organization_id=record.organization_id,
        key=key,
        quantity="frequency",
        unit="Hz",
        element_id=element_id,
        description=f"Tracked natural frequency of mode {index + 1} (SSI-COV)",
    )
    session.add(channel)
    session.flush()
    return channel


def identify_record_modes(
    session: Session, record: Record, data: np.ndarray
) -> tuple[dict[str, Any], ReadingBatchStored | None]:
    """Identify, store the reference if none, track; return a summary and the readings event."""
    if record.quantity not in MODAL_QUANTITIES:
        return {"modal": f"skipped: {record.quantity} records are not vibration data"}, None
    if record.n_samples < MIN_MODAL_SAMPLES:
        return {
            "modal": f"not enough data: {record.n_samples} samples, "
            f"{MIN_MODAL_SAMPLES} needed for modal analysis"
        }, None
    try:
        result = ssi_cov(np.asarray(data, dtype=np.float64), record.sample_rate_hz)
    except (NotEnoughDataError, InputDataError) as err:
        return {"modal": f"not enough data: {err}"}, None
    modes = [mode_to_dict(m) for m in result.modes]
    summary: dict[str, Any] = {"method": result.method, "modes": modes}
    reference = session.get(ModalReference, record.asset_id)
    if reference is None:
        if not modes:
            return summary, None
        reference = ModalReference(asset_id=record.asset_id, record_id=record.id, modes=modes)
        session.add(reference)
        session.flush()
    reference_modes = [mode_from_dict(m) for m in reference.modes]
    if reference_modes and reference_modes[0].mode_shape.size != data.shape[1]:
        summary["tracking"] = "skipped: channel count differs from the reference record"
        return summary, None
    matched = match_modes(reference_modes, result.modes)
    summary["tracked_frequencies_hz"] = [None if m is None else m.frequency_hz for m in matched]
    ts = datetime_to_us(record.start_time)
    rows = []
    for index, mode in enumerate(matched):
        if mode is None:
            continue
        channel = _frequency_channel(session, record, index)
        if channel is not None:
            rows.append((channel.id, ts, mode.frequency_hz))
    if not rows:
        return summary, None
    accepted = insert_readings(session, rows)
    if not accepted:
        return summary, None
    return summary, readings_stored(
        session,
        organization_id=record.organization_id,
        channel_ids=tuple(sorted(r[0] for r in rows)),
        start_us=ts,
        end_us=ts,
        accepted=accepted,
    )
