"""Answer checks of concurrent requests, done together.

Validating one answer set costs about as much as validating 64 (the validation is a handful of
column-wise polars passes whose cost is mostly fixed per pass). Under load a worker therefore
checks the answers of all requests that arrive while a check is running in one pass
(:func:`kommunaltypen.service.check_answers_many`).

Requests wait in one queue. Whoever finds no check running starts a *leader* thread of the
batcher's own: it waits ``max_wait`` for the requests arriving right now, checks up to
``max_batch`` of the waiting ones in one pass, hands each request its own result and goes on
until the queue is empty, then ends. No request is made to lead (its answer would wait for
everybody else's under sustained load), and a waiting request holds no thread of the server's
pool when it waits through :meth:`AnswerBatcher.check_async` (an ``async`` route; ``await``
frees the event loop for more requests to join the next pass) — that is what lets batches
grow to the number of open connections instead of the size of the thread pool.
:meth:`AnswerBatcher.check` is the same for code running in a thread (sync routes).

Every request still gets exactly the result :func:`~kommunaltypen.service.check_answers` would
give it, in its own language (a batch is split by language).

One batcher belongs to one application instance (``AppState``), never to the module.

The class is not tied to answers: ``check_many`` may be any function from a list of items to
a list of their results. ``POST /submissions`` uses two more batchers for its database work
(one read and one write transaction per pass; see ``_database_batchers`` in
``web/routers/api.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kommunaltypen.i18n import get_lang, use_lang

CheckMany = Callable[[Sequence[Mapping[str, Any]]], list[Any]]


#: how many recent batch sizes a batcher remembers
RECENT_BATCHES = 1024


@dataclass(eq=False)
class _Item:
    answers: Mapping[str, Any]
    lang: str
    #: set when the result is there (a waiting thread), or …
    done: threading.Event | None = None
    #: … the future of a waiting coroutine, resolved on its event loop
    future: asyncio.Future[Any] | None = None
    result: Any = None
    error: BaseException | None = None

    def finish(self) -> None:
        if self.done is not None:
            self.done.set()
        elif self.future is not None:
            # a closed loop (server stopping) raises RuntimeError: nobody waits any more
            with contextlib.suppress(RuntimeError):
                self.future.get_loop().call_soon_threadsafe(
                    _resolve, self.future, self.result, self.error
                )


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class AnswerBatcher:
    """Check answer sets of concurrent requests in shared passes (see the module docstring)."""

    def __init__(
        self, check_many: CheckMany | None = None, max_batch: int = 64, max_wait: float = 0.002
    ) -> None:
        if check_many is None:
            from kommunaltypen.service import check_answers_many as check_many
        self._check_many = check_many
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._pending: list[_Item] = []
        self._running = False
        #: sizes of the most recent batches (for the benchmark and tests); bounded, as a
        #: server runs for weeks
        self.batch_sizes: deque[int] = deque(maxlen=RECENT_BATCHES)

    # -- the two ways to wait --------------------------------------------------------------
    def check(self, answers: Mapping[str, Any]) -> Any:
        """The ``AnswerCheck`` of ``answers`` in the calling thread's language (blocks)."""
        item = _Item(answers, get_lang(), done=threading.Event())
        self._enqueue(item)
        assert item.done is not None
        item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result

    async def check_async(self, answers: Mapping[str, Any]) -> Any:
        """The ``AnswerCheck`` of ``answers`` in the current language, awaited on the running
        event loop (which stays free meanwhile)."""
        item = _Item(answers, get_lang(), future=asyncio.get_running_loop().create_future())
        self._enqueue(item)
        assert item.future is not None
        return await item.future

    # -- the leader ------------------------------------------------------------------------
    def _enqueue(self, item: _Item) -> None:
        with self._lock:
            self._pending.append(item)
            start = not self._running
            if start:
                self._running = True
        if start:
            try:
                threading.Thread(target=self._lead, name="answer-batcher", daemon=True).start()
            except RuntimeError:  # no thread can be started: check in the caller's thread
                with self._lock:  # rather than leave the requests waiting forever
                    self._running = False
                self._run(self._take_all())

    def _take_all(self) -> list[_Item]:
        with self._lock:
            batch, self._pending = self._pending, []
        return batch

    def _lead(self) -> None:
        if self.max_wait > 0:
            time.sleep(self.max_wait)  # let the requests arriving right now join this pass
        while True:
            with self._lock:
                batch = self._pending[: self.max_batch]
                del self._pending[: len(batch)]
                if not batch:
                    self._running = False
                    return
            self._run(batch)

    def _run(self, batch: list[_Item]) -> None:
        if not batch:
            return
        self.batch_sizes.append(len(batch))
        by_lang: dict[str, list[_Item]] = {}
        for item in batch:
            by_lang.setdefault(item.lang, []).append(item)
        for lang, items in by_lang.items():
            try:
                with use_lang(lang):
                    results = self._check_many([item.answers for item in items])
                for item, result in zip(items, results, strict=True):
                    item.result = result
            except BaseException as exc:  # each waiting request gets the error, not a hang
                for item in items:
                    item.error = exc
            finally:
                for item in items:
                    item.finish()
