"""Storage of the web application: SQLAlchemy 2 models, repositories, Alembic migrations.

Public API (see ``docs/storage.md``)::

    engine = make_engine("sqlite:///path/db.sqlite3")   # or postgresql://user@host/db
    migrate(engine)                                      # Alembic upgrade to head
    Session = session_factory(engine)
    with Session.begin() as session:
        load_directory(session)                          # Gemeindeverzeichnis, idempotent
        DirectoryRepo(session).search("mün", land=9)

The core (``kommunaltypen`` outside ``web``/``store``) never imports this package.
"""

from __future__ import annotations

from kommunaltypen.store.directory import (
    DirectoryInfo,
    LoadResult,
    directory_info,
    load_directory,
    normalize_name,
    prepare_database,
)
from kommunaltypen.store.engine import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    migrate,
    session_factory,
)
from kommunaltypen.store.errors import StoreError
from kommunaltypen.store.models import (
    AuditLog,
    Base,
    Kommune,
    PublishedModel,
    Submission,
    SubmissionStatus,
    Wave,
)
from kommunaltypen.store.repositories import (
    AuditRepo,
    DirectoryRepo,
    DuplicateError,
    ModelRepo,
    NotFound,
    SubmissionFinalError,
    SubmissionRepo,
    WaveRepo,
    parse_land,
    token_hash,
)

__all__ = [
    "AuditLog",
    "AuditRepo",
    "Base",
    "DirectoryInfo",
    "DirectoryRepo",
    "DuplicateError",
    "Kommune",
    "LoadResult",
    "ModelRepo",
    "NotFound",
    "PublishedModel",
    "StoreError",
    "Submission",
    "SubmissionFinalError",
    "SubmissionRepo",
    "SubmissionStatus",
    "Wave",
    "WaveRepo",
    "current_revision",
    "directory_info",
    "downgrade",
    "head_revision",
    "load_directory",
    "make_engine",
    "migrate",
    "normalize_name",
    "parse_land",
    "prepare_database",
    "session_factory",
    "token_hash",
]
