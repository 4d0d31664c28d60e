"""Request dependencies: application state, database sessions, media type, tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kommunaltypen.i18n import t
from kommunaltypen.web.batching import AnswerBatcher
from kommunaltypen.web.problems import problem
from kommunaltypen.web.settings import Settings


@dataclass(frozen=True)
class AppState:
    """What the application holds between requests: configuration and connection pools only
    (nothing that must be shared between workers lives in process memory)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    model: Any  # service.ModelInfo: the typology used by classify (read-only)
    #: serialises this process's write transactions on SQLite (one writer at a time anyway):
    #: threads queue here in order instead of polling SQLite's lock; a no-op on PostgreSQL
    write_lock: AbstractContextManager[Any] = field(default_factory=nullcontext)
    #: checks the answers of concurrent requests together (one validation pass per batch)
    checker: AnswerBatcher = field(default_factory=AnswerBatcher)
    #: published models loaded from the store, by model id (immutable once loaded; per
    #: application instance, see :func:`current_model`)
    models: dict[str, Any] = field(default_factory=dict)
    models_lock: threading.Lock = field(default_factory=threading.Lock)
    #: ``classify(goals)`` under ``model``, memoised (see :func:`memoised_classify`)
    classify: Callable[[tuple[str, ...]], Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classify", memoised_classify(self.model))


#: rankings remembered per process; the valid ones are 10 + 90 + 720 = 820
CLASSIFY_CACHE_SIZE = 4096


def memoised_classify(model: Any) -> Callable[[tuple[str, ...]], Any]:
    """``service.classify`` under ``model`` with its results remembered (an immutable
    model's pure function of the ranking; invalid rankings raise every time and are not
    remembered). Belongs to one application instance, never to the module."""
    from kommunaltypen import service

    @lru_cache(maxsize=CLASSIFY_CACHE_SIZE)
    def classify(goals: tuple[str, ...]) -> Any:
        return service.classify(goals, model=model)

    return classify


def _stored_model(state: AppState, model_id: str) -> Any:
    """The published model ``model_id`` as a ``service.ModelInfo`` (loaded once per app),
    None when the store does not have it."""
    with state.models_lock:
        cached = state.models.get(model_id)
    if cached is not None:
        return cached
    from kommunaltypen import service
    from kommunaltypen.store import ModelRepo

    with state.read_sessions() as db:
        record = ModelRepo(db).get(model_id)
        typology = dict(record.typology) if record is not None else None
    if typology is None:
        return None
    info = service.load_model(typology, model_id)
    with state.models_lock:
        return state.models.setdefault(model_id, info)


def current_model(state: AppState) -> Any:
    """The model the public Typ-Check uses now: the current published model of the store
    (``ModelRepo.current()``, so a publication is seen by every worker at once), else the
    bundled ``state.model``."""
    from sqlalchemy import select

    from kommunaltypen.store.models import PublishedModel

    with state.read_sessions() as db:
        model_id = db.scalar(
            select(PublishedModel.model_id).where(PublishedModel.is_current).limit(1)
        )
    if model_id is None or model_id == state.model.model_id:
        return state.model
    return _stored_model(state, model_id) or state.model


def model_for(state: AppState, model_id: str | None) -> Any:
    """The model a submission was typed with (earlier submissions keep theirs); the current
    one when it was typed with none or the model is not stored."""
    if model_id and model_id == state.model.model_id:
        return state.model
    if model_id:
        found = _stored_model(state, model_id)
        if found is not None:
            return found
    return current_model(state)


def app_state(request: Request) -> AppState:
    return request.app.state.kommunaltypen


def write_session(request: Request) -> Iterator[Session]:
    """A session for a request that writes; the route commits."""
    with app_state(request).sessions() as session:
        yield session


def read_session(request: Request) -> Iterator[Session]:
    """A session for a request that only reads (SQLite: deferred, never waits for writers)."""
    with app_state(request).read_sessions() as session:
        yield session


JSON_SUBTYPES = ("json",)


def require_json(request: Request) -> None:
    """415 unless the request body is declared as JSON (``application/json`` or ``+json``)."""
    raw = request.headers.get("content-type")
    mime = (raw or "").split(";", 1)[0].strip().lower()
    main, _, sub = mime.partition("/")
    if main == "application" and (sub == "json" or sub.endswith("+json")):
        return
    raise problem(415, t("web.problem.unsupported_media_type_detail", received=raw or ""))


def require_analyst(request: Request) -> object:
    """A logged-in workspace account (see :func:`kommunaltypen.web.auth.require_analyst`)."""
    from kommunaltypen.web import auth

    return auth.require_analyst(request)


# ---------------------------------------------------------------------------- tokens
TOKEN_BYTES = 32  # 256 random bits


def new_token() -> str:
    """A fresh private token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def derived_token(secret_key: str, idempotency_key: str, request_hash: str) -> str:
    """The private token of a submission created with an Idempotency-Key: an HMAC of the key
    and the request's hash under the server's secret key, so a retry (on any worker) gets the
    same token back without the token being stored. Unguessable without the secret key."""
    import base64

    mac = hmac.new(
        secret_key.encode("utf-8"),
        b"kommunaltypen.submission-token\0"
        + idempotency_key.encode("utf-8")
        + b"\0"
        + request_hash.encode("ascii"),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a token: the only form the store ever sees."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, None when absent or malformed."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def same_hash(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)
