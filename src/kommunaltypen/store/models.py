"""SQLAlchemy 2 models (typed ``Mapped[...]`` declarations) of the web application's database.

Tables (one class each; the Alembic migrations in ``store/migrations/versions`` create them):

========================  ==============================================================
``kommune``               the official municipality directory (Gemeindeverzeichnis GV100AD):
                          Kreise, kreisfreie Städte and Gemeinden
``kommune_word``          later words of the directory names (for the search)
``wave``                  survey waves (Befragungswellen)
``submission``            self-check submissions (answers as validated codebook data)
``published_model``       typologies published for the self-check (one is current)
``audit_log``             who did what when and why (deletions first of all)
``store_meta``            key/value facts about the database contents (directory stand)
========================  ==============================================================

Portability: every type used works on SQLite and PostgreSQL. JSON columns are ``JSONB`` on
PostgreSQL; timestamps are always timezone-aware UTC in Python (:class:`UTCDateTime`), also on
SQLite, which stores them as text; identifiers that are compared by prefix (ARS, search key)
use the byte-order collation ``"C"`` on PostgreSQL so that range scans on the index are exact.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: constraint names are deterministic, so migrations can refer to them on both databases
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (also from SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; expected a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON on SQLite, JSONB on PostgreSQL
JSONType = JSON().with_variant(JSONB(), "postgresql")


def key_string(length: int) -> String:
    """A string compared by prefix: byte order ("C" collation) on PostgreSQL."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")  # type: ignore[return-value]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Kommune(Base):
    """One entry of the official directory (GV100AD of Destatis).

    - ``ars``: Amtlicher Regionalschlüssel; 12 digits for a Gemeinde or kreisfreie Stadt
      (Land 2, Regierungsbezirk 1, Kreis 2, Gemeindeverband 4, Gemeinde 3), 5 digits for a
      Kreis (Land, Regierungsbezirk, Kreis).
    - ``name``: official name (e.g. "München, Landeshauptstadt");
      ``search_key``: :func:`kommunaltypen.store.directory.normalize_name` of it.
    - ``kind``: the codebook's ``kommunenart`` option id (``kreis``, ``kreisfreie_stadt``,
      ``kreisangehoerige_stadt``, ``gemeinde``); ``kind_code``: the official Textkennzeichen
      (41 Kreisfreie Stadt … 44 Landkreis, 60 Markt … 67 Große Kreisstadt), its label is
      :attr:`kind_label`.
    - ``land``: Land code 1..16 (= the codebook's ``bundesland`` code); ``land_name``.
    - ``population``: Bevölkerung insgesamt (for a Kreis: the sum over its Gemeinden).
    - ``kreis_ars`` / ``kreis_name``: the Kreis a Gemeinde belongs to (None for a Kreis and
      for a kreisfreie Stadt).
    - ``active``: False for entries that are no longer in the shipped directory (kept because
      submissions may refer to them).
    """

    __tablename__ = "kommune"

    ars: Mapped[str] = mapped_column(key_string(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(150))
    search_key: Mapped[str] = mapped_column(key_string(150))
    kind: Mapped[str] = mapped_column(String(32))
    kind_code: Mapped[int] = mapped_column(SmallInteger)
    land: Mapped[int] = mapped_column(SmallInteger)
    land_name: Mapped[str] = mapped_column(String(60))
    population: Mapped[int] = mapped_column(Integer)
    kreis_ars: Mapped[str | None] = mapped_column(String(5))
    kreis_name: Mapped[str | None] = mapped_column(String(150))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    __table_args__ = (
        Index("ix_kommune_search_key", "search_key"),
        Index("ix_kommune_land_search_key", "land", "search_key"),
    )

    @property
    def kind_label(self) -> str:
        """The official kind (Textkennzeichen) in the current language."""
        from kommunaltypen.i18n import t

        return t(f"store.kind_code.{self.kind_code}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for an API response (``repositories.kommune_entry``)."""
        from kommunaltypen.store.repositories import kommune_entry

        return kommune_entry(self)

    def __repr__(self) -> str:
        return f"Kommune({self.ars!r}, {self.name!r})"


class KommuneWord(Base):
    """The words of a directory name after its first one ("bad tolz wolfratshausen" → "tolz",
    "wolfratshausen"), so that the search finds "Bad Tölz" by "tölz" with an index range scan
    (primary key ``(word, ars)``) instead of scanning every name. Written by
    :func:`~kommunaltypen.store.directory.load_directory`."""

    __tablename__ = "kommune_word"

    word: Mapped[str] = mapped_column(key_string(150), primary_key=True)
    ars: Mapped[str] = mapped_column(
        key_string(12), ForeignKey("kommune.ars", ondelete="CASCADE"), primary_key=True
    )


class Wave(Base):
    """A survey wave: a name (unique), the year, and the codebook it is asked with."""

    __tablename__ = "wave"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    codebook_id: Mapped[str] = mapped_column(String(80))
    codebook_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Wave({self.id!r}, {self.name!r})"


class SubmissionStatus(enum.StrEnum):
    DRAFT = "draft"
    FINAL = "final"


class Submission(Base):
    """A self-check submission.

    - ``id``: random UUID (version 4), also the public id in URLs.
    - ``wave_id``: the wave it belongs to (None outside a wave).
    - ``kommune_ars``: the Kommune from the directory, None for an anonymous submission;
      ``kind`` (codebook ``kommunenart`` option id), ``size_class`` (index into the codebook's
      ``population_classes``) and ``land`` (1..16) describe it in either case, so that
      anonymous submissions can still be grouped.
    - ``answers``: the validated codebook data as one JSON object (column id → value), exactly
      what ``service.check_answers`` accepted; ``codebook_id`` / ``codebook_version`` it was
      answered under.
    - ``status``: ``draft`` or ``final`` (:class:`SubmissionStatus`); ``consent``: agrees to be
      asked in the next wave.
    - ``token_hash``: SHA-256 (hex) of the private token; the token itself is never stored.
    - ``idempotency_key`` (unique when given) and ``request_hash`` (hash of the creating
      request's body) let the API replay a retried creation.
    - ``model_id`` / ``type_id``: the published model the answers were typed with and the type.
    - ``created_at`` / ``updated_at`` / ``finalized_at``: UTC timestamps.
    """

    __tablename__ = "submission"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("wave.id", ondelete="RESTRICT"))
    kommune_ars: Mapped[str | None] = mapped_column(ForeignKey("kommune.ars", ondelete="RESTRICT"))
    kind: Mapped[str | None] = mapped_column(String(32))
    size_class: Mapped[int | None] = mapped_column(SmallInteger)
    land: Mapped[int | None] = mapped_column(SmallInteger)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    codebook_id: Mapped[str] = mapped_column(String(80))
    codebook_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=SubmissionStatus.DRAFT.value)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    model_id: Mapped[str | None] = mapped_column(String(80))
    type_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'final')", name="status"),
        CheckConstraint("land IS NULL OR (land BETWEEN 1 AND 16)", name="land"),
        Index("ix_submission_wave_status", "wave_id", "status"),
        Index("ix_submission_created_at", "created_at"),
        Index("ix_submission_kommune_ars", "kommune_ars"),
    )

    @property
    def is_final(self) -> bool:
        return self.status == SubmissionStatus.FINAL.value

    def __repr__(self) -> str:
        return f"Submission({str(self.id)!r}, {self.status!r})"


