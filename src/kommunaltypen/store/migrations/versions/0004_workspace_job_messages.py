"""Analysis jobs: the failure message in every language (``analysis_job.messages``).

Revision ID: 0004_workspace_job_messages
Revises: 0003_workspace
Create Date: 2026-12-02

Self-contained on purpose: plain SQLAlchemy types only (no imports from the models).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_workspace_job_messages"
down_revision = "0003_workspace"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("analysis_job") as batch:
        batch.add_column(sa.Column("messages", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analysis_job") as batch:
        batch.drop_column("messages")
