"""SQLAlchemy 2 ORM models: the storage layout of the domain.

Readings use integer microseconds since the epoch (``ts``) as part of their primary key so that
re-sent data is ignored and downsampling is integer arithmetic in SQL. Every other time is an
aware UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AlarmEventRecord",
    "AlarmRecord",
    "AlarmRule",
    "ApiToken",
    "Asset",
    "AssistantConversation",
    "AssistantMessage",
    "AssistantToolCall",
    "AuditEvent",
    "AuthFailureCount",
    "Base",
    "Blob",
    "Calibration",
    "Capture",
    "CaptureAnalysis",
    "Channel",
    "ChannelAnalytics",
    "ChannelCompensation",
    "Defect",
    "DefectSighting",
    "DefectTrack",
    "Device",
    "DeviceStatus",
    "Element",
    "Inspection",
    "Job",
    "ModalReference",
    "MqttMessage",
    "NotificationDelivery",
    "NotificationEvent",
    "NotificationSubscription",
    "Organization",
    "Reading",
    "Record",
    "SlaEscalation",
    "User",
    "WorkOrderAttachment",
    "WorkOrderVerification",
    "utcnow",
]


def utcnow() -> datetime:
    """Aware UTC now (column default)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention (stable constraint names in migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # raw readings older than this many days are deleted (PostgreSQL: roll-ups are kept)
    raw_retention_days: Mapped[int | None] = mapped_column(default=None)


class User(Base):
    """A person of one organisation; the e-mail is unique within the organisation only."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("organization_id", "email", name="uq_users_organization_id_email"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    #: The user's language (en, zh-Hant, zh-Hans); None: the default (English).
    locale: Mapped[str | None] = mapped_column(String(16), default=None)

    @property
    def has_password(self) -> bool:
        """Whether the user can log in with e-mail and password."""
        return self.password_hash is not None


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    kind: Mapped[str] = mapped_column(String(20), default="api")  # "api" or "session"
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class AuthFailureCount(Base):
    """Failed authentications of one client key (address or e-mail) in the current window."""

    __tablename__ = "auth_failures"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime]
    failures: Mapped[int] = mapped_column(Integer)


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    governing_standard: Mapped[str] = mapped_column(String(200), default="")
    design_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    criticality: Mapped[int] = mapped_column(SmallInteger, default=3)  # 1 minor - 5 critical
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    elements: Mapped[list[Element]] = relationship(back_populates="asset")


class Element(Base):
    __tablename__ = "elements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("elements.id"), default=None)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    material: Mapped[str] = mapped_column(String(60), default="")
    exposure_class: Mapped[str] = mapped_column(String(20), default="")
    axis_deg: Mapped[float] = mapped_column(Float, default=0.0)
    criticality: Mapped[int] = mapped_column(SmallInteger, default=3)  # 1 minor - 5 critical
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    asset: Mapped[Asset] = relationship(back_populates="elements")
    construction_year: Mapped[int | None] = mapped_column(SmallInteger, default=None)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(200), default="")
    serial_number: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    token_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Calibration(Base):
    __tablename__ = "calibrations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(60))
    element_id: Mapped[int] = mapped_column(ForeignKey("elements.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reading(Base):
    """One scalar reading; the (channel, ts) key makes re-sent data a no-op."""

    __tablename__ = "readings"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(SmallInteger, default=0)


class Blob(Base):
    """A content-addressed file under ``<data_dir>/blobs``."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Record(Base):
    """A block of high-rate waveform data stored as one blob (float32/float64 .npy)."""

    __tablename__ = "records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    element_id: Mapped[int | None] = mapped_column(ForeignKey("elements.id"), default=None)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), default=None)
    quantity: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(60))
    start_time: Mapped[datetime]
    sample_rate_hz: Mapped[float] = mapped_column(Float)
    n_samples: Mapped[int] = mapped_column(Integer)
    channel_names: Mapped[list[str]] = mapped_column(JSON)
    dtype: Mapped[str] = mapped_column(String(20))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_records_asset_start", "asset_id", "start_time"),)


