"""alarm categories

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:26:14.379485
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("category", sa.String(length=20), nullable=False, server_default="rule")
        )
        batch_op.add_column(sa.Column("device_id", sa.Integer(), nullable=True))
        batch_op.alter_column("rule_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_alarms_category"), ["category"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alarms_device_id_devices"), "devices", ["device_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alarms_device_id_devices"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alarms_category"))
        batch_op.alter_column("rule_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("device_id")
        batch_op.drop_column("category")
