"""The analyst workspace (issue 13, second half): waves, import, duplicates, analysis jobs,
report and data downloads, publishing, comparison, DSGVO requests.

Every test runs on SQLite and PostgreSQL (``db_backend``) through the real login
(``analyst_client``); pages are requested with and without ``HX-Request``.
"""

from __future__ import annotations

import io
import secrets
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
from auth_fixtures import WorkspaceClient
from fastapi import FastAPI
from workspace_rows import add_job, add_wave, new_wave

from kommunaltypen.analysis import bundled_data_path
from kommunaltypen.store.models import (
    AnalysisFile,
    AnalysisJob,
    AuditLog,
    Submission,
    WaveImport,
    WaveRow,
    utcnow,
)
from kommunaltypen.web import workspace_ops as ops

DATA = Path(bundled_data_path()).read_bytes()


def _upload(client: WorkspaceClient, wave: int, content: bytes, name: str = "daten.csv"):
    return client.form(
        f"/workspace/waves/{wave}/import", files={"file": (name, content, "text/csv")}
    )


def _small(rows: int = 30, *, broken: int = 0) -> bytes:
    frame = pl.read_csv(io.BytesIO(DATA), infer_schema_length=0).head(rows)
    if broken:
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) < broken)
            .then(pl.lit("99"))
            .otherwise(pl.col("bundesland"))
            .alias("bundesland")
        )
    return frame.write_csv().encode()


def _db(app: FastAPI):
    return app.state.kommunaltypen.sessions()


def test_pages_need_a_login(anon_client: WorkspaceClient) -> None:
    response = anon_client.get("/workspace/")
    assert response.status_code == 303 and "/workspace/login" in response.headers["location"]


@pytest.mark.parametrize("htmx", [False, True])
def test_start_page_with_and_without_htmx(analyst_client: WorkspaceClient, htmx: bool) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    response = analyst_client.get("/workspace/?lang=en", headers=headers)
    assert response.status_code == 200
    assert "Create a wave" in response.text
    assert ("<html" in response.text) is not htmx


def test_create_wave_refuses_bad_input_with_the_value(analyst_client: WorkspaceClient) -> None:
    response = analyst_client.form("/workspace/waves", {"name": "X", "year": "19x"})
    assert response.status_code == 422
    assert "19x" in response.text and "1990" in response.text
    wave = new_wave(analyst_client)
    page = analyst_client.get(f"/workspace/waves/{wave}")
    assert page.status_code == 200


