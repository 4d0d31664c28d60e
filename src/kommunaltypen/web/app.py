"""The application factory.

``create_app(settings)`` builds the FastAPI application; the database is opened, migrated and
(on first start) filled with the municipality directory in the lifespan, i.e. when the server
starts, not at import. ``uvicorn --factory kommunaltypen.web.app:create_app`` (what
``kommunaltypen serve`` runs) calls it without arguments: the settings then come from the
``KOMMUNALTYPEN_*`` environment variables, in every worker process alike.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from kommunaltypen import __version__
from kommunaltypen.web.deps import AppState
from kommunaltypen.web.middleware import RequestContextMiddleware
from kommunaltypen.web.problems import install_handlers
from kommunaltypen.web.settings import Settings

log = logging.getLogger("kommunaltypen.web")

API_PREFIX = "/api/v1"


def _prepare(engine: Engine) -> None:
    from kommunaltypen import store

    store.prepare_database(engine)


def prepare_database(settings: Settings) -> None:
    """Migrate the database to the newest schema and load the directory (idempotent). Run
    once by ``kommunaltypen serve`` before the workers start, and again (a no-op then) by each
    worker's lifespan."""
    from kommunaltypen import store

    engine = store.make_engine(settings.database_url or "")
    try:
        _prepare(engine)
    finally:
        engine.dispose()


def fail_interrupted_jobs(settings: Settings) -> int:
    """Fail the analysis jobs a stopped server of this machine left ``running`` (run by
    ``kommunaltypen serve`` before its workers start; see
    :func:`kommunaltypen.web.workspace_ops.fail_interrupted`)."""
    from types import SimpleNamespace

    from kommunaltypen import store
    from kommunaltypen.web.workspace_ops import fail_interrupted

    engine = store.make_engine(settings.database_url or "")
    try:
        state = SimpleNamespace(write_lock=nullcontext(), sessions=store.session_factory(engine))
        return fail_interrupted(state)
    finally:
        engine.dispose()


def _open_state(settings: Settings) -> AppState:
    from kommunaltypen import service, store
    from kommunaltypen.web.typcheck import PdfRenderer, pdf_processes

    engine = store.make_engine(settings.database_url or "")
    try:
        _prepare(engine)
    except BaseException:
        engine.dispose()
        raise
    return AppState(
        settings=settings,
        engine=engine,
        sessions=store.session_factory(engine),
        read_sessions=store.session_factory(engine, readonly=True),
        model=service.default_model(),
        write_lock=threading.Lock() if engine.dialect.name == "sqlite" else nullcontext(),
        pdf=PdfRenderer(pdf_processes(settings.workers)),
    )


def _warm_typcheck(state: AppState) -> None:
    """:func:`kommunaltypen.web.routers.public.warm_typcheck`, timed and logged; a failure is
    logged and leaves the work to the first request (as without the warm-up)."""
    import time

    from kommunaltypen.web.routers.public import warm_typcheck

    cpu = time.process_time()
    try:
        warm_typcheck(state)
    except Exception:
        log.warning("Typ-Check warm-up failed; the first result page does it", exc_info=True)
        return
    log.info("Typ-Check ready (warm-up: %.2f s CPU)", time.process_time() - cpu)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web application for ``settings`` (default: from the environment)."""
    from kommunaltypen.web import logs

    settings = (settings or Settings()).resolved()
    logs.install()  # the access log never holds a private link's token

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await run_in_threadpool(_open_state, settings)
        app.state.kommunaltypen = state
        log.info("database: %s", settings.database_display())
        worker = None
        if settings.job_worker:
            from kommunaltypen.web import workspace_ops

            if settings.workers == 1:  # the only worker: nothing of this machine still runs
                failed = await run_in_threadpool(workspace_ops.fail_interrupted, state)
                if failed:
                    log.warning("%d analysis job(s) interrupted by the restart: failed", failed)
            worker = workspace_ops.JobWorker(state).start()
        # The Typ-Check's first views find this worker ready (comparison basis, caches,
        # templates) instead of one request per worker building them under load.
        await run_in_threadpool(_warm_typcheck, state)
        # What start-up loaded (modules, codebook, models, templates) stays: the cyclic GC
        # need not walk it again. Without this, each full collection under load took ~100 ms
        # of CPU (150,000 objects) and stalled every open request — the p99 of even health.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if worker is not None:
                await run_in_threadpool(worker.stop)
            await run_in_threadpool(state.pdf.close)
            state.engine.dispose()

    app = FastAPI(
        title="kommunaltypen",
        version=__version__,
        description="JSON API of kommunaltypen: classify a ranking of digitalisation goals, "
        "search the municipality directory, store self-check submissions. Errors are RFC 9457 "
        "problem details (application/problem+json).",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # the Swagger/ReDoc pages load third-party scripts: not under our CSP
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_handlers(app)

    from kommunaltypen.web.routers import api

    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(api.analyst_router, prefix=API_PREFIX)
    from kommunaltypen.web.routers import public

    app.include_router(public.router)
    from kommunaltypen.web import auth
    from kommunaltypen.web.routers import account

    app.include_router(account.router)
    from kommunaltypen.web.routers import workspace

    app.include_router(workspace.router)
    auth.install(app)
    static = resources.files("kommunaltypen.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    from kommunaltypen.web.csrf import CSRFMiddleware

    app.add_middleware(CSRFMiddleware)  # inside RequestContextMiddleware: language is set
    app.add_middleware(
        RequestContextMiddleware,
        default_lang=settings.default_lang,
        max_body_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.upload_max_bytes,
    )
    return app


def _openapi(app: FastAPI) -> dict:
    """FastAPI's OpenAPI description with every error response as what it really is: an RFC
    9457 problem document (``application/problem+json``), instead of FastAPI's default 422
    ``HTTPValidationError`` in ``application/json``."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    from kommunaltypen.web.schemas import Problem, ProblemFieldError

    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in (ProblemFieldError, Problem):
        schemas[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    problem_content = {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in ("400", "404", "405", "413", "415", "422", "500"):
                responses.setdefault(status, {"description": "Problem"})
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = problem_content
                    response.setdefault("description", "Problem")
    app.openapi_schema = spec
    return spec
