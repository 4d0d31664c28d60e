"""Database fixtures: every storage test runs on SQLite AND PostgreSQL.

Made available to all tests by ``tests/conftest.py``. The PostgreSQL server comes from
``KOMMUNALTYPEN_TEST_POSTGRES_URL`` (``.ci/run`` / ``scripts/test.sh`` start the local server
and export it); without the variable the local default ``postgresql://postgres@127.0.0.1:5432/
test`` is tried. When no server answers, the PostgreSQL variants FAIL with a loud message —
unless ``KOMMUNALTYPEN_ALLOW_NO_POSTGRES=1`` is set, then they are skipped with the reason
(shown by ``-ra`` in the summary). Never silently.

Isolation: each test session works in its own PostgreSQL schema (``kt_test_<pid>_<random>``,
dropped at the end; those of killed sessions at the next start), so several test runs can
share one server; every test that takes ``db_session`` runs in a transaction that is rolled
back (SQLAlchemy's "join an external transaction" recipe), and tests that must commit
(migrations, concurrency, a server) take
``fresh_database_url`` — a new empty database per test.

Fixtures:

- ``db_backend``: ``"sqlite"`` or ``"postgresql"`` (the parameter).
- ``database_url``: a migrated database with the directory loaded, shared by the session.
- ``db_engine``: an engine on it; ``db_session``: a session rolled back after the test.
- ``fresh_database_url``: an empty database (nothing migrated) for this test only.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from kommunaltypen.store import make_engine, prepare_database

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
ENV_URL = "KOMMUNALTYPEN_TEST_POSTGRES_URL"
ENV_ALLOW_NONE = "KOMMUNALTYPEN_ALLOW_NO_POSTGRES"


def _probe(url: str) -> str | None:
    """None when a server answers at ``url``, else the error."""
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        engine = create_engine(sa_url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The URL of the PostgreSQL server for tests (fails loudly when there is none)."""
    url = os.environ.get(ENV_URL) or DEFAULT_POSTGRES_URL
    error = _probe(url)
    if error is None:
        return url
    message = (
        f"PostgreSQL IS NOT AVAILABLE for the storage tests: {url} ({error}). "
        f"Start it (scripts/test.sh does: pg_ctlcluster ... main start) and set {ENV_URL}; "
        f"or set {ENV_ALLOW_NONE}=1 to skip the PostgreSQL variants on this machine."
    )
    if os.environ.get(ENV_ALLOW_NONE) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _with_schema(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


SCHEMA_PREFIX = "kt_test_"


def _drop_orphans(engine: Engine) -> None:
    """Drop the schemas of earlier test sessions on this machine that were killed before
    they could clean up (their process id, part of the name, no longer runs)."""
    with engine.begin() as connection:
        names = connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kt\\_test\\_%'")
        ).scalars()
        for name in list(names):
            pid = name[len(SCHEMA_PREFIX) :].split("_", 1)[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="session")
def _postgres_schemas(postgres_server_url: str) -> Iterator[list[str]]:
    """Schemas created by this test session; all dropped at its end."""
    engine = make_engine(postgres_server_url)
    _drop_orphans(engine)
    created: list[str] = []
    yield created
    with engine.begin() as connection:
        for schema in created:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _new_database(request: pytest.FixtureRequest, backend: str, tmp_dir) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / ('kt-' + secrets.token_hex(4) + '.sqlite3')}"
    server = request.getfixturevalue("postgres_server_url")
    schemas = request.getfixturevalue("_postgres_schemas")
    schema = f"{SCHEMA_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    engine = make_engine(server)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    schemas.append(schema)
    return _with_schema(server, schema)


@pytest.fixture(scope="session", params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated database with the directory loaded, shared by the test session."""
    url = _new_database(request, db_backend, tmp_path_factory.mktemp("db"))
    engine = make_engine(url)
    prepare_database(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (``session.commit()`` inside the
    test only releases a SAVEPOINT)."""
    connection = db_engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def fresh_database_url(request: pytest.FixtureRequest, db_backend: str, tmp_path) -> str:
    """A new, empty database (nothing migrated) for this test only."""
    return _new_database(request, db_backend, tmp_path)
