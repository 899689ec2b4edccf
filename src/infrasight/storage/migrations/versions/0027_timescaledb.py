"""readings as a TimescaleDB hypertable with continuous aggregates, when the server has it

On PostgreSQL whose server has TimescaleDB installed and preloaded, the natively partitioned
``readings`` of migration 0016 becomes a hypertable and the roll-up tables become continuous
aggregates with the same columns (``infrasight.storage.timescale``). Everywhere else (SQLite,
PostgreSQL without TimescaleDB) nothing changes: native partitions and roll-up tables stay.

Revision ID: 0027
Revises: 0021
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0027"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from infrasight.storage.timescale import hypertable_sql, initial_refresh_sql, timescaledb_ready

    if not timescaledb_ready(op.get_bind()):
        return
    for statement in hypertable_sql():
        op.execute(text(statement))
    with op.get_context().autocommit_block():
        for statement in initial_refresh_sql():
            op.execute(text(statement))


def downgrade() -> None:
    from infrasight.storage.timeseries import readings_layout

    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and readings_layout(bind) == "hypertable":
        raise RuntimeError(
            "readings is a TimescaleDB hypertable: downgrading below 0027 is not automatic; "
            "dump the readings (pg_dump --data-only -t readings), drop the database, migrate "
            "to 0021 and load them back"
        )
