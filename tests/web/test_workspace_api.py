"""The analyst JSON API under ``/api/v1/analyst`` (issue 11, built in issue 13): submissions
(list with filters and paging, read, delete on request with an audited reason), waves (list,
read, create), reports (the analysis jobs: list, build = 202 with a job status Location).

Every test runs on SQLite and PostgreSQL (``db_backend``) through the real login
(``analyst_client``: session cookie + ``X-CSRF-Token`` header). Errors are problem documents
in the request's language. Session and CSRF refusals of every analyst route are covered by the
route inventory in ``test_workspace_auth.py``.
"""

from __future__ import annotations

import io
import secrets
import time
import uuid
from pathlib import Path

import polars as pl
from auth_fixtures import ANALYST_EMAIL, WorkspaceClient
from fastapi import FastAPI
from workspace_rows import add_job

from kommunaltypen.analysis import bundled_data_path
from kommunaltypen.store.models import AnalysisFile, AuditLog, Submission, utcnow

API = "/api/v1/analyst"
DATA = Path(bundled_data_path()).read_bytes()
PROBLEM = "application/problem+json"


def _json(client: WorkspaceClient, method: str, url: str, body: object = None, **kw):
    return client.request(method, url, json=body, headers=client.csrf_headers(), **kw)


def _new_wave(client: WorkspaceClient, year: int = 2025) -> dict:
    name = f"API-Welle {secrets.token_hex(4)}"
    response = _json(client, "POST", f"{API}/waves", {"name": name, "year": year})
    assert response.status_code == 201, response.text
    return response.json()


def _field_errors(response) -> dict[str, dict]:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    return {e["field"]: e for e in response.json().get("errors", [])}


def test_waves_create_read_list_and_refusals(analyst_client: WorkspaceClient) -> None:
    name = f"  API-Welle {secrets.token_hex(4)}  "
    created = _json(analyst_client, "POST", f"{API}/waves", {"name": name, "year": 2026})
    assert created.status_code == 201, created.text
    wave = created.json()
    assert wave["name"] == name.strip() and wave["year"] == 2026
    assert wave["codebook_version"] == 1 and wave["latest_report"] is None
    location = created.headers["location"]
    assert location == f"{API}/waves/{wave['id']}"
    assert analyst_client.get(location).json() == wave
    listed = analyst_client.get(f"{API}/waves").json()
    assert wave in listed["items"] and listed["count"] == len(listed["items"])
    # the same wave on the workspace page (one implementation)
    assert wave["name"] in analyst_client.get(f"/workspace/waves/{wave['id']}").text
    # a name in use: 409 problem naming it
    again = _json(analyst_client, "POST", f"{API}/waves", {"name": name.strip(), "year": 2026})
    assert again.status_code == 409 and name.strip() in again.json()["detail"]
    # field errors: what was received and what was expected, in the request's language
    bad = _json(
        analyst_client,
        "POST",
        f"{API}/waves?lang=en",
        {"name": "", "year": 1800, "codebook_version": 1, "colour": "red"},
    )
    assert bad.status_code == 422
    errors = _field_errors(bad)
    assert set(errors) == {"name", "year", "colour"}
    assert errors["year"]["value"] == 1800 and "1990" in errors["year"]["expected"]
    assert "name" in errors["colour"]["expected"]  # the allowed fields are named
    codebook = _json(
        analyst_client,
        "POST",
        f"{API}/waves",
        {"name": "X" + name, "year": 2026, "codebook_version": 7},
    )
    assert codebook.status_code == 422
    error = _field_errors(codebook)["codebook_version"]
    assert error["value"] == 7 and "(1)" in error["expected"] and "unbekannt" in error["message"]
    missing = analyst_client.get(f"{API}/waves/999999?lang=en")
    assert missing.status_code == 404 and "No wave with the number 999999" in missing.text