def test_import_shows_the_report_and_stores_nothing_until_confirmed(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    wave = new_wave(analyst_client)
    content = _small(30, broken=3)
    response = _upload(analyst_client, wave, content)
    assert response.status_code == 303, response.text
    page_url = response.headers["location"]
    for headers in ({}, {"HX-Request": "true"}):
        page = analyst_client.get(page_url, headers=headers)
        assert page.status_code == 200
        assert "Prüfbericht" in page.text or "Validierung" in page.text or "bericht" in page.text
    text = page.text
    # counts as the CLI reports them: in = accepted + rejected, every rejected row with reasons
    assert ">30<" in text and ">27<" in text and ">3<" in text
    assert text.count("bundesland") >= 3 and "99" in text
    import_id = uuid.UUID(page_url.split("/")[5].split("?")[0])
    with _db(workspace_app) as db:
        assert db.query(WaveRow).filter_by(import_id=import_id).count() == 0
    confirm = analyst_client.form(page_url.split("?")[0] + "/confirm")
    assert confirm.status_code == 303, confirm.text
    with _db(workspace_app) as db:
        assert db.query(WaveRow).filter_by(import_id=import_id).count() == 27
        assert db.get(WaveImport, import_id).content is None


def test_same_file_twice_is_asked_about(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    wave = new_wave(analyst_client)
    content = _small(12) + b"\n" * (1 + secrets.randbelow(50))
    first = _upload(analyst_client, wave, content).headers["location"].split("?")[0]
    assert analyst_client.form(first + "/confirm").status_code == 303
    second = _upload(analyst_client, wave, content).headers["location"].split("?")[0]
    page = analyst_client.get(second)
    assert "schon" in page.text and 'name="same_file"' in page.text
    refused = analyst_client.form(second + "/confirm")
    assert refused.status_code == 409
    accepted = analyst_client.form(second + "/confirm", {"same_file": "yes"})
    assert accepted.status_code == 303
    # both imports' rows: every municipality twice, shown as duplicates, analysis refused
    page = analyst_client.get(f"/workspace/waves/{wave}")
    assert page.text.count('name="keep"') == 24
    job = analyst_client.form(f"/workspace/waves/{wave}/jobs")
    assert job.status_code == 409 and "mehrfach" in job.text
    # resolve one: it leaves the list
    with _db(workspace_app) as db:
        w = ops.get_wave(db, wave)
        dups = ops.duplicates(ops.members(db, w))
        key, group = next(iter(dups.items()))
    resolved = analyst_client.form(
        f"/workspace/waves/{wave}/duplicates", {"key": key, "keep": group[1].ref}
    )
    assert resolved.status_code == 303
    with _db(workspace_app) as db:
        w = ops.get_wave(db, wave)
        assert key not in ops.duplicates(ops.members(db, w))
        assert len(ops.duplicates(ops.members(db, w))) == 11


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("kaputt.xlsx", b"PK\x03\x04 not really a zip", "kaputt.xlsx"),
        ("bild.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "bild.csv"),
        ("leer.csv", b"", "Keine Datei"),
    ],
)
def test_damaged_or_non_survey_files_get_a_clear_message_and_nothing_is_stored(
    workspace_app: FastAPI, analyst_client: WorkspaceClient, name, content, expected
) -> None:
    wave = new_wave(analyst_client)
    response = _upload(analyst_client, wave, content, name)
    assert response.status_code in (413, 422), response.text
    assert expected in response.text
    assert "Traceback" not in response.text
    with _db(workspace_app) as db:
        assert db.query(WaveImport).filter_by(wave_id=wave).count() == 0


def test_huge_upload_is_refused_on_the_page(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    wave = new_wave(analyst_client)
    state = workspace_app.state.kommunaltypen
    settings = state.settings
    object.__setattr__(state, "settings", settings.model_copy(update={"upload_max_bytes": 2048}))
    try:
        response = _upload(analyst_client, wave, _small(60))
    finally:
        object.__setattr__(state, "settings", settings)
    assert response.status_code == 413
    assert "zu groß" in response.text and "2048" in response.text


def _wait(client: WorkspaceClient, job_id: int, timeout: float = 400) -> str:
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline:
        page = client.get(f"/workspace/jobs/{job_id}/progress", headers={"HX-Request": "true"})
        assert page.status_code == 200
        if "hx-trigger" not in page.text:
            return page.text
        seen.add("running" if "<progress" in page.text else "other")
        time.sleep(0.5)
    raise AssertionError("job did not finish")


def test_analysis_job_report_downloads_publish_and_public_model(
    workspace_app: FastAPI, analyst_client: WorkspaceClient, tmp_path: Path
) -> None:
    wave = new_wave(analyst_client)
    location = _upload(analyst_client, wave, DATA, "beispiel.csv").headers["location"]
    page = analyst_client.get(location)
    if 'name="same_file"' in page.text:
        confirm = analyst_client.form(location.split("?")[0] + "/confirm", {"same_file": "yes"})
    else:
        confirm = analyst_client.form(location.split("?")[0] + "/confirm")
    assert confirm.status_code == 303
    started = analyst_client.form(f"/workspace/waves/{wave}/jobs")
    assert started.status_code == 303
    job_id = int(started.headers["location"].split("/")[3].split("?")[0])
    page = analyst_client.get(f"/workspace/jobs/{job_id}")
    assert page.status_code == 200
    if "Fertig" not in page.text:
        assert 'http-equiv="refresh"' in page.text  # refreshes itself without JavaScript
    done = _wait(analyst_client, job_id)
    assert "download/pdf" in done, done
    report = analyst_client.get(f"/workspace/jobs/{job_id}/report")
    assert report.status_code == 200 and "<html" in report.text.lower()
    assert "sandbox" in report.headers["content-security-policy"]
    pdf = analyst_client.get(f"/workspace/jobs/{job_id}/download/pdf")
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    xlsx = analyst_client.get(f"/workspace/jobs/{job_id}/download/xlsx")
    assert xlsx.content.startswith(b"PK")
    sav = analyst_client.get(f"/workspace/waves/{wave}/data/sav")
    assert sav.status_code == 200
    target = tmp_path / "welle.sav"
    target.write_bytes(sav.content)
    import pyreadstat

    df, meta = pyreadstat.read_sav(str(target))
    assert len(df) == 412
    assert meta.column_names_to_labels.get("kommunenart")
    assert meta.variable_value_labels.get("kommunenart")
    csv = analyst_client.get(f"/workspace/waves/{wave}/data/csv")
    assert csv.text.startswith("kommune_id")
    # publish: confirmation page with the differences, then the public check uses it
    confirm_page = analyst_client.get(f"/workspace/jobs/{job_id}/publish")
    assert confirm_page.status_code == 200 and "Prozentpunkte" in confirm_page.text
    state = workspace_app.state.kommunaltypen
    from kommunaltypen.web import deps

    with _db(workspace_app) as db:
        model_id = db.get(AnalysisJob, job_id).summary["model_id"]
    published = analyst_client.form(f"/workspace/jobs/{job_id}/publish")
    assert published.status_code == 303
    assert deps.current_model(state).model_id == model_id
    # a submission typed before keeps its model; one typed with the new model gets it back
    assert deps.model_for(state, state.model.model_id) is state.model
    assert deps.model_for(state, model_id).model_id == model_id
    with _db(workspace_app) as db:
        assert db.query(AuditLog).filter_by(action="model.publish", target_id=model_id).count()


def _fake_job(app: FastAPI, wave: int, types: dict[str, str]) -> int:
    counts: dict[str, int] = {}
    for t_ in types.values():
        counts[t_] = counts.get(t_, 0) + 1
    csv = (
        pl.DataFrame({"kommune_id": list(types), "type": list(types.values())}).write_csv().encode()
    )
    with app.state.kommunaltypen.sessions.begin() as db:
        return add_job(
            db,
            wave,
            {"assignments.csv": csv},
            summary={"type_counts": counts},
            input_keys=sorted(types),
        )


def test_compare_two_waves_test_transitions_and_suppression(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    a, b = new_wave(analyst_client, 2023), new_wave(analyst_client, 2024)
    ids = [f"C{i:03d}" for i in range(60)]
    ta = {k: ("optimierer" if i < 30 else "bedaechtige") for i, k in enumerate(ids)}
    # 20 of the optimierer become serviceorientierte, 3 bedaechtige become optimierer (< 5)
    tb = dict(ta)
    for k in ids[:20]:
        tb[k] = "serviceorientierte"
    for k in ids[30:33]:
        tb[k] = "optimierer"
    _fake_job(workspace_app, a, ta)
    _fake_job(workspace_app, b, tb)
    for headers in ({}, {"HX-Request": "true"}):
        page = analyst_client.get(f"/workspace/compare?a={a}&b={b}", headers=headers)
        assert page.status_code == 200
    assert "χ²" in page.text and "p = " in page.text
    assert "60 Kommunen sind in beiden Wellen" in page.text
    assert "23 davon haben den Typ gewechselt" in page.text
    assert "&lt; 5" in page.text  # the 3 bedaechtige → optimierer are suppressed
    with _db(workspace_app) as db:
        result = ops.compare(db, ops.latest_done(db, a), ops.latest_done(db, b))
    from scipy.stats import chi2_contingency

    expected = chi2_contingency([[30, 30, 0], [13, 27, 20]])[1]
    assert result["test"]["p"] == pytest.approx(expected)
    row = next(r for r in result["matrix"] if r["type"] == "bedaechtige")
    assert None in row["cells"]  # suppressed
    missing = analyst_client.get(f"/workspace/compare?a={a}&b={new_wave(analyst_client)}")
    assert missing.status_code == 422


def test_dsgvo_find_export_delete_with_audit_and_rerun_flag(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    wave = new_wave(analyst_client)
    ident = f"0{secrets.randbelow(10**7):07d}"
    frame = pl.read_csv(io.BytesIO(DATA), infer_schema_length=0).head(6)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(ident))
        .otherwise(pl.col("kommune_id"))
        .alias("kommune_id"),
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("Musterhausen"))
        .otherwise(pl.col("name"))
        .alias("name"),
    )
    location = _upload(analyst_client, wave, frame.write_csv().encode()).headers["location"]
    page = analyst_client.get(location)
    data = {"same_file": "yes"} if 'name="same_file"' in page.text else {}
    assert analyst_client.form(location.split("?")[0] + "/confirm", data).status_code == 303
    job_id = _fake_job(workspace_app, wave, {ident: "optimierer", "K777": "bedaechtige"})
    for q in (ident, "musterhaus"):
        found = analyst_client.get(f"/workspace/dsgvo?q={q}")
        assert found.status_code == 200 and "Musterhausen" in found.text, q
    bundle = analyst_client.get(f"/workspace/dsgvo/{ident}/export/json").json()
    assert len(bundle["wave_rows"]) == 1
    assert bundle["wave_rows"][0]["data"]["name"] == "Musterhausen"
    assert analyst_client.get(f"/workspace/dsgvo/{ident}/export/csv").text.count(ident) == 1
    refused = analyst_client.form(f"/workspace/dsgvo/{ident}/delete", {"reason": " "})
    assert refused.status_code == 422
    deleted = analyst_client.form(f"/workspace/dsgvo/{ident}/delete", {"reason": "Antrag 2026-17"})
    assert deleted.status_code == 200 and "gelöscht" in deleted.text
    assert (
        "Musterhausen"
        not in analyst_client.get(f"/workspace/dsgvo?q={ident}").text.split("Prüfprotokoll")[0]
    )
    with _db(workspace_app) as db:
        assert db.query(WaveRow).filter_by(kommune_key=ident).count() == 0
        entry = db.query(AuditLog).filter_by(action="kommune.delete", target_id=ident).one()
        assert entry.actor == "analyst@example.org" and entry.reason == "Antrag 2026-17"
        job = db.get(AnalysisJob, job_id)
        assert job.needs_rerun
        assignments = db.get(AnalysisFile, (job_id, "assignments.csv")).content.decode()
        assert ident not in assignments and "K777" in assignments


def test_submissions_join_their_wave_and_duplicates_with_imports_are_shown(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    year = 2030 + secrets.randbelow(60)
    wave = new_wave(analyst_client, year)
    answers = {
        "kommune_id": "09162000",
        "kommunenart": 2,
        "bundesland": 9,
        "einwohner": 1500000,
        "ziele_effizienz": 1,
    }
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        for consent in (True, False):
            db.add(
                Submission(
                    id=uuid.uuid4(),
                    wave_id=wave,
                    kommune_ars="091620000000",
                    answers=answers,
                    codebook_id="x",
                    codebook_version=1,
                    status="final",
                    consent=consent,
                    token_hash=secrets.token_hex(32),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                    finalized_at=utcnow(),
                )
            )
    frame = (
        pl.read_csv(io.BytesIO(DATA), infer_schema_length=0)
        .head(3)
        .with_columns(pl.lit("09162000").alias("kommune_id"))
        .head(1)
    )
    location = _upload(analyst_client, wave, frame.write_csv().encode()).headers["location"]
    page = analyst_client.get(location)
    data = {"same_file": "yes"} if 'name="same_file"' in page.text else {}
    assert analyst_client.form(location.split("?")[0] + "/confirm", data).status_code == 303
    with _db(workspace_app) as db:
        w = ops.get_wave(db, wave)
        found = ops.members(db, w)
    assert [m.kind for m in found] == ["import", "submission"]  # the non-consenting one is out
    page = analyst_client.get(f"/workspace/waves/{wave}")
    assert "Typ-Check" in page.text and page.text.count('name="keep"') == 2


def test_claim_is_atomic_and_stale_running_jobs_fail(workspace_app: FastAPI) -> None:
    state = workspace_app.state.kommunaltypen
    with state.sessions.begin() as db:
        wave = add_wave(db)
        stale_id = add_job(
            db,
            wave.id,
            status="running",
            progress=0.4,
            heartbeat_at=utcnow() - ops.STALE_AFTER * 2,
            claim="gone",
        )
    assert ops.fail_stale(state) >= 1
    with _db(workspace_app) as db:
        job = db.get(AnalysisJob, stale_id)
        assert job.status == "failed" and "unterbrochen" in job.message
    # two claimers on one queued job: exactly one wins (the worker thread may be a third)
    with state.sessions.begin() as db:
        qid = add_job(db, wave.id, status="queued", progress=0.0)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        wins = list(pool.map(lambda i: ops.claim_next(state, f"c{i}"), range(4)))
    with _db(workspace_app) as db:
        job = db.get(AnalysisJob, qid)
    assert wins.count(qid) <= 1
    assert job.status in ("running", "failed", "done") and job.claim
    assert job.claim in {f"c{i}" for i, w in enumerate(wins) if w == qid} or wins.count(qid) == 0


def test_complementary_suppression_leaves_no_single_hidden_cell_in_a_line() -> None:
    values = [[45, 1, 0, 1], [2, 103, 0, 6], [5, 3, 101, 6], [0, 0, 1, 51]]
    hidden = ops.suppression_mask(values)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if 0 < v < ops.MIN_N:
                assert hidden[i][j]
    for line in [*hidden, *zip(*hidden, strict=True)]:
        assert sum(line) != 1
    assert hidden[1][3]  # row 2: the 2 alone would follow from the total; 6 is hidden too
