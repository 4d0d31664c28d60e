"""Shared test fixtures."""

import pytest

from kommunaltypen import i18n


@pytest.fixture(autouse=True)
def _reset_lang():
    """Commands set the process-wide language; every test starts (and ends) in German."""
    i18n.set_lang("de")
    yield
    i18n.set_lang("de")


# Database fixtures (SQLite and PostgreSQL) for the storage and web tests; see db_fixtures.py.
from db_fixtures import (  # noqa: E402, F401
    _postgres_schemas,
    database_url,
    db_backend,
    db_engine,
    db_session,
    fresh_database_url,
    postgres_server_url,
)
