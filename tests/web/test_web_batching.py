"""Concurrent answer checks share validation passes and still get their own results."""

from __future__ import annotations

import csv
import threading

import pytest

from kommunaltypen import service
from kommunaltypen.analysis import bundled_data_path
from kommunaltypen.i18n import use_lang
from kommunaltypen.web.batching import AnswerBatcher


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with bundled_data_path().open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[:24]


def _run_threads(batcher: AnswerBatcher, jobs: list[tuple[str, dict[str, str]]]) -> list:
    results: list = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def work(i: int) -> None:
        lang, answers = jobs[i]
        with use_lang(lang):
            start.wait(timeout=30)
            try:
                results[i] = batcher.check(answers)
            except Exception as exc:  # the test looks at it
                results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_checks_are_batched_and_each_gets_its_own_result(rows) -> None:
    jobs = []
    for i, row in enumerate(rows):
        answers = dict(row, kommunenart="77") if i % 3 == 0 else row
        jobs.append(("en" if i % 2 else "de", answers))
    batcher = AnswerBatcher(max_wait=0.05)
    results = _run_threads(batcher, jobs)
    assert max(batcher.batch_sizes) > 1  # passes were shared
    assert sum(batcher.batch_sizes) == len(jobs)
    for (lang, answers), got in zip(jobs, results, strict=True):
        with use_lang(lang):
            assert got == service.check_answers(answers)
        if not got.ok:
            word = "unknown code" if lang == "en" else "unbekannter Code"
            assert word in got.problems[0].message


def test_an_error_reaches_every_waiting_request(rows) -> None:
    def broken(batch):
        raise RuntimeError("validation broke")

    batcher = AnswerBatcher(broken, max_wait=0.05)
    results = _run_threads(batcher, [("de", row) for row in rows[:6]])
    assert all(isinstance(r, RuntimeError) for r in results)
    # and the batcher still works afterwards (no stuck leader)
    batcher._check_many = service.check_answers_many
    assert batcher.check(rows[0]).ok


def test_awaited_checks_share_passes_and_keep_their_language(rows) -> None:
    """``check_async`` (async routes): coroutines waiting on one event loop join the same
    passes — more of them than a thread pool has threads — and each gets its own result."""
    import asyncio

    jobs = []
    for i in range(80):
        row = rows[i % len(rows)]
        answers = dict(row, kommunenart="77") if i % 5 == 0 else row
        jobs.append(("en" if i % 2 else "de", answers))
    batcher = AnswerBatcher(max_wait=0.05)

    async def one(lang: str, answers: dict[str, str]):
        with use_lang(lang):
            return await batcher.check_async(answers)

    async def main():
        return await asyncio.gather(*(one(lang, answers) for lang, answers in jobs))

    results = asyncio.run(main())
    assert sum(batcher.batch_sizes) == len(jobs)
    assert max(batcher.batch_sizes) == batcher.max_batch  # 64: more than 40 pool threads
    for (lang, answers), got in zip(jobs, results, strict=True):
        with use_lang(lang):
            assert got == service.check_answers(answers)


def test_an_error_reaches_every_awaiting_request(rows) -> None:
    import asyncio

    def broken(batch):
        raise RuntimeError("validation broke")

    batcher = AnswerBatcher(broken, max_wait=0.05)

    async def main():
        return await asyncio.gather(
            *(batcher.check_async(row) for row in rows[:6]), return_exceptions=True
        )

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(main()))
    batcher._check_many = service.check_answers_many
    assert asyncio.run(batcher.check_async(rows[0])).ok  # no stuck leader
