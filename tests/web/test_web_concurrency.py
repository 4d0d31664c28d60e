"""500 concurrent submissions, each sent twice with the same Idempotency-Key, against a real
uvicorn server: exactly 500 stored, no 5xx, both answers of a pair name the same submission
and token — on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from conftest import ANSWERS, live_server, web_settings
from kommunaltypen import store

N_SUBMISSIONS = 500
CONCURRENCY = 64

pytestmark = pytest.mark.slow


async def _send_all(base_url: str) -> list[tuple[str, list[httpx.Response]]]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:

        async def send(key: str, body: dict) -> httpx.Response:
            async with gate:
                return await client.post(
                    "/api/v1/submissions", json=body, headers={"Idempotency-Key": key}
                )

        async def pair(i: int) -> tuple[str, list[httpx.Response]]:
            key = str(uuid.uuid4())
            body = {"answers": {**ANSWERS, "kommune_id": f"K{i:05d}", "einwohner": 1000 + i}}
            # both copies in flight at the same time: the store's unique key decides
            return key, list(await asyncio.gather(send(key, body), send(key, body)))

        return await asyncio.gather(*(pair(i) for i in range(N_SUBMISSIONS)))


def _in_own_loop(coro):
    """Run ``coro`` in a fresh event loop in its own thread (independent of whatever loop the
    test process may already run, e.g. Playwright's)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_500_concurrent_idempotent_submissions(web_database_url: str, tmp_path) -> None:
    settings = web_settings(web_database_url, tmp_path)
    engine = store.make_engine(web_database_url)
    store.prepare_database(engine)
    with engine.connect() as connection:
        before = connection.scalar(select(func.count()).select_from(store.Submission))
    with live_server(settings) as base_url:
        results = _in_own_loop(_send_all(base_url))

    statuses = [r.status_code for _, pair in results for r in pair]
    assert not [s for s in statuses if s >= 500], sorted(set(statuses))
    assert set(statuses) <= {200, 201}, sorted(set(statuses))
    for _key, (a, b) in results:
        assert sorted([a.status_code, b.status_code]) == [200, 201]
        assert a.json()["id"] == b.json()["id"]
        assert a.json()["token"] == b.json()["token"]
    ids = {pair[0].json()["id"] for _, pair in results}
    assert len(ids) == N_SUBMISSIONS
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(store.Submission))
        keys = connection.scalar(
            select(func.count(func.distinct(store.Submission.idempotency_key))).where(
                store.Submission.idempotency_key.in_([k for k, _ in results])
            )
        )
    engine.dispose()
    assert stored - before == N_SUBMISSIONS
    assert keys == N_SUBMISSIONS
