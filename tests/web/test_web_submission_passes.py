"""The database passes of ``POST /submissions``: the reads and the inserts of concurrent
requests are done together, and still each request gets its own answer (its own replay, its
own error) — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi.testclient import TestClient

from conftest import ANSWERS
from kommunaltypen.codebook import default_codebook
from kommunaltypen.store import StoreError, SubmissionRepo
from kommunaltypen.web.routers import api as api_routes


def _fields(kommune_ars: str | None = None) -> dict:
    cb = default_codebook()
    return {
        "answers": dict(ANSWERS),
        "kommune_ars": kommune_ars,
        "consent": False,
        "type_id": None,
        "model_id": None,
        "kind": None,
        "land": None,
        "size_class": None,
        "codebook_id": cb.id,
        "codebook_version": cb.version,
        "token_hash": uuid.uuid4().hex,
    }


def test_one_insert_pass_stores_each_and_isolates_a_failure(api: TestClient) -> None:
    state = api.app.state.kommunaltypen
    key, other = f"pass-{uuid.uuid4()}", f"pass-{uuid.uuid4()}"
    results = api_routes._insert_many(
        state,
        [
            (_fields(), key, "digest-1"),
            (_fields(), key, "digest-1"),  # the same key later in the same pass: a replay
            (_fields(kommune_ars="999999999999"), other, "digest-2"),  # not in the directory
            (_fields(), None, "digest-3"),
        ],
    )
    first, again, failed, keyless = results
    assert first[1] is True and keyless[1] is True
    assert again[1] is False and again[0]["id"] == first[0]["id"]
    assert again[0]["request_hash"] == "digest-1"
    assert isinstance(failed, api_routes._Failed) and isinstance(failed.error, StoreError)
    with state.sessions() as session:
        repo = SubmissionRepo(session)
        assert repo.get(first[0]["id"]) is not None  # the failure undid nobody else's insert
        assert repo.get(keyless[0]["id"]) is not None
        assert repo.by_idempotency_key(other) is None


def test_one_read_pass_answers_each_request(api: TestClient) -> None:
    state = api.app.state.kommunaltypen
    key = f"read-{uuid.uuid4()}"
    ((stored, created),) = api_routes._insert_many(state, [(_fields(), key, "d")])
    assert created
    ars = api.get("/api/v1/kommunen", params={"q": "Münch"}).json()["items"][0]["ars"]
    results = api_routes._before_many(
        state, [(key, None), (f"new-{uuid.uuid4()}", ars), (None, "999999999999"), (None, None)]
    )
    assert results[0][0]["id"] == stored["id"] and results[0][0]["request_hash"] == "d"
    assert [r[1] for r in results[1:]] == [True, False, True]
    assert all(r[0] is None and r[2] is not None for r in results[1:])


def test_concurrent_submissions_share_database_passes(api: TestClient) -> None:
    app = api.app

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/submissions",
                        json={"answers": ANSWERS},
                        headers={"Idempotency-Key": f"c-{uuid.uuid4()}"},
                    )
                    for _ in range(32)
                )
            )

    reads, writes = api_routes._database_batchers(app, app.state.kommunaltypen)
    before = len(writes.batch_sizes)
    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [201] * 32
    assert len({r.json()["id"] for r in responses}) == 32
    assert max(list(writes.batch_sizes)[before:]) > 1  # inserts shared a transaction
    assert max(reads.batch_sizes) > 1


class _Unreachable:
    """An application state whose database cannot be reached; counts the attempts."""

    def __init__(self) -> None:
        self.attempts = 0

    def _fail(self) -> None:
        self.attempts += 1
        raise ConnectionError("database unreachable (test)")

    def sessions(self) -> None:
        self._fail()

    read_sessions = sessions


def test_a_database_failure_is_every_requests_error_without_retries() -> None:
    state = _Unreachable()
    inserted = api_routes._insert_many(state, [(_fields(), f"k-{i}", "d") for i in range(5)])
    assert state.attempts == 1  # one failed pass, not one more try per request
    read = api_routes._before_many(state, [(f"k-{i}", None) for i in range(5)])
    assert state.attempts == 2
    for result in [*inserted, *read]:
        assert isinstance(result, api_routes._Failed)
        assert isinstance(result.error, ConnectionError)
