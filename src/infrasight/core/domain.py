"""Domain vocabulary shared by every layer: roles, kinds and the permission table."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Action",
    "AssetKind",
    "DeviceKind",
    "InspectionStatus",
    "JobStatus",
    "Role",
    "role_allows",
]


class Role(StrEnum):
    """What a user may do, from most to least powerful."""

    ADMIN = "admin"
    ENGINEER = "engineer"
    INSPECTOR = "inspector"
    VIEWER = "viewer"
    CREW = "crew"  # field maintenance: only the work orders assigned to them


class AssetKind(StrEnum):
    """Kinds of structure."""

    BRIDGE = "bridge"
    TUNNEL = "tunnel"
    RAIL_LINE = "rail_line"
    STATION = "station"
    OTHER = "other"


class DeviceKind(StrEnum):
    """Kinds of field terminal."""

    CAMERA = "camera"
    ROBOT = "robot"
    DATALOGGER = "datalogger"
    GATEWAY = "gateway"


class InspectionStatus(StrEnum):
    """Life of an inspection."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class JobStatus(StrEnum):
    """Life of a background job."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Action(StrEnum):
    """What a request does, for the permission check."""

    READ = "read"
    FIELD_WORK = "field_work"  # captures, inspections
    CONFIGURE = "configure"  # assets, elements, devices, channels, calibrations, readings, records
    DELETE = "delete"  # removing configured objects
    ADMINISTER = "administer"  # users and tokens


#: Declared as data: the least role that may perform each action.
_LEAST_ROLE: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.FIELD_WORK: Role.INSPECTOR,
    Action.CONFIGURE: Role.ENGINEER,
    Action.DELETE: Role.ADMIN,
    Action.ADMINISTER: Role.ADMIN,
}
_RANK: dict[Role, int] = {
    Role.CREW: -1,  # below viewer: no action anywhere, except on their own work orders
    Role.VIEWER: 0,
    Role.INSPECTOR: 1,
    Role.ENGINEER: 2,
    Role.ADMIN: 3,
}


def role_allows(role: Role, action: Action) -> bool:
    """Whether ``role`` may perform ``action``."""
    return _RANK[role] >= _RANK[_LEAST_ROLE[action]]
