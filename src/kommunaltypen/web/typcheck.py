"""What the public Typ-Check computes once instead of per request (docs/selfcheck-web.md, "Speed").

- **Comparison bases per model** (:func:`comparison_for`): the ``service.ComparisonBasis`` and
  ``selfcheck.PeerBasis`` a result is compared with, kept in the application state
  (``AppState.bases``) by model id. The bundled study model is compared with the bundled
  reconstruction of the study; a model published from a wave with that wave's data (analysed as
  the analysis job does, without bootstrap). A publication changes ``ModelRepo.current()``,
  which every worker reads per request, so each worker builds the new basis on first use.
- **Computed outputs per submission state** (:func:`cached` / :func:`store`, table
  ``selfcheck_cache``): the view part of the result page and the PDF profile, keyed by a hash of
  everything they depend on (:func:`output_key`: the stored answers, the model, the language,
  the peer group, the date printed and :data:`FORMAT_VERSION`). A finalised submission never
  changes, so its outputs are computed once; a draft's outputs are replaced when its answers
  change. They live in the database, not in process memory, so every worker shares them.
- **PDF rendering** (:class:`PdfRenderer`): WeasyPrint (~1.3 s CPU per profile) runs in a
  separate process pool of :data:`PDF_PROCESSES` processes per server worker at a lower
  priority, first come first served, so that renders neither hold the GIL of the worker that
  serves the pages nor share the CPU among all waiting users (16 PDFs rendered at once would
  all finish at the end).
  The result page queues the render of the PDF it links to (at most :data:`PREFETCH_MAX`
  queued per worker), so the download is usually ready when the user asks for it; a request
  for a PDF that is being rendered waits for that render instead of starting another one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger("kommunaltypen.web.typcheck")

#: bump when the result page's cached part or the PDF layout changes (old rows become stale)
FORMAT_VERSION = 1
#: WeasyPrint processes per server worker (renders run one after another within each): two
#: where there are two cores, so that a queue of PDFs drains twice as fast while the pages are
#: idle; they run at a lower priority (:data:`PDF_NICENESS`), so pages keep their core
PDF_PROCESSES = min(2, os.cpu_count() or 1)
#: ``nice`` increment of the render processes: background work yields the CPU to the workers
#: that answer page requests
PDF_NICENESS = 10
#: renders queued by result pages per worker beyond which no more are queued in advance
PREFETCH_MAX = 32
#: how long a PDF request waits for its render before it fails
PDF_TIMEOUT_S = 600.0


# ---------------------------------------------------------------------------- bases
def comparison_for(state: Any, model: Any) -> tuple[Any, Any]:
    """(``ComparisonBasis``, ``PeerBasis``) for results typed with ``model`` (a
    ``service.ModelInfo``), built once per model id and application instance."""
    found = state.bases.get(model.model_id)
    if found is not None:
        return found
    with state.bases_lock:  # one build at a time; the others wait for it
        found = state.bases.get(model.model_id)
        if found is None:
            found = _build_basis(state, model)
            state.bases[model.model_id] = found
    return found


def _build_basis(state: Any, model: Any) -> tuple[Any, Any]:
    from kommunaltypen import service
    from kommunaltypen.selfcheck.peers import peer_basis

    result = None
    if model.model_id != state.model.model_id:
        result = _wave_analysis(state, model)
    if result is None:  # the bundled model, or a model without usable data
        result = service.analyse(None, n_bootstrap=0, k_choice=False)
    comparison = service.comparison_basis(result)
    return comparison, peer_basis(comparison)


def _wave_analysis(state: Any, model: Any) -> Any:
    """The analysis of the data of the wave ``model`` was published from; None when the model
    has no wave, the wave no rows, or the analysis does not give the model's types."""
    from kommunaltypen import service
    from kommunaltypen.store import ModelRepo
    from kommunaltypen.store.models import Wave
    from kommunaltypen.web import workspace_ops

    with state.read_sessions() as db:
        record = ModelRepo(db).get(model.model_id)
        wave = db.get(Wave, record.wave_id) if record is not None and record.wave_id else None
        frame = workspace_ops.wave_frame(workspace_ops.members(db, wave)) if wave else None
    if frame is None or frame.height == 0:
        return None
    try:
        result = service.analyse(frame, filename="wave.csv", n_bootstrap=0, k_choice=False)
    except Exception:
        log.warning("model %s: its wave's data gave no analysis", model.model_id, exc_info=True)
        return None
    if set(result.model.type_ids_) != set(model.typology.type_ids_):
        log.warning("model %s: the wave's data gives other types now", model.model_id)
        return None
    return result