class Inspection(Base):
    __tablename__ = "inspections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60), default="visual")
    status: Mapped[str] = mapped_column(String(20), default="planned")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    inspector: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Capture(Base):
    __tablename__ = "captures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    element_id: Mapped[int | None] = mapped_column(ForeignKey("elements.id"), default=None)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), default=None)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), default=None)
    time: Mapped[datetime]
    mm_per_px: Mapped[float | None] = mapped_column(Float, default=None)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bit_depth: Mapped[int] = mapped_column(SmallInteger)
    bands: Mapped[int] = mapped_column(SmallInteger)
    orientation: Mapped[int] = mapped_column(SmallInteger, default=1)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(400), default="")
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaptureAnalysis(Base):
    """One run of a model over a capture; earlier runs are kept when a new model arrives."""

    __tablename__ = "capture_analyses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), index=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mask_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Defect(Base):
    __tablename__ = "defects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), index=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("capture_analyses.id"), index=True)
    element_id: Mapped[int | None] = mapped_column(ForeignKey("elements.id"), default=None)
    kind: Mapped[str] = mapped_column(String(40))
    confidence: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(100))
    geometry: Mapped[dict[str, Any]] = mapped_column(default=dict)
    measurements: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DefectReview(Base):
    """An inspector's verdict on a detected defect; the newest one counts, all are kept."""

    __tablename__ = "defect_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    defect_id: Mapped[int] = mapped_column(ForeignKey("defects.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit of background work with its arguments (JSON) and outcome.

    Also the outbox of effects: a row written with the fact it follows from (e.g. readings to
    score and evaluate), deleted in the transaction that applies it (``jobs/runner.py``).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_name_organization_id", "status", "name", "organization_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    """An immutable record of a change: who, what, when."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AlarmRule(Base):
    """A graded alarm rule (its definition as JSON) and the evaluator's state between batches."""

    __tablename__ = "alarm_rules"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    escalate_after_s: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlarmRecord(Base):
    """The current state of one alarm.

    ``category`` is ``rule`` (a graded rule or its no-data check), ``maintenance`` (a channel whose
    gauge looks faulty: for the device's maintainers) or ``structural`` (a coherent change on
    several channels that no rule covered).
    """

    __tablename__ = "alarms"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarm_rules.id", ondelete="CASCADE"), index=True, default=None
    )
    category: Mapped[str] = mapped_column(String(20), default="rule", index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), default=None)
    key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), index=True)
    level: Mapped[int] = mapped_column(Integer)
    level_name: Mapped[str] = mapped_column(String(60))
    severity: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raised_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def note(self) -> str:
        """What the raiser saw (kept in ``state``; empty for rule alarms)."""
        return str((self.state or {}).get("note", ""))

    @property
    def note_message(self) -> dict[str, Any] | None:
        """``note`` as a phrase's key and parameters (kept in ``state``), or None."""
        found = (self.state or {}).get("note_message")
        return found if isinstance(found, dict) else None