def _submission(app: FastAPI, wave_id: int | None, status: str, land: int = 9) -> str:
    sub_id = uuid.uuid4()
    with app.state.kommunaltypen.sessions.begin() as db:
        db.add(
            Submission(
                id=sub_id,
                wave_id=wave_id,
                kommune_ars="091620000000",
                answers={"kommune_id": "09162000", "bundesland": land, "ziele_effizienz": 1},
                codebook_id="kommunaltypen",
                codebook_version=1,
                land=land,
                status=status,
                consent=True,
                token_hash=secrets.token_hex(32),
                created_at=utcnow(),
                updated_at=utcnow(),
                finalized_at=utcnow() if status == "final" else None,
            )
        )
    return str(sub_id)


def test_submissions_list_filter_page_read_and_delete_with_audit(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    wave = _new_wave(analyst_client)
    final = [_submission(workspace_app, wave["id"], "final") for _ in range(3)]
    draft = _submission(workspace_app, wave["id"], "draft", land=5)
    _submission(workspace_app, None, "final")  # another wave's (none): not listed below
    page = analyst_client.get(f"{API}/submissions", params={"wave_id": wave["id"]}).json()
    assert page["total"] == 4 and {s["id"] for s in page["items"]} == {*final, draft}
    finals = analyst_client.get(
        f"{API}/submissions", params={"wave_id": wave["id"], "status": "final"}
    ).json()
    assert finals["total"] == 3 and {s["status"] for s in finals["items"]} == {"final"}
    land = analyst_client.get(f"{API}/submissions", params={"wave_id": wave["id"], "land": 5})
    assert [s["id"] for s in land.json()["items"]] == [draft]
    # paging: two pages of two, no overlap, the same total
    seen = []
    for offset in (0, 2):
        part = analyst_client.get(
            f"{API}/submissions", params={"wave_id": wave["id"], "limit": 2, "offset": offset}
        ).json()
        assert part["total"] == 4 and part["limit"] == 2 and part["offset"] == offset
        seen += [s["id"] for s in part["items"]]
    assert sorted(seen) == sorted([*final, draft])
    bad = analyst_client.get(f"{API}/submissions", params={"status": "sent", "limit": 0})
    assert bad.status_code == 422 and set(_field_errors(bad)) == {"query.status", "query.limit"}
    # read one (the analyst sees it without its token; never the token hash)
    one = analyst_client.get(f"{API}/submissions/{final[0]}")
    assert one.status_code == 200
    body = one.json()
    assert body["wave_id"] == wave["id"] and body["answers"]["kommune_id"] == "09162000"
    assert "token" not in body and "token_hash" not in one.text
    for unknown in (str(uuid.uuid4()), "kein-uuid"):
        missing = analyst_client.get(f"{API}/submissions/{unknown}")
        assert missing.status_code == 404 and unknown in missing.json()["detail"]
    # delete: a reason is required (missing / blank: 422 naming the field), then audited
    url = f"{API}/submissions/{final[0]}"
    no_reason = _json(analyst_client, "DELETE", url)
    assert no_reason.status_code == 422 and "query.reason" in _field_errors(no_reason)
    blank = _json(analyst_client, "DELETE", url, params={"reason": "   "})
    assert blank.status_code == 422
    assert _field_errors(blank)["query.reason"]["value"] == "   "
    english = _json(analyst_client, "DELETE", url, params={"reason": " ", "lang": "en"})
    assert "expected a reason for the audit log" in english.text
    deleted = _json(analyst_client, "DELETE", url, params={"reason": "Antrag 2026-41"})
    assert deleted.status_code == 200, deleted.text
    out = deleted.json()
    assert out["id"] == final[0] and out["deleted"] is True
    assert out["actor"] == ANALYST_EMAIL and out["reason"] == "Antrag 2026-41"
    assert analyst_client.get(url).status_code == 404
    assert _json(analyst_client, "DELETE", url, params={"reason": "nochmal"}).status_code == 404
    with workspace_app.state.kommunaltypen.sessions() as db:
        entry = db.query(AuditLog).filter_by(action="submission.delete", target_id=final[0]).one()
        assert entry.actor == ANALYST_EMAIL and entry.reason == "Antrag 2026-41"
        assert entry.details["wave_id"] == wave["id"]
        assert db.get(Submission, uuid.UUID(final[0])) is None


def test_delete_through_the_api_scrubs_the_analyses_of_its_wave(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    wave = _new_wave(analyst_client)
    sub = _submission(workspace_app, wave["id"], "final")
    csv = b"kommune_id,type\n09162000,optimierer\nK900,bedaechtige\n"
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        job_id = add_job(
            db,
            wave["id"],
            {"assignments.csv": csv},
            summary={"type_counts": {"optimierer": 1, "bedaechtige": 1}, "secret": "x"},
            input_keys=["09162000", "K900"],
        )
    deleted = _json(
        analyst_client, "DELETE", f"{API}/submissions/{sub}", params={"reason": "Antrag 7"}
    )
    assert deleted.status_code == 200 and deleted.json()["analyses_flagged"] == 1
    report = analyst_client.get(f"{API}/jobs/{job_id}").json()
    assert report["needs_rerun"] is True
    assert report["summary"]["type_counts"] == {"optimierer": 1, "bedaechtige": 1}
    with workspace_app.state.kommunaltypen.sessions() as db:
        content = db.get(AnalysisFile, (job_id, "assignments.csv")).content
    assert b"09162000" not in content and b"K900" in content


def _import(client: WorkspaceClient, wave_id: int, rows: int) -> None:
    frame = pl.read_csv(io.BytesIO(DATA), infer_schema_length=0).head(rows)
    frame = frame.with_columns(
        (pl.lit(f"A{secrets.token_hex(3)}-") + pl.col("kommune_id")).alias("kommune_id")
    )
    upload = client.form(
        f"/workspace/waves/{wave_id}/import",
        files={"file": ("drei.csv", frame.write_csv().encode(), "text/csv")},
    )
    assert upload.status_code == 303, upload.text
    confirm = client.form(upload.headers["location"].split("?")[0] + "/confirm")
    assert confirm.status_code == 303, confirm.text


def _until_ended(client: WorkspaceClient, url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url).json()
        if job["status"] in ("done", "failed"):
            return job
        assert job["status"] in ("queued", "running")
        time.sleep(0.3)
    raise AssertionError(f"job {url} did not end")


def test_build_a_report_202_location_and_its_failure_in_both_languages(
    analyst_client: WorkspaceClient,
) -> None:
    unknown = _json(analyst_client, "POST", f"{API}/reports", {"wave_id": 999999})
    assert unknown.status_code == 422
    assert _field_errors(unknown)["wave_id"]["value"] == 999999
    wave = _new_wave(analyst_client)
    empty = _json(analyst_client, "POST", f"{API}/reports?lang=en", {"wave_id": wave["id"]})
    assert empty.status_code == 409 and "has no rows" in empty.json()["detail"]
    # three rows: the typology needs at least four typable municipalities, so the job fails
    # with the core's message
    _import(analyst_client, wave["id"], 3)
    started = _json(analyst_client, "POST", f"{API}/reports", {"wave_id": wave["id"]})
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"{API}/jobs/{job['id']}" == job["links"]["status"]
    assert job["status"] in ("queued", "running") and job["wave_id"] == wave["id"]
    ended = _until_ended(analyst_client, started.headers["location"])
    assert ended["status"] == "failed", ended
    assert "typisierbare Kommunen" in ended["message"] and "mindestens 4" in ended["message"]
    english = analyst_client.get(started.headers["location"] + "?lang=en").json()
    assert "typable municipalities" in english["message"] and "at least 4" in english["message"]
    for lang, needle in (("de", "typisierbare Kommunen"), ("en", "typable municipalities")):
        page = analyst_client.get(f"/workspace/jobs/{job['id']}?lang={lang}")
        assert needle in page.text, lang
    listed = analyst_client.get(f"{API}/reports", params={"wave_id": wave["id"]}).json()
    assert [r["id"] for r in listed["items"]] == [job["id"]]
    assert analyst_client.get(f"{API}/waves/{wave['id']}").json()["latest_report"] is None
    missing = analyst_client.get(f"{API}/jobs/999999")
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
