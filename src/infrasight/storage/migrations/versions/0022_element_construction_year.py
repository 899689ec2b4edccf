"""elements.construction_year: the year an element was built or commissioned (its age for the
cause tests; null when not known)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 12:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elements") as batch:
        batch.add_column(sa.Column("construction_year", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("elements") as batch:
        batch.drop_column("construction_year")
