"""Request dependencies: application state, database sessions, media type, tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from kommunaltypen.i18n import t
from kommunaltypen.web.batching import AnswerBatcher
from kommunaltypen.web.problems import problem
from kommunaltypen.web.settings import Settings
from kommunaltypen.web.typcheck import PdfRenderer


@dataclass(frozen=True)
class AppState:
    """What the application holds between requests: configuration and connection pools only
    (nothing that must be shared between workers lives in process memory)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    model: Any  # service.ModelInfo: the bundled typology (used while none is published)
    #: serialises this process's write transactions on SQLite (one writer at a time anyway):
    #: threads queue here in order instead of polling SQLite's lock; a no-op on PostgreSQL
    write_lock: AbstractContextManager[Any] = field(default_factory=nullcontext)
    #: checks the answers of concurrent requests together (one validation pass per batch)
    checker: AnswerBatcher = field(default_factory=AnswerBatcher)
    #: the Typ-Check's comparison bases by model id (immutable once built; see
    #: :func:`kommunaltypen.web.typcheck.comparison_for`)
    bases: dict[str, Any] = field(default_factory=dict)
    bases_lock: threading.Lock = field(default_factory=threading.Lock)
    #: per model id: evaluates the result pages of concurrent requests together
    evaluators: dict[str, Any] = field(default_factory=dict)
    #: the Typ-Check's PDF renders (a process pool, started when a submission is created or
    #: on first use)
    pdf: PdfRenderer = field(default_factory=PdfRenderer)
    #: the models of this application instance: which one is current (asked of the store),
    #: the published ones loaded once, and their memoised classifications (see ModelSource)
    models: ModelSource = field(init=False)
    #: ``engine`` for plain read-only connections (no ORM session): SQLite deferred
    #: transactions, PostgreSQL autocommit (see __post_init__)
    read_engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        from kommunaltypen.store.engine import READONLY_OPTION

        options: dict[str, Any] = {READONLY_OPTION: True}
        if self.engine.dialect.name == "postgresql":
            # no BEGIN/ROLLBACK round trips around a read (each statement reads the latest
            # committed state; SQLite reads in one deferred transaction)
            options["isolation_level"] = "AUTOCOMMIT"
        object.__setattr__(self, "read_engine", self.engine.execution_options(**options))
        object.__setattr__(self, "models", ModelSource(self.model, self.read_engine))


#: rankings remembered per model; the valid ones are 10 + 90 + 720 = 820 (spelt as ids)
CLASSIFY_CACHE_SIZE = 4096
#: how long (seconds) a worker relies on its last look at which model is current before it
#: asks the store again (see :class:`ModelSource`)
CURRENT_MODEL_CHECK_SECONDS = 0.25
#: published models kept loaded per application instance (the least recently used go)
LOADED_MODELS = 16


class LoadedModel:
    """One model with its memoised results: ``classify(goals)`` (a
    ``service.Classification``) and ``response(goals, lang)`` (the JSON body of ``POST
    /classify`` as bytes). A model is immutable once published, so both are pure functions
    of their arguments; invalid rankings raise every time and are not remembered."""

    def __init__(self, info: Any) -> None:
        from kommunaltypen import service

        self.info = info
        self.model_id: str = info.model_id

        @lru_cache(maxsize=CLASSIFY_CACHE_SIZE)
        def classify(goals: tuple[str, ...]) -> Any:
            return service.classify(goals, model=info)

        @lru_cache(maxsize=2 * CLASSIFY_CACHE_SIZE)
        def response(goals: tuple[str, ...], lang: str) -> bytes:
            return json_bytes(classify(goals).to_dict(lang))

        self.classify = classify
        self.response = response


