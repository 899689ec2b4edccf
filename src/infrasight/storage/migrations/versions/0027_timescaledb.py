"""readings as a TimescaleDB hypertable with continuous aggregates when the server has it;
otherwise roll-up keys that cover the roll-up columns

On PostgreSQL whose server has TimescaleDB installed and preloaded, the natively partitioned
``readings`` of migration 0016 becomes a hypertable and the roll-up tables become continuous
aggregates with the same columns (``infrasight.storage.timescale``). On PostgreSQL without it,
native partitions and roll-up tables stay, and the roll-up tables' primary keys ``(channel_id,
bucket_us)`` also carry the roll-up columns (``INCLUDE``): a channel's year of hourly rows is
then read from about 60 index pages instead of one heap page per row (rows written hour by
hour for every channel lie on different pages). SQLite: nothing changes.

Revision ID: 0027
Revises: 0021
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0027"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from infrasight.storage.timescale import hypertable_sql, initial_refresh_sql, timescaledb_ready

    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not timescaledb_ready(bind):
        _rollup_keys(include=True)
        return
    for statement in hypertable_sql():
        op.execute(text(statement))
    with op.get_context().autocommit_block():
        for statement in initial_refresh_sql():
            op.execute(text(statement))


def _rollup_keys(*, include: bool) -> None:
    from infrasight.storage.timeseries import ROLLUPS

    extra = " INCLUDE (minimum, maximum, total, count)" if include else ""
    for rollup in ROLLUPS:
        op.execute(
            text(
                f"ALTER TABLE {rollup.table} DROP CONSTRAINT pk_{rollup.table}, "
                f"ADD CONSTRAINT pk_{rollup.table} PRIMARY KEY (channel_id, bucket_us){extra}"
            )
        )


def downgrade() -> None:
    from infrasight.storage.timeseries import readings_layout

    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if readings_layout(bind) == "partitioned":
        _rollup_keys(include=False)
    elif readings_layout(bind) == "hypertable":
        raise RuntimeError(
            "readings is a TimescaleDB hypertable: downgrading below 0027 is not automatic; "
            "dump the readings (pg_dump --data-only -t readings), drop the database, migrate "
            "to 0021 and load them back"
        )
