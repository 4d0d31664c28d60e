"""The JSON API under ``/api/v1``.

Public routes: ``GET /health``, ``POST /classify``, ``GET /kommunen``, ``POST /submissions``,
``GET``/``PUT /submissions/{id}``, ``POST /submissions/{id}/finalize``. Analyst routes under
``/analyst`` need a logged-in workspace account (401 otherwise, see ``web/auth.py``).

Submissions and their private token:

- ``POST /submissions`` answers 201 with the submission and its private token. With an
  ``Idempotency-Key`` header, a retry with the same key and the same body answers 200 with the
  same submission and token (header ``Idempotent-Replayed: true``), on any worker; the same key
  with another body answers 409.
- ``GET``/``PUT``/``POST …/finalize`` need ``Authorization: Bearer <token>``. Without the
  header: 401. With a token that is wrong, belongs to another submission, or with an id that
  does not exist: 404, the same answer in each case — a caller learns nothing about which
  submissions exist.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from kommunaltypen import service
from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import t
from kommunaltypen.web import auth, deps
from kommunaltypen.web.problems import (
    FieldError,
    from_service_problems,
    problem,
    validation_problem,
)
from kommunaltypen.web.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    Health,
    KommunenResponse,
    KommuneOut,
    Problem,
    SubmissionCreated,
    SubmissionIn,
    SubmissionOut,
)

API_PATH = "/api/v1"
PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: PROBLEM for code in codes}


router = APIRouter(tags=["api"], responses=_problems(400, 404, 405, 413, 415, 422, 500))
analyst_router = APIRouter(
    prefix="/analyst",
    tags=["analyst"],
    dependencies=[Depends(auth.require_analyst)],
    # 401 without a workspace session, 403 without the CSRF token (unsafe methods), 501 for
    # the routes declared but not built yet
    responses=_problems(401, 403, 501),
)

#: documents the bearer token in the OpenAPI description; checked by hand (see module doc)
bearer = HTTPBearer(auto_error=False, description="The private token of the submission.")

#: 1 to 255 visible ASCII characters (checked by _check_idempotency_key)
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Client-chosen key (e.g. a UUID); a retry with the same key and body "
        "returns the first result.",
        json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN, "minLength": 1, "maxLength": 255},
    ),
]


# ---------------------------------------------------------------------------- health
@router.get("/health", response_model=Health, summary="Liveness check")
async def health() -> dict[str, str]:
    return {"status": "ok"}


# ---------------------------------------------------------------------------- classify
@router.post(
    "/classify",
    response_model=ClassifyResponse,
    summary="Type of one ranking of goals",
    dependencies=[Depends(deps.require_json)],
)
async def classify(body: ClassifyRequest, request: Request) -> Response:
    # CPU-only and short: runs on the event loop, no thread hop. The result of a ranking under
    # the process's (read-only) model is memoised (there are 820 valid rankings of 3 of 10
    # goals); the label is put in the request's language on every call.
    result = deps.app_state(request).classify(tuple(body.goals))
    return JSONResponse(result.to_dict())


# ---------------------------------------------------------------------------- directory
@router.get(
    "/kommunen",
    response_model=KommunenResponse,
    summary="Search the municipality directory by name prefix or ARS",
)
def kommunen(
    session: Annotated[Session, Depends(deps.read_session)],
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            description="Beginning of the name (case and umlauts ignored) or of the ARS.",
        ),
    ],
    land: Annotated[int | None, Query(ge=1, le=16, description="Land code 1..16.")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> dict[str, Any]:
    from kommunaltypen.store import DirectoryRepo

    items = [k.to_dict() for k in DirectoryRepo(session).search(q, land=land, limit=limit)]
    return {"items": items, "count": len(items)}


@router.get("/kommunen/{ars}", response_model=KommuneOut, summary="One municipality by ARS")
def kommune(ars: str, session: Annotated[Session, Depends(deps.read_session)]) -> dict[str, Any]:
    from kommunaltypen.store import DirectoryRepo

    found = DirectoryRepo(session).get(ars) if ars.isdigit() and len(ars) <= 12 else None
    if found is None:
        raise problem(404, t("web.problem.kommune_not_found_detail", ars=ars))
    return found.to_dict()


# ---------------------------------------------------------------------------- submissions
def request_hash(body: SubmissionIn) -> str:
    """SHA-256 of the body's canonical JSON (sorted keys): equal bodies, equal hash."""
    canonical = json.dumps(
        body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_idempotency_key(key: str | None) -> None:
    if key is None:
        return
    if not (1 <= len(key) <= 255) or not all(33 <= ord(c) <= 126 for c in key):
        raise validation_problem(
            [
                FieldError(
                    "header.Idempotency-Key",
                    key,
                    t("web.invalid.idempotency_key_expected"),
                    t("web.invalid.idempotency_key"),
                )
            ]
        )


def _typing(row: Mapping[str, Any], model: Any) -> tuple[str | None, str | None]:
    """The type of a validated row's goal ranking under ``model`` (None without a ranking)."""
    question = default_codebook().typology_question
    ranked = []
    for option in question.options:
        value = row.get(f"{question.id}_{option.id}")
        if value is not None and value > 0:
            ranked.append((int(value), option.id))
    if not ranked:
        return None, None
    try:
        result = service.classify([g for _, g in sorted(ranked)], model=model)
    except service.InvalidInput:
        return None, None
    return result.type_id, result.model_id


@contextmanager
def _writing(state: deps.AppState, session: Session) -> Iterator[None]:
    """A write transaction of ``session`` under the process's write lock (SQLite), ended
    (rolled back unless committed) before the lock is released."""
    with state.write_lock:
        try:
            yield
        finally:
            if session.in_transaction():
                session.rollback()


def _checked(body: SubmissionIn, session: Session, state: deps.AppState) -> dict[str, Any]:
    """The fields to store for ``body``: the answers after the file import's rules (422 with
    every problem otherwise), the directory entry, and the type of the goal ranking."""
    from kommunaltypen.store import DirectoryRepo

    # no database connection is held while waiting for a slot and checking (a pool of a few
    # connections serves many threads)
    session.close()
    check = state.checker.check(body.answers)
    model = deps.current_model(state)  # the published model (ModelRepo.current())
    problems = list(check.problems)
    known = body.kommune_ars is None or DirectoryRepo(session).get(body.kommune_ars) is not None
    session.close()
    if not known:
        raise validation_problem(
            [
                *from_service_problems(problems).errors,
                FieldError(
                    "kommune_ars",
                    body.kommune_ars,
                    t("web.problem.kommune_not_found_detail", ars=body.kommune_ars),
                    t("web.invalid.choice"),
                ),
            ]
        )
    if not check.ok or check.row is None:
        raise from_service_problems(problems)
    row = {k: v for k, v in check.row.items() if v is not None}
    type_id, model_id = _typing(row, model)
    return {
        "answers": row,
        "kommune_ars": body.kommune_ars,
        "consent": body.consent,
        "type_id": type_id,
        "model_id": model_id,
        **_grouping(row),
    }


def _grouping(row: Mapping[str, Any]) -> dict[str, Any]:
    """kind (kommunenart option id), land (1..16) and population size class of a row, so that
    anonymous submissions can still be grouped."""
    cb = default_codebook()
    kind = None
    code = row.get("kommunenart")
    if code is not None:
        option = cb.question("kommunenart").option_by_code(int(code))
        kind = option.id if option is not None else None
    land = row.get("bundesland")
    population = row.get("einwohner")
    return {
        "kind": kind,
        "land": int(land) if land is not None and 1 <= int(land) <= 16 else None,
        "size_class": cb.population_class(population) if population is not None else None,
    }


def _out(sub: Any, token: str | None = None) -> dict[str, Any]:
    out = {
        "id": str(sub.id),
        "status": str(sub.status),
        "answers": dict(sub.answers or {}),
        "kommune_ars": sub.kommune_ars,
        "kind": sub.kind,
        "land": sub.land,
        "size_class": sub.size_class,
        "consent": bool(sub.consent),
        "codebook_id": sub.codebook_id,
        "codebook_version": sub.codebook_version,
        "type": sub.type_id,
        "model_id": sub.model_id,
        "created_at": sub.created_at,
        "updated_at": sub.updated_at,
        "finalized_at": sub.finalized_at,
    }
    if token is not None:
        out["token"] = token
    return out


def _replay(
    existing: Any, key: str, digest: str, secret: str, response: Response
) -> dict[str, Any]:
    if not deps.same_hash(existing.request_hash, digest):
        raise problem(409, t("web.problem.idempotency_conflict_detail", idempotency_key=key))
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{API_PATH}/submissions/{existing.id}"
    return _out(existing, deps.derived_token(secret, key, digest))


@router.post(
    "/submissions",
    response_model=SubmissionCreated,
    status_code=201,
    summary="Store a self-check submission (draft); returns its private token once",
    dependencies=[Depends(deps.require_json)],
    responses={200: {"model": SubmissionCreated, "description": "Idempotent replay"}}
    | _problems(409),
)
def create_submission(
    body: SubmissionIn,
    request: Request,
    response: Response,
    reader: Annotated[Session, Depends(deps.read_session)],
    session: Annotated[Session, Depends(deps.write_session)],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    # Everything slow (the answers' rules) happens before the write transaction begins, so a
    # SQLite write lock is held only for the insert itself.
    from kommunaltypen.store import SubmissionRepo

    state = deps.app_state(request)
    secret = state.settings.secret_key.get_secret_value() if state.settings.secret_key else ""
    _check_idempotency_key(idempotency_key)
    digest = request_hash(body)
    if idempotency_key is not None:
        existing = SubmissionRepo(reader).by_idempotency_key(idempotency_key)
        if existing is not None:
            return _replay(existing, idempotency_key, digest, secret, response)
    fields = _checked(body, reader, state)
    reader.close()
    if idempotency_key is not None:
        token = deps.derived_token(secret, idempotency_key, digest)
    else:
        token = deps.new_token()
    cb = default_codebook()
    fields |= {
        "codebook_id": cb.id,
        "codebook_version": cb.version,
        "token_hash": deps.token_hash(token),
    }
    repo = SubmissionRepo(session)
    with _writing(state, session):
        if idempotency_key is None:
            sub = repo.create(**fields)
        else:
            # of concurrent requests with one key exactly one creates; the others get its row
            sub, created = repo.create_or_get(
                idempotency_key=idempotency_key, request_hash=digest, **fields
            )
            if not created:
                return _replay(sub, idempotency_key, digest, secret, response)
        session.commit()
        response.headers["Location"] = f"{API_PATH}/submissions/{sub.id}"
        return _out(sub, token)


def _authorized(
    request: Request, session: Session, submission_id: str, *, for_update: bool = False
) -> Any:
    """The submission ``submission_id`` if the request carries its token (see module doc)."""
    from kommunaltypen.store import SubmissionRepo

    token = deps.bearer_token(request)
    if token is None:
        exc = problem(401, t("web.problem.token_missing_detail"))
        exc.headers = {"WWW-Authenticate": 'Bearer realm="submission"'}
        raise exc
    sub = SubmissionRepo(session).get_with_token(
        submission_id, deps.token_hash(token), for_update=for_update
    )
    if sub is None:
        raise problem(404, t("web.problem.submission_not_found_detail"))
    return sub


_TOKEN_RESPONSES = _problems(401, 404)


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    summary="Read a submission (with its token)",
    responses=_TOKEN_RESPONSES,
    dependencies=[Depends(bearer)],
)
def read_submission(
    submission_id: str,
    request: Request,
    session: Annotated[Session, Depends(deps.read_session)],
) -> dict[str, Any]:
    return _out(_authorized(request, session, submission_id))


@router.put(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    summary="Replace the answers of a draft submission (with its token)",
    responses=_TOKEN_RESPONSES | _problems(409),
    dependencies=[Depends(deps.require_json), Depends(bearer)],
)
def update_submission(
    submission_id: str,
    body: SubmissionIn,
    request: Request,
    reader: Annotated[Session, Depends(deps.read_session)],
    session: Annotated[Session, Depends(deps.write_session)],
) -> dict[str, Any]:
    from kommunaltypen.store import SubmissionRepo

    # token first (nothing is said about the answers to a caller without it), then the rules,
    # then a short write transaction that locks the row and checks again
    if _authorized(request, reader, submission_id).is_final:
        raise problem(409, t("web.problem.already_final_detail"))
    state = deps.app_state(request)
    fields = _checked(body, reader, state)
    reader.close()
    with _writing(state, session):
        sub = _authorized(request, session, submission_id, for_update=True)
        if sub.is_final:
            raise problem(409, t("web.problem.already_final_detail"))
        sub = SubmissionRepo(session).update(sub, **fields)
        session.commit()
        return _out(sub)


@router.post(
    "/submissions/{submission_id}/finalize",
    response_model=SubmissionOut,
    summary="Finalise a submission (with its token); finalising twice is harmless",
    responses=_TOKEN_RESPONSES,
    dependencies=[Depends(bearer)],
)
def finalize_submission(
    submission_id: str,
    request: Request,
    session: Annotated[Session, Depends(deps.write_session)],
) -> dict[str, Any]:
    from kommunaltypen.store import SubmissionRepo

    with _writing(deps.app_state(request), session):
        sub = _authorized(request, session, submission_id, for_update=True)
        if not sub.is_final:
            sub = SubmissionRepo(session).finalize(sub)
            session.commit()
        return _out(sub)


# ---------------------------------------------------------------------------- analysts
# Declared so that clients and the OpenAPI description know them. Every route needs a logged-in
# workspace account (auth.require_analyst: 401 without a session; the session cookie also needs
# the CSRF token for unsafe methods); until the workspace API is built they answer 501.
def _not_built() -> None:
    raise problem(501, t("account.problem.not_implemented_detail"))


@analyst_router.get("/submissions", summary="List submissions (analysts)")
def analyst_list_submissions() -> None:
    _not_built()


@analyst_router.get("/submissions/{submission_id}", summary="Read a submission (analysts)")
def analyst_read_submission(submission_id: str) -> None:
    _not_built()


@analyst_router.delete("/submissions/{submission_id}", summary="Delete a submission (analysts)")
def analyst_delete_submission(submission_id: str) -> None:
    _not_built()


@analyst_router.get("/waves", summary="List survey waves (analysts)")
def analyst_list_waves() -> None:
    _not_built()


@analyst_router.post("/waves", summary="Create a survey wave (analysts)")
def analyst_create_wave() -> None:
    _not_built()


@analyst_router.get("/reports", summary="List reports (analysts)")
def analyst_list_reports() -> None:
    _not_built()


@analyst_router.post("/reports", summary="Build a report (analysts)")
def analyst_create_report() -> None:
    _not_built()
