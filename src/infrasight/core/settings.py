"""Typed settings, read from ``INFRASIGHT_*`` environment variables and validated at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything configurable; injected into ``create_app`` and the services, never global.

    Attributes
    ----------
    data_dir
        Where the embedded database and the content-addressed blobs live.
    database_url
        SQLAlchemy URL; empty means SQLite (WAL) at ``<data_dir>/infrasight.db``.
    max_batch_readings
        Most readings accepted in one ingest request (more gives HTTP 413).
    max_body_bytes
        Largest request body accepted by ingest and uploads, in bytes.
    max_image_pixels
        Largest image accepted (width x height), a guard against decompression bombs.
    future_tolerance_s
        How far in the future (seconds) a reading's time may lie, for clock skew.
    worker_threads
        Threads of the in-process job worker; 0 runs jobs only on demand and evaluates
        rules inline.
    anomaly_scoring
        Score every channel's readings online into a derived ``<key>.anomaly`` channel.
    mqtt_url
        ``mqtt://[user:password@]host[:port]`` of a broker; when set, ``infrasight serve``
        also runs the MQTT ingest bridge (see docs/field.md). Empty: MQTT off.
    """

    model_config = SettingsConfigDict(env_prefix="INFRASIGHT_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""
    max_batch_readings: int = Field(default=100_000, ge=1)
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=100_000_000, ge=1)
    future_tolerance_s: float = Field(default=300.0, ge=0)
    worker_threads: int = Field(default=2, ge=0)
    anomaly_scoring: bool = True
    mqtt_url: str = ""

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("INFRASIGHT_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: the configured one, else SQLite under ``data_dir``."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'infrasight.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        """Root of the content-addressed blob store."""
        return self.data_dir / "blobs"