class PublishedModel(Base):
    """A typology published for the self-check.

    ``model_id`` is the typology's own id (unique); ``typology`` its JSON (as written by
    ``Typology.to_json``, stored parsed); ``wave_id`` the wave whose data it was fitted on
    (None for the study's model); ``data_hash`` the hash of that data; ``is_current`` marks the
    one model the self-check uses — at most one row has it (a partial unique index)."""

    __tablename__ = "published_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("wave.id", ondelete="RESTRICT"))
    typology: Mapped[dict[str, Any]] = mapped_column(JSONType)
    data_hash: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index(
            "uq_published_model_current",
            "is_current",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    def __repr__(self) -> str:
        return f"PublishedModel({self.model_id!r}, current={self.is_current})"


class AuditLog(Base):
    """One audited action: ``actor`` (who), ``at`` (when, UTC), ``action`` (what, e.g.
    ``submission.delete``), ``target_type``/``target_id`` (on what), ``reason`` (why) and
    optional ``details`` (JSON)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
    )

    def __repr__(self) -> str:
        return f"AuditLog({self.id!r}, {self.action!r}, {self.target_id!r})"


class StoreMeta(Base):
    """Facts about the database contents, e.g. ``directory_stand`` = "2025-11-30"."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# ---------------------------------------------------------------------------- accounts
class UserRole(enum.StrEnum):
    """Roles of the analyst workspace: ``admin`` manages users, ``analyst`` does the rest."""

    ADMIN = "admin"
    ANALYST = "analyst"


class User(Base):
    """An account of the analyst workspace (migration ``0002_accounts``).

    ``email`` is stored normalised (trimmed, lower case) and unique; ``password_hash`` is an
    argon2 hash (pwdlib, PHC string format); ``role`` is :class:`UserRole`."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=UserRole.ANALYST.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("role IN ('admin', 'analyst')", name="role"),)

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN.value

    def __repr__(self) -> str:
        return f"User({self.id!r}, {self.email!r}, {self.role!r})"


class UserSession(Base):
    """A server-side login session. ``id_hash`` is the SHA-256 (hex) of the random session id
    in the cookie (the id itself is never stored); ``created_at`` bounds its absolute and
    ``last_seen_at`` its idle lifetime."""

    __tablename__ = "user_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_user_session_user_id", "user_id"),)


class LoginAttempt(Base):
    """One login attempt: the e-mail as typed (normalised; whether or not an account has it),
    the client address, when, and the outcome (``ok``, ``bad`` = wrong e-mail or password,
    ``locked`` = refused by the lockout or throttle). The lockout and the per-address throttle
    count these rows, so they hold across worker processes."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(8))

    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'bad', 'locked')", name="outcome"),
        Index("ix_login_attempt_email_at", "email", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )


