"""Logged-in clients of the analyst workspace for the web tests (imported by tests/web/conftest.py).

Fixtures (on SQLite and PostgreSQL, through ``db_backend``):

- ``workspace_app``: one started application per backend and test session, on a database of
  its own, with an admin (``ADMIN_EMAIL``) and an analyst (``ANALYST_EMAIL``), both with
  ``PASSWORD``. The per-address throttle is set high there, so failed logins in one test do not
  throttle the next (the throttle test uses an application of its own).
- ``anon_client``: a :class:`WorkspaceClient` that is not logged in (has a CSRF token).
- ``analyst_client`` / ``admin_client``: a :class:`WorkspaceClient` logged in through the real
  login form (``POST /workspace/login``); a new client, cookie jar and session per test.

A :class:`WorkspaceClient` knows the CSRF token of its cookie: ``client.csrf`` (the value),
``client.csrf_headers()`` (``{"X-CSRF-Token": …}`` for htmx-like and API requests) and
``client.form(url, data, files=None)`` (a POST with the ``csrf_token`` field added).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from db_fixtures import _new_database
from kommunaltypen.web import Settings, create_app

PASSWORD = "korrekt-pferd-batterie-heftklammer"
ADMIN_EMAIL = "admin@example.org"
ANALYST_EMAIL = "analyst@example.org"


class WorkspaceClient(TestClient):
    """A TestClient with helpers for the CSRF token of its cookie jar."""

    @property
    def csrf(self) -> str:
        token = self.cookies.get("kt_csrf")
        if not token:
            self.get("/workspace/login")  # any page outside /api/ sets the CSRF cookie
            token = self.cookies.get("kt_csrf")
        assert token, "no CSRF cookie"
        return token

    def csrf_headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}

    def form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the CSRF field added (``files=`` makes it multipart)."""
        fields = {**(data or {}), "csrf_token": self.csrf}
        kwargs.setdefault("follow_redirects", False)
        return self.post(url, data=fields, **kwargs)

    def login(self, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
        """The real login form; returns its response (303 on success)."""
        return self.form("/workspace/login", {"email": email, "password": password}, **kwargs)


def add_user(app: FastAPI, email: str, password: str = PASSWORD, role: str = "analyst") -> None:
    """Create an account directly in the application's database."""
    from kommunaltypen.web import auth

    state = app.state.kommunaltypen
    with state.sessions.begin() as db:
        if auth.find_user(db, email) is None:
            auth.create_user(db, email, password, role)


def workspace_settings(database_url: str, data_dir: Any, **extra: Any) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, **extra)


@pytest.fixture(scope="session")
def workspace_app(
    request: pytest.FixtureRequest, db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    data = tmp_path_factory.mktemp("workspace")
    url = _new_database(request, db_backend, data)
    settings = workspace_settings(url, data, login_address_max_failures=100_000)
    app = create_app(settings)
    with TestClient(app):  # runs the lifespan: migrate, load the directory, open the pools
        add_user(app, ADMIN_EMAIL, role="admin")
        add_user(app, ANALYST_EMAIL, role="analyst")
        yield app


def new_client(app: FastAPI) -> WorkspaceClient:
    return WorkspaceClient(app, raise_server_exceptions=False, follow_redirects=False)


def logged_in(app: FastAPI, email: str) -> WorkspaceClient:
    client = new_client(app)
    response = client.login(email)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def anon_client(workspace_app: FastAPI) -> WorkspaceClient:
    return new_client(workspace_app)


@pytest.fixture
def analyst_client(workspace_app: FastAPI) -> WorkspaceClient:
    return logged_in(workspace_app, ANALYST_EMAIL)


@pytest.fixture
def admin_client(workspace_app: FastAPI) -> WorkspaceClient:
    return logged_in(workspace_app, ADMIN_EMAIL)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.org"
