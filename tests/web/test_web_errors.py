"""Errors: RFC 9457 problem documents for every failure, in the request's language; body size
limit; media type; an unexpected exception is a 500 problem without a traceback; security
headers on every response."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from conftest import ANSWERS, web_settings
from kommunaltypen.web import create_app
from kommunaltypen.web.security import CONTENT_SECURITY_POLICY

PROBLEM = "application/problem+json"
REQUIRED_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:kommunaltypen:problem:")
    assert body["title"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def assert_security_headers(response) -> None:
    for name, value in REQUIRED_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp


# ---------------------------------------------------------------------------- bad input
def test_malformed_json_is_a_400_problem(sqlite_api: TestClient) -> None:
    response = sqlite_api.post(
        "/api/v1/classify", content=b'{"goals": [', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["type"].endswith(":malformed-json")


@pytest.mark.parametrize(
    ("payload", "field", "expected_word"),
    [
        ({"goals": "effizienz"}, "goals", "Liste"),
        ({"goals": [1, 2]}, "goals[0]", "Text"),
        ({"goals": []}, "goals", "mindestens"),
        ({}, "goals", "Wert"),
        ([1, 2], "body", ""),
        ({"goals": ["effizienz"], "extra": True}, "extra", "goals"),
    ],
)
def test_wrong_types_missing_and_unknown_fields_are_422(
    sqlite_api: TestClient, payload: object, field: str, expected_word: str
) -> None:
    body = assert_problem(sqlite_api.post("/api/v1/classify", json=payload), 422)
    errors = body["errors"]
    assert errors, body
    error = next(e for e in errors if e["field"] == field)
    assert set(error) == {"field", "value", "expected", "message"}
    assert expected_word in error["expected"]


def test_unknown_field_in_a_submission_is_422(sqlite_api: TestClient) -> None:
    response = sqlite_api.post("/api/v1/submissions", json={"answers": ANSWERS, "tokne": "x"})
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "tokne"
    assert body["errors"][0]["message"] == "Unbekanntes Feld"


def test_wrong_answer_value_type_is_422(sqlite_api: TestClient) -> None:
    response = sqlite_api.post(
        "/api/v1/submissions", json={"answers": {**ANSWERS, "einwohner": [1, 2]}}
    )
    body = assert_problem(response, 422)
    assert any(e["field"].startswith("answers.einwohner") for e in body["errors"])


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
def test_wrong_media_type_is_415(sqlite_api: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/api/v1/classify", "/api/v1/submissions"):
        response = sqlite_api.post(path, content=json.dumps({"goals": ["x"]}), headers=headers)
        body = assert_problem(response, 415)
        assert "application/json" in body["detail"]


def test_json_with_charset_and_problem_json_suffix_are_accepted(sqlite_api: TestClient) -> None:
    for ct in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = sqlite_api.post(
            "/api/v1/classify",
            content=json.dumps({"goals": ["effizienz"]}),
            headers={"content-type": ct},
        )
        assert response.status_code == 200, (ct, response.text)


def test_ten_megabyte_body_is_refused_with_413(sqlite_api: TestClient) -> None:
    big = b'{"goals": ["' + b"x" * (10 * 1024 * 1024) + b'"]}'
    for path in ("/api/v1/classify", "/api/v1/submissions"):
        response = sqlite_api.post(path, content=big, headers={"content-type": "application/json"})
        body = assert_problem(response, 413)
        assert "1048576" in body["detail"]
        assert_security_headers(response)


def test_chunked_body_over_the_limit_is_refused_while_streaming(sqlite_api: TestClient) -> None:
    def chunks():
        yield b'{"goals": ["'
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MiB in total, no Content-Length
        yield b'"]}'

    response = sqlite_api.post(
        "/api/v1/classify", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


def test_body_just_under_the_limit_is_read(tmp_path) -> None:
    settings = web_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, max_body_bytes=4096)
    with TestClient(create_app(settings)) as client:
        ok = client.post("/api/v1/classify", json={"goals": ["effizienz"], "pad": "x" * 10})
        assert ok.status_code == 422  # read and validated, not refused for its size
        big = client.post("/api/v1/classify", json={"goals": ["effizienz"], "pad": "x" * 5000})
        assert big.status_code == 413


def test_404_and_405_are_problems(sqlite_api: TestClient) -> None:
    body = assert_problem(sqlite_api.get("/api/v1/nothing-here"), 404)
    assert "/api/v1/nothing-here" in body["detail"]
    response = sqlite_api.delete("/api/v1/classify")
    body = assert_problem(response, 405)
    assert "POST" in body["detail"] and response.headers["allow"] == "POST"


# ---------------------------------------------------------------------------- 500
def test_unexpected_exception_is_a_500_problem_without_traceback(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(web_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path))

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    @app.get("/api/v1/aboom")
    async def aboom() -> None:
        raise KeyError("another internal detail")

    @app.get("/check/{sid}/{token}/boom")
    def private_boom(sid: str, token: str) -> None:
        raise RuntimeError("internal detail of a private page")

    with (
        caplog.at_level(logging.ERROR, "kommunaltypen.web"),
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        for path in ("/api/v1/boom", "/api/v1/aboom?lang=en"):
            response = client.get(path)
            body = assert_problem(response, 500)
            assert "internal detail" not in response.text
            assert_security_headers(response)
        assert body["title"] == "Internal error"
    # the traceback went to the server log, with the incident id the client saw
    incident = body["detail"].split("reference ")[1].split(")")[0]
    assert any(incident in r.getMessage() and r.exc_info for r in caplog.records)
    # a private link's token never goes to the log (whoever reads it could open the answers)
    with (
        caplog.at_level(logging.ERROR, "kommunaltypen.web"),
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        assert_problem(client.get("/check/sub1/T0ken-secret/boom"), 500)
    messages = [r.getMessage() for r in caplog.records]
    assert any("/check/sub1/…/boom" in m for m in messages)
    assert not any("T0ken-secret" in m for m in messages)


# ---------------------------------------------------------------------------- languages
@pytest.mark.parametrize(
    ("query", "header", "lang"),
    [
        ("", None, "de"),
        ("?lang=en", None, "en"),
        ("", "en-GB,en;q=0.9", "en"),
        ("", "fr-FR, en;q=0.5, de;q=0.8", "de"),
        ("?lang=de", "en", "de"),
        ("?lang=xx", "en", "en"),
        ("", "fr", "de"),
    ],
)
def test_language_from_query_then_accept_language_then_default(
    sqlite_api: TestClient, query: str, header: str | None, lang: str
) -> None:
    headers = {"accept-language": header} if header else {}
    response = sqlite_api.post(f"/api/v1/classify{query}", json={"goals": []}, headers=headers)
    body = assert_problem(response, 422)
    assert response.headers["content-language"] == lang
    assert body["title"] == {"de": "Ungültige Eingabe", "en": "Invalid input"}[lang]
    expected = {"de": "mindestens 1", "en": "at least 1"}[lang]
    assert body["errors"][0]["expected"] == expected


def test_service_messages_follow_the_request_language(sqlite_api: TestClient) -> None:
    payload = {"answers": {**ANSWERS, "kommunenart": 9}}
    de = sqlite_api.post("/api/v1/submissions", json=payload).json()
    en = sqlite_api.post("/api/v1/submissions?lang=en", json=payload).json()
    assert de["errors"][0]["field"] == en["errors"][0]["field"] == "kommunenart"
    assert de["errors"][0]["message"] != en["errors"][0]["message"]
    assert "erwartet" in de["errors"][0]["message"]
    assert "expected" in en["errors"][0]["message"]


def test_default_language_setting(tmp_path) -> None:
    settings = web_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, default_lang="en")
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/nothing")
        assert response.headers["content-language"] == "en"
        assert response.json()["title"] == "Not found"
        german = client.get("/api/v1/nothing", headers={"accept-language": "de"})
        assert german.json()["title"] == "Nicht gefunden"


# ---------------------------------------------------------------------------- headers
def test_security_headers_on_every_kind_of_response(sqlite_api: TestClient) -> None:
    responses = [
        sqlite_api.get("/api/v1/health"),
        sqlite_api.post("/api/v1/classify", json={"goals": ["effizienz"]}),
        sqlite_api.post("/api/v1/classify", json={"goals": ["nope"]}),
        sqlite_api.get("/api/v1/kommunen", params={"q": "berlin"}),
        sqlite_api.get("/api/v1/openapi.json"),
        sqlite_api.get("/api/v1/submissions/123"),
        sqlite_api.get("/api/v1/analyst/waves"),
        sqlite_api.get("/static/site.css"),
        sqlite_api.get("/static/nope.css"),
        sqlite_api.get("/"),
        sqlite_api.put("/api/v1/health"),
        sqlite_api.post("/api/v1/classify", content=b"x", headers={"content-type": "text/plain"}),
    ]
    for response in responses:
        assert_security_headers(response)
    assert responses[0].headers["cache-control"] == "no-store"
    assert "cache-control" not in responses[7].headers or (
        responses[7].headers["cache-control"] != "no-store"
    )


def test_no_docs_pages_with_third_party_scripts(sqlite_api: TestClient) -> None:
    assert sqlite_api.get("/docs").status_code == 404
    assert sqlite_api.get("/redoc").status_code == 404


def test_ten_megabytes_to_a_real_server_get_413_not_a_broken_connection(tmp_path) -> None:
    import httpx

    from conftest import live_server

    settings = web_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    big = b'{"goals": ["' + b"x" * (10 * 1024 * 1024) + b'"]}'

    def chunks():
        yield b'{"goals": ["'
        for _ in range(160):
            yield b"x" * 65536
        yield b'"]}'

    with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        for content in (big, chunks()):
            response = client.post(
                "/api/v1/classify", content=content, headers={"content-type": "application/json"}
            )
            assert_problem(response, 413)
            assert_security_headers(response)
        assert client.get("/api/v1/health").status_code == 200  # the server is fine


def test_database_unavailable_is_a_503_problem_with_retry_after(tmp_path) -> None:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    app = create_app(web_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path))

    @app.get("/api/v1/locked")
    def locked() -> None:
        raise OperationalError("INSERT …", {}, Exception("database is locked"))

    @app.get("/api/v1/pool")
    def pool() -> None:
        raise PoolTimeout("QueuePool limit reached")

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/api/v1/locked", "/api/v1/pool"):
            response = client.get(path)
            body = assert_problem(response, 503)
            assert response.headers["retry-after"] == "2"
            assert "locked" not in body["detail"] and "QueuePool" not in body["detail"]
