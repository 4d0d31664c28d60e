"""Workspace pages of the analysts: waves, import, analysis jobs, publishing, comparison, DSGVO.

==================================================  ========================================
``GET /workspace/``                                 the waves, a form to create one
``POST /workspace/waves``                           create a wave (name, year, codebook)
``GET /workspace/waves/{id}``                       a wave: imports, rows, duplicates, jobs
``POST /workspace/waves/{id}/import``               upload a file: validated, kept pending
``GET /workspace/waves/{id}/import/{import_id}``    its validation report; confirm / discard
``POST …/import/{import_id}/confirm`` / ``discard``  store its rows (one transaction) / drop it
``POST /workspace/waves/{id}/duplicates``           keep one row of a municipality
``GET /workspace/waves/{id}/data/{fmt}``            the wave's data (csv, xlsx, sav)
``POST /workspace/waves/{id}/jobs``                 queue an analysis of the wave
``GET /workspace/jobs/{job_id}``                    job page (refreshes itself / htmx polling)
``GET /workspace/jobs/{job_id}/progress``           the progress fragment (htmx)
``GET /workspace/jobs/{job_id}/report``             the report in the browser
``GET /workspace/jobs/{job_id}/download/{fmt}``     the report as html, pdf, xlsx
``GET|POST /workspace/jobs/{job_id}/publish``        confirmation page / publish the model
``GET /workspace/compare``                          two waves side by side (``a``, ``b``)
``GET /workspace/dsgvo``                            find a municipality's data (``q``)
``GET /workspace/dsgvo/{key}/export/{fmt}``         its data as JSON or CSV (Art. 15)
``POST /workspace/dsgvo/{key}/delete``              delete it everywhere (Art. 17, audited)
==================================================  ========================================

Every route needs a workspace login (:func:`kommunaltypen.web.auth.require_analyst`); every
form carries the CSRF field. The work is done by :mod:`kommunaltypen.web.workspace_ops`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.store.models import AnalysisJob, JobStatus, User, Wave
from kommunaltypen.web import auth, deps
from kommunaltypen.web import workspace_ops as ops
from kommunaltypen.web.routers.public import render

router = APIRouter(
    prefix="/workspace", include_in_schema=False, dependencies=[Depends(auth.require_analyst)]
)

PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
Analyst = Annotated[User, Depends(auth.require_analyst)]
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "sav": "application/x-spss-sav",
    "json": "application/json",
}
#: the stored report is a self-contained document with inline styles: its own narrow policy
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)


def _page(
    request: Request, name: str, user: User, context: Mapping[str, Any], *, status: int = 200
) -> HTMLResponse:
    ctx = {"user": user, "nav_active": "workspace", "error": None, "notice": None, **context}
    return render(request, f"workspace/{name}", ctx, status=status, headers=PRIVATE)


def _redirect(request: Request, url: str) -> Response:
    url += ("&" if "?" in url else "?") + f"lang={get_lang()}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={**PRIVATE, "HX-Redirect": url})
    return RedirectResponse(url, status_code=303, headers=PRIVATE)


def _not_found(request: Request, user: User) -> HTMLResponse:
    return _page(request, "not_found.html", user, {}, status=404)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {k: form.get(k) for k in form}


def _download(content: bytes, filename: str, fmt: str, *, inline: bool = False) -> Response:
    disposition = "inline" if inline else "attachment"
    headers = {
        **PRIVATE,
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
    }
    return Response(content, media_type=MEDIA[fmt], headers=headers)


def _state(request: Request) -> Any:
    return deps.app_state(request)


def _read(request: Request, work: Callable[[Any], Any]) -> Any:
    with _state(request).read_sessions() as db:
        return work(db)


def _write(request: Request, work: Callable[[Any], Any]) -> Any:
    state = _state(request)
    with state.write_lock, state.sessions.begin() as db:
        return work(db)


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return keep.strip("-")[:60] or "welle"


# ---------------------------------------------------------------------------- start
def _index(
    request: Request,
    user: User,
    *,
    status: int = 200,
    form: Mapping[str, Any] | None = None,
    **extra: Any,
) -> HTMLResponse:
    from kommunaltypen.codebook import default_codebook

    def work(db: Any) -> dict[str, Any]:
        from kommunaltypen.store import WaveRepo

        waves = WaveRepo(db).list()
        latest = {w.id: ops.latest_done(db, w.id) for w in waves}
        model_id, _ = ops.current_model_dict(db)
        return {"waves": waves, "latest": latest, "current_model": model_id}

    ctx = _read(request, work)
    ctx["published"] = request.query_params.get("published")
    return _page(
        request,
        "index.html",
        user,
        {**ctx, "codebook_version": default_codebook().version, "form": form or {}, **extra},
        status=status,
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request, user: Analyst) -> HTMLResponse:
    return _index(request, user)


@router.post("/waves", response_class=HTMLResponse)
async def wave_create(request: Request, user: Analyst) -> Response:
    form = await _form(request)

    def go() -> Response:
        try:
            wave = _write(
                request,
                lambda db: ops.create_wave(
                    db,
                    str(form.get("name") or ""),
                    str(form.get("year") or ""),
                    str(form.get("codebook_version") or ""),
                ),
            )
        except KommunaltypenError as exc:
            return _index(request, user, error=str(exc), form=form, status=422)
        return _redirect(request, f"/workspace/waves/{wave.id}")

    return await run_in_threadpool(go)


# ---------------------------------------------------------------------------- wave
def _wave_page(
    request: Request, user: User, wave_id: int, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    def work(db: Any) -> dict[str, Any] | None:
        wave = ops.get_wave(db, wave_id)
        if wave is None:
            return None
        found = ops.members(db, wave)
        return {
            "wave": wave,
            "imports": ops.imports_of(db, wave),
            "n_imported": sum(1 for m in found if m.kind == "import"),
            "n_submissions": sum(1 for m in found if m.kind == "submission"),
            "n_active": sum(1 for m in found if not m.excluded),
            "duplicates": ops.duplicates(found),
            "jobs": ops.jobs_of(db, wave),
            "submissions": [m for m in found if m.kind == "submission"],
        }

    ctx = _read(request, work)
    if ctx is None:
        return _not_found(request, user)
    return _page(request, "wave.html", user, {**ctx, **extra}, status=status)


@router.get("/waves/{wave_id}", response_class=HTMLResponse)
def wave_page(request: Request, wave_id: int, user: Analyst) -> HTMLResponse:
    return _wave_page(request, user, wave_id)


@router.post("/waves/{wave_id}/import", response_class=HTMLResponse)
async def wave_import(request: Request, wave_id: int, user: Analyst) -> Response:
    limit = _state(request).settings.upload_max_bytes
    form = await request.form(max_part_size=limit + 1)
    upload = form.get("file")
    mapping = form.get("mapping")
    content = b""
    filename = ""
    if upload is not None and hasattr(upload, "read"):
        content = await upload.read(limit + 1)
        filename = upload.filename or ""
    mapping_bytes = None
    mapping_name = None
    if mapping is not None and hasattr(mapping, "read") and mapping.filename:
        mapping_bytes = await mapping.read(1_048_577)
        mapping_name = mapping.filename

    def go() -> Response:
        if not filename or not content:
            return _wave_page(
                request, user, wave_id, status=422, error=t("workspace.import.no_file")
            )
        if len(content) > limit:
            return _wave_page(
                request,
                user,
                wave_id,
                status=413,
                error=t(
                    "workspace.import.too_large",
                    file=filename,
                    size=len(content),
                    limit=limit,
                ),
            )

        def work(db: Any) -> Any:
            wave = ops.get_wave(db, wave_id)
            if wave is None:
                return None
            return ops.stage_import(
                db,
                wave,
                filename=filename,
                content=content,
                user=user.email,
                mapping_name=mapping_name,
                mapping=mapping_bytes,
            )

        try:
            record = _write(request, work)
        except KommunaltypenError as exc:
            return _wave_page(request, user, wave_id, status=422, error=str(exc))
        except Exception as exc:  # a damaged file a reader did not turn into a message
            import logging

            logging.getLogger("kommunaltypen.web").warning("import failed", exc_info=True)
            return _wave_page(
                request,
                user,
                wave_id,
                status=422,
                error=t("workspace.import.unreadable", file=filename, error=type(exc).__name__),
            )
        if record is None:
            return _not_found(request, user)
        return _redirect(request, f"/workspace/waves/{wave_id}/import/{record.id}")

    return await run_in_threadpool(go)


def _pending_hours(request: Request) -> int:
    return int(_state(request).settings.import_pending_hours)


def _expire(request: Request, wave_id: int, import_id: str) -> str | None:
    """Delete the import if it is pending and expired; the message to show then (the file
    name and the time limit), else None."""
    hours = _pending_hours(request)

    def expired(db: Any) -> Any:
        wave = ops.get_wave(db, wave_id)
        record = ops.get_import(db, wave, import_id) if wave else None
        return record if record is not None and ops.import_expired(record, hours) else None

    if _read(request, expired) is None:  # (the usual case: no write transaction)
        return None

    def work(db: Any) -> str | None:
        record = expired(db)
        if record is None:
            return None
        filename = record.filename
        ops.discard_import(db, record)
        return t("workspace.import.expired", file=filename, hours=hours)

    return _write(request, work)


def _gone(request: Request, user: User, wave_id: int, message: str | None = None) -> HTMLResponse:
    """An import that is not (any more) there: the wave page saying why (expired pending
    imports are deleted), or "not found" without the wave."""
    hours = _pending_hours(request)
    if _read(request, lambda db: ops.get_wave(db, wave_id)) is None:
        return _not_found(request, user)
    error = message or t("workspace.import.gone", hours=hours)
    return _wave_page(request, user, wave_id, status=410 if message else 404, error=error)


def _import_page(
    request: Request, user: User, wave_id: int, import_id: str, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    expired = _expire(request, wave_id, import_id)
    if expired:
        return _gone(request, user, wave_id, expired)
    hours = _pending_hours(request)

    def work(db: Any) -> dict[str, Any] | None:
        wave = ops.get_wave(db, wave_id)
        record = ops.get_import(db, wave, import_id) if wave else None
        if record is None:
            return None
        return {
            "wave": wave,
            "record": record,
            "same": ops.same_file_imports(db, record),
            "expires_at": (
                ops.import_expires_at(record, hours) if record.status == "pending" else None
            ),
        }

    ctx = _read(request, work)
    if ctx is None:
        return _gone(request, user, wave_id)
    return _page(request, "import.html", user, {**ctx, **extra}, status=status)


@router.get("/waves/{wave_id}/import/{import_id}", response_class=HTMLResponse)
def import_page(request: Request, wave_id: int, import_id: str, user: Analyst) -> HTMLResponse:
    return _import_page(request, user, wave_id, import_id)


@router.post("/waves/{wave_id}/import/{import_id}/confirm", response_class=HTMLResponse)
async def import_confirm(request: Request, wave_id: int, import_id: str, user: Analyst) -> Response:
    form = await _form(request)

    def go() -> Response:
        expired = _expire(request, wave_id, import_id)
        if expired:
            return _gone(request, user, wave_id, expired)

        def work(db: Any) -> Any:
            wave = ops.get_wave(db, wave_id)
            record = ops.get_import(db, wave, import_id) if wave else None
            if record is None:
                return None
            if ops.same_file_imports(db, record) and form.get("same_file") != "yes":
                raise ops.WorkspaceError(t("workspace.import.same_file_unconfirmed"))
            return ops.confirm_import(db, record)

        try:
            stored = _write(request, work)
        except KommunaltypenError as exc:
            return _import_page(request, user, wave_id, import_id, status=409, error=str(exc))
        if stored is None:
            return _gone(request, user, wave_id)
        return _redirect(request, f"/workspace/waves/{wave_id}?imported={stored}")

    return await run_in_threadpool(go)


@router.post("/waves/{wave_id}/import/{import_id}/discard", response_class=HTMLResponse)
def import_discard(request: Request, wave_id: int, import_id: str, user: Analyst) -> Response:
    def work(db: Any) -> bool:
        wave = ops.get_wave(db, wave_id)
        record = ops.get_import(db, wave, import_id) if wave else None
        if record is None:
            return False
        ops.discard_import(db, record)
        return True

    if not _write(request, work):
        return _not_found(request, user)
    return _redirect(request, f"/workspace/waves/{wave_id}")


@router.post("/waves/{wave_id}/duplicates", response_class=HTMLResponse)
async def duplicates_resolve(request: Request, wave_id: int, user: Analyst) -> Response:
    form = await _form(request)

    def go() -> Response:
        def work(db: Any) -> bool:
            wave = ops.get_wave(db, wave_id)
            if wave is None:
                return False
            ops.resolve_duplicate(db, wave, str(form.get("key") or ""), str(form.get("keep") or ""))
            return True

        try:
            if not _write(request, work):
                return _not_found(request, user)
        except KommunaltypenError as exc:
            return _wave_page(request, user, wave_id, status=422, error=str(exc))
        return _redirect(request, f"/workspace/waves/{wave_id}#duplikate")

    return await run_in_threadpool(go)


@router.get("/waves/{wave_id}/data/{fmt}")
def wave_data(request: Request, wave_id: int, fmt: str, user: Analyst) -> Response:
    if fmt not in ops.DATA_FORMATS:
        return _not_found(request, user)

    def work(db: Any) -> tuple[Wave, list[Any]] | None:
        wave = ops.get_wave(db, wave_id)
        return None if wave is None else (wave, ops.members(db, wave))

    found = _read(request, work)
    if found is None:
        return _not_found(request, user)
    wave, rows = found
    return _download(ops.data_download(rows, fmt), f"{_safe_name(wave.name)}.{fmt}", fmt)


# ---------------------------------------------------------------------------- jobs
@router.post("/waves/{wave_id}/jobs", response_class=HTMLResponse)
def job_create(request: Request, wave_id: int, user: Analyst) -> Response:
    def work(db: Any) -> Any:
        wave = ops.get_wave(db, wave_id)
        if wave is None:
            return None
        return ops.enqueue(db, wave, user.email, get_lang()).id

    try:
        job_id = _write(request, work)
    except KommunaltypenError as exc:
        return _wave_page(request, user, wave_id, status=409, error=str(exc))
    if job_id is None:
        return _not_found(request, user)
    return _redirect(request, f"/workspace/jobs/{job_id}")


def _job(db: Any, job_id: int) -> tuple[AnalysisJob, Wave] | None:
    job = db.get(AnalysisJob, job_id) if ops.valid_id(job_id) else None
    if job is None:
        return None
    wave = db.get(Wave, job.wave_id)
    return None if wave is None else (job, wave)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: int, user: Analyst) -> HTMLResponse:
    found = _read(request, lambda db: _job(db, job_id))
    if found is None:
        return _not_found(request, user)
    job, wave = found
    return _page(request, "job.html", user, {"job": job, "wave": wave, "finished": _finished(job)})


def _finished(job: AnalysisJob) -> bool:
    return job.status in (JobStatus.DONE.value, JobStatus.FAILED.value)


@router.get("/jobs/{job_id}/progress", response_class=HTMLResponse)
def job_progress(request: Request, job_id: int, user: Analyst) -> HTMLResponse:
    """The progress element alone (htmx polls it; it stops polling when the job ended)."""
    from kommunaltypen.web.routers.public import templates

    found = _read(request, lambda db: _job(db, job_id))
    if found is None:
        return _not_found(request, user)
    job, wave = found
    macro = templates.env.get_template("workspace/partials.html").module.job_progress  # type: ignore[attr-defined]
    return HTMLResponse(str(macro(job, wave, get_lang())), headers=PRIVATE)


def _job_file(request: Request, job_id: int, name: str) -> tuple[bytes, Wave] | None:
    def work(db: Any) -> tuple[bytes, Wave] | None:
        found = _job(db, job_id)
        if found is None:
            return None
        content = ops.job_file(db, job_id, name)
        return None if content is None else (content, found[1])

    return _read(request, work)


@router.get("/jobs/{job_id}/report")
def job_report(request: Request, job_id: int, user: Analyst) -> Response:
    found = _job_file(request, job_id, ops.REPORT_FILES["html"])
    if found is None:
        return _not_found(request, user)
    response = _download(found[0], "report.html", "html", inline=True)
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@router.get("/jobs/{job_id}/download/{fmt}")
def job_download(request: Request, job_id: int, fmt: str, user: Analyst) -> Response:
    name = ops.REPORT_FILES.get(fmt)
    found = _job_file(request, job_id, name) if name else None
    if found is None:
        return _not_found(request, user)
    content, wave = found
    response = _download(content, f"bericht-{_safe_name(wave.name)}.{fmt}", fmt)
    if fmt == "html":
        response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


# ---------------------------------------------------------------------------- publish
@router.get("/jobs/{job_id}/publish", response_class=HTMLResponse)
def publish_confirm(request: Request, job_id: int, user: Analyst) -> HTMLResponse:
    def work(db: Any) -> dict[str, Any] | None:
        found = _job(db, job_id)
        if found is None or found[0].status != JobStatus.DONE.value:
            return None
        from kommunaltypen.codebook import default_codebook
        from kommunaltypen.i18n import label

        goals = {o.id: label(o) for o in default_codebook().typology_question.options}
        return {
            "job": found[0],
            "wave": found[1],
            "diff": ops.publish_diff(db, found[0]),
            "goal_labels": goals,
        }

    ctx = _read(request, work)
    if ctx is None:
        return _not_found(request, user)
    return _page(request, "publish.html", user, ctx)


@router.post("/jobs/{job_id}/publish", response_class=HTMLResponse)
def publish(request: Request, job_id: int, user: Analyst) -> Response:
    def work(db: Any) -> str | None:
        found = _job(db, job_id)
        if found is None:
            return None
        return ops.publish(db, found[0], found[1], user.email)

    try:
        model_id = _write(request, work)
    except KommunaltypenError as exc:
        return _page(request, "not_found.html", user, {"error": str(exc)}, status=409)
    if model_id is None:
        return _not_found(request, user)
    return _redirect(request, f"/workspace/?published={quote(model_id)}")


# ---------------------------------------------------------------------------- compare
@router.get("/compare", response_class=HTMLResponse)
def compare(
    request: Request, user: Analyst, a: int | None = None, b: int | None = None
) -> HTMLResponse:
    def work(db: Any) -> dict[str, Any]:
        from kommunaltypen.store import WaveRepo

        waves = WaveRepo(db).list()
        ctx: dict[str, Any] = {"waves": waves, "a": a, "b": b, "result": None}
        if a is None or b is None:
            return ctx
        wave_a, wave_b = ops.get_wave(db, a), ops.get_wave(db, b)
        job_a = ops.latest_done(db, a) if wave_a else None
        job_b = ops.latest_done(db, b) if wave_b else None
        if job_a is None or job_b is None:
            missing = [w.name for w, j in ((wave_a, job_a), (wave_b, job_b)) if w and j is None]
            ctx["error"] = t("workspace.compare.no_analysis", waves=", ".join(missing) or "–")
            return ctx
        ctx.update(
            wave_a=wave_a,
            wave_b=wave_b,
            job_a=job_a,
            job_b=job_b,
            result=ops.compare(db, job_a, job_b),
        )
        return ctx

    ctx = _read(request, work)
    status = 422 if ctx.get("error") else 200
    return _page(request, "compare.html", user, {**ctx, "nav_active": "compare"}, status=status)


# ---------------------------------------------------------------------------- DSGVO
def _dsgvo_page(
    request: Request, user: User, q: str = "", *, status: int = 200, **extra: Any
) -> HTMLResponse:
    found = _read(request, lambda db: ops.find(db, q)) if q else []
    audit = _read(request, lambda db: ops.audit_entries(db, 20))
    return _page(
        request,
        "dsgvo.html",
        user,
        {"q": q, "found": found, "audit": audit, "nav_active": "dsgvo", **extra},
        status=status,
    )


@router.get("/dsgvo", response_class=HTMLResponse)
def dsgvo(request: Request, user: Analyst, q: str = "") -> HTMLResponse:
    return _dsgvo_page(request, user, q.strip()[:100])


@router.get("/dsgvo/{key}/export/{fmt}")
def dsgvo_export(request: Request, key: str, fmt: str, user: Analyst) -> Response:
    if fmt not in ("json", "csv"):
        return _not_found(request, user)
    bundle = _read(request, lambda db: ops.export_bundle(db, key))
    name = f"kommune-{_safe_name(key)}.{fmt}"
    if fmt == "json":
        body = json.dumps(bundle, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    else:
        body = ops.export_csv(bundle)
    return _download(body, name, fmt)


@router.post("/dsgvo/{key}/delete", response_class=HTMLResponse)
async def dsgvo_delete(request: Request, key: str, user: Analyst) -> Response:
    form = await _form(request)

    def go() -> Response:
        reason = str(form.get("reason") or "")
        try:
            counts = _write(request, lambda db: ops.delete_kommune(db, key, user.email, reason))
        except KommunaltypenError as exc:
            return _dsgvo_page(request, user, key, status=422, error=str(exc))
        return _dsgvo_page(
            request,
            user,
            key,
            notice=t("workspace.dsgvo.deleted", kommune=key, **counts),
        )

    return await run_in_threadpool(go)
