"""The operations of the analyst workspace on the database (no HTTP here).

Survey waves, imports (validated, stored only on confirmation), the members of a wave
(imported rows and finalised, consenting self-check submissions), duplicates of one
municipality, analysis jobs (claimed with an atomic UPDATE, run in a worker thread, result
files stored in the database), publishing a wave's model, comparing two waves, and the
data-protection requests (find, export, delete with an audit entry).

Every function works inside the caller's transaction (it flushes, never commits) unless it
says otherwise. The core does the work: :func:`kommunaltypen.validate.validate_file`,
:func:`kommunaltypen.service.analyse`, :func:`kommunaltypen.analysis.write_outputs`,
:func:`kommunaltypen.report.render_report`, :func:`kommunaltypen.io.writers.write_data`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import secrets
import socket
import string
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import LANGUAGES, catalog, get_lang, t, use_lang
from kommunaltypen.store.models import (
    AnalysisFile,
    AnalysisJob,
    JobStatus,
    Kommune,
    Submission,
    SubmissionStatus,
    Wave,
    WaveExclusion,
    WaveImport,
    WaveRow,
    utcnow,
)

log = logging.getLogger("kommunaltypen.web")

#: the smallest count shown in a comparison (as the report's publication mode)
MIN_N = 5
#: a running job without a heartbeat for this long was interrupted (its worker died while
#: other workers run on); a restarted server fails its own running jobs at once instead
STALE_AFTER = timedelta(seconds=30)
#: a running job writes a heartbeat this often (well inside STALE_AFTER)
HEARTBEAT_SECONDS = 5.0
#: how often the worker thread looks for stale jobs and expired pending imports
HOUSEKEEPING_SECONDS = 10.0
#: the claim of every worker on this machine starts with this (``host/…``): a server that
#: starts fails the running jobs of this machine at once (they cannot be running any more)
HOST = socket.gethostname()[:40] or "localhost"
REPORT_FILES = {"html": "report.html", "pdf": "report.pdf", "xlsx": "report.xlsx"}
DATA_FORMATS = ("csv", "xlsx", "sav")


class WorkspaceError(KommunaltypenError):
    """A workspace request that cannot be done; the message says what and why."""


# ---------------------------------------------------------------------------- keys
def kommune_key(value: Any) -> str | None:
    """The key a municipality is matched by across imports, submissions and waves: the
    identifier as given, trimmed; a 12-digit ARS is shortened to its 8-digit AGS (Land,
    Regierungsbezirk, Kreis, Gemeinde), so "091620000000" and "09162000" are one Kommune."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 12 and text.isdigit():
        return text[:5] + text[9:]
    return text[:40]


# ---------------------------------------------------------------------------- waves
def create_wave(db: Session, name: str, year: str | int, codebook_version: str | int) -> Wave:
    from kommunaltypen.codebook import default_codebook
    from kommunaltypen.store import WaveRepo

    cb = default_codebook()
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise WorkspaceError(t("workspace.wave.bad_name", received=name[:130]))
    try:
        year_value = int(str(year).strip())
    except ValueError:
        year_value = -1
    if not 1990 <= year_value <= 2100:
        raise WorkspaceError(t("workspace.wave.bad_year", received=str(year)[:20]))
    version = str(codebook_version or cb.version).strip()
    if version != str(cb.version):
        raise WorkspaceError(
            t("workspace.wave.bad_codebook", received=version[:20], expected=cb.version)
        )
    if WaveRepo(db).by_name(name) is not None:
        raise WorkspaceError(t("workspace.wave.duplicate", name=name))
    return WaveRepo(db).create(
        name=name, year=year_value, codebook_id=cb.id, codebook_version=int(cb.version)
    )


#: the largest id of a row (a 32-bit integer column): larger numbers find nothing
MAX_ID = 2_147_483_647


def valid_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


def get_wave(db: Session, wave_id: int) -> Wave | None:
    return db.get(Wave, wave_id) if valid_id(wave_id) else None


# ---------------------------------------------------------------------------- imports
def _validate(content: bytes, filename: str, mapping: bytes | None) -> tuple[pl.DataFrame, Any]:
    from kommunaltypen.validate import validate_file

    if mapping is None:
        return validate_file(content, filename=filename)
    with tempfile.TemporaryDirectory(prefix="kt-mapping-") as tmp:
        path = Path(tmp) / "mapping.yaml"
        path.write_bytes(mapping)
        return validate_file(content, filename=filename, mapping=path)


def report_dict(report: Any) -> dict[str, Any]:
    """The validation report as the page shows it (what the CLI prints)."""
    data = report.to_dict()
    data["warnings"] = [i.to_dict() for i in report.warnings]
    data["errors"] = [{**i.to_dict(), "short": _short(i)} for i in report.errors]
    data["rejected_rows"] = report.rows_rejected
    return json.loads(json.dumps(data, default=str))


def _short(issue: Any) -> str:
    from kommunaltypen.validate import _short_message

    return _short_message(issue)


def stage_import(
    db: Session,
    wave: Wave,
    *,
    filename: str,
    content: bytes,
    user: str,
    mapping_name: str | None = None,
    mapping: bytes | None = None,
) -> WaveImport:
    """Validate an upload and keep it as a pending import (nothing of its rows is stored
    yet). Unreadable, damaged or non-survey files raise the importer's error."""
    _, report = _validate(content, filename, mapping)
    record = WaveImport(
        id=uuid.uuid4(),
        wave_id=wave.id,
        status="pending",
        filename=filename[:255],
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        content=content,
        mapping_name=(mapping_name or None) and mapping_name[:255],
        mapping=mapping,
        rows_in=report.rows_in,
        rows_accepted=report.rows_accepted,
        rows_rejected=report.rows_rejected,
        report=report_dict(report),
        created_by=user,
        created_at=utcnow(),
    )
    db.add(record)
    db.flush()
    return record


