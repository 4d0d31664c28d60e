"""Analyst workspace: imports of a wave, their rows, exclusions, analysis jobs and files.

Revision ID: 0003_workspace
Revises: 0002_accounts
Create Date: 2026-12-01

Self-contained on purpose: plain SQLAlchemy types only (no imports from the models).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_workspace"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
KEY = sa.String(40).with_variant(sa.String(40, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "wave_import",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("mapping_name", sa.String(length=255), nullable=True),
        sa.Column("mapping", sa.LargeBinary(), nullable=True),
        sa.Column("rows_in", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed')", name=op.f("ck_wave_import_status")
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_wave_import_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wave_import")),
    )
    op.create_index("ix_wave_import_wave_id", "wave_import", ["wave_id"], unique=False)
    op.create_index("ix_wave_import_sha256", "wave_import", ["sha256"], unique=False)
    op.create_table(
        "wave_row",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("kommune_key", KEY, nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["wave_import.id"],
            name=op.f("fk_wave_row_import_id_wave_import"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_wave_row_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wave_row")),
    )
    op.create_index("ix_wave_row_wave_id", "wave_row", ["wave_id"], unique=False)
    op.create_index("ix_wave_row_kommune_key", "wave_row", ["kommune_key"], unique=False)
    op.create_table(
        "wave_exclusion",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_wave_exclusion_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["wave.id"],
            name=op.f("fk_wave_exclusion_wave_id_wave"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("wave_id", "submission_id", name=op.f("pk_wave_exclusion")),
    )
    op.create_table(
        "analysis_job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("lang", sa.String(length=5), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=80), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("claim", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("input_keys", JSON, nullable=True),
        sa.Column("summary", JSON, nullable=True),
        sa.Column("needs_rerun", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_analysis_job_status"),
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_analysis_job_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_job")),
    )
    op.create_index("ix_analysis_job_status", "analysis_job", ["status"], unique=False)
    op.create_index("ix_analysis_job_wave_id", "analysis_job", ["wave_id"], unique=False)
    op.create_table(
        "analysis_file",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["analysis_job.id"],
            name=op.f("fk_analysis_file_job_id_analysis_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "name", name=op.f("pk_analysis_file")),
    )


def downgrade() -> None:
    op.drop_table("analysis_file")
    op.drop_index("ix_analysis_job_wave_id", table_name="analysis_job")
    op.drop_index("ix_analysis_job_status", table_name="analysis_job")
    op.drop_table("analysis_job")
    op.drop_table("wave_exclusion")
    op.drop_index("ix_wave_row_kommune_key", table_name="wave_row")
    op.drop_index("ix_wave_row_wave_id", table_name="wave_row")
    op.drop_table("wave_row")
    op.drop_index("ix_wave_import_sha256", table_name="wave_import")
    op.drop_index("ix_wave_import_wave_id", table_name="wave_import")
    op.drop_table("wave_import")
