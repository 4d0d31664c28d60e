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
- **Warm-up** (:func:`warm`): the application's lifespan builds the current model's basis
  and one sample result before the worker accepts requests, so no first view of a worker
  pays for it.
- **PDF rendering** (:class:`PdfRenderer`): WeasyPrint (~1.0 s CPU per profile) runs in a
  separate process pool of :func:`pdf_processes` processes per server worker at a lower
  priority, no more at once than processes (downloads first, then advance renders, each
  first come first served), so that renders neither hold the GIL of the worker that serves
  the pages nor share the CPU among all waiting users (16 PDFs rendered at once would all
  finish at the end). The pool starts when a submission is created
  (:meth:`PdfRenderer.start`).
  The result page queues the render of the PDF it links to (at most :data:`PREFETCH_MAX`
  queued per worker) with its view data (:func:`print_view`; the print HTML is made in the
  render process), so the download is usually ready when the user asks for it; a request
  for a PDF that is being rendered by this worker waits for that render instead of starting
  another one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger("kommunaltypen.web.typcheck")

#: bump when the result page's cached part or the PDF layout changes (old rows become stale)
FORMAT_VERSION = 2  # 2: PDF with fixed table columns (no overflow), own stylesheet
#: WeasyPrint processes per server worker (renders run one after another within each): two
#: where there are two cores, so that a queue of PDFs drains twice as fast while the pages are
#: idle; they run at a lower priority (:data:`PDF_NICENESS`), so pages keep their core. With
#: several workers, :func:`pdf_processes` shares the cores among them.
PDF_PROCESSES = min(2, os.cpu_count() or 1)


