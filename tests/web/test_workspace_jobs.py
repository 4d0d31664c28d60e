"""The workspace's background work (issue 13, session 5): a DSGVO deletion leaves no row of the
municipality in any stored analysis file, unconfirmed imports expire, a job's failure message
is shown in the request's language, and a server restart fails the jobs it interrupted at once.

Every test runs on SQLite and PostgreSQL (``db_backend``).
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import subprocess
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from auth_fixtures import ANALYST_EMAIL, WorkspaceClient, add_user, logged_in, workspace_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from workspace_rows import add_job, add_wave, new_wave

from db_fixtures import _new_database
from kommunaltypen.analysis import bundled_data_path
from kommunaltypen.store.models import AnalysisFile, AnalysisJob, WaveImport, utcnow
from kommunaltypen.web import create_app
from kommunaltypen.web import workspace_ops as ops
from kommunaltypen.web.app import fail_interrupted_jobs

DATA = Path(bundled_data_path()).read_bytes()


def _upload(client: WorkspaceClient, wave: int, content: bytes, name: str = "daten.csv") -> str:
    response = client.form(
        f"/workspace/waves/{wave}/import", files={"file": (name, content, "text/csv")}
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].split("?")[0]


def _rows(n: int, **first: str) -> pl.DataFrame:
    """The first ``n`` rows of the bundled data with unique identifiers (``first``: values of
    the first row)."""
    prefix = f"T{secrets.token_hex(3)}-"
    frame = pl.read_csv(io.BytesIO(DATA), infer_schema_length=0).head(n)
    frame = frame.with_columns((pl.lit(prefix) + pl.col("kommune_id")).alias("kommune_id"))
    for column, value in first.items():
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit(value))
            .otherwise(pl.col(column))
            .alias(column)
        )
    return frame


# ---------------------------------------------------------------------------- DSGVO
def _readable(name: str, content: bytes) -> bytes:
    """A stored file's bytes as a reader sees them: a ZIP container (XLSX) with every member
    unpacked, a PDF as its text."""
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return content + b"".join(archive.read(n) for n in archive.namelist())
    if content[:5] == b"%PDF-":
        tool = shutil.which("pdftotext")
        assert tool, "pdftotext (poppler-utils) is needed to read the stored PDF report"
        text = subprocess.run([tool, "-", "-"], input=content, capture_output=True, check=True)
        return content + text.stdout
    return content


def _stored(app: FastAPI, job_id: int) -> dict[str, bytes]:
    with app.state.kommunaltypen.sessions() as db:
        files = db.scalars(select(AnalysisFile).where(AnalysisFile.job_id == job_id))
        return {f.name: _readable(f.name, f.content) for f in files}


def _wait_done(client: WorkspaceClient, job_id: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/analyst/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError("job did not end")


def test_dsgvo_delete_leaves_no_row_of_the_municipality_in_any_stored_file(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    ident = f"X{secrets.token_hex(5)}"
    name = f"Musterstadt-{secrets.token_hex(3)}"
    wave = new_wave(analyst_client)
    location = _upload(
        analyst_client, wave, _rows(80, kommune_id=ident, name=name).write_csv().encode()
    )
    assert analyst_client.form(location + "/confirm").status_code == 303
    started = analyst_client.form(f"/workspace/waves/{wave}/jobs")
    assert started.status_code == 303, started.text
    job_id = int(started.headers["location"].split("/")[3].split("?")[0])
    assert _wait_done(analyst_client, job_id)["status"] == "done"
    # two unconfirmed uploads: one holds the municipality (a rejected row), one does not
    holder = _upload(
        analyst_client, wave, _rows(4, kommune_id=ident, bundesland="99").write_csv().encode()
    )
    other = _upload(analyst_client, wave, _rows(4).write_csv().encode())
    before = _stored(workspace_app, job_id)
    holding = {n for n, content in before.items() if ident.encode() in content}
    assert {"assignments.csv", "report.xlsx"} <= holding, holding  # the search can find it
    deleted = analyst_client.form(f"/workspace/dsgvo/{ident}/delete", {"reason": "Antrag 2026-88"})
    assert deleted.status_code == 200 and "gelöscht" in deleted.text
    assert "alten Stand" in deleted.text  # aggregates stay until the re-run: said on the page
    with workspace_app.state.kommunaltypen.sessions() as db:
        pending = {str(r.id) for r in db.query(WaveImport).filter_by(status="pending")}
    assert holder.rsplit("/", 1)[1] not in pending and other.rsplit("/", 1)[1] in pending
    after = _stored(workspace_app, job_id)
    assert set(after) == set(before)  # nothing dropped: scrubbed in place
    for file, content in after.items():
        assert ident.encode() not in content, file
        assert name.encode() not in content, file
    # other municipalities' rows stay; the aggregates (tables) stay until the re-run
    assert after["assignments.csv"].count(b"\n") == before["assignments.csv"].count(b"\n") - 1
    assert after["result.json"] == before["result.json"]
    manifest = json.loads(after["manifest.json"])
    import hashlib

    with workspace_app.state.kommunaltypen.sessions() as db:
        raw = db.get(AnalysisFile, (job_id, "assignments.csv")).content
    assert manifest["outputs"]["assignments.csv"] == hashlib.sha256(raw).hexdigest()
    # downloads: the report XLSX, the wave's data
    xlsx = analyst_client.get(f"/workspace/jobs/{job_id}/download/xlsx")
    assert ident.encode() not in _readable("x.xlsx", xlsx.content)
    for fmt in ("csv", "xlsx"):
        data = analyst_client.get(f"/workspace/waves/{wave}/data/{fmt}").content
        assert ident.encode() not in _readable(fmt, data)
    for lang, needle in (("de", "alten Stand"), ("en", "old state")):
        page = analyst_client.get(f"/workspace/jobs/{job_id}?lang={lang}")
        assert needle in page.text, lang


def test_scrub_removes_rejected_rows_and_their_validation_issues(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    wave = new_wave(analyst_client)
    rejected = "row,reasons,kommune_id,name\n3,bad,K3,Drei\n4,bad,K4,Vier\n"
    validation = {
        "rows_in": 4,
        "issues": [
            {"row": 3, "column": "bundesland", "value": "99", "message": "x"},
            {"row": 4, "column": "bundesland", "value": "98", "message": "y"},
            {"row": None, "column": "foo", "value": None, "message": "unknown column"},
        ],
    }
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        job_id = add_job(
            db,
            wave,
            {
                "rejected.csv": rejected.encode(),
                "validation.json": json.dumps(validation).encode(),
            },
            input_keys=["K3", "K4"],
        )
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        assert ops.scrub_job_files(db, job_id, "K3") == 2
    files = _stored(workspace_app, job_id)
    assert b"Drei" not in files["rejected.csv"] and b"Vier" in files["rejected.csv"]
    issues = json.loads(files["validation.json"])["issues"]
    assert [i["row"] for i in issues] == [4, None]
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        assert ops.scrub_job_files(db, job_id, "K3") == 0  # nothing left of it


# ---------------------------------------------------------------------------- imports
@pytest.fixture(scope="module")
def quiet_app(
    request: pytest.FixtureRequest, db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """An application without the job worker thread: nothing cleans up behind the test's
    back."""
    data = tmp_path_factory.mktemp("quiet")
    url = _new_database(request, db_backend, data)
    app = create_app(workspace_settings(url, data, job_worker=False))
    with TestClient(app):
        add_user(app, ANALYST_EMAIL)
        yield app


def _backdate(app: FastAPI, location: str, hours: float) -> uuid.UUID:
    import_id = uuid.UUID(location.rsplit("/", 1)[1])
    with app.state.kommunaltypen.sessions.begin() as db:
        db.execute(
            update(WaveImport)
            .where(WaveImport.id == import_id)
            .values(created_at=utcnow() - timedelta(hours=hours))
        )
    return import_id


def _exists(app: FastAPI, import_id: uuid.UUID) -> bool:
    with app.state.kommunaltypen.sessions() as db:
        return db.get(WaveImport, import_id) is not None


def test_unconfirmed_imports_expire(quiet_app: FastAPI) -> None:
    client = logged_in(quiet_app, ANALYST_EMAIL)
    hours = quiet_app.state.kommunaltypen.settings.import_pending_hours
    assert hours == 24  # the default of the setting (docs/web.md)
    wave = new_wave(client)
    # a fresh pending import says when it expires, and housekeeping leaves it alone
    fresh = _upload(client, wave, _rows(5).write_csv().encode(), "frisch.csv")
    page = client.get(fresh)
    assert page.status_code == 200 and "Unbestätigt wird dieser Import am" in page.text
    # opened after its time: removed at once, the page says so (file name, time limit)
    late = _upload(client, wave, _rows(5).write_csv().encode(), "spaet.csv")
    late_id = _backdate(quiet_app, late, hours + 0.1)
    page = client.get(late)
    assert page.status_code == 410
    assert "spaet.csv" in page.text and "abgelaufen" in page.text and "24 Stunden" in page.text
    assert not _exists(quiet_app, late_id)
    # confirmed after its time: refused with the message, nothing stored
    late = _upload(client, wave, _rows(5).write_csv().encode(), "spaet2.csv")
    late_id = _backdate(quiet_app, late, hours + 0.1)
    confirm = client.form(late + "/confirm?lang=en")
    assert confirm.status_code == 410
    assert "The import spaet2.csv has expired" in confirm.text and "24 hours" in confirm.text
    assert not _exists(quiet_app, late_id)
    # the worker's housekeeping (also run at start) deletes expired ones; confirming one
    # afterwards gets a clear message instead of a bare "not found"
    gone = _upload(client, wave, _rows(5).write_csv().encode(), "weg.csv")
    gone_id = _backdate(quiet_app, gone, hours + 0.1)
    ops.JobWorker(quiet_app.state.kommunaltypen).housekeeping()
    assert not _exists(quiet_app, gone_id)
    assert _exists(quiet_app, _backdate(quiet_app, fresh, hours - 0.5))  # not yet
    for lang, needle in (("de", "gibt es nicht (mehr)"), ("en", "does not exist (any more)")):
        confirm = client.form(f"{gone}/confirm?lang={lang}")
        assert confirm.status_code == 404 and needle in confirm.text, lang
        assert "24" in confirm.text
    with quiet_app.state.kommunaltypen.sessions() as db:
        assert db.query(WaveImport).filter_by(wave_id=wave, status="confirmed").count() == 0


# ---------------------------------------------------------------------------- restart
def _job(app: FastAPI, claim: str, *, status: str = "running", beat_ago: float = 0) -> int:
    with app.state.kommunaltypen.sessions.begin() as db:
        return add_job(
            db,
            add_wave(db).id,
            status=status,
            progress=0.4,
            started_at=utcnow(),
            heartbeat_at=utcnow() - timedelta(seconds=beat_ago),
            claim=claim,
        )


def _status(app: FastAPI, job_id: int) -> AnalysisJob:
    with app.state.kommunaltypen.sessions() as db:
        return db.get(AnalysisJob, job_id)


def test_a_restart_fails_the_jobs_it_interrupted_at_once(
    request: pytest.FixtureRequest, db_backend: str, tmp_path: Path
) -> None:
    url = _new_database(request, db_backend, tmp_path)
    settings = workspace_settings(url, tmp_path, job_worker=False)
    first = create_app(settings)
    with TestClient(first):  # a server that ran jobs, then stopped without a word
        mine = _job(first, f"{ops.HOST}/{secrets.token_hex(8)}")
        elsewhere = _job(first, f"other-machine/{secrets.token_hex(8)}")
    # the restarted server (one worker process): this machine's running job fails at once,
    # long before its heartbeat would be stale; another machine's is left to the heartbeat
    second = create_app(workspace_settings(url, tmp_path))
    with TestClient(second):
        job = _status(second, mine)
        assert job.status == "failed" and job.finished_at is not None
        assert "Neustart des Servers" in job.message_in("de")
        assert "interrupted by a server restart" in job.message_in("en")
        assert _status(second, elsewhere).status == "running"
        # several worker processes: each one's start must not fail the others' jobs
        running = _job(second, f"{ops.HOST}/{secrets.token_hex(8)}")
    third = create_app(workspace_settings(url, tmp_path, workers=2))
    with TestClient(third):
        assert _status(third, running).status == "running"
        # ... for them `kommunaltypen serve` does it once before the workers start
        assert fail_interrupted_jobs(third.state.settings) == 1
        assert _status(third, running).status == "failed"
        # a worker that dies while others run: the heartbeat rule
        assert ops.HEARTBEAT_SECONDS * 3 <= ops.STALE_AFTER.total_seconds() <= 60
        dead = _job(third, f"{ops.HOST}/x", beat_ago=ops.STALE_AFTER.total_seconds() + 1)
        alive = _job(third, f"{ops.HOST}/y", beat_ago=ops.HEARTBEAT_SECONDS)
        assert ops.fail_stale(third.state.kommunaltypen) >= 1
        assert _status(third, dead).status == "failed"
        assert "unterbrochen" in _status(third, dead).message_in("de")
        assert "interrupted" in _status(third, dead).message_in("en")
        assert _status(third, alive).status == "running"


def test_a_running_job_writes_heartbeats_often_enough(workspace_app: FastAPI) -> None:
    """The heartbeat thread of a running job keeps it fresh (so fail_stale leaves it)."""
    state = workspace_app.state.kommunaltypen
    claim = ops.worker_claim()
    assert claim.startswith(ops.HOST + "/")
    # half-way to stale, not stale: the app's own job worker (its housekeeping fails stale
    # jobs) must not fail it before the first beat
    job_id = _job(workspace_app, claim, beat_ago=ops.STALE_AFTER.total_seconds() / 2)
    first = _status(workspace_app, job_id).heartbeat_at
    stop_beat = ops.start_heartbeat(state, job_id, claim, interval=0.05)
    try:
        deadline = time.monotonic() + 10
        while _status(workspace_app, job_id).heartbeat_at <= first:
            assert time.monotonic() < deadline, "no heartbeat written"
            time.sleep(0.05)
    finally:
        stop_beat()
    ops.fail_stale(state)
    assert _status(workspace_app, job_id).status == "running"
    with state.sessions.begin() as db:  # (not left running for other tests)
        db.execute(update(AnalysisJob).where(AnalysisJob.id == job_id).values(status="failed"))
