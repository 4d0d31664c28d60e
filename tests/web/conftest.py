"""Fixtures of the web tests: the application on SQLite and PostgreSQL, and a real server.

``api`` is a TestClient of an application on a database of its own (one per backend and test
session, committed to for real); ``sqlite_api`` the same on SQLite only, for behaviour that does
not depend on the database (errors, headers, languages). ``live_server`` starts uvicorn in a
thread on a free loopback port.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from db_fixtures import _new_database
from kommunaltypen.web import Settings, create_app
from live_server import serve_in_thread

ANSWERS = {
    "kommune_id": "09162000",
    "kommunenart": 2,
    "bundesland": 9,
    "einwohner": 1500000,
    "ziele_effizienz": 1,
    "ziele_buergernaehe": 2,
    "ziele_innovation": 3,
}


def web_settings(database_url: str, data_dir: Path, **extra: object) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, **extra)


@pytest.fixture(scope="session")
def web_database_url(
    request: pytest.FixtureRequest, db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """An empty database of the web tests' own (the application migrates it on start)."""
    return _new_database(request, db_backend, tmp_path_factory.mktemp("webdb"))


@pytest.fixture(scope="session")
def api(web_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = web_settings(web_database_url, tmp_path_factory.mktemp("webdata"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="session")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("websqlite")
    settings = web_settings(f"sqlite:///{data / 'db.sqlite3'}", data)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@contextmanager
def live_server(settings: Settings, *, timeout: float = 60) -> Iterator[str]:
    """uvicorn serving ``create_app(settings)`` in a thread; yields the base URL."""
    with serve_in_thread(
        create_app(settings),
        timeout=timeout,
        limit_concurrency=None,
        backlog=2048,
        timeout_keep_alive=120,
    ) as url:
        yield url


# Logged-in clients of the analyst workspace (analyst_client, admin_client, …): auth_fixtures.py
from auth_fixtures import (  # noqa: E402, F401
    admin_client,
    analyst_client,
    anon_client,
    workspace_app,
)
