"""defect tracks and sightings, work-order verifications and attachments

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{ref_table}"), ondelete=ondelete
    )


def upgrade() -> None:
    t = "defect_tracks"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk(t, "organization_id", "organizations.id"),
        _fk(t, "element_id", "elements.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    for column in ("organization_id", "element_id"):
        op.create_index(op.f(f"ix_{t}_{column}"), t, [column], unique=False)
    t = "defect_sightings"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("defect_id", sa.Integer(), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overlap", sa.Float(), nullable=True),
        sa.Column("registration", sa.JSON(), nullable=False),
        _fk(t, "track_id", "defect_tracks.id", "CASCADE"),
        _fk(t, "capture_id", "captures.id"),
        _fk(t, "defect_id", "defects.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("track_id", "capture_id", name=op.f(f"uq_{t}_track_id")),
    )
    for column in ("track_id", "capture_id", "defect_id"):
        op.create_index(op.f(f"ix_{t}_{column}"), t, [column], unique=False)
    t = "work_order_verifications"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("period_days", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk(t, "work_order_id", "work_orders.id", "CASCADE"),
        _fk(t, "hazard_id", "hazards.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index(op.f(f"ix_{t}_work_order_id"), t, ["work_order_id"], unique=False)
    t = "work_order_attachments"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=400), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk(t, "work_order_id", "work_orders.id", "CASCADE"),
        _fk(t, "blob_sha256", "blobs.sha256"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index(op.f(f"ix_{t}_work_order_id"), t, ["work_order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_work_order_attachments_work_order_id"), "work_order_attachments")
    op.drop_table("work_order_attachments")
    op.drop_index(op.f("ix_work_order_verifications_work_order_id"), "work_order_verifications")
    op.drop_table("work_order_verifications")
    for column in ("defect_id", "capture_id", "track_id"):
        op.drop_index(op.f(f"ix_defect_sightings_{column}"), "defect_sightings")
    op.drop_table("defect_sightings")
    for column in ("element_id", "organization_id"):
        op.drop_index(op.f(f"ix_defect_tracks_{column}"), "defect_tracks")
    op.drop_table("defect_tracks")