# ---------------------------------------------------------------------------- workspace
class WaveImport(Base):
    """An uploaded data file of a wave (migration ``0003_workspace``).

    ``status`` ``pending`` (validated, waiting for the analyst's confirmation; ``content`` holds
    the file, ``mapping`` the optional mapping file) or ``confirmed`` (its accepted rows are in
    ``wave_row``; the content is dropped). ``id`` is random (the key of the pending upload in
    URLs); ``sha256`` of the content detects the same file imported twice; ``report`` is the
    validation report (``ValidationReport.to_dict()`` plus the rejected rows)."""

    __tablename__ = "wave_import"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    mapping_name: Mapped[str | None] = mapped_column(String(255))
    mapping: Mapped[bytes | None] = mapped_column(LargeBinary)
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed')", name="status"),
        Index("ix_wave_import_wave_id", "wave_id"),
        Index("ix_wave_import_sha256", "sha256"),
    )


class WaveRow(Base):
    """One accepted row of a confirmed import: the canonical validated row as JSON
    (``data``), its municipality key (``kommune_key``: the ``kommune_id`` as imported, a
    12-digit ARS shortened to the 8-digit AGS) and ``name``; ``excluded`` when the analyst kept
    another row of the same municipality."""

    __tablename__ = "wave_row"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"))
    import_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("wave_import.id", ondelete="CASCADE")
    )
    row_number: Mapped[int] = mapped_column(Integer)
    kommune_key: Mapped[str | None] = mapped_column(key_string(40))
    name: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_wave_row_wave_id", "wave_id"),
        Index("ix_wave_row_kommune_key", "kommune_key"),
    )


class WaveExclusion(Base):
    """A self-check submission left out of a wave's analysis because the analyst kept another
    row of the same municipality."""

    __tablename__ = "wave_exclusion"

    wave_id: Mapped[int] = mapped_column(
        ForeignKey("wave.id", ondelete="CASCADE"), primary_key=True
    )
    submission_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True
    )


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AnalysisJob(Base):
    """An analysis of a wave run in the background. ``status`` :class:`JobStatus`;
    ``progress`` 0..1 and ``stage`` while running; ``message`` on failure (in the job's
    language) and ``messages`` the same in every language (:meth:`message_in`); ``claim``
    the worker that claimed it (``host/random``, atomic UPDATE); ``heartbeat_at`` written
    while running (a running job without a heartbeat for a while was interrupted and is
    failed);
    ``input_keys`` the municipality keys of its input (a deletion marks the job
    ``needs_rerun``); ``summary`` type counts, model id, row counts."""

    __tablename__ = "analysis_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED.value)
    lang: Mapped[str] = mapped_column(String(5), default="de")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(String(80))
    message: Mapped[str | None] = mapped_column(Text)
    #: the failure message per language ({"de": …, "en": …}; migration 0004)
    messages: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    claim: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    input_keys: Mapped[list[str] | None] = mapped_column(JSONType)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    needs_rerun: Mapped[bool] = mapped_column(Boolean, default=False)

    def message_in(self, lang: str) -> str | None:
        """The failure message in ``lang`` (else the one stored in the job's language)."""
        return (self.messages or {}).get(lang) or self.message

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_analysis_job_status", "status"),
        Index("ix_analysis_job_wave_id", "wave_id"),
    )


class AnalysisFile(Base):
    """A file of a finished analysis: the output directory's files (``result.json``,
    ``model.json``, ``assignments.csv`` …) and the rendered report (``report.html``,
    ``report.pdf``, ``report.xlsx``)."""

    __tablename__ = "analysis_file"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_job.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class SelfcheckCache(Base):
    """A computed output of the public Typ-Check for one submission, kept so that it is
    computed once (docs/selfcheck-web.md, "Speed"): the result page's view part or the PDF
    profile. ``variant`` names what it is (``page:de:kommunenart``, ``pdf:en:keine`` …; one
    row per variant and submission); ``key`` is the hash of everything the output depends on
    (answers, model, language, peer group, date, format version) — a row whose key differs
    from the current one is stale and is replaced. Deleted with its submission."""

    __tablename__ = "selfcheck_cache"

    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
