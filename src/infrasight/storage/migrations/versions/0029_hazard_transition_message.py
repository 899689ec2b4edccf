"""hazard transitions: the system's note as a message key and parameters (rendered per locale)

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-30 19:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hazard_transitions") as batch:
        batch.add_column(sa.Column("message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hazard_transitions") as batch:
        batch.drop_column("message")