class AlarmEventRecord(Base):
    """One lifecycle transition of an alarm: who or what, when, from which status to which."""

    __tablename__ = "alarm_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    time: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    from_status: Mapped[str | None] = mapped_column(String(20), default=None)
    to_status: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)
    level_name: Mapped[str] = mapped_column(String(60))
    severity: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    #: ``note`` as a message key and parameters when the system wrote it (migration 0030);
    #: None for a person's note and for rows written before
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ChannelAnalytics(Base):
    """Per-channel state of the online analytics (anomaly scorer) between batches."""

    __tablename__ = "channel_analytics"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    anomaly_channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    last_ts: Mapped[int] = mapped_column(BigInteger)
    anomaly_state: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ModalReference(Base):
    """The reference modes of an asset's vibration records, to track each mode over time."""

    __tablename__ = "modal_references"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    modes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelCompensation(Base):
    """How a channel responds to a driver (temperature), learned on a reference period."""

    __tablename__ = "channel_compensations"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    driver_channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    reference_start_us: Mapped[int] = mapped_column(BigInteger)
    reference_end_us: Mapped[int] = mapped_column(BigInteger)
    max_lag_s: Mapped[float] = mapped_column(Float)
    model: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hazard(Base):
    """An at-risk condition of one element by one mechanism (reasoning/hazards)."""

    __tablename__ = "hazards"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    element_id: Mapped[int | None] = mapped_column(ForeignKey("elements.id"), default=None)
    mechanism: Mapped[str] = mapped_column(String(60))
    hazard_kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    likelihood: Mapped[int] = mapped_column(SmallInteger)
    consequence: Mapped[int] = mapped_column(SmallInteger)
    risk: Mapped[int] = mapped_column(SmallInteger, index=True)
    risk_band: Mapped[str] = mapped_column(String(20))
    causes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    prediction: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HazardEvidenceLink(Base):
    """One piece of evidence of a hazard; a ref is held once per hazard (idempotent updates)."""

    __tablename__ = "hazard_evidence"
    __table_args__ = (UniqueConstraint("hazard_id", "ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    ref: Mapped[str] = mapped_column(String(400))
    test: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float | None] = mapped_column(Float, default=None)
    unit: Mapped[str] = mapped_column(String(30), default="")
    #: ``detail`` as a message key and parameters (``core.phrases.Phrase.as_dict``), rendered in
    #: the reader's language; null on rows written before 0028 (``detail`` is shown then).
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: ``test`` as a message key and parameters when it was composed (migration 0031); null
    #: for a fixed label (itself a catalogue key) and on rows written before.
    test_message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HazardTransitionRecord(Base):
    """An applied lifecycle transition of a hazard (the audit trail of its status)."""

    __tablename__ = "hazard_transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(320), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``note`` as a message key and parameters when the system wrote it (migration 0029);
    #: None for a person's note and for rows written before
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ConditionRatingRecord(Base):
    """A rating an inspector recorded for an element under a standard (feeds deterioration)."""

    __tablename__ = "condition_ratings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("elements.id"), index=True)
    standard: Mapped[str] = mapped_column(String(60))
    rating: Mapped[int] = mapped_column(SmallInteger)
    inspected_at: Mapped[datetime]
    inspector: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MqttMessage(Base):
    """An MQTT message already stored: redelivery of the same id is a no-op."""

    __tablename__ = "mqtt_messages"
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeviceStatus(Base):
    """The last heartbeat of a field terminal (queue depth, disk free, clock offset...)."""

    __tablename__ = "device_status"
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    clock_offset_s: Mapped[float | None] = mapped_column(Float, default=None)
    health: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WorkOrder(Base):
    """A repair job for a hazard, with the chosen remediation action (reasoning/work_orders)."""

    __tablename__ = "work_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    action_id: Mapped[str] = mapped_column(String(60))
    action_rank: Mapped[int] = mapped_column(SmallInteger)
    choice_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    urgency_days: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: ``title`` as a message key and parameters when the system composed it (migration 0030);
    #: None for a title a person wrote and for rows written before
    title_message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class WorkOrderEvent(Base):
    """An audited change of a work order: creation, transition or field update."""

    __tablename__ = "work_order_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(20), default="")
    to_status: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``note`` as a message key and parameters when the system wrote it (migration 0030);
    #: None for a person's note and for rows written before
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class WorkOrderComment(Base):
    """A comment on a work order."""

    __tablename__ = "work_order_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Report(Base):
    """A PDF report of an asset and period, rendered by a job into the blob store."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    language: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), default=None)
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    pages: Mapped[int | None] = mapped_column(Integer, default=None)
    missing_glyphs: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class NotificationSubscription(Base):
    """Where an organisation's notifications go: a webhook or an e-mail address, with filters.

    ``secret`` signs webhook requests (HMAC-SHA256); it is never returned after creation. While
    a secret is rotated the previous one keeps signing beside it until ``previous_secret_until``.
    Empty ``event_kinds`` / ``asset_ids`` mean every kind / asset.
    """

    __tablename__ = "notification_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(200), default="")
    previous_secret: Mapped[str] = mapped_column(String(200), default="")
    previous_secret_until: Mapped[datetime | None] = mapped_column(default=None)
    event_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    asset_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    min_severity: Mapped[int] = mapped_column(SmallInteger, default=0)
    language: Mapped[str] = mapped_column(String(10), default="en")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotificationEvent(Base):
    """Something subscribers may hear about (an alarm raised, a work order overdue...)."""

    __tablename__ = "notification_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    severity: Mapped[int] = mapped_column(SmallInteger, default=0)
    asset_id: Mapped[int | None] = mapped_column(Integer, default=None)
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One event to one subscription: pending (with its next attempt), delivered or dead."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        Index("ix_notification_deliveries_status_subscription_id", "status", "subscription_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("notification_events.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaEscalation(Base):
    """One escalation step of one unattended item, recorded once (the sweep is idempotent)."""

    __tablename__ = "sla_escalations"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "subject_type", "subject_id", "rule", "anchor_s", "step"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(60))
    anchor_s: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(60))
    severity: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DefectTrack(Base):
    """One physical defect followed across the captures of its element (measure/defect_tracking)."""

    __tablename__ = "defect_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("elements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="detected")  # or "not_detected"
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DefectSighting(Base):
    """A track in one capture: its matched defect, or ``defect_id`` None (not detected there)."""

    __tablename__ = "defect_sightings"
    __table_args__ = (UniqueConstraint("track_id", "capture_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(
        ForeignKey("defect_tracks.id", ondelete="CASCADE"), index=True
    )
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), index=True)
    defect_id: Mapped[int | None] = mapped_column(
        ForeignKey("defects.id", ondelete="CASCADE"), index=True, default=None
    )
    time: Mapped[datetime]
    overlap: Mapped[float | None] = mapped_column(Float, default=None)
    registration: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WorkOrderVerification(Base):
    """A verification of a work order's repair from the measurements after it."""

    __tablename__ = "work_order_verifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"), default=None)
    method: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(20))  # passed, failed, pending
    period_days: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkOrderAttachment(Base):
    """A repair photo or document of a work order, stored as a blob."""

    __tablename__ = "work_order_attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    filename: Mapped[str] = mapped_column(String(400), default="")
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssistantConversation(Base):
    """A user's conversation with the assistant (infrasight.assistant); seen only by its user."""

    __tablename__ = "assistant_conversations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, default=None)
    actor: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AssistantMessage(Base):
    """A question or an answer (with its citations and the answer check's verdict)."""

    __tablename__ = "assistant_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("assistant_conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssistantToolCall(Base):
    """Audit of one tool the assistant called for a user: arguments and outcome."""

    __tablename__ = "assistant_tool_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("assistant_conversations.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(320))
    tool: Mapped[str] = mapped_column(String(100))
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EdgeCapture(Base):
    """A capture sent by a terminal's agent: its idempotency key makes a resend a no-op."""

    __tablename__ = "edge_captures"
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentText(Base):
    """The extracted text of a stored document (a PDF's pages, a text file), by the blob's
    SHA-256: extracted once for the assistant's document search. A changed document is a new
    blob, hence a new row; a row of an older ``extractor`` is extracted again."""

    __tablename__ = "document_texts"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(100))
    extractor: Mapped[str] = mapped_column(String(60))
    #: ``{"pages": [text of page 1, ...]}`` (one item for a text file).
    text: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extracted_at: Mapped[datetime] = mapped_column(default=utcnow)
