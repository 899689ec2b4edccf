"""hazard evidence: the test label as a message key and parameters (rendered per locale)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hazard_evidence") as batch:
        batch.add_column(sa.Column("test_message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hazard_evidence") as batch:
        batch.drop_column("test_message")
