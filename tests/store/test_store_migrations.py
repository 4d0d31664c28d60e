"""Engines and migrations on SQLite and PostgreSQL (each test on its own empty database)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text

from kommunaltypen.i18n import use_lang
from kommunaltypen.store import (
    StoreError,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    migrate,
    prepare_database,
)
from kommunaltypen.store.models import Base

TABLES = {
    "kommune",
    "kommune_word",
    "wave",
    "submission",
    "published_model",
    "audit_log",
    "app_user",
    "user_session",
    "login_attempt",
    "store_meta",
}


@pytest.fixture
def fresh_engine(fresh_database_url):
    engine = make_engine(fresh_database_url)
    yield engine
    engine.dispose()


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_empty_to_head_and_back_to_base(fresh_engine):
    assert current_revision(fresh_engine) is None
    assert _tables(fresh_engine) == set()
    migrate(fresh_engine)
    assert current_revision(fresh_engine) == head_revision()
    assert _tables(fresh_engine) == set(Base.metadata.tables)  # exactly the models' tables
    assert _tables(fresh_engine) >= TABLES
    downgrade(fresh_engine, "base")
    assert current_revision(fresh_engine) is None
    assert _tables(fresh_engine) == set()
    migrate(fresh_engine)  # and up again
    assert _tables(fresh_engine) == set(Base.metadata.tables)


def test_migrated_schema_matches_the_models(fresh_engine):
    """No difference between the migrations and the models (an autogenerate would be empty)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrate(fresh_engine)
    with fresh_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrate_twice_changes_nothing(fresh_engine):
    migrate(fresh_engine)
    migrate(fresh_engine)
    assert current_revision(fresh_engine) == head_revision()


def test_concurrent_first_starts_migrate_and_load_once(fresh_database_url):
    """Two workers starting together on a new database: both succeed, the directory is
    loaded once."""
    results, errors = [], []

    def start():
        engine = make_engine(fresh_database_url)
        try:
            results.append(prepare_database(engine))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.inserted for r in results)[-1] > 11_000
    assert sum(1 for r in results if r.inserted) == 1


def test_database_of_a_newer_version_is_refused(fresh_engine):
    migrate(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    with pytest.raises(StoreError) as caught:
        migrate(fresh_engine)
    message = str(caught.value)
    assert "'0099_future'" in message and repr(head_revision()) in message
    assert "neueren Version" in message
    with use_lang("en"), pytest.raises(StoreError, match="newer version"):
        migrate(fresh_engine)
    # nothing was changed
    assert current_revision(fresh_engine) == "0099_future"


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'dir' / 'kt.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    assert (tmp_path / "sub" / "dir" / "kt.sqlite3").exists()
    engine.dispose()


def test_postgresql_url_uses_psycopg_3():
    engine = make_engine("postgresql://someone@127.0.0.1:1/none")
    assert engine.url.drivername == "postgresql+psycopg"
    assert make_engine("postgres://x@h/db").url.drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", ["mysql://x@h/db", "not a url", "oracle://a"])
def test_unsupported_url_is_refused(url):
    with pytest.raises(StoreError, match=r"wird nicht unterstützt; erwartet: sqlite:///PFAD"):
        make_engine(url)


def test_unreachable_database_is_a_store_error():
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreError, match=r"kann nicht benutzt werden"):
        migrate(engine)
