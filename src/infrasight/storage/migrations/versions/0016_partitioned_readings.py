"""readings partitioned by month with hourly/daily roll-ups (PostgreSQL); raw retention

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 06:00:00

On PostgreSQL the plain ``readings`` table becomes a table partitioned by ``RANGE (ts)`` with
one partition per month of the existing data (and the next three months) plus a default
partition; the roll-up tables are created and filled from the existing readings. SQLite keeps
its table as it is. Both get ``organizations.raw_retention_days``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLLUPS = (("readings_hourly", 3_600_000_000), ("readings_daily", 86_400_000_000))
_AHEAD_US = 92 * 86_400_000_000


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("raw_retention_days", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE readings RENAME TO readings_plain")
    op.execute("ALTER TABLE readings_plain RENAME CONSTRAINT pk_readings TO pk_readings_plain")
    op.execute(
        "ALTER TABLE readings_plain RENAME CONSTRAINT fk_readings_channel_id_channels "
        "TO fk_readings_plain_channel_id_channels"
    )
    op.execute(
        "CREATE TABLE readings ("
        "channel_id integer NOT NULL, ts bigint NOT NULL, value double precision NOT NULL, "
        "quality smallint NOT NULL, "
        "CONSTRAINT pk_readings PRIMARY KEY (channel_id, ts), "
        "CONSTRAINT fk_readings_channel_id_channels FOREIGN KEY (channel_id) "
        "REFERENCES channels (id) ON DELETE CASCADE) PARTITION BY RANGE (ts)"
    )
    op.execute("CREATE TABLE readings_default PARTITION OF readings DEFAULT")
    bounds = op.get_bind().execute(sa.text("SELECT MIN(ts), MAX(ts) FROM readings_plain")).one()
    now_us = int(time.time()) * 1_000_000
    lo = min(now_us, bounds[0]) if bounds[0] is not None else now_us
    hi = max(now_us, bounds[1] + 1) if bounds[1] is not None else now_us
    from sqlalchemy.orm import Session

    from infrasight.storage.timeseries import ensure_partitions

    ensure_partitions(Session(bind=op.get_bind()), lo, hi + _AHEAD_US)
    op.execute("INSERT INTO readings SELECT channel_id, ts, value, quality FROM readings_plain")
    op.execute("DROP TABLE readings_plain")
    for table, period in _ROLLUPS:
        op.execute(
            f"CREATE TABLE {table} ("
            "channel_id integer NOT NULL REFERENCES channels (id) ON DELETE CASCADE, "
            "bucket_us bigint NOT NULL, minimum double precision NOT NULL, "
            "maximum double precision NOT NULL, total double precision NOT NULL, "
            f"count bigint NOT NULL, CONSTRAINT pk_{table} PRIMARY KEY (channel_id, bucket_us))"
        )
        op.execute(
            f"INSERT INTO {table} SELECT channel_id, ts - (((ts % {period}) + {period}) % "
            f"{period}), MIN(value), MAX(value), SUM(value), COUNT(*) FROM readings GROUP BY 1, 2"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _period in _ROLLUPS:
            op.execute(f"DROP TABLE {table}")
        op.execute("ALTER TABLE readings RENAME TO readings_partitioned")
        op.execute(
            "ALTER TABLE readings_partitioned RENAME CONSTRAINT pk_readings "
            "TO pk_readings_partitioned"
        )
        op.execute(
            "ALTER TABLE readings_partitioned RENAME CONSTRAINT fk_readings_channel_id_channels "
            "TO fk_readings_partitioned_channel_id_channels"
        )
        op.execute(
            "CREATE TABLE readings ("
            "channel_id integer NOT NULL, ts bigint NOT NULL, value double precision NOT NULL, "
            "quality smallint NOT NULL, "
            "CONSTRAINT pk_readings PRIMARY KEY (channel_id, ts), "
            "CONSTRAINT fk_readings_channel_id_channels FOREIGN KEY (channel_id) "
            "REFERENCES channels (id) ON DELETE CASCADE)"
        )
        op.execute("INSERT INTO readings SELECT * FROM readings_partitioned")
        op.execute("DROP TABLE readings_partitioned")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("raw_retention_days")
