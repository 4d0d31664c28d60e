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

import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kommunaltypen import service
from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.store.models import User
from kommunaltypen.web import auth, deps
from kommunaltypen.web.batching import AnswerBatcher
from kommunaltypen.web.problems import (
    FieldError,
    ProblemError,
    from_service_problems,
    problem,
    validation_problem,
)
from kommunaltypen.web.schemas import (
    MAX_ID,
    AnalystSubmission,
    AnalystSubmissionPage,
    ClassifyRequest,
    ClassifyResponse,
    Health,
    KommunenResponse,
    KommuneOut,
    Problem,
    ReportIn,
    ReportList,
    ReportOut,
    ReportSummary,
    SubmissionCreated,
    SubmissionDeleted,
    SubmissionIn,
    SubmissionOut,
    WaveIn,
    WaveList,
    WaveOut,
)

API_PATH = "/api/v1"
JSON_MEDIA_TYPE = "application/json"
PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: PROBLEM for code in codes}


router = APIRouter(tags=["api"], responses=_problems(400, 404, 405, 413, 415, 422, 500))
analyst_router = APIRouter(
    prefix="/analyst",
    tags=["analyst"],
    dependencies=[Depends(auth.require_analyst)],
    # 401 without a workspace session, 403 without the CSRF token (unsafe methods)
    responses=_problems(401, 403),
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
    # the body is parsed by the route itself (see _json_body); documented here
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ClassifyRequest.model_json_schema()}},
        }
    },
    responses=_problems(503),
)
async def classify(request: Request) -> Response:
    await deps.require_json(request)
    body = _json_body(ClassifyRequest, await request.body())
    # The currently published model (the bundled one while none is published; see
    # deps.ModelSource: the store is asked at most every 0.25 s, in a thread), then CPU-only
    # and short on the event loop: a ranking's response body is memoised per model and
    # language (820 valid rankings), so a repeated ranking costs a dictionary lookup.
    models = deps.app_state(request).models
    model = models.current_if_fresh() or await models.current_async()
    return Response(model.response(tuple(body.goals), get_lang()), media_type=JSON_MEDIA_TYPE)


classify.body_model = ClassifyRequest  # type: ignore[attr-defined]  # for problems.py

BodyModel = TypeVar("BodyModel", bound=BaseModel)


