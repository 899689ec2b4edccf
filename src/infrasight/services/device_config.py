"""The configuration a terminal pulls: the newest ``edge_config`` record of its device.

The version is the record's id: it only grows, so an agent applies a configuration when the
version it is offered differs from the one it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import PermissionDeniedError
from infrasight.edge.remote import EDGE_CONFIG_KIND
from infrasight.services.auth import Principal
from infrasight.storage.models import Calibration

__all__ = ["DeviceConfig", "device_config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConfig:
    """``version`` 0 and an empty ``config``: the server sets nothing for this device."""

    version: int
    config: dict[str, Any]


def device_config(session: Session, caller: Principal) -> DeviceConfig:
    """The calling device's current configuration (device token only)."""
    if caller.device_id is None:
        raise PermissionDeniedError("the device configuration is read with a device token")
    record = session.scalars(
        select(Calibration)
        .where(Calibration.device_id == caller.device_id, Calibration.kind == EDGE_CONFIG_KIND)
        .order_by(Calibration.id.desc())
        .limit(1)
    ).one_or_none()
    if record is None:
        return DeviceConfig(version=0, config={})
    return DeviceConfig(version=record.id, config=dict(record.parameters))
