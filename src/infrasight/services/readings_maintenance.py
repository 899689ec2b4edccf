"""Periodic care of the readings store: monthly partitions ahead of time and each
organisation's raw-data retention (PostgreSQL; a no-op on SQLite).

Run by the periodic work: the in-process sweep of ``infrasight serve`` and the Celery
scheduler's ``infrasight.sweep``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.storage.db import Database
from infrasight.storage.models import Organization
from infrasight.storage.timeseries import DAY_US, apply_retention, ensure_partitions

__all__ = ["MONTHS_AHEAD_US", "Maintenance", "maintain_readings", "set_retention"]

MONTHS_AHEAD_US = 92 * DAY_US
"""Partitions are kept this far ahead of now (about three months)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Maintenance:
    """What one maintenance pass did."""

    partitions_created: tuple[str, ...]
    readings_deleted: int


def maintain_readings(database: Database, now_us: int | None = None) -> Maintenance:
    """Create the coming months' partitions and apply every organisation's retention."""
    now = int(time.time() * 1e6) if now_us is None else now_us
    with database.transaction() as session:
        created = ensure_partitions(session, now, now + MONTHS_AHEAD_US)
    with database.transaction() as session:
        deleted = apply_retention(session, now)
    return Maintenance(partitions_created=tuple(created), readings_deleted=deleted)


def set_retention(session: Session, organization: str, days: int | None) -> Organization:
    """Keep raw readings of ``organization`` for ``days`` days (None: for ever).

    Raises
    ------
    InvalidInputError
        When ``days`` is below 1 (field ``days``).
    NotFoundError
        When no organisation has that name.
    """
    if days is not None and days < 1:
        raise InvalidInputError(f"days must be at least 1, not {days}", field="days")
    org = session.scalars(select(Organization).where(Organization.name == organization)).first()
    if org is None:
        raise NotFoundError(f"organisation {organization!r} not found")
    org.raw_retention_days = days
    return org