def _json_body(model: type[BodyModel], raw: bytes) -> BodyModel:
    """The JSON body ``raw`` as ``model``. Valid bodies go straight through pydantic's JSON
    parser (a declared body parameter costs the route FastAPI's dependency machinery, as
    much CPU as the rest of a memoised classify); on any error the body is parsed again
    exactly as FastAPI parses a declared body (``json.loads``, then validation, errors
    located under ``body``), so the problem documents are those of every other route."""
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        pass
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # (FastAPI: a bare 400)
        if isinstance(exc, json.JSONDecodeError):
            position, reason = exc.pos, exc.msg
        else:
            position, reason = exc.start, f"not UTF-8 ({exc.reason})"
        invalid = {
            "type": "json_invalid",
            "loc": ("body", position),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": reason},
        }
        raise RequestValidationError([invalid]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
        raise RequestValidationError(errors) from None


# ---------------------------------------------------------------------------- directory
@router.get(
    "/kommunen",
    response_model=KommunenResponse,
    summary="Search the municipality directory by name prefix or ARS",
)
async def kommunen(
    request: Request,
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
) -> Response:
    # The database part (connection, queries, JSON) on a plain connection (no ORM session);
    # the body is built as bytes (KommunenResponse documents it; DirectoryRepo.search_entries
    # returns exactly its items). SQLite: on the event loop — a read of page-cached index
    # ranges is CPU work of 0.2-1 ms, like a classify, and a WAL reader never waits for
    # writers; the thread hop it saves cost more CPU than the query (a third of the route).
    # PostgreSQL: network round trips, so one thread hop for all of it.
    state = deps.app_state(request)
    if state.engine.dialect.name == "sqlite":
        body = _search_body(state, q, land, limit)
    else:
        body = await run_in_threadpool(_search_body, state, q, land, limit)
    return Response(body, media_type=JSON_MEDIA_TYPE)


def _search_body(state: deps.AppState, q: str, land: int | None, limit: int) -> bytes:
    from kommunaltypen.store import DirectoryRepo

    with state.read_engine.connect() as connection:
        items = DirectoryRepo(connection).search_entries(q, land=land, limit=limit)
    return deps.json_bytes({"items": items, "count": len(items)})


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


def _typing(
    row: Mapping[str, Any], model: Any, state: deps.AppState | None = None
) -> tuple[str | None, str | None]:
    """The type of a validated row's goal ranking under ``model`` (None without a ranking);
    with the application's memoised results (``state.models``) when it has ``model`` loaded
    as its bundled or current one."""
    question = default_codebook().typology_question
    ranked = []
    for option in question.options:
        value = row.get(f"{question.id}_{option.id}")
        if value is not None and value > 0:
            ranked.append((int(value), option.id))
    if not ranked:
        return None, None
    goals = tuple(g for _, g in sorted(ranked))
    memo = None
    if state is not None:
        for loaded in (state.models.bundled, state.models.current_if_fresh()):
            if loaded is not None and loaded.info is model:
                memo = loaded.classify
    try:
        result = memo(goals) if memo is not None else service.classify(list(goals), model=model)
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
    known = body.kommune_ars is None or DirectoryRepo(session).get(body.kommune_ars) is not None
    session.close()
    return _fields(body, check, known, model, state)


def _fields(
    body: SubmissionIn, check: Any, known: bool, model: Any, state: deps.AppState
) -> dict[str, Any]:
    """The fields to store for ``body`` from its ``check`` (``service.AnswerCheck``), whether
    its ``kommune_ars`` is ``known`` to the directory and the current ``model``; a 422
    problem with every reason when the answers or the ARS are refused."""
    problems = list(check.problems)
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
    type_id, model_id = _typing(row, model, state)
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


@router.post(
    "/submissions",
    response_model=SubmissionCreated,
    status_code=201,
    summary="Store a self-check submission (draft); returns its private token once",
    dependencies=[Depends(deps.require_json)],
    responses={200: {"model": SubmissionCreated, "description": "Idempotent replay"}}
    | _problems(409),
)
async def create_submission(
    body: SubmissionIn,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    # An async route with two short trips to the thread pool (one read, one write
    # transaction): while its answers wait for the next shared validation pass (the
    # AnswerBatcher), a request holds neither a thread nor a database connection, so every
    # open connection can join the pass. A SQLite write lock is held only for the insert.
    state = deps.app_state(request)
    secret = state.settings.secret_key.get_secret_value() if state.settings.secret_key else ""
    _check_idempotency_key(idempotency_key)
    digest = request_hash(body)
    reads, writes = _database_batchers(request.app, state)
    existing, known, model = _result(await reads.check_async((idempotency_key, body.kommune_ars)))
    if existing is not None:
        assert idempotency_key is not None
        return _replay_stored(existing, idempotency_key, digest, secret, response)
    check = await state.checker.check_async(body.answers)
    fields = _fields(body, check, known, model, state)
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
    sub, created = _result(await writes.check_async((fields, idempotency_key, digest)))
    if not created:  # a concurrent request with the same key stored first
        assert idempotency_key is not None
        return _replay_stored(sub, idempotency_key, digest, secret, response)
    response.headers["Location"] = f"{API_PATH}/submissions/{sub['id']}"
    return sub | {"token": token}


@dataclass(frozen=True)
class _Failed:
    """The error of one request's database work in a shared pass (raised in that request)."""

    error: BaseException


def _result(value: Any) -> Any:
    if isinstance(value, _Failed):
        raise value.error
    return value


def _database_batchers(app: Any, state: deps.AppState) -> tuple[AnswerBatcher, AnswerBatcher]:
    """The two database passes of ``POST /submissions`` of this application instance (kept
    on ``app.state``): the reads before the answers are checked (:func:`_before_many`) and
    the inserts after (:func:`_insert_many`). Like the answer checks, the database work of
    concurrent requests is done together, in one thread of the batcher's own: one
    transaction (and one commit) for all waiting requests instead of one each, and no trip
    to the server's thread pool per request — which cost more CPU than the insert itself.
    At most two connections are used, whatever the load."""
    app_state = app.state
    batchers = getattr(app_state, "submission_batchers", None)
    if batchers is None:
        batchers = (
            AnswerBatcher(functools.partial(_before_many, state), max_wait=0),
            AnswerBatcher(functools.partial(_insert_many, state), max_wait=0),
        )
        app_state.submission_batchers = batchers
    return batchers


def _stored(sub: Any) -> dict[str, Any]:
    """A stored submission as plain data (read inside its transaction): its ``_out`` plus
    the ``request_hash`` it was created with."""
    return _out(sub) | {"request_hash": sub.request_hash}


def _replay_stored(
    stored: dict[str, Any], key: str, digest: str, secret: str, response: Response
) -> dict[str, Any]:
    """The answer to a retry with ``key`` of the submission ``stored`` (:func:`_stored`):
    200 with the same submission and token when the body is the same, else 409."""
    out = dict(stored)
    if not deps.same_hash(out.pop("request_hash"), digest):
        raise problem(409, t("web.problem.idempotency_conflict_detail", idempotency_key=key))
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{API_PATH}/submissions/{out['id']}"
    return out | {"token": deps.derived_token(secret, key, digest)}


def _before_many(state: deps.AppState, items: Sequence[tuple[str | None, str | None]]) -> list[Any]:
    """One read transaction before the answers of ``items`` (``(idempotency_key,
    kommune_ars)`` each) are checked; per item ``(existing, known, model)``: the submission
    already stored under its key (:func:`_stored`; None if none), whether its
    ``kommune_ars`` is in the directory, and the current model
    (:func:`deps.current_model`). A failure (the database unreachable …) is every item's
    (:class:`_Failed`): nothing in these reads depends on one request."""
    try:
        return _before_all(state, items)
    except Exception as exc:
        return [_Failed(exc)] * len(items)


def _before_all(state: deps.AppState, items: Sequence[tuple[str | None, str | None]]) -> list[Any]:
    from sqlalchemy import select

    from kommunaltypen.store import DirectoryRepo, Submission

    keys = sorted({key for key, _ in items if key is not None})
    with state.read_sessions() as db:
        stored: dict[str, Any] = {}
        if keys:
            # nearly every key is new: one probe for all that loads no record …
            taken = db.execute(
                select(Submission.idempotency_key).where(Submission.idempotency_key.in_(keys))
            ).scalars()
            for key in list(taken):
                found = db.scalars(
                    select(Submission).where(Submission.idempotency_key == key)
                ).first()
                if found is not None:  # … and the few stored ones read in full
                    stored[key] = _stored(found)
        directory = DirectoryRepo(db)
        known = {
            ars: directory.get(ars) is not None
            for ars in {ars for key, ars in items if ars is not None and key not in stored}
        }
    model = deps.current_model(state)
    return [
        (stored[key], True, None)
        if key is not None and key in stored
        else (None, ars is None or known[ars], model)
        for key, ars in items
    ]


def _insert_many(
    state: deps.AppState,
    items: Sequence[tuple[dict[str, Any], str | None, str]],
) -> list[Any]:
    """Store new submissions (``(fields, idempotency_key, request_hash)`` each) in one write
    transaction; per item ``(its _out, True)`` or, when a request stored one under the same
    key first (also one earlier in this pass), ``(that submission as _stored, False)`` (the
    unique key decides). When an insert is refused (a :class:`StoreError` of
    ``insert_once``: a broken constraint of its row), the pass is rolled back and each item is
    stored alone in its own transaction, so that only the refused one gets its error
    (:class:`_Failed`); any other failure (the database unreachable …) is every item's,
    without a retry per item."""
    from kommunaltypen.store import StoreError

    try:
        return _insert_all(state, items)
    except StoreError as exc:
        if len(items) == 1:
            return [_Failed(exc)]
        return [_insert_many(state, [item])[0] for item in items]
    except Exception as exc:
        return [_Failed(exc)] * len(items)


def _insert_all(
    state: deps.AppState, items: Sequence[tuple[dict[str, Any], str | None, str]]
) -> list[Any]:
    from kommunaltypen.store import SubmissionRepo

    results: list[Any] = []
    with state.sessions() as session, _writing(state, session):
        repo = SubmissionRepo(session)
        for fields, idempotency_key, digest in items:
            sub, created = repo.insert_once(
                idempotency_key=idempotency_key,
                request_hash=digest if idempotency_key is not None else None,
                **fields,
            )
            results.append((_out(sub), True) if created else (_stored(sub), False))
        session.commit()
    return results


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
# Thin adapters over the workspace's operations (web/workspace_ops.py) and the repositories:
# the same code as the workspace pages, answered as JSON. Every route needs a logged-in
# workspace account (auth.require_analyst: 401 without a session; the session cookie also
# needs the CSRF header for unsafe methods: 403).
ANALYST_PATH = f"{API_PATH}/analyst"
#: the id of a wave or job in a path (32-bit integer columns)
AnalystId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _analyst_read(
    request: Request,
    work: Callable[[Session], Any],
    missing: Callable[[], ProblemError] | None = None,
) -> Any:
    """``work`` in a read-only session; its None answer raises ``missing()`` (a 404) when
    given."""
    with deps.app_state(request).read_sessions() as db:
        return _present(work(db), missing)


def _analyst_write(
    request: Request,
    work: Callable[[Session], Any],
    missing: Callable[[], ProblemError] | None = None,
) -> Any:
    """``work`` in a write transaction (as :func:`_analyst_read`)."""
    state = deps.app_state(request)
    with state.write_lock, state.sessions.begin() as db:
        found = work(db)
    return _present(found, missing)


def _present(found: Any, missing: Callable[[], ProblemError] | None) -> Any:
    if found is None and missing is not None:
        raise missing()
    return found


def _analyst_submission(sub: Any) -> dict[str, Any]:  # _out of the public API + its wave
    return {**_out(sub), "wave_id": sub.wave_id}


@analyst_router.get(
    "/submissions",
    response_model=AnalystSubmissionPage,
    summary="List submissions (analysts), newest first",
)
def analyst_list_submissions(
    request: Request,
    wave_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only those stored with this wave.")
    ] = None,
    status: Annotated[Literal["draft", "final"] | None, Query()] = None,
    land: Annotated[int | None, Query(ge=1, le=16, description="Land code 1..16.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    from kommunaltypen.store import SubmissionRepo

    def work(db: Session) -> dict[str, Any]:
        repo = SubmissionRepo(db)
        filters = {"wave_id": wave_id, "status": status, "land": land}
        items = repo.list(**filters, limit=limit, offset=offset)
        return {
            "items": [_analyst_submission(s) for s in items],
            "total": repo.count(**filters),
            "limit": limit,
            "offset": offset,
        }

    return _analyst_read(request, work)


def _submission_not_found(submission_id: str) -> ProblemError:
    return problem(404, t("workspace.api.submission_not_found", id=submission_id[:80]))


@analyst_router.get(
    "/submissions/{submission_id}",
    response_model=AnalystSubmission,
    summary="Read a submission (analysts)",
)
def analyst_read_submission(submission_id: str, request: Request) -> dict[str, Any]:
    from kommunaltypen.store import SubmissionRepo

    def work(db: Session) -> dict[str, Any] | None:
        sub = SubmissionRepo(db).get(submission_id)
        return None if sub is None else _analyst_submission(sub)

    return _analyst_read(request, work, lambda: _submission_not_found(submission_id))


@analyst_router.delete(
    "/submissions/{submission_id}",
    response_model=SubmissionDeleted,
    summary="Delete a submission on request (analysts; audited, with a reason)",
)
def analyst_delete_submission(
    submission_id: str,
    request: Request,
    user: Annotated[User, Depends(auth.require_analyst)],
    reason: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            description="Why (e.g. the file number of the request); kept in the audit log.",
        ),
    ],
) -> dict[str, Any]:
    from kommunaltypen.web import workspace_ops as ops

    if not reason.strip():
        raise validation_problem(
            [
                FieldError(
                    "query.reason",
                    reason,
                    t("workspace.api.reason_expected"),
                    t("workspace.dsgvo.reason_required"),
                )
            ]
        )
    return _analyst_write(
        request,
        lambda db: ops.delete_submission(db, submission_id, user.email, reason),
        lambda: _submission_not_found(submission_id),
    )


def _wave_out(db: Session, wave: Any) -> dict[str, Any]:
    from kommunaltypen.web import workspace_ops as ops

    latest = ops.latest_done(db, wave.id)
    return {
        "id": wave.id,
        "name": wave.name,
        "year": wave.year,
        "codebook_id": wave.codebook_id,
        "codebook_version": wave.codebook_version,
        "created_at": wave.created_at,
        "latest_report": latest.id if latest is not None else None,
    }


@analyst_router.get("/waves", response_model=WaveList, summary="List survey waves (analysts)")
def analyst_list_waves(request: Request) -> dict[str, Any]:
    from kommunaltypen.store import WaveRepo

    def work(db: Session) -> dict[str, Any]:
        items = [_wave_out(db, w) for w in WaveRepo(db).list()]
        return {"items": items, "count": len(items)}

    return _analyst_read(request, work)


def _wave_not_found(wave_id: int, field: str | None = None) -> ProblemError:
    detail = t("workspace.api.wave_not_found", id=wave_id)
    if field is None:
        return problem(404, detail)
    return validation_problem(
        [FieldError(field, wave_id, t("workspace.api.wave_expected"), detail)]
    )


@analyst_router.get("/waves/{wave_id}", response_model=WaveOut, summary="One wave (analysts)")
def analyst_read_wave(wave_id: AnalystId, request: Request) -> dict[str, Any]:
    from kommunaltypen.store import WaveRepo

    def work(db: Session) -> dict[str, Any] | None:
        wave = WaveRepo(db).get(wave_id)
        return None if wave is None else _wave_out(db, wave)

    return _analyst_read(request, work, lambda: _wave_not_found(wave_id))


@analyst_router.post(
    "/waves",
    response_model=WaveOut,
    status_code=201,
    summary="Create a survey wave (analysts)",
    dependencies=[Depends(deps.require_json)],
    responses=_problems(409),
)
def analyst_create_wave(body: WaveIn, request: Request, response: Response) -> dict[str, Any]:
    from kommunaltypen.store import WaveRepo
    from kommunaltypen.web import workspace_ops as ops

    version = default_codebook().version
    if body.codebook_version is not None and body.codebook_version != int(version):
        raise validation_problem(
            [
                FieldError(
                    "codebook_version",
                    body.codebook_version,
                    t("workspace.api.codebook_expected", expected=version),
                    t(
                        "workspace.wave.bad_codebook",
                        received=body.codebook_version,
                        expected=version,
                    ),
                )
            ]
        )

    def work(db: Session) -> dict[str, Any]:
        if WaveRepo(db).by_name(body.name) is not None:
            raise problem(409, t("workspace.wave.duplicate", name=body.name))
        wave = ops.create_wave(db, body.name, body.year, version)
        return _wave_out(db, wave)

    out = _analyst_write(request, work)
    response.headers["Location"] = f"{ANALYST_PATH}/waves/{out['id']}"
    return out


def _report_out(job: Any) -> dict[str, Any]:
    from kommunaltypen.store.models import JobStatus

    summary = None
    if job.summary:
        summary = {k: job.summary.get(k) for k in ReportSummary.model_fields}
    links: dict[str, str | None] = {
        "status": f"{ANALYST_PATH}/jobs/{job.id}",
        "page": f"/workspace/jobs/{job.id}",
    }
    if job.status == JobStatus.DONE.value:
        links |= {
            fmt: f"/workspace/jobs/{job.id}/download/{fmt}" for fmt in ("html", "pdf", "xlsx")
        }
    return {
        "id": job.id,
        "wave_id": job.wave_id,
        "status": job.status,
        "progress": max(0.0, min(1.0, float(job.progress or 0.0))),
        "stage": job.stage,
        "message": job.message_in(get_lang()),
        "lang": job.lang,
        "needs_rerun": bool(job.needs_rerun),
        "created_by": job.created_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "summary": summary,
        "links": links,
    }


@analyst_router.get(
    "/reports",
    response_model=ReportList,
    summary="List reports: the analysis jobs of the waves, newest first (analysts)",
)
def analyst_list_reports(
    request: Request,
    wave_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this wave's.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    from sqlalchemy import select

    from kommunaltypen.store.models import AnalysisJob

    def work(db: Session) -> dict[str, Any]:
        stmt = select(AnalysisJob).order_by(AnalysisJob.id.desc()).limit(limit)
        if wave_id is not None:
            stmt = stmt.where(AnalysisJob.wave_id == wave_id)
        items = [_report_out(job) for job in db.scalars(stmt)]
        return {"items": items, "count": len(items)}

    return _analyst_read(request, work)


@analyst_router.post(
    "/reports",
    response_model=ReportOut,
    status_code=202,
    summary="Build a report: queue an analysis of a wave (analysts); poll Location",
    dependencies=[Depends(deps.require_json)],
    responses=_problems(409),
)
def analyst_create_report(
    body: ReportIn,
    request: Request,
    response: Response,
    user: Annotated[User, Depends(auth.require_analyst)],
) -> dict[str, Any]:
    from kommunaltypen.store import WaveRepo
    from kommunaltypen.web import workspace_ops as ops

    def work(db: Session) -> dict[str, Any] | None:
        wave = WaveRepo(db).get(body.wave_id)
        if wave is None:
            return None
        try:
            job = ops.enqueue(db, wave, user.email, get_lang())
        except ops.WorkspaceError as exc:  # duplicates unresolved, no rows
            raise problem(409, str(exc)) from exc
        return _report_out(job)

    out = _analyst_write(request, work, lambda: _wave_not_found(body.wave_id, "wave_id"))
    response.headers["Location"] = out["links"]["status"]
    return out


@analyst_router.get(
    "/jobs/{job_id}", response_model=ReportOut, summary="Status of an analysis job (analysts)"
)
def analyst_read_job(job_id: AnalystId, request: Request) -> dict[str, Any]:
    from kommunaltypen.store.models import AnalysisJob

    def work(db: Session) -> dict[str, Any] | None:
        job = db.get(AnalysisJob, job_id)
        return None if job is None else _report_out(job)

    return _analyst_read(
        request, work, lambda: problem(404, t("workspace.api.job_not_found", id=job_id))
    )
