"""The JSON API: classify, directory search, submissions with token and idempotency, the
analyst routes — on SQLite and PostgreSQL (the ``api`` fixture)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from conftest import ANSWERS
from kommunaltypen import service

PROBLEM = "application/problem+json"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create(api: TestClient, body: dict | None = None, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/api/v1/submissions", json=body or {"answers": ANSWERS}, headers=headers)


# ---------------------------------------------------------------------------- classify
@pytest.mark.parametrize(
    "goals",
    [
        ["effizienz", "buergernaehe", "innovation"],
        ["zivilgesellschaft", "wirtschaft"],
        ["foerdermittel"],
    ],
)
def test_classify_matches_the_service(sqlite_api: TestClient, goals: list[str]) -> None:
    response = sqlite_api.post("/api/v1/classify", json={"goals": goals})
    assert response.status_code == 200, response.text
    expected = service.classify(goals).to_dict(lang="de")
    got = response.json()
    assert got["type"] == expected["type"]
    assert got["label"] == expected["label"]
    assert got["goals"] == goals
    assert got["mischform"] == expected["mischform"]
    assert got["model_id"] == expected["model_id"]
    assert got["probabilities"] == pytest.approx(expected["probabilities"])
    assert got["distances"] == pytest.approx(expected["distances"])
    assert sum(got["probabilities"].values()) == pytest.approx(1.0)


def test_classify_label_in_the_request_language(sqlite_api: TestClient) -> None:
    goals = {"goals": ["buergernaehe", "leistungsangebot", "effizienz"]}
    de = sqlite_api.post("/api/v1/classify", json=goals).json()
    en = sqlite_api.post("/api/v1/classify?lang=en", json=goals).json()
    assert de["type"] == en["type"]
    assert de["label"] == service.classify(goals["goals"]).label("de")
    assert en["label"] == service.classify(goals["goals"]).label("en")


@pytest.mark.parametrize(
    ("goals", "needle"),
    [
        (["effizienz", "effizienz", "innovation"], "effizienz"),  # repeated rank
        (["effizienz", "no_such_goal"], "no_such_goal"),  # not in the codebook
        (["a", "b", "c", "d"], "a"),  # more goals than ranks
    ],
)
def test_classify_refuses_bad_goals_with_field_value_expected(
    sqlite_api: TestClient, goals: list[str], needle: str
) -> None:
    response = sqlite_api.post("/api/v1/classify", json={"goals": goals})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"].endswith(":validation")
    error = body["errors"][0]
    assert error["field"] == "goals"
    assert needle in str(error["value"])
    assert "effizienz" in error["expected"]  # names the codebook's goal ids
    assert error["message"]


# ---------------------------------------------------------------------------- directory
def test_directory_search_by_name_and_ars(api: TestClient) -> None:
    response = api.get("/api/v1/kommunen", params={"q": "münchen"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items and items[0]["name"].startswith("München")
    first = items[0]
    assert {"ars", "kind", "land", "land_name", "population", "kind_label"} <= set(first)
    by_ars = api.get("/api/v1/kommunen", params={"q": first["ars"][:5]}).json()["items"]
    assert all(k["ars"].startswith(first["ars"][:5]) for k in by_ars) and by_ars
    one = api.get(f"/api/v1/kommunen/{first['ars']}")
    assert one.status_code == 200 and one.json()["ars"] == first["ars"]


def test_directory_search_filters_by_land_and_limits(api: TestClient) -> None:
    items = api.get("/api/v1/kommunen", params={"q": "neu", "land": 9, "limit": 5}).json()["items"]
    assert 0 < len(items) <= 5
    assert {k["land"] for k in items} == {9}


@pytest.mark.parametrize(
    "params",
    [{"q": ""}, {"q": "x", "land": 17}, {"q": "x", "land": "by"}, {"q": "x", "limit": 0}, {}],
)
def test_directory_search_refuses_bad_parameters(api: TestClient, params: dict) -> None:
    response = api.get("/api/v1/kommunen", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("query.")


def test_unknown_kommune_is_a_404_problem(api: TestClient) -> None:
    response = api.get("/api/v1/kommunen/000000000000")
    assert response.status_code == 404
    assert "000000000000" in response.json()["detail"]


# ---------------------------------------------------------------------------- submissions
def test_submission_lifecycle_with_the_private_token(api: TestClient) -> None:
    created = _create(api, {"answers": ANSWERS, "consent": True})
    assert created.status_code == 201, created.text
    body = created.json()
    token, sid = body["token"], body["id"]
    assert len(token) >= 43  # 32 random bytes, base64url
    assert created.headers["location"].endswith(f"/api/v1/submissions/{sid}")
    assert body["status"] == "draft" and body["consent"] is True
    assert body["answers"]["ziele_effizienz"] == 1 and body["answers"]["ziele_wirtschaft"] == 0
    expected = service.classify(["effizienz", "buergernaehe", "innovation"])
    assert body["type"] == expected.type_id and body["model_id"] == expected.model_id
    assert (body["kind"], body["land"]) == ("kreisfreie_stadt", 9)

    read = api.get(f"/api/v1/submissions/{sid}", headers=_bearer(token))
    assert read.status_code == 200 and "token" not in read.json()
    assert read.json()["answers"] == body["answers"]

    changed = {**ANSWERS, "ziele_effizienz": 0, "ziele_wirtschaft": 1}
    put = api.put(f"/api/v1/submissions/{sid}", json={"answers": changed}, headers=_bearer(token))
    assert put.status_code == 200, put.text
    assert put.json()["answers"]["ziele_wirtschaft"] == 1
    assert put.json()["consent"] is False  # PUT replaces the whole submission
    assert (
        put.json()["type"] == service.classify(["wirtschaft", "buergernaehe", "innovation"]).type_id
    )

    final = api.post(f"/api/v1/submissions/{sid}/finalize", headers=_bearer(token))
    assert final.status_code == 200 and final.json()["status"] == "final"
    assert final.json()["finalized_at"]
    again = api.post(f"/api/v1/submissions/{sid}/finalize", headers=_bearer(token))
    assert again.status_code == 200 and again.json()["finalized_at"] == final.json()["finalized_at"]

    locked = api.put(
        f"/api/v1/submissions/{sid}", json={"answers": ANSWERS}, headers=_bearer(token)
    )
    assert locked.status_code == 409
    assert api.get(f"/api/v1/submissions/{sid}", headers=_bearer(token)).json()["status"] == "final"


def test_token_is_stored_only_as_a_hash(api: TestClient) -> None:
    from sqlalchemy import select

    from kommunaltypen.store import Submission

    created = _create(api).json()
    state = api.app.state.kommunaltypen
    with state.sessions() as session:
        row = session.scalars(
            select(Submission).where(Submission.id == uuid.UUID(created["id"]))
        ).one()
        stored = {c.key: getattr(row, c.key) for c in Submission.__table__.columns}
    assert created["token"] not in repr(stored)
    import hashlib

    assert row.token_hash == hashlib.sha256(created["token"].encode()).hexdigest()


@pytest.mark.parametrize("method", ["get", "put", "finalize"])
def test_missing_wrong_and_foreign_tokens_reveal_nothing(api: TestClient, method: str) -> None:
    mine = _create(api).json()
    other = _create(api).json()
    sid = mine["id"]

    def call(headers: dict[str, str], target: str = sid):
        url = f"/api/v1/submissions/{target}"
        if method == "get":
            return api.get(url, headers=headers)
        if method == "put":
            return api.put(url, json={"answers": ANSWERS}, headers=headers)
        return api.post(url + "/finalize", headers=headers)

    missing = call({})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert call({"Authorization": "Basic abc"}).status_code == 401

    wrong = call(_bearer("not-the-token"))
    foreign = call(_bearer(other["token"]))
    unknown = call(_bearer(mine["token"]), target=str(uuid.uuid4()))
    garbage = call(_bearer(mine["token"]), target="not-a-uuid")
    for response in (wrong, foreign, unknown, garbage):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)
    # the same answer whether the submission exists or not
    assert wrong.json()["detail"] == unknown.json()["detail"] == foreign.json()["detail"]
    # nothing changed
    after = api.get(f"/api/v1/submissions/{sid}", headers=_bearer(mine["token"])).json()
    assert after["status"] == "draft"


def test_idempotent_retry_returns_the_first_result(api: TestClient) -> None:
    key = str(uuid.uuid4())
    first = _create(api, key=key)
    second = _create(api, key=key)
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["token"] == first.json()["token"]
    token = second.json()["token"]
    assert (
        api.get(f"/api/v1/submissions/{first.json()['id']}", headers=_bearer(token)).status_code
        == 200
    )


def test_idempotency_key_with_another_body_is_a_conflict(api: TestClient) -> None:
    key = str(uuid.uuid4())
    assert _create(api, key=key).status_code == 201
    other = _create(api, {"answers": {**ANSWERS, "einwohner": 1000}}, key=key)
    assert other.status_code == 409
    assert key in other.json()["detail"]
    # key order and whitespace do not make another body
    reordered = {"consent": False, "answers": dict(reversed(list(ANSWERS.items())))}
    assert _create(api, reordered, key=key).status_code == 200


def test_different_idempotency_keys_make_different_submissions(api: TestClient) -> None:
    a = _create(api, key=str(uuid.uuid4())).json()
    b = _create(api, key=str(uuid.uuid4())).json()
    assert a["id"] != b["id"] and a["token"] != b["token"]


@pytest.mark.parametrize("key", ["", "x" * 256, "mit leerzeichen", "ümlaut"])
def test_malformed_idempotency_key_is_refused(sqlite_api: TestClient, key: str) -> None:
    response = sqlite_api.post(
        "/api/v1/submissions",
        json={"answers": ANSWERS},
        headers={"Idempotency-Key": key.encode("utf-8")},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"


def test_answers_are_checked_by_the_codebook_rules(api: TestClient) -> None:
    bad = {**ANSWERS, "kommunenart": 9, "ziele_innovation": 2, "unbekannt": 1}
    del bad["einwohner"]
    response = _create(api, {"answers": bad})
    assert response.status_code == 422
    errors = response.json()["errors"]
    fields = {e["field"] for e in errors}
    assert {"kommunenart", "einwohner", "unbekannt"} <= fields
    assert "ziele" in fields or any(f.startswith("ziele") for f in fields)  # repeated rank
    # the same messages as the service (one rulebook)
    check = service.check_answers(bad)
    assert sorted(e["message"] for e in errors) == sorted(p.message for p in check.problems)
    for error in errors:
        assert error["expected"] is not None and error["message"]


def test_unknown_kommune_ars_is_refused(api: TestClient) -> None:
    response = _create(api, {"answers": ANSWERS, "kommune_ars": "099999999999"})
    assert response.status_code == 422
    assert any(e["field"] == "kommune_ars" for e in response.json()["errors"])


def test_known_kommune_ars_is_stored(api: TestClient) -> None:
    ars = api.get("/api/v1/kommunen", params={"q": "münchen"}).json()["items"][0]["ars"]
    response = _create(api, {"answers": ANSWERS, "kommune_ars": ars})
    assert response.status_code == 201 and response.json()["kommune_ars"] == ars


# ---------------------------------------------------------------------------- analysts
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/analyst/submissions"),
        ("get", f"/api/v1/analyst/submissions/{uuid.uuid4()}"),
        ("delete", f"/api/v1/analyst/submissions/{uuid.uuid4()}"),
        ("get", "/api/v1/analyst/waves"),
        ("post", "/api/v1/analyst/waves"),
        ("get", "/api/v1/analyst/reports"),
        ("post", "/api/v1/analyst/reports"),
    ],
)
def test_analyst_routes_refuse_every_request(
    sqlite_api: TestClient, method: str, path: str
) -> None:
    """Without a workspace session: 401 (a bearer token is no login); the CSRF token is sent so
    that the missing session is what refuses (tests/web/test_workspace_auth.py covers the rest)."""
    sqlite_api.get("/")  # sets the CSRF cookie
    csrf = {"X-CSRF-Token": sqlite_api.cookies["kt_csrf"]}
    for headers in ({}, {"Authorization": "Bearer anything"}):
        response = sqlite_api.request(method, path, headers={**headers, **csrf})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.headers["www-authenticate"].startswith("Session")


def test_openapi_describes_every_route(sqlite_api: TestClient) -> None:
    spec = sqlite_api.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/classify",
        "/api/v1/kommunen",
        "/api/v1/submissions",
        "/api/v1/submissions/{submission_id}",
        "/api/v1/submissions/{submission_id}/finalize",
        "/api/v1/analyst/submissions",
    ):
        assert path in paths, path
    create = paths["/api/v1/submissions"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert {"201", "200", "409", "422", "415", "413"} <= set(create["responses"])