def json_bytes(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON, as FastAPI's ``JSONResponse`` renders it."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


class ModelSource:
    """The models one application instance classifies with.

    - **Which model is current** is the store's answer (``published_model.is_current``, one
      query of a table of a few rows; no published model: the bundled one). A worker
      relies on its last answer for at most ``check_seconds`` (0.25 s) and then asks again
      (one caller asks; concurrent callers use the last answer meanwhile), so a publication
      made by any worker is used by every worker within ``check_seconds`` plus one query —
      no process-local state that stays stale, and no query per request (a query and its
      thread hop cost more than the rest of a memoised classify). ``check_seconds=0``
      asks on every call.
    - **Loaded models** are kept by (model id, data hash): a published model never changes
      under its id, so loading it once per process is safe; at most ``LOADED_MODELS``.
    - Their results are memoised per model (:class:`LoadedModel`).

    Thread-safe; the blocking :meth:`current` may query the store, :meth:`current_if_fresh`
    never does (for the event loop)."""

    def __init__(
        self,
        bundled: Any,
        engine: Engine | None,  # for reading only (AppState.read_engine)
        *,
        check_seconds: float = CURRENT_MODEL_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bundled = LoadedModel(bundled)
        self.engine = engine
        self.check_seconds = check_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._loaded: OrderedDict[tuple[str, str | None], LoadedModel] = OrderedDict()
        self._current: LoadedModel | None = None
        self._checked_at = float("-inf")
        self._asking = False  # a caller is asking the store which model is current

    def current_if_fresh(self) -> LoadedModel | None:
        """The current model without asking the store: when the last look is younger than
        ``check_seconds``, or while another caller is asking (the store's answer then is at
        most one query older than that). None otherwise: then call :meth:`current`."""
        current = self._current
        if current is not None and (
            self.clock() - self._checked_at < self.check_seconds
            or (self._asking and self.check_seconds > 0)
        ):
            return current
        return None

    def current(self) -> LoadedModel:
        """The current model; asks the store unless :meth:`current_if_fresh` has it (one
        caller at a time asks, the others meanwhile use the last answer)."""
        with self._lock:
            fresh = self.current_if_fresh()
            if fresh is not None:
                return fresh
            self._asking = True
        try:
            return self._ask()
        finally:
            self._asking = False

    async def current_async(self) -> LoadedModel:
        """:meth:`current` for the event loop: the store is asked in a worker thread, and the
        caller that asks says so *before* its thread hop — otherwise every request arriving
        while the hop is pending would hop too (measured: one request in eight)."""
        fresh = self.current_if_fresh()
        if fresh is not None:
            return fresh
        if self._current is None or self.check_seconds <= 0:
            return await run_in_threadpool(self.current)
        with self._lock:
            if self._asking:
                return self._current
            self._asking = True
        try:
            return await run_in_threadpool(self._ask)
        finally:
            self._asking = False

    def _ask(self) -> LoadedModel:
        started = self.clock()
        found = self._current_row()
        loaded = self.bundled if found is None else self._load(*found)
        with self._lock:
            if started >= self._checked_at:  # a later look may have finished first
                self._current, self._checked_at = loaded, started
        return loaded

    def get(self, model_id: str) -> LoadedModel | None:
        """The model ``model_id`` (bundled or published), None when the store lacks it."""
        if model_id == self.bundled.model_id:
            return self.bundled
        with self._lock:
            for (loaded_id, _), loaded in self._loaded.items():
                if loaded_id == model_id:
                    return loaded
        found = self._row(model_id)
        return None if found is None else self._load(*found)

    # ------------------------------------------------------------------------ store
    def _connect(self) -> Any:
        assert self.engine is not None
        return self.engine.connect()

    def _current_row(self) -> tuple[str, str | None] | None:
        if self.engine is None:
            return None
        with self._connect() as connection:
            row = connection.execute(_current_statement()).first()
        return None if row is None else (row[0], row[1])

    def _row(self, model_id: str) -> tuple[str, str | None] | None:
        if self.engine is None:
            return None
        with self._connect() as connection:
            row = connection.execute(_by_id_statement(), {"model_id": model_id}).first()
        return None if row is None else (row[0], row[1])

    def _load(self, model_id: str, data_hash: str | None) -> LoadedModel:
        if model_id == self.bundled.model_id:
            return self.bundled
        key = (model_id, data_hash)
        with self._lock:
            loaded = self._loaded.get(key)
            if loaded is not None:
                self._loaded.move_to_end(key)
                return loaded
        from kommunaltypen import service
        from kommunaltypen.store.models import PublishedModel

        with self._connect() as connection:
            typology = connection.scalar(
                select(PublishedModel.typology).where(PublishedModel.model_id == model_id)
            )
        if typology is None:  # unpublished in between: the bundled model
            return self.bundled
        loaded = LoadedModel(service.load_model(dict(typology), model_id))
        with self._lock:
            loaded = self._loaded.setdefault(key, loaded)
            self._loaded.move_to_end(key)
            while len(self._loaded) > LOADED_MODELS:
                self._loaded.popitem(last=False)
        return loaded


@cache
def _current_statement() -> Any:
    from kommunaltypen.store.models import PublishedModel

    return (
        select(PublishedModel.model_id, PublishedModel.data_hash)
        .where(PublishedModel.is_current)
        .limit(1)
    )


@cache
def _by_id_statement() -> Any:
    from kommunaltypen.store.models import PublishedModel

    return select(PublishedModel.model_id, PublishedModel.data_hash).where(
        PublishedModel.model_id == bindparam("model_id")
    )


def current_model(state: AppState) -> Any:
    """The model (``service.ModelInfo``) the public Typ-Check and the API use now: the
    store's current published model, else the bundled ``state.model`` (see
    :class:`ModelSource` for how soon a publication is seen)."""
    return state.models.current().info


def model_for(state: AppState, model_id: str | None) -> Any:
    """The model a submission was typed with (earlier submissions keep theirs); the current
    one when it was typed with none or the model is not stored."""
    if model_id:
        found = state.models.get(model_id)
        if found is not None:
            return found.info
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


async def require_json(request: Request) -> None:
    """415 unless the request body is declared as JSON (``application/json`` or ``+json``).
    (``async``: a plain function dependency would cost each request a thread hop.)"""
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
