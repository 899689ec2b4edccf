"""work-order and alarm events: the system's note as a message key and parameters (rendered
per locale); work orders: the title the system composed, likewise

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-30 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("work_order_events", "alarm_events")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("message", sa.JSON(), nullable=True))
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("title_message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("title_message")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("message")
