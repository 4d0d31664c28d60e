"""Typ-Check: computed result pages and PDF profiles per submission (``selfcheck_cache``).

Revision ID: 0005_selfcheck_cache
Revises: 0004_workspace_job_messages
Create Date: 2026-12-02

Self-contained on purpose: plain SQLAlchemy types only (no imports from the models).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_selfcheck_cache"
down_revision = "0004_workspace_job_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selfcheck_cache",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("variant", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_selfcheck_cache_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "variant", name=op.f("pk_selfcheck_cache")),
    )


def downgrade() -> None:
    op.drop_table("selfcheck_cache")
