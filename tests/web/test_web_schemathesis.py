"""schemathesis against the OpenAPI description: no 5xx, and every response conforms to the
description (status code, content type, body schema, headers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from conftest import web_settings
from kommunaltypen.web import create_app


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    data = tmp_path_factory.mktemp("schemathesis")
    app = create_app(web_settings(f"sqlite:///{data / 'db.sqlite3'}", data))
    with TestClient(app):  # runs the lifespan: database migrated, directory loaded
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
    case.call_and_validate(checks=CHECKS)
