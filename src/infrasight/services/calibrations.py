"""Calibration records a device can carry, validated by kind, and the scale of a capture.

Known kinds (others are stored as given):

``scale``
    :meth:`infrasight.measure.Scale.to_dict` (``mm_per_px``, ``relative_std``, optional plane
    ``homography``), as printed by ``infrasight calibrate scale --json``.
``camera_intrinsics``
    :meth:`infrasight.measure.CameraCalibration.to_dict`, from ``infrasight calibrate camera``.
``marker``
    A marker of known size fixed in the camera's view: ``{"marker_mm": float, "dictionary":
    "DICT_4X4_50", "marker_id": int | null}``. Each capture is then scaled by detecting the
    marker in it (homography to the surface plane, so oblique views stay right).
``displacement_tracking``
    Turns a camera into a displacement sensor: ``{"reference_capture_id": int, "targets":
    [{"roi": [x, y, w, h], "channel_dx": KEY, "channel_dy": KEY}], "reference_regions":
    [[x, y, w, h], ...]}``. Each new capture of the camera is tracked against the reference and
    the target displacements (mm when the camera has a scale, else px) become readings.
``edge_config``
    The configuration a terminal's agent pulls (:class:`infrasight.edge.remote.RemoteConfig`:
    intervals, alarm thresholds per channel, cameras); the newest record is the live version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError
from infrasight.edge.remote import EDGE_CONFIG_KIND, parse_remote_config
from infrasight.measure import (
    CameraCalibration,
    MeasurementInputError,
    Scale,
    calibrate_scale,
    dictionary_from_name,
)
from infrasight.storage.models import Calibration, Capture, Channel

__all__ = ["capture_scale", "latest_calibration", "validate_calibration"]

SCALE = "scale"
MARKER = "marker"
CAMERA_INTRINSICS = "camera_intrinsics"
DISPLACEMENT_TRACKING = "displacement_tracking"


def _roi(value: object, field: str) -> list[int]:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidInputError("must be [x, y, w, h] integers", field=field)
    x, y, w, h = value
    if x < 0 or y < 0 or w < 5 or h < 5:
        raise InvalidInputError("needs x, y >= 0 and w, h >= 5 px", field=field)
    return [x, y, w, h]


def _validate_tracking(
    session: Session, organization_id: int, device_id: int, parameters: dict[str, Any]
) -> None:
    field = "parameters"
    reference_id = parameters.get("reference_capture_id")
    reference = session.get(Capture, reference_id) if isinstance(reference_id, int) else None
    if reference is None or reference.organization_id != organization_id:
        raise InvalidInputError(
            f"reference capture {reference_id!r} not found", field=f"{field}.reference_capture_id"
        )
    if reference.device_id != device_id:
        raise InvalidInputError(
            "the reference capture must come from this camera",
            field=f"{field}.reference_capture_id",
        )
    targets = parameters.get("targets")
    if not isinstance(targets, list) or not targets:
        raise InvalidInputError("at least one target is needed", field=f"{field}.targets")
    keys: list[str] = []
    for index, target in enumerate(targets):
        where = f"{field}.targets[{index}]"
        if not isinstance(target, dict):
            raise InvalidInputError("must be an object", field=where)
        x, y, w, h = _roi(target.get("roi"), f"{where}.roi")
        if x + w > reference.width or y + h > reference.height:
            raise InvalidInputError("leaves the reference image", field=f"{where}.roi")
        for axis in ("channel_dx", "channel_dy"):
            if not isinstance(target.get(axis), str):
                raise InvalidInputError("must name a channel key", field=f"{where}.{axis}")
            keys.append(target[axis])
    for index, region in enumerate(parameters.get("reference_regions", [])):
        _roi(region, f"{field}.reference_regions[{index}]")
    found = {
        key: quantity
        for key, quantity in session.execute(
            select(Channel.key, Channel.quantity).where(
                Channel.organization_id == organization_id, Channel.key.in_(keys)
            )
        )
    }
    for key in keys:
        if key not in found:
            raise InvalidInputError(f"unknown channel {key!r}", field=f"{field}.targets")
        if found[key] != "displacement":
            raise InvalidInputError(
                f"channel {key!r} measures {found[key]}, not displacement", field=f"{field}.targets"
            )


def _validate_marker(parameters: dict[str, Any]) -> None:
    size = parameters.get("marker_mm")
    if isinstance(size, bool) or not isinstance(size, int | float) or not size > 0:
        raise InvalidInputError("must be a positive length in mm", field="parameters.marker_mm")
    name = parameters.get("dictionary", "DICT_4X4_50")
    try:
        dictionary_from_name(str(name))
    except MeasurementInputError as err:
        raise InvalidInputError(str(err), field="parameters.dictionary") from err
    marker_id = parameters.get("marker_id")
    if marker_id is not None and (not isinstance(marker_id, int) or marker_id < 0):
        raise InvalidInputError("must be a marker id >= 0 or null", field="parameters.marker_id")


def validate_calibration(
    session: Session, organization_id: int, device_id: int, kind: str, parameters: dict[str, Any]
) -> None:
    """Raise :class:`InvalidInputError` naming the problem when known-kind parameters are wrong."""
    try:
        if kind == SCALE:
            Scale.from_dict(parameters)
        elif kind == MARKER:
            _validate_marker(parameters)
        elif kind == CAMERA_INTRINSICS:
            CameraCalibration.from_dict(parameters)
        elif kind == DISPLACEMENT_TRACKING:
            _validate_tracking(session, organization_id, device_id, parameters)
        elif kind == EDGE_CONFIG_KIND:
            parse_remote_config(parameters)
    except MeasurementInputError as err:
        raise InvalidInputError(str(err), field="parameters") from err
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, InvalidInputError):
            raise
        raise InvalidInputError(f"malformed {kind} parameters: {err}", field="parameters") from err


def latest_calibration(
    session: Session, device_id: int, kind: str, capture: Capture
) -> Calibration | None:
    """The device's newest calibration of ``kind`` valid at the capture's time."""
    return session.scalars(
        select(Calibration)
        .where(
            Calibration.device_id == device_id,
            Calibration.kind == kind,
            Calibration.valid_from <= capture.time,
        )
        .order_by(Calibration.valid_from.desc(), Calibration.id.desc())
        .limit(1)
    ).one_or_none()


def capture_scale(
    session: Session, capture: Capture, pixels: np.ndarray | None = None
) -> Scale | None:
    """The best scale for a capture, in this order.

    1. The camera's ``marker`` calibration, with the marker detected in ``pixels`` (skipped when
       the marker is not found or partly hidden).
    2. The capture's own ``mm_per_px`` (1 % uncertainty, a user-given scale).
    3. The camera's newest ``scale`` calibration valid at the capture's time.
    """
    if capture.device_id is not None and pixels is not None:
        marker = latest_calibration(session, capture.device_id, MARKER, capture)
        if marker is not None:
            try:
                return calibrate_scale(
                    pixels,
                    marker_mm=float(marker.parameters["marker_mm"]),
                    dictionary=str(marker.parameters.get("dictionary", "DICT_4X4_50")),
                    marker_id=marker.parameters.get("marker_id"),
                ).scale
            except MeasurementInputError:
                pass
    if capture.mm_per_px:
        return Scale.from_mm_per_px(capture.mm_per_px)
    if capture.device_id is None:
        return None
    record = latest_calibration(session, capture.device_id, SCALE, capture)
    return Scale.from_dict(record.parameters) if record is not None else None
