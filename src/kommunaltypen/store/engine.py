"""Engines, sessions and migrations.

- :func:`make_engine` — SQLite (WAL, foreign keys, busy timeout, ``BEGIN IMMEDIATE`` for
  writing sessions) or PostgreSQL through psycopg 3 (``postgresql://`` is rewritten to
  ``postgresql+psycopg://``).
- :func:`session_factory` — a ``sessionmaker``; ``readonly=True`` gives sessions whose SQLite
  transactions start deferred, so concurrent readers never wait for a writer.
- :func:`migrate` / :func:`downgrade` — Alembic, configured in code (no ``alembic.ini``), with
  the migration scripts shipped in ``kommunaltypen/store/migrations``. :func:`migrate` refuses a
  database that a newer version of kommunaltypen has migrated (:class:`StoreError`).
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.exc import SQLAlchemyError as _SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kommunaltypen.i18n import t
from kommunaltypen.store.errors import StoreError

#: execution option marking a connection whose SQLite transactions start deferred
READONLY_OPTION = "kommunaltypen_readonly"
DEFAULT_BUSY_TIMEOUT_MS = 10_000
#: key of the PostgreSQL advisory lock that serialises migrations and the directory load
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"kommunaltypen.store").digest()[:8], "big", signed=True)


def _normalize_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    pool_size: int | None = None,
    echo: bool = False,
) -> Engine:
    """An engine for ``url`` (``sqlite:///FILE`` or ``postgresql://…``).

    SQLite: journal mode WAL (file databases), ``foreign_keys=ON``, ``busy_timeout``, and
    ``synchronous=NORMAL``; transactions are begun explicitly (``BEGIN IMMEDIATE`` unless the
    session is read-only, see :func:`session_factory`), so SAVEPOINTs work and two writers wait
    for each other instead of failing. The parent directory of a SQLite file is created.
    PostgreSQL: psycopg 3, ``pool_pre_ping``. A malformed URL or a missing driver raises
    :class:`StoreError`."""
    normalized = _normalize_url(url)
    try:
        parsed = make_url(normalized)
    except ArgumentError as exc:
        raise StoreError(t("store.bad_url", url=url)) from exc
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        if pool_size is not None:
            kwargs["pool_size"] = pool_size
    else:
        raise StoreError(t("store.bad_url", url=url))
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(t("store.bad_url", url=url)) from exc
    if backend == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms, in_memory=database in ("", ":memory:"))
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off; SQLAlchemy's "begin" event
        # below emits BEGIN itself (the documented recipe for SAVEPOINT support)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if not in_memory:
            _enable_wal(cursor, busy_timeout_ms)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        readonly = connection.get_execution_options().get(READONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _enable_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Switch a database file to WAL (persistent, so once per file). Changing the journal
    mode needs a moment without other connections and does not wait by itself: retried until
    the busy timeout."""
    import sqlite3

    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """A ``sessionmaker`` bound to ``engine`` (``expire_on_commit=False``, so records stay
    readable after the commit). With ``readonly=True`` SQLite transactions start deferred
    (readers do not queue behind writers); use it for requests that only read."""
    bind = engine.execution_options(**{READONLY_OPTION: True}) if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


# ------------------------------------------------------------------------- migrations


def _script_location() -> str:
    return str(resources.files("kommunaltypen.store") / "migrations")


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _script_location())
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script_directory() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    """The newest migration revision this version of kommunaltypen knows."""
    head = _script_directory().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for a database never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def exclusive(connection: Connection):
    """Serialise a block of work across processes: on PostgreSQL an advisory lock held until
    the end of the transaction; on SQLite the ``BEGIN IMMEDIATE`` of a writing connection
    already does it."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(text(f"pg_advisory_xact_lock({_LOCK_KEY})")))
    yield


def _check_known(connection: Connection) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.util.exc import CommandError

    script = _script_directory()
    found = MigrationContext.configure(connection).get_current_heads()
    for revision in found:
        try:
            known = script.get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise StoreError(
                t("store.newer_database", found=revision, newest=script.get_current_head())
            )


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the newest). A new empty database gets
    every table; a database already at head is left alone. A database at a revision this
    version does not know (migrated by a newer version) is refused with :class:`StoreError`
    naming the revision found and the newest known. Safe to call from several processes at
    once (serialised by a lock)."""
    from alembic import command

    try:
        with engine.begin() as connection, exclusive(connection):
            _check_known(connection)
            command.upgrade(_alembic_config(connection), revision)
    except StoreError:
        raise
    except _SQLAlchemyError as exc:
        raise StoreError(t("store.unreachable", url=_safe_url(engine), error=_short(exc))) from exc


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the database to ``revision`` (default: empty). For tests and operators."""
    from alembic import command

    with engine.begin() as connection, exclusive(connection):
        _check_known(connection)
        command.downgrade(_alembic_config(connection), revision)


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _short(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return message[0] if message else type(exc).__name__