def same_file_imports(db: Session, record: WaveImport) -> list[tuple[WaveImport, Wave]]:
    """Confirmed imports of the same content (sha256) in any wave."""
    rows = db.execute(
        select(WaveImport, Wave)
        .join(Wave, Wave.id == WaveImport.wave_id)
        .where(
            WaveImport.sha256 == record.sha256,
            WaveImport.status == "confirmed",
            WaveImport.id != record.id,
        )
        .order_by(WaveImport.created_at)
    ).all()
    return [(r[0], r[1]) for r in rows]


def get_import(db: Session, wave: Wave, import_id: str) -> WaveImport | None:
    try:
        key = uuid.UUID(str(import_id))
    except ValueError:
        return None
    record = db.get(WaveImport, key)
    if record is None or record.wave_id != wave.id:
        return None
    return record


def confirm_import(db: Session, record: WaveImport) -> int:
    """Store the accepted rows of a pending import (one transaction: all or nothing).
    Returns the number of rows stored."""
    if record.status != "pending" or record.content is None:
        raise WorkspaceError(t("workspace.import.not_pending", file=record.filename))
    data, _ = _validate(record.content, record.filename, record.mapping)
    rows = data.to_dicts()
    db.add_all(
        WaveRow(
            wave_id=record.wave_id,
            import_id=record.id,
            row_number=i + 1,
            kommune_key=kommune_key(row.get("kommune_id")),
            name=(str(row["name"])[:200] if row.get("name") else None),
            data=_json_row(row),
            excluded=False,
        )
        for i, row in enumerate(rows)
    )
    record.status = "confirmed"
    record.content = None
    record.confirmed_at = utcnow()
    db.flush()
    return len(rows)


def discard_import(db: Session, record: WaveImport) -> None:
    if record.status == "pending":
        db.delete(record)
        db.flush()


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, float) and value != value:  # NaN
            value = None
        out[key] = value
    return out


def imports_of(db: Session, wave: Wave) -> list[WaveImport]:
    return list(
        db.scalars(
            select(WaveImport)
            .where(WaveImport.wave_id == wave.id)
            .order_by(WaveImport.created_at.desc())
        )
    )


# ---------------------------------------------------------------------------- members
@dataclass(frozen=True)
class Member:
    """One row of a wave: an imported row (``kind`` "import") or a self-check submission
    (``kind`` "submission")."""

    kind: str
    id: str
    key: str | None
    name: str | None
    data: Mapping[str, Any]
    excluded: bool
    origin: str  # file name or "Typ-Check"
    created_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"


def wave_submissions(db: Session, wave: Wave) -> list[Submission]:
    """Finalised, consenting submissions of the wave: those stored with the wave, and those
    without a wave finalised in the wave's year."""
    subs = db.scalars(
        select(Submission).where(
            Submission.status == SubmissionStatus.FINAL.value,
            Submission.consent.is_(True),
            (Submission.wave_id == wave.id) | Submission.wave_id.is_(None),
        )
    )
    out = []
    for sub in subs:
        if sub.wave_id == wave.id or (
            sub.wave_id is None
            and sub.finalized_at is not None
            and sub.finalized_at.year == wave.year
        ):
            out.append(sub)
    return out


def members(db: Session, wave: Wave) -> list[Member]:
    imports = {r.id: r.filename for r in imports_of(db, wave)}
    out = [
        Member(
            "import",
            str(row.id),
            row.kommune_key,
            row.name,
            row.data,
            row.excluded,
            imports.get(row.import_id, ""),
        )
        for row in db.scalars(
            select(WaveRow).where(WaveRow.wave_id == wave.id).order_by(WaveRow.id)
        )
    ]
    excluded = set(
        db.scalars(select(WaveExclusion.submission_id).where(WaveExclusion.wave_id == wave.id))
    )
    names: dict[str, str] = {}
    subs = wave_submissions(db, wave)
    ars = {s.kommune_ars for s in subs if s.kommune_ars}
    if ars:
        names = {
            k.ars: k.name for k in db.scalars(select(Kommune).where(Kommune.ars.in_(sorted(ars))))
        }
    for sub in subs:
        data = dict(sub.answers or {})
        ident = data.get("kommune_id") or sub.kommune_ars or f"S-{str(sub.id)[:8]}"
        data["kommune_id"] = ident
        out.append(
            Member(
                "submission",
                str(sub.id),
                kommune_key(sub.kommune_ars) or kommune_key(data.get("kommune_id")),
                names.get(sub.kommune_ars or "") or data.get("name"),
                data,
                sub.id in excluded,
                "Typ-Check",
                sub.finalized_at,
            )
        )
    return out


def duplicates(all_members: Sequence[Member]) -> dict[str, list[Member]]:
    """Municipalities with more than one row in the wave not yet resolved (more than one row
    not excluded)."""
    groups: dict[str, list[Member]] = {}
    for m in all_members:
        if m.key:
            groups.setdefault(m.key, []).append(m)
    return {k: v for k, v in sorted(groups.items()) if sum(1 for m in v if not m.excluded) > 1}


def resolve_duplicate(db: Session, wave: Wave, key: str, keep: str) -> None:
    """Keep one row (``keep`` = ``Member.ref``) of municipality ``key``; exclude the others."""
    group = [m for m in members(db, wave) if m.key == key]
    if keep not in {m.ref for m in group}:
        raise WorkspaceError(t("workspace.dup.bad_choice", received=keep[:80], kommune=key[:40]))
    for m in group:
        excluded = m.ref != keep
        if m.kind == "import":
            db.execute(update(WaveRow).where(WaveRow.id == int(m.id)).values(excluded=excluded))
        else:
            sid = uuid.UUID(m.id)
            db.execute(
                delete(WaveExclusion).where(
                    WaveExclusion.wave_id == wave.id, WaveExclusion.submission_id == sid
                )
            )
            if excluded:
                db.add(WaveExclusion(wave_id=wave.id, submission_id=sid))
    db.flush()


