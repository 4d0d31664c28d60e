"""Rows of the workspace tables written directly, for tests that need a wave or an analysis
job in a given state without running the workflow that makes one; and a wave made through
the workspace form, for the tests that drive the pages."""

from __future__ import annotations

import secrets
from typing import Any

from auth_fixtures import WorkspaceClient
from sqlalchemy.orm import Session

from kommunaltypen.store.models import AnalysisFile, AnalysisJob, Wave, utcnow


def add_wave(db: Session, **fields: Any) -> Wave:
    """A wave with a fresh name (``fields`` override the defaults), flushed: it has its id."""
    values: dict[str, Any] = {
        "name": f"w-{secrets.token_hex(4)}",
        "year": 2020,
        "codebook_id": "x",
        "codebook_version": 1,
        "created_at": utcnow(),
    }
    wave = Wave(**(values | fields))
    db.add(wave)
    db.flush()
    return wave


def add_job(db: Session, wave_id: int, files: dict[str, bytes] | None = None, **fields: Any) -> int:
    """An analysis job of ``wave_id`` (default: done, German, not to be rerun; ``fields``
    override) with its stored ``files``; returns its id."""
    values: dict[str, Any] = {
        "wave_id": wave_id,
        "status": "done",
        "lang": "de",
        "progress": 1.0,
        "created_by": "t",
        "created_at": utcnow(),
        "needs_rerun": False,
    }
    job = AnalysisJob(**(values | fields))
    db.add(job)
    db.flush()
    for name, content in (files or {}).items():
        db.add(AnalysisFile(job_id=job.id, name=name, content=content))
    return job.id


def new_wave(client: WorkspaceClient, year: int = 2024) -> int:
    """A wave created through the workspace form by ``client`` (logged in); returns its id."""
    name = f"Welle {secrets.token_hex(3)}"
    response = client.form("/workspace/waves", {"name": name, "year": year, "codebook_version": 1})
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[3].split("?")[0])
