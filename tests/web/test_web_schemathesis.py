"""schemathesis against the OpenAPI description: no 5xx, and every response conforms to the
description (status code, content type, body schema, headers).

Every request carries the session cookie of a logged-in analyst and the CSRF header, so the
analyst routes (``/api/v1/analyst/*``) answer for real (their 401/403 refusals are checked
by the route inventory in ``test_workspace_auth.py``); the public routes ignore both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from auth_fixtures import ANALYST_EMAIL, add_user, logged_in
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from conftest import web_settings
from kommunaltypen.web import create_app

#: the logged-in analyst's cookies and CSRF header (set by the api_schema fixture)
LOGIN: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    data = tmp_path_factory.mktemp("schemathesis")
    app = create_app(web_settings(f"sqlite:///{data / 'db.sqlite3'}", data, job_worker=False))
    with TestClient(app):  # runs the lifespan: database migrated, directory loaded
        add_user(app, ANALYST_EMAIL)
        client = logged_in(app, ANALYST_EMAIL)
        LOGIN["cookies"] = {n: client.cookies[n] for n in ("kt_session", "kt_csrf")}
        LOGIN["headers"] = client.csrf_headers()
        yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")

_c = schemathesis.checks
CHECKS = [
    _c.not_a_server_error,
    _c.status_code_conformance,
    _c.content_type_conformance,
    _c.response_schema_conformance,
    _c.response_headers_conformance,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_openapi_description(case: schemathesis.Case) -> None:
    response = case.call_and_validate(
        checks=CHECKS, headers=LOGIN["headers"], cookies=LOGIN["cookies"]
    )
    if "/analyst/" in case.path:  # answered for real: the login and the CSRF header held
        assert response.status_code not in (401, 403, 501), (case.path, response.text)
