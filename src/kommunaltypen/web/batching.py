"""Answer checks of concurrent requests, done together.

Validating one answer set costs about as much as validating 64 (the validation is a handful of
column-wise polars passes whose cost is mostly fixed per pass). Under load a worker therefore
checks the answers of all requests that arrive while a check is running in one pass
(:func:`kommunaltypen.service.check_answers_many`): the first request thread to find nothing
running becomes the *leader*, waits a moment for others to join, checks the whole batch, hands
each request its own result and goes on until no request is waiting. A lone request waits
``max_wait`` at most. Every request still gets exactly the result
:func:`~kommunaltypen.service.check_answers` would give it, in its own language (a batch is
split by language).

One batcher belongs to one application instance (``AppState``), never to the module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kommunaltypen.i18n import get_lang, use_lang

CheckMany = Callable[[Sequence[Mapping[str, Any]]], list[Any]]


@dataclass
class _Item:
    answers: Mapping[str, Any]
    lang: str
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class AnswerBatcher:
    """Check answer sets of concurrent threads in shared passes (see the module docstring)."""

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
        #: batch sizes checked so far (for the benchmark and tests)
        self.batch_sizes: list[int] = []

    def check(self, answers: Mapping[str, Any]) -> Any:
        """The ``AnswerCheck`` of ``answers`` in the calling thread's language."""
        item = _Item(answers, get_lang())
        with self._lock:
            self._pending.append(item)
            leader = not self._running
            if leader:
                self._running = True
        if leader:
            self._lead()
        item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result

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
                    item.done.set()