def wave_frame(all_members: Sequence[Member]) -> pl.DataFrame:
    """The wave's rows (not excluded) as a frame of codebook columns."""
    from kommunaltypen.codebook import default_codebook
    from kommunaltypen.validate import canonical_schema

    schema = canonical_schema(default_codebook())
    rows = [{c: m.data.get(c) for c in schema} for m in all_members if not m.excluded]
    return pl.DataFrame(rows, schema=schema, strict=False)


def data_download(all_members: Sequence[Member], fmt: str) -> bytes:
    """The wave's data as CSV, XLSX or SPSS .sav (with labels), via the core's writers."""
    from kommunaltypen.codebook import default_codebook
    from kommunaltypen.io.writers import write_data

    if fmt not in DATA_FORMATS:
        raise WorkspaceError(
            t("workspace.download.bad_format", received=fmt[:10], expected=", ".join(DATA_FORMATS))
        )
    frame = wave_frame(all_members)
    with tempfile.TemporaryDirectory(prefix="kt-wave-") as tmp:
        path = Path(tmp) / f"wave.{fmt}"
        write_data(frame, path, fmt, default_codebook())
        return path.read_bytes()


# ---------------------------------------------------------------------------- jobs
def enqueue(db: Session, wave: Wave, user: str, lang: str) -> AnalysisJob:
    """Queue an analysis of ``wave``; refused while duplicates are unresolved or the wave has
    no rows."""
    found = members(db, wave)
    dups = duplicates(found)
    if dups:
        raise WorkspaceError(t("workspace.job.duplicates", count=len(dups)))
    if not any(not m.excluded for m in found):
        raise WorkspaceError(t("workspace.job.empty", wave=wave.name))
    job = AnalysisJob(
        wave_id=wave.id,
        status=JobStatus.QUEUED.value,
        lang=lang if lang in ("de", "en") else "de",
        progress=0.0,
        stage=None,
        created_by=user,
        created_at=utcnow(),
        needs_rerun=False,
    )
    db.add(job)
    db.flush()
    return job


def jobs_of(db: Session, wave: Wave) -> list[AnalysisJob]:
    return list(
        db.scalars(
            select(AnalysisJob)
            .where(AnalysisJob.wave_id == wave.id)
            .order_by(AnalysisJob.id.desc())
        )
    )


def latest_done(db: Session, wave_id: int) -> AnalysisJob | None:
    return db.scalars(
        select(AnalysisJob)
        .where(AnalysisJob.wave_id == wave_id, AnalysisJob.status == JobStatus.DONE.value)
        .order_by(AnalysisJob.id.desc())
        .limit(1)
    ).first()


