"""channel compensations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 09:37:50.505863
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_compensations",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("driver_channel_id", sa.Integer(), nullable=False),
        sa.Column("reference_start_us", sa.BigInteger(), nullable=False),
        sa.Column("reference_end_us", sa.BigInteger(), nullable=False),
        sa.Column("max_lag_s", sa.Float(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_compensations_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["driver_channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_compensations_driver_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_compensations")),
    )


def downgrade() -> None:
    op.drop_table("channel_compensations")