def evaluate(state: Any, model: Any, answers: Mapping[str, Any]) -> Any:
    """``service.evaluate(answers, basis, model, validated=True)`` of a stored submission,
    evaluated together with the other requests of the moment
    (:func:`kommunaltypen.service.evaluate_many` through an ``AnswerBatcher`` per model): 16
    result pages opened at once cost one polars pass, not 16."""
    batcher = state.evaluators.get(model.model_id)
    if batcher is None:
        from kommunaltypen import service
        from kommunaltypen.web.batching import AnswerBatcher

        comparison, _ = comparison_for(state, model)

        def evaluate_many(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
            return service.evaluate_many(rows, comparison, model)

        with state.bases_lock:
            batcher = state.evaluators.setdefault(
                model.model_id, AnswerBatcher(evaluate_many, max_batch=32)
            )
    return batcher.check(dict(answers))


# ---------------------------------------------------------------------------- outputs
def output_key(
    answers: Mapping[str, Any], model_id: str, lang: str, peer: str | None, day: dt.date
) -> str:
    """The hash of everything a result page part or PDF depends on."""
    payload = {
        "format": FORMAT_VERSION,
        "answers": dict(answers),
        "model": model_id,
        "lang": lang,
        "peer": peer or "keine",
        "day": day.isoformat(),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def variant(kind: str, lang: str, peer: str | None) -> str:
    """The row name of an output: ``page:de:kommunenart``, ``pdf:en:keine`` …"""
    return f"{kind}:{lang}:{peer or 'keine'}"


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def cached(state: Any, submission_id: Any, name: str, key: str) -> bytes | None:
    """The stored output ``name`` of a submission when it is current (its key is ``key``)."""
    from kommunaltypen.store.models import SelfcheckCache

    with state.read_sessions() as db:
        row = db.get(SelfcheckCache, (_uuid(submission_id), name))
        return bytes(row.content) if row is not None and row.key == key else None


def store(state: Any, submission_id: Any, name: str, key: str, content: bytes) -> None:
    """Keep an output (replacing the submission's earlier one of the same name). Losing the
    race against another worker or a deleted submission is fine: it is only a cache."""
    from sqlalchemy import delete
    from sqlalchemy.exc import IntegrityError

    from kommunaltypen.store.models import SelfcheckCache

    sid = _uuid(submission_id)
    try:
        with state.write_lock, state.sessions.begin() as db:
            db.execute(
                delete(SelfcheckCache).where(
                    SelfcheckCache.submission_id == sid, SelfcheckCache.variant == name
                )
            )
            db.add(SelfcheckCache(submission_id=sid, variant=name, key=key, content=content))
    except IntegrityError:
        log.info("output %s of %s not kept (stored meanwhile or submission gone)", name, sid)


# ---------------------------------------------------------------------------- PDF
def _lower_priority() -> None:
    """Initialiser of a render process: below the server workers' priority."""
    with contextlib.suppress(OSError):  # not permitted: renders run at normal priority
        os.nice(PDF_NICENESS)


def _render(html: str) -> bytes:
    from kommunaltypen.selfcheck.pdf import pdf_from_html

    return pdf_from_html(html)


class PdfRenderer:
    """Renders PDF profiles in a pool of :data:`PDF_PROCESSES` processes (started on first
    use), one render per key at a time; ``on_done`` keeps the result (see :func:`store`)."""

    def __init__(self, processes: int = PDF_PROCESSES) -> None:
        self.processes = max(1, int(processes))
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._inflight: dict[str, Future[bytes]] = {}
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fresh interpreter, never a fork of a threaded server
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority,
            )
        return self._pool

    def pending(self) -> int:
        """Renders queued or running."""
        with self._lock:
            return len(self._inflight)

    def submit(self, key: str, html: str, on_done: Callable[[bytes], None]) -> Future[bytes]:
        """The render of ``key`` (the one already queued, else a new one of ``html``). Its
        future completes after ``on_done`` has kept the PDF, so whoever waits for it finds
        the PDF stored afterwards."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the PDF renderer is closed")
            found = self._inflight.get(key)
            if found is not None:
                return found
            outer: Future[bytes] = Future()
            inner = self._executor().submit(_render, html)
            self._inflight[key] = outer

        def done(f: Future[bytes]) -> None:
            pdf = None
            error: BaseException | None = None
            try:
                if f.cancelled():
                    error = CancelledError()
                elif f.exception() is not None:
                    error = f.exception()
                else:
                    pdf = f.result()
                    try:
                        on_done(pdf)
                    except Exception:
                        log.warning("a rendered PDF could not be kept", exc_info=True)
            finally:
                with self._lock:
                    if self._inflight.get(key) is outer:
                        del self._inflight[key]
                if pdf is not None:
                    outer.set_result(pdf)
                else:
                    outer.set_exception(error or CancelledError())

        inner.add_done_callback(done)
        return outer

    def render(self, key: str, html: str, on_done: Callable[[bytes], None]) -> bytes:
        """The PDF of ``key``, waiting for its render (queued now or earlier)."""
        try:
            return self.submit(key, html, on_done).result(timeout=PDF_TIMEOUT_S)
        except BrokenProcessPool:  # a render process died: start a new pool, render here
            log.warning("the PDF render process died; rendering in the server process")
            with self._lock:
                broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            pdf = _render(html)
            on_done(pdf)
            return pdf

    def prefetch(
        self, key: str, html_of: Callable[[], str], on_done: Callable[[bytes], None]
    ) -> bool:
        """Queue the render of ``key`` in the background unless :data:`PREFETCH_MAX` renders
        are pending; True when it is queued (or already was)."""
        with self._lock:
            if self._closed:
                return False
            if key in self._inflight:
                return True
            if len(self._inflight) >= PREFETCH_MAX:
                return False
        try:
            self.submit(key, html_of(), on_done)
        except Exception:  # never fail the page that asked: the download renders on request
            log.warning("the PDF could not be queued in advance", exc_info=True)
            return False
        return True

    def close(self) -> None:
        """Stop the pool (queued renders are dropped; nothing is waiting for them after the
        server stopped)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
