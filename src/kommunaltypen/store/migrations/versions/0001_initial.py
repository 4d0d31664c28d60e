"""Initial schema: directory, waves, submissions, published models, audit log, store meta.

Revision ID: 0001
Revises:
Create Date: 2026-12-01

Self-contained on purpose: plain SQLAlchemy types only (no imports from the models, which
will change after this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def key_string(length: int) -> sa.String:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"], unique=False)
    op.create_table(
        "kommune",
        sa.Column("ars", key_string(12), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("search_key", key_string(150), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("kind_code", sa.SmallInteger(), nullable=False),
        sa.Column("land", sa.SmallInteger(), nullable=False),
        sa.Column("land_name", sa.String(length=60), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("kreis_ars", sa.String(length=5), nullable=True),
        sa.Column("kreis_name", sa.String(length=150), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.PrimaryKeyConstraint("ars", name=op.f("pk_kommune")),
    )
    op.create_index("ix_kommune_land_search_key", "kommune", ["land", "search_key"], unique=False)
    op.create_index("ix_kommune_search_key", "kommune", ["search_key"], unique=False)
    op.create_table(
        "kommune_word",
        sa.Column("word", key_string(150), nullable=False),
        sa.Column("ars", key_string(12), nullable=False),
        sa.ForeignKeyConstraint(
            ["ars"],
            ["kommune.ars"],
            name=op.f("fk_kommune_word_ars_kommune"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("word", "ars", name=op.f("pk_kommune_word")),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_store_meta")),
    )
    op.create_table(
        "wave",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("codebook_id", sa.String(length=80), nullable=False),
        sa.Column("codebook_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wave")),
        sa.UniqueConstraint("name", name=op.f("uq_wave_name")),
    )
    op.create_table(
        "published_model",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("wave_id", sa.Integer(), nullable=True),
        sa.Column("typology", JSON, nullable=False),
        sa.Column("data_hash", sa.String(length=128), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["wave.id"],
            name=op.f("fk_published_model_wave_id_wave"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_model")),
        sa.UniqueConstraint("model_id", name=op.f("uq_published_model_model_id")),
    )
    op.create_index(
        "uq_published_model_current",
        "published_model",
        ["is_current"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "submission",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=True),
        sa.Column("kommune_ars", key_string(12), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("size_class", sa.SmallInteger(), nullable=True),
        sa.Column("land", sa.SmallInteger(), nullable=True),
        sa.Column("answers", JSON, nullable=False),
        sa.Column("codebook_id", sa.String(length=80), nullable=False),
        sa.Column("codebook_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("model_id", sa.String(length=80), nullable=True),
        sa.Column("type_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'final')", name=op.f("ck_submission_status")),
        sa.CheckConstraint(
            "land IS NULL OR (land BETWEEN 1 AND 16)", name=op.f("ck_submission_land")
        ),
        sa.ForeignKeyConstraint(
            ["kommune_ars"],
            ["kommune.ars"],
            name=op.f("fk_submission_kommune_ars_kommune"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_submission_wave_id_wave"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_submission_idempotency_key")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_submission_token_hash")),
    )
    op.create_index("ix_submission_created_at", "submission", ["created_at"], unique=False)
    op.create_index("ix_submission_kommune_ars", "submission", ["kommune_ars"], unique=False)
    op.create_index("ix_submission_wave_status", "submission", ["wave_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_submission_wave_status", table_name="submission")
    op.drop_index("ix_submission_kommune_ars", table_name="submission")
    op.drop_index("ix_submission_created_at", table_name="submission")
    op.drop_table("submission")
    op.drop_index(
        "uq_published_model_current",
        table_name="published_model",
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    op.drop_table("published_model")
    op.drop_table("wave")
    op.drop_table("store_meta")
    op.drop_table("kommune_word")
    op.drop_index("ix_kommune_search_key", table_name="kommune")
    op.drop_index("ix_kommune_land_search_key", table_name="kommune")
    op.drop_table("kommune")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