def pdf_processes(workers: int) -> int:
    """Render processes per worker when ``workers`` server workers run: the cores shared
    among them (2 workers on 2 cores: one each), so that no more renders run at once than there
    are cores (more would share the CPU and all finish late), at least one."""
    return max(1, min(PDF_PROCESSES, (os.cpu_count() or 1) // max(1, workers)))


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
        result = bundled_analysis()
    comparison = service.comparison_basis(result)
    return comparison, peer_basis(comparison)


@functools.cache
def bundled_analysis() -> Any:
    """The analysis of the bundled reconstruction (without bootstrap), once per process: it
    depends on shipped files only and is never changed (~0.2 s CPU saved per application
    instance after the first, i.e. per test application; a server worker has one)."""
    from kommunaltypen import service

    return service.analyse(None, n_bootstrap=0, k_choice=False)


def sample_answers(comparison: Any) -> dict[str, Any]:
    """A canonical answer row of the comparison data (its first municipality with a goal
    ranking), for warming up: what a stored submission's answers look like."""
    cb = comparison.codebook
    data = comparison.result.data
    goals = [c for c in cb.typology_question.columns if c in data.columns]
    for row in data.head(50).iter_rows(named=True):
        if any(row.get(c) is not None for c in goals):
            return {c: row.get(c) for c in cb.columns}
    return {c: data.row(0, named=True).get(c) for c in cb.columns}


def warm(state: Any, lang: str) -> Any:
    """Make a worker ready for the Typ-Check's first views (run by the application's lifespan
    before the worker accepts requests): the comparison basis of the current model, its
    evaluation batcher, and one result's view data built (the lazily loaded catalogues, number
    formats, ranking space and explanation caches). Returns that view (the caller renders its
    page parts, which compiles the templates)."""
    from kommunaltypen.selfcheck.view import profile_view
    from kommunaltypen.web.deps import current_model

    model = current_model(state)
    comparison, peers = comparison_for(state, model)
    evaluation = evaluate(state, model, sample_answers(comparison))
    return profile_view(evaluation, peers, kind="kommunenart", model=model, lang=lang)


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
    """Initialiser of a render process: below the server workers' priority, then WeasyPrint
    imported and the print stylesheet parsed (~1 s CPU once), so its first render costs what
    every later one does."""
    with contextlib.suppress(OSError):  # not permitted: renders run at normal priority
        os.nice(PDF_NICENESS)
    try:
        from kommunaltypen.selfcheck.pdf import stylesheet

        stylesheet()
    except Exception:  # reported again, to the request, by the first render
        log.warning("the PDF render process could not load WeasyPrint", exc_info=True)


def _ready() -> int:
    """A job that only proves a render process is up (see :meth:`PdfRenderer.start`)."""
    return os.getpid()


def _render(source: Any) -> bytes:
    """The PDF of ``source``: a profile's print HTML, or its view data (a
    ``selfcheck.ProfileView``, see :func:`print_view`), whose HTML is then rendered here, in
    the render process, not in the server worker that queued it."""
    from kommunaltypen.selfcheck.pdf import pdf_from_html, render_profile_html

    html = source if isinstance(source, str) else render_profile_html(source)
    return pdf_from_html(html)


def print_view(view: Any) -> Any:
    """``view`` (a ``selfcheck.ProfileView``) without what the print HTML does not use (the
    explanation, goal profile and comparison objects behind its texts): what is sent to a
    render process (pickled, ~35 kB, < 1 ms)."""
    return dataclasses.replace(view, explanation=None, profile=None, comparison=None)


@dataclasses.dataclass(eq=False)
class _Job:
    """One render: its key, what to render, who keeps the PDF, and the future of its waiters."""

    key: str
    source: Any
    on_done: Callable[[bytes], None]
    outer: Future[bytes]


class PdfRenderer:
    """Renders PDF profiles in a pool of ``processes`` processes (started on first use or by
    :meth:`start`), one render per key at a time; ``on_done`` keeps the result (see
    :func:`store`).

    The renderer hands the pool no more renders than it has processes and keeps the rest in
    two queues of its own: renders a request waits for (:meth:`render`) start before those a
    result page queued in advance (:meth:`prefetch`), and a queued advance render that a
    request asks for moves to the front queue. So a user who downloads a PDF never waits
    behind the advance renders of pages other users merely opened."""

    def __init__(self, processes: int = PDF_PROCESSES) -> None:
        self.processes = max(1, int(processes))
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        #: every render queued or running, by key
        self._inflight: dict[str, Future[bytes]] = {}
        self._urgent: deque[_Job] = deque()  # asked for by a request
        self._later: deque[_Job] = deque()  # queued in advance by a result page
        self._running = 0
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

    def start(self) -> None:
        """Start the render processes now, in the background (each loads WeasyPrint in its
        initialiser), instead of with the first render; the Typ-Check calls it when a
        submission is created, minutes before its PDF can be asked for."""
        with self._lock:
            if self._closed or self._pool is not None:
                return
            pool = self._executor()
            for _ in range(self.processes):  # one job each: each submit spawns a process
                pool.submit(_ready)

    def pending(self) -> int:
        """Renders queued or running."""
        with self._lock:
            return len(self._inflight)

    def submit(
        self, key: str, source: Any, on_done: Callable[[bytes], None], *, urgent: bool = True
    ) -> Future[bytes]:
        """The render of ``key`` (the one already queued, else a new one of ``source``: print
        HTML or a :func:`print_view`, see :func:`_render`); ``urgent``: a request waits for
        it (it starts before the advance renders, and moves a queued advance render of the
        same key to the front). Its future completes after ``on_done`` has kept the PDF, so
        whoever waits for it finds the PDF stored afterwards."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the PDF renderer is closed")
            found = self._inflight.get(key)
            if found is not None:
                if urgent:
                    self._promote(key)
                return found
            outer: Future[bytes] = Future()
            self._inflight[key] = outer
            (self._urgent if urgent else self._later).append(_Job(key, source, on_done, outer))
            jobs = self._take()
        self._start(jobs)
        return outer

    def _promote(self, key: str) -> None:
        """Move the queued advance render of ``key`` (if any) to the front queue (locked)."""
        for job in self._later:
            if job.key == key:
                self._later.remove(job)
                self._urgent.append(job)
                return

    def _take(self) -> list[_Job]:
        """The queued renders to start now: one per idle process, the front queue first
        (locked)."""
        jobs = []
        while self._running < self.processes and (self._urgent or self._later):
            jobs.append((self._urgent or self._later).popleft())
            self._running += 1
        return jobs

    def _start(self, jobs: list[_Job]) -> None:
        for job in jobs:
            try:
                with self._lock:
                    pool = self._executor()
                inner = pool.submit(_render, job.source)
            except Exception as exc:  # a broken or stopped pool: the job fails (see render)
                inner = Future()
                inner.set_exception(exc)
            inner.add_done_callback(lambda f, job=job: self._finished(job, f))

    def _finished(self, job: _Job, f: Future[bytes]) -> None:
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
                    job.on_done(pdf)
                except Exception:
                    log.warning("a rendered PDF could not be kept", exc_info=True)
        finally:
            with self._lock:
                self._running -= 1
                if self._inflight.get(job.key) is job.outer:
                    del self._inflight[job.key]
                jobs = [] if self._closed else self._take()
            if pdf is not None:
                job.outer.set_result(pdf)
            else:
                job.outer.set_exception(error or CancelledError())
            self._start(jobs)

    def render(self, key: str, source: Any, on_done: Callable[[bytes], None]) -> bytes:
        """The PDF of ``key``, waiting for its render (queued now or earlier)."""
        try:
            return self.submit(key, source, on_done).result(timeout=PDF_TIMEOUT_S)
        except BrokenProcessPool:  # a render process died: start a new pool, render here
            log.warning("the PDF render process died; rendering in the server process")
            with self._lock:
                broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            pdf = _render(source)
            on_done(pdf)
            return pdf

    def prefetch(
        self, key: str, source_of: Callable[[], Any], on_done: Callable[[bytes], None]
    ) -> bool:
        """Queue the render of ``key`` in the background (behind the renders requests wait
        for) unless :data:`PREFETCH_MAX` renders are pending; True when it is queued (or
        already was)."""
        with self._lock:
            if self._closed:
                return False
            if key in self._inflight:
                return True
            if len(self._inflight) >= PREFETCH_MAX:
                return False
        try:
            self.submit(key, source_of(), on_done, urgent=False)
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
            dropped = [*self._urgent, *self._later]
            self._urgent.clear()
            self._later.clear()
            for job in dropped:
                if self._inflight.get(job.key) is job.outer:
                    del self._inflight[job.key]
        for job in dropped:
            job.outer.set_exception(CancelledError())
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