def claim_next(state: Any, claim: str) -> int | None:
    """Claim the oldest queued job for the worker ``claim``: an UPDATE … WHERE status =
    'queued' that only one worker can win (the row count says who did)."""
    now = utcnow()
    with state.write_lock, state.sessions.begin() as db:
        candidate = db.scalar(
            select(AnalysisJob.id)
            .where(AnalysisJob.status == JobStatus.QUEUED.value)
            .order_by(AnalysisJob.id)
            .limit(1)
        )
        if candidate is None:
            return None
        won = db.execute(
            update(AnalysisJob)
            .where(AnalysisJob.id == candidate, AnalysisJob.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.RUNNING.value,
                claim=claim,
                started_at=now,
                heartbeat_at=now,
                progress=0.0,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return candidate if won == 1 else None


def texts(key: str, **params: Any) -> dict[str, str]:
    """The message ``key`` in every language (what a job stores as ``messages``)."""
    return {lang: t(key, lang=lang, **params) for lang in LANGUAGES}


@cache
def _patterns(lang: str) -> list[tuple[int, re.Pattern[str], str]]:
    """Every catalogue message of ``lang`` as a regular expression (its fields as named
    groups), longest literal text first."""
    out = []
    for key, entry in catalog().items():
        text = entry.get(lang)
        if not text:
            continue
        regex, literal, names = "", 0, set()
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError:
            continue
        for lit, name, _spec, _conv in parts:
            regex += re.escape(lit)
            literal += len(lit)
            if name is not None:
                if not name.isidentifier() or name in names:
                    regex += "(?:.*?)"
                    continue
                names.add(name)
                regex += f"(?P<{name}>.*?)"
        if literal >= 12:  # a message of a field or two alone would match anything
            out.append((literal, re.compile(regex + r"\Z", re.S), key))
    out.sort(key=lambda item: -item[0])
    return out


def translations(message: str, lang: str) -> dict[str, str]:
    """``message`` (a text of the catalogue in ``lang``, as the core raised it) in every
    language: the catalogue entry it was made from is found by its literal text, and its
    fields are put, as they were formatted, into the other languages' text. A message that is
    no catalogue entry stays as it is (in ``lang`` only)."""
    out = {lang: message}
    for _, pattern, key in _patterns(lang):
        match = pattern.match(message)
        if match is None:
            continue
        fields = match.groupdict()
        for other in LANGUAGES:
            text = catalog()[key].get(other)
            if other == lang or not text:
                continue
            try:
                out[other] = _fill(text, fields)
            except (KeyError, ValueError, IndexError):
                continue
        break
    return out


def _fill(template: str, fields: Mapping[str, str]) -> str:
    """``template`` with each field replaced by the text captured for it (already formatted:
    conversions and format specs are not applied again)."""
    return "".join(
        lit + ("" if name is None else fields[name])
        for lit, name, _spec, _conv in string.Formatter().parse(template)
    )


def _failed(
    message_key: str | None = None, *, exc: BaseException | None = None, **params: Any
) -> dict[str, Any]:
    """The column values of a job that failed with the message ``message_key`` (in every
    language) or with the core's error ``exc`` (raised in the job's language)."""
    if exc is not None:
        message = str(exc)
        messages = translations(message, get_lang())
    else:
        assert message_key is not None
        messages = texts(message_key, **params)
        message = messages[get_lang()] if get_lang() in messages else messages["de"]
    return {
        "status": JobStatus.FAILED.value,
        "message": message,
        "messages": messages,
        "finished_at": utcnow(),
    }


def worker_claim() -> str:
    """A new worker id: this machine's name and 64 random bits."""
    return f"{HOST}/{secrets.token_hex(8)}"


def fail_stale(state: Any, *, now: datetime | None = None) -> int:
    """Mark running jobs without a heartbeat for :data:`STALE_AFTER` as failed (the worker
    that ran them died while others run on). Returns how many."""
    now = now or utcnow()
    with state.write_lock, state.sessions.begin() as db:
        return db.execute(
            update(AnalysisJob)
            .where(
                AnalysisJob.status == JobStatus.RUNNING.value,
                AnalysisJob.heartbeat_at < now - STALE_AFTER,
            )
            .values(**{**_failed("workspace.job.interrupted"), "finished_at": now})
            .execution_options(synchronize_session=False)
        ).rowcount


def fail_interrupted(state: Any) -> int:
    """At server start, before any worker of this machine runs: every job still ``running``
    under a claim of this machine (:data:`HOST`) was interrupted by the restart and is failed
    at once ("interrupted by a server restart"), whatever its heartbeat says. Jobs of other
    machines on the same database are left to the heartbeat rule. Returns how many."""
    prefix = HOST.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
    with state.write_lock, state.sessions.begin() as db:
        return db.execute(
            update(AnalysisJob)
            .where(
                AnalysisJob.status == JobStatus.RUNNING.value,
                AnalysisJob.claim.like(prefix, escape="\\"),
            )
            .values(**_failed("workspace.job.restarted"))
            .execution_options(synchronize_session=False)
        ).rowcount


def expire_imports(state: Any, hours: int, *, now: datetime | None = None) -> int:
    """Delete pending (unconfirmed) imports older than ``hours`` (the file and its report
    with it). Returns how many."""
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    with state.write_lock, state.sessions.begin() as db:
        return db.execute(
            delete(WaveImport)
            .where(WaveImport.status == "pending", WaveImport.created_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount


def import_expires_at(record: WaveImport, hours: int) -> datetime:
    return record.created_at + timedelta(hours=hours)


def import_expired(record: WaveImport, hours: int, *, now: datetime | None = None) -> bool:
    return record.status == "pending" and import_expires_at(record, hours) <= (now or utcnow())


def _update_job(state: Any, job_id: int, claim: str, **values: Any) -> None:
    with state.write_lock, state.sessions.begin() as db:
        db.execute(
            update(AnalysisJob)
            .where(AnalysisJob.id == job_id, AnalysisJob.claim == claim)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


class JobStopped(Exception):
    """The server is stopping: the running job ends as failed."""


def start_heartbeat(
    state: Any, job_id: int, claim: str, *, interval: float = HEARTBEAT_SECONDS
) -> Callable[[], None]:
    """Write the job's heartbeat every ``interval`` seconds in a thread of its own (while the
    job's own thread computes); returns the function that ends it."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                _update_job(state, job_id, claim, heartbeat_at=utcnow())
            except Exception:
                log.warning("job %s: heartbeat failed", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"kt-job-{job_id}-beat", daemon=True)
    thread.start()

    def end() -> None:
        stop.set()
        thread.join(timeout=5)

    return end


def run_job(state: Any, job_id: int, claim: str, stop: threading.Event | None = None) -> None:
    """Run a claimed job: the wave's rows → ``service.analyse`` → output files and report
    (HTML, PDF, XLSX) stored in ``analysis_file``. Any failure ends the job as failed with a
    message; nothing is left running."""
    stop = stop or threading.Event()
    end_heartbeat = start_heartbeat(state, job_id, claim)
    try:
        with state.read_sessions() as db:
            job = db.get(AnalysisJob, job_id)
            assert job is not None
            wave = db.get(Wave, job.wave_id)
            assert wave is not None
            lang = job.lang
            found = members(db, wave)
            wave_name = wave.name
        with use_lang(lang):
            try:
                _run(state, job_id, claim, stop, found, wave_name, lang)
            except JobStopped:
                _update_job(state, job_id, claim, **_failed("workspace.job.interrupted"))
            except KommunaltypenError as exc:  # the core's message, in the job's language
                _update_job(state, job_id, claim, **_failed(exc=exc))
    except Exception:
        incident = secrets.token_hex(6)
        log.exception("job %s failed (incident %s)", job_id, incident)
        _update_job(state, job_id, claim, **_failed("workspace.job.crashed", incident=incident))
    finally:
        end_heartbeat()


def _run(
    state: Any,
    job_id: int,
    claim: str,
    stop: threading.Event,
    found: Sequence[Member],
    wave_name: str,
    lang: str,
) -> None:
    import time

    from kommunaltypen import service
    from kommunaltypen.analysis import write_outputs
    from kommunaltypen.report import render_report

    last = [0.0]

    def progress(stage: str, fraction: float, span: tuple[float, float] = (0.0, 0.8)) -> None:
        if stop.is_set():
            raise JobStopped()
        now = time.monotonic()
        if now - last[0] < 0.5 and fraction < 1.0:
            return
        last[0] = now
        value = span[0] + (span[1] - span[0]) * max(0.0, min(1.0, float(fraction)))
        _update_job(
            state, job_id, claim, progress=value, stage=str(stage)[:80], heartbeat_at=utcnow()
        )

    frame = wave_frame(found)
    keys = sorted({m.key for m in found if m.key and not m.excluded})
    _update_job(state, job_id, claim, input_keys=keys, stage="validate")
    result = service.analyse(frame, filename=f"{wave_name}.csv", progress=progress)
    progress("report", 0.0, (0.8, 1.0))
    with tempfile.TemporaryDirectory(prefix="kt-job-") as tmp:
        out = Path(tmp)
        files = write_outputs(result, out)
        render_report(result, out, lang=lang)
        if stop.is_set():
            raise JobStopped()
        stored = {name: path.read_bytes() for name, path in files.items()}
        for name in REPORT_FILES.values():
            stored[name] = (out / name).read_bytes()
    model = json.loads(stored["model.json"])
    summary = {
        "rows": result.validation.rows_in,
        "accepted": result.validation.rows_accepted,
        "typed": result.n_typed,
        "type_counts": result.type_counts,
        "model_id": service.load_model(model).model_id,
        "data_hash": model.get("data_hash") or "",
    }
    with state.write_lock, state.sessions.begin() as db:
        owned = db.execute(
            update(AnalysisJob)
            .where(AnalysisJob.id == job_id, AnalysisJob.claim == claim)
            .values(
                status=JobStatus.DONE.value,
                progress=1.0,
                stage="done",
                summary=summary,
                finished_at=utcnow(),
                heartbeat_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if owned == 1:
            db.add_all(AnalysisFile(job_id=job_id, name=n, content=c) for n, c in stored.items())


def job_file(db: Session, job_id: int, name: str) -> bytes | None:
    record = db.get(AnalysisFile, (job_id, name))
    return None if record is None else record.content


class JobWorker:
    """The worker thread of one server process: fails stale jobs, claims queued ones and
    runs them one at a time."""

    def __init__(self, state: Any, *, poll_seconds: float = 1.0) -> None:
        self.state = state
        self.poll_seconds = poll_seconds
        self.claim = worker_claim()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="kt-job-worker", daemon=True)
        self.current: int | None = None

    def start(self) -> JobWorker:
        self.housekeeping()
        self.thread.start()
        return self

    def housekeeping(self) -> None:
        """Fail stale running jobs, delete expired pending imports (never raises)."""
        try:
            fail_stale(self.state)
            expire_imports(self.state, self.state.settings.import_pending_hours)
        except Exception:
            log.exception("job worker housekeeping failed")

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout=timeout)
        if self.thread.is_alive() and self.current is not None:
            _update_job(
                self.state, self.current, self.claim, **_failed("workspace.job.interrupted")
            )

    def _loop(self) -> None:
        checked = 0.0
        import time

        while not self.stop_event.is_set():
            try:
                now = time.monotonic()
                if now - checked > HOUSEKEEPING_SECONDS:
                    self.housekeeping()
                    checked = now
                job_id = claim_next(self.state, self.claim)
                if job_id is None:
                    self.stop_event.wait(self.poll_seconds)
                    continue
                self.current = job_id
                run_job(self.state, job_id, self.claim, self.stop_event)
                self.current = None
            except Exception:
                log.exception("job worker loop")
                self.stop_event.wait(self.poll_seconds * 5)


# ---------------------------------------------------------------------------- publish
def current_model_dict(db: Session) -> tuple[str, dict[str, Any]]:
    """The model the public Typ-Check uses now: (model id, its JSON as a dict)."""
    from kommunaltypen import service
    from kommunaltypen.store import ModelRepo

    record = ModelRepo(db).current()
    if record is not None:
        return record.model_id, dict(record.typology)
    info = service.default_model()
    return info.model_id, json.loads(info.typology.to_json())


def model_summary(model: Mapping[str, Any]) -> dict[str, Any]:
    """Type shares and centres of a model (its JSON)."""
    ids = list(model.get("type_ids") or [])
    sizes = [float(x) for x in (model.get("cluster_sizes") or [0] * len(ids))]
    total = sum(sizes) or 1.0
    centers = model.get("centers") or []
    features = list(model.get("features") or [])
    return {
        "type_ids": ids,
        "shares": {tid: sizes[i] / total for i, tid in enumerate(ids)},
        "centers": {
            tid: dict(zip(features, [float(v) for v in centers[i]], strict=False))
            for i, tid in enumerate(ids)
            if i < len(centers)
        },
        "features": features,
    }


def publish_diff(db: Session, job: AnalysisJob) -> dict[str, Any]:
    """How the job's model differs from the published one: shares and centres per type."""
    new = json.loads(job_file(db, job.id, "model.json") or b"{}")
    current_id, current = current_model_dict(db)
    a, b = model_summary(current), model_summary(new)
    types = list(dict.fromkeys([*b["type_ids"], *a["type_ids"]]))
    features = list(dict.fromkeys([*b["features"], *a["features"]]))
    rows = []
    for tid in types:
        old_share, new_share = a["shares"].get(tid), b["shares"].get(tid)
        centre = []
        for f in features:
            o = a["centers"].get(tid, {}).get(f)
            n = b["centers"].get(tid, {}).get(f)
            centre.append(
                {
                    "feature": f,
                    "old": o,
                    "new": n,
                    "diff": None if o is None or n is None else n - o,
                }
            )
        rows.append(
            {
                "type": tid,
                "old_share": old_share,
                "new_share": new_share,
                "diff": None if old_share is None or new_share is None else new_share - old_share,
                "centres": centre,
            }
        )
    return {
        "current_id": current_id,
        "new_id": (job.summary or {}).get("model_id"),
        "types": rows,
        "features": features,
    }


def publish(db: Session, job: AnalysisJob, wave: Wave, user: str) -> str:
    """Publish the job's model for the public Typ-Check (it becomes current at once)."""
    from kommunaltypen.store import AuditRepo, ModelRepo

    if job.status != JobStatus.DONE.value:
        raise WorkspaceError(t("workspace.publish.not_done", job=job.id))
    model = json.loads(job_file(db, job.id, "model.json") or b"{}")
    model_id = (job.summary or {}).get("model_id") or f"wave:{job.id}"
    repo = ModelRepo(db)
    if repo.get(model_id) is None:
        repo.publish(
            model_id=model_id,
            typology=model,
            data_hash=str(model.get("data_hash") or ""),
            wave_id=wave.id,
            name=wave.name,
        )
    else:
        repo.set_current(model_id)
    AuditRepo(db).record(
        actor=user,
        action="model.publish",
        target_type="model",
        target_id=model_id,
        reason=t("workspace.publish.audit_reason", lang="de", wave=wave.name, job=job.id),
        details={"wave_id": wave.id, "job_id": job.id},
    )
    return model_id


# ---------------------------------------------------------------------------- compare
def _assignments(db: Session, job: AnalysisJob) -> dict[str, str | None]:
    raw = job_file(db, job.id, "assignments.csv")
    if not raw:
        return {}
    frame = pl.read_csv(io.BytesIO(raw), infer_schema_length=0)
    out: dict[str, str | None] = {}
    for ident, type_id in frame.select("kommune_id", "type").iter_rows():
        key = kommune_key(ident)
        if key:
            out[key] = type_id or None
    return out


def compare(db: Session, job_a: AnalysisJob, job_b: AnalysisJob) -> dict[str, Any]:
    """Type shares of two analyses side by side with a chi-square test of difference, and for
    the municipalities in both the transition table and how many changed type. Counts below
    :data:`MIN_N` are suppressed (shown as "< 5"), as in the report's publication mode."""
    from scipy.stats import chi2_contingency

    counts_a = dict((job_a.summary or {}).get("type_counts") or {})
    counts_b = dict((job_b.summary or {}).get("type_counts") or {})
    types = list(dict.fromkeys([*counts_a, *counts_b]))
    total_a, total_b = sum(counts_a.values()), sum(counts_b.values())
    shares = [
        {
            "type": tid,
            "n_a": _suppress(counts_a.get(tid, 0)),
            "n_b": _suppress(counts_b.get(tid, 0)),
            "share_a": counts_a.get(tid, 0) / total_a if total_a else None,
            "share_b": counts_b.get(tid, 0) / total_b if total_b else None,
        }
        for tid in types
    ]
    for row in shares:  # a share reveals a suppressed count: hide it too
        if row["n_a"] is None:
            row["share_a"] = None
        if row["n_b"] is None:
            row["share_b"] = None
    test: dict[str, Any] | None = None
    used = [tid for tid in types if counts_a.get(tid, 0) + counts_b.get(tid, 0) > 0]
    if len(used) >= 2 and total_a and total_b:
        table = [[counts_a.get(tid, 0) for tid in used], [counts_b.get(tid, 0) for tid in used]]
        chi2, p, dof, _ = chi2_contingency(table)
        test = {"chi2": float(chi2), "p": float(p), "dof": int(dof), "n": total_a + total_b}
    a, b = _assignments(db, job_a), _assignments(db, job_b)
    both = sorted(set(a) & set(b))
    trans: dict[tuple[str, str], int] = {}
    changed = 0
    for key in both:
        ta, tb = a[key] or "-", b[key] or "-"
        trans[(ta, tb)] = trans.get((ta, tb), 0) + 1
        if ta != tb:
            changed += 1
    row_types = list(dict.fromkeys([*types, *(k[0] for k in trans)]))
    col_types = list(dict.fromkeys([*types, *(k[1] for k in trans)]))
    values = [[trans.get((ra, cb), 0) for cb in col_types] for ra in row_types]
    hidden = suppression_mask(values)
    matrix = [
        {
            "type": ra,
            "cells": [None if hidden[i][j] else values[i][j] for j in range(len(col_types))],
            "total": _suppress(sum(values[i])),
        }
        for i, ra in enumerate(row_types)
    ]
    return {
        "types": types,
        "shares": shares,
        "total_a": total_a,
        "total_b": total_b,
        "test": test,
        "both": len(both),
        "changed": _suppress(changed),
        "col_types": col_types,
        "matrix": matrix,
        "min_n": MIN_N,
    }


def suppression_mask(values: Sequence[Sequence[int]]) -> list[list[bool]]:
    """Which cells of a table of counts to hide: every count 1..MIN_N-1 (primary), and, where a
    row or column would have exactly one hidden cell (its value could be recovered from the
    row/column total), also its smallest other non-zero cell (complementary suppression),
    repeated until no row or column has a single hidden cell."""
    rows = len(values)
    cols = len(values[0]) if rows else 0
    hidden = [[0 < values[i][j] < MIN_N for j in range(cols)] for i in range(rows)]
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(hidden[i][j] for i, j in line) != 1:
                continue
            others = [(values[i][j], i, j) for i, j in line if not hidden[i][j] and values[i][j]]
            if others:
                _, i, j = min(others)
                hidden[i][j] = True
                changed = True
    return hidden


def _suppress(n: int) -> int | None:
    """``n`` unless 0 < n < MIN_N (then None: shown as suppressed)."""
    return None if 0 < n < MIN_N else n


# ---------------------------------------------------------------------------- DSGVO
@dataclass
class Found:
    """Everything stored about one municipality (``key``)."""

    key: str
    names: set[str] = field(default_factory=set)
    rows: list[tuple[WaveRow, Wave]] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    jobs: list[AnalysisJob] = field(default_factory=list)

    @property
    def name(self) -> str:
        return ", ".join(sorted(self.names)) or self.key


def find(db: Session, query: str) -> list[Found]:
    """A municipality's data across waves by identifier/ARS (digits or an exact id) or by
    name (part of the name in the data, or a directory name)."""
    from kommunaltypen.store import DirectoryRepo

    q = (query or "").strip()
    if len(q) < 2:
        return []
    keys: set[str] = set()
    key = kommune_key(q)
    if key:
        keys.add(key)
    if not q.isdigit():
        pattern = f"%{q.lower()}%"
        from sqlalchemy import func

        keys.update(
            k
            for k in db.scalars(
                select(WaveRow.kommune_key).where(func.lower(WaveRow.name).like(pattern))
            )
            if k
        )
        for kommune in DirectoryRepo(db).search(q, limit=20):
            keys.add(kommune_key(kommune.ars) or kommune.ars)
    out = []
    for k in sorted(keys):
        found = _collect(db, k)
        if found.rows or found.submissions:
            out.append(found)
    return out


def _collect(db: Session, key: str) -> Found:
    found = Found(key)
    for row, wave in db.execute(
        select(WaveRow, Wave)
        .join(Wave, Wave.id == WaveRow.wave_id)
        .where(WaveRow.kommune_key == key)
    ).all():
        found.rows.append((row, wave))
        if row.name:
            found.names.add(row.name)
    candidates = db.scalars(select(Submission).where(Submission.kommune_ars.is_not(None)))
    for sub in candidates:
        if kommune_key(sub.kommune_ars) == key:
            found.submissions.append(sub)
            kommune = db.get(Kommune, sub.kommune_ars)
            if kommune is not None:
                found.names.add(kommune.name)
    found.jobs = [
        job
        for job in db.scalars(select(AnalysisJob).where(AnalysisJob.input_keys.is_not(None)))
        if key in (job.input_keys or [])
    ]
    return found


def export_bundle(db: Session, key: str) -> dict[str, Any]:
    """Art. 15: everything stored about municipality ``key`` as one JSON-ready dict."""
    found = _collect(db, key)
    return {
        "kommune_key": key,
        "names": sorted(found.names),
        "exported_at": datetime.now(UTC).isoformat(),
        "wave_rows": [
            {
                "wave": wave.name,
                "wave_year": wave.year,
                "import_id": str(row.import_id),
                "row_number": row.row_number,
                "excluded": row.excluded,
                "data": row.data,
            }
            for row, wave in found.rows
        ],
        "submissions": [
            {
                "id": str(s.id),
                "kommune_ars": s.kommune_ars,
                "status": s.status,
                "consent": s.consent,
                "created_at": s.created_at.isoformat(),
                "finalized_at": s.finalized_at.isoformat() if s.finalized_at else None,
                "model_id": s.model_id,
                "type_id": s.type_id,
                "answers": s.answers,
            }
            for s in found.submissions
        ],
        "analyses": [
            {"job_id": j.id, "wave_id": j.wave_id, "status": j.status, "summary": j.summary}
            for j in found.jobs
        ],
    }


def export_csv(bundle: Mapping[str, Any]) -> bytes:
    """The bundle's rows as one CSV (source, wave, id, then the answers)."""
    rows: list[dict[str, Any]] = []
    for r in bundle["wave_rows"]:
        rows.append(
            {"source": "import", "wave": r["wave"], "id": str(r["row_number"]), **r["data"]}
        )
    for s in bundle["submissions"]:
        rows.append({"source": "typ-check", "wave": "", "id": s["id"], **(s["answers"] or {})})
    if not rows:
        return b""
    columns = list(dict.fromkeys(c for r in rows for c in r))
    frame = pl.DataFrame(
        [{c: (None if r.get(c) is None else str(r.get(c))) for c in columns} for r in rows],
        schema=dict.fromkeys(columns, pl.String),
    )
    return frame.write_csv().encode("utf-8")


def delete_kommune(db: Session, key: str, actor: str, reason: str) -> dict[str, int]:
    """Art. 17: delete municipality ``key`` everywhere (imported rows, submissions, its rows
    of stored analysis assignments), write an audit entry, and mark the analyses whose input
    contained it as needing a re-run."""
    from kommunaltypen.store import AuditRepo, SubmissionRepo

    if not reason.strip():
        raise WorkspaceError(t("workspace.dsgvo.reason_required"))
    found = _collect(db, key)
    pending = pending_imports_with(db, key)
    for record in pending:
        db.delete(record)
    for row, _ in found.rows:
        db.delete(row)
    subs = SubmissionRepo(db)
    for sub in found.submissions:
        subs.delete(sub.id, actor, reason)
    scrubbed = 0
    for job in found.jobs:
        job.needs_rerun = True
        scrubbed += scrub_job_files(db, job.id, key)
    counts = {
        "rows": len(found.rows),
        "submissions": len(found.submissions),
        "analyses": len(found.jobs),
        "files": scrubbed,
        "pending": len(pending),
    }
    AuditRepo(db).record(
        actor=actor,
        action="kommune.delete",
        target_type="kommune",
        target_id=key,
        reason=reason.strip(),
        details=counts,
    )
    db.flush()
    return counts


def pending_imports_with(db: Session, key: str) -> list[WaveImport]:
    """Pending (unconfirmed) imports whose file holds a row of municipality ``key``
    (accepted or rejected), found by validating each file again."""
    out = []
    for record in db.scalars(select(WaveImport).where(WaveImport.status == "pending")):
        if record.content is None:
            continue
        try:
            data, report = _validate(record.content, record.filename, record.mapping)
        except KommunaltypenError:
            continue
        ids = list(data["kommune_id"]) if "kommune_id" in data.columns else []
        rejected = getattr(report, "rejected_rows", None)
        if rejected is not None and "kommune_id" in getattr(rejected, "columns", ()):
            ids += list(rejected["kommune_id"])
        if any(kommune_key(v) == key for v in ids):
            out.append(record)
    return out


def _in_wave(sub: Submission, wave: Wave | None) -> bool:
    """Whether ``sub`` is a row of ``wave`` (the rule of :func:`wave_submissions`)."""
    if wave is None or sub.status != SubmissionStatus.FINAL.value or not sub.consent:
        return False
    return sub.wave_id == wave.id or (
        sub.wave_id is None and sub.finalized_at is not None and sub.finalized_at.year == wave.year
    )


def delete_submission(
    db: Session, submission_id: str, actor: str, reason: str
) -> dict[str, Any] | None:
    """Delete one submission on request (the DSGVO path of :func:`delete_kommune` for one
    record): an audit entry ``submission.delete`` (who, when, what, why); the analyses of the
    waves it was a row of, whose input contained its municipality, lose that municipality's
    rows in their stored files and are marked as needing a re-run. None when there is no such
    submission; a blank ``reason`` is refused."""
    from kommunaltypen.store import AuditRepo, SubmissionRepo

    if not reason.strip():
        raise WorkspaceError(t("workspace.dsgvo.reason_required"))
    repo = SubmissionRepo(db)
    sub = repo.get(submission_id, for_update=True)
    if sub is None:
        return None
    key = kommune_key(sub.kommune_ars) or kommune_key((sub.answers or {}).get("kommune_id"))
    jobs = []
    if key:
        jobs = [
            job
            for job in db.scalars(select(AnalysisJob).where(AnalysisJob.input_keys.is_not(None)))
            if key in (job.input_keys or []) and _in_wave(sub, db.get(Wave, job.wave_id))
        ]
    sub_id = str(sub.id)
    repo.delete(sub.id, actor, reason.strip())
    for job in jobs:
        job.needs_rerun = True
        scrub_job_files(db, job.id, key or "")
    db.flush()
    entry = AuditRepo(db).list(target_type="submission", target_id=sub_id, limit=1)[0]
    return {
        "id": sub_id,
        "deleted": True,
        "actor": entry.actor,
        "reason": entry.reason,
        "at": entry.at,
        "analyses_flagged": len(jobs),
    }


#: stored analysis files with one row per municipality (a ``kommune_id`` column)
ROW_FILES = ("assignments.csv", "rejected.csv")


def scrub_job_files(db: Session, job_id: int, key: str) -> int:
    """Remove municipality ``key``'s rows from every row-level file stored for the job:
    the CSVs with a ``kommune_id`` column (assignments, rejected rows), the issues of its rows
    in ``validation.json``, its rows in every sheet of ``report.xlsx`` with a ``kommune_id``
    header, and the changed files' hashes in ``manifest.json``. Aggregates (tables, shares,
    the report's tables) stay until the analysis is run again (the job is flagged
    ``needs_rerun``). Returns how many files changed."""
    files = {
        f.name: f for f in db.scalars(select(AnalysisFile).where(AnalysisFile.job_id == job_id))
    }
    rows: set[int] = set()  # row numbers of the municipality (for validation.json)
    changed: dict[str, bytes] = {}
    for name, record in files.items():
        if not name.endswith(".csv") or not record.content:
            continue
        frame = pl.read_csv(io.BytesIO(record.content), infer_schema_length=0)
        if "kommune_id" not in frame.columns:
            continue
        mine = (
            frame["kommune_id"]
            .map_elements(lambda v: kommune_key(v) == key, return_dtype=pl.Boolean)
            .fill_null(False)
        )
        if not mine.any():
            continue
        if "row" in frame.columns:
            rows.update(int(r) for r in frame.filter(mine)["row"].drop_nulls() if r.isdigit())
        changed[name] = frame.filter(~mine).write_csv().encode("utf-8")
    record = files.get("validation.json")
    if record is not None and record.content:
        data = json.loads(record.content)
        issues = data.get("issues") or []
        kept = [
            i
            for i in issues
            if i.get("row") not in rows
            and not (i.get("column") == "kommune_id" and kommune_key(i.get("value")) == key)
        ]
        if len(kept) != len(issues):
            data["issues"] = kept
            changed["validation.json"] = json.dumps(data, ensure_ascii=False, indent=2).encode()
    record = files.get(REPORT_FILES["xlsx"])
    if record is not None and record.content:
        content = _scrub_xlsx(record.content, key)
        if content is not None:
            changed[REPORT_FILES["xlsx"]] = content
    record = files.get("manifest.json")
    if changed and record is not None and record.content:
        manifest = json.loads(record.content)
        outputs = manifest.get("outputs")
        if isinstance(outputs, dict):
            for name, content in changed.items():
                if name in outputs:
                    outputs[name] = hashlib.sha256(content).hexdigest()
            changed["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
    for name, content in changed.items():
        files[name].content = content
    db.flush()
    return len(changed)


def _scrub_xlsx(content: bytes, key: str) -> bytes | None:
    """The workbook without the rows of municipality ``key`` in any sheet whose first row
    has a ``kommune_id`` column; None when there were none."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    found = False
    for sheet in book.worksheets:
        header = [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1), ())]
        if "kommune_id" not in header:
            continue
        column = header.index("kommune_id") + 1
        for row in range(sheet.max_row, 1, -1):  # from the bottom: indices stay valid
            if kommune_key(sheet.cell(row=row, column=column).value) == key:
                sheet.delete_rows(row)
                found = True
    if not found:
        return None
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def audit_entries(db: Session, limit: int = 50) -> list[Any]:
    from kommunaltypen.store import AuditRepo

    return list(AuditRepo(db).list(limit=limit))
