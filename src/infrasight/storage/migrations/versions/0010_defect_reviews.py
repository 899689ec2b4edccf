"""defect reviews

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "defect_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("defect_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["defect_id"],
            ["defects.id"],
            name=op.f("fk_defect_reviews_defect_id_defects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_defect_reviews_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_defect_reviews")),
    )
    op.create_index(
        op.f("ix_defect_reviews_defect_id"), "defect_reviews", ["defect_id"], unique=False
    )
    op.create_index(
        op.f("ix_defect_reviews_organization_id"),
        "defect_reviews",
        ["organization_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_defect_reviews_organization_id"), table_name="defect_reviews")
    op.drop_index(op.f("ix_defect_reviews_defect_id"), table_name="defect_reviews")
    op.drop_table("defect_reviews")
