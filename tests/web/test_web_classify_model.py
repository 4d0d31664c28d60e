"""``POST /api/v1/classify`` uses the currently published model (the bundled one while none is
published), on SQLite and PostgreSQL; how soon a publication is seen (``deps.ModelSource``);
and the directory search route's answers equal the repository's entries."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool

from conftest import web_settings
from kommunaltypen import service
from kommunaltypen.store import DirectoryRepo, ModelRepo
from kommunaltypen.web import create_app
from kommunaltypen.web.deps import CURRENT_MODEL_CHECK_SECONDS, ModelSource

GOALS = ["rechtliche_vorgaben", "foerdermittel", "effizienz"]


def _typology(shift: int, data_hash: str) -> dict:
    """The bundled typology with its type names moved by ``shift`` places (so the same
    ranking gets another type) and another data hash."""
    model = json.loads(service.default_model().typology.to_json())
    model["type_ids"] = model["type_ids"][shift:] + model["type_ids"][:shift]
    model["data_hash"] = data_hash
    return model


class Clock:
    """A clock the test moves by hand, starting at the real monotonic time (the look the
    applications' start-up took, at the real time, lies behind it)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def workers(fresh_database_url: str, tmp_path) -> Iterator[tuple[TestClient, TestClient, Clock]]:
    """Two application instances (as two workers) on one new database, with one clock."""
    with ExitStack() as stack:
        clients = []
        for name in ("a", "b"):
            data = tmp_path / name
            data.mkdir()
            settings = web_settings(fresh_database_url, data, secret_key="s" * 32, job_worker=False)
            clients.append(stack.enter_context(TestClient(create_app(settings))))
        clock = Clock()  # after both start-ups, whose warm-up looked at the real clock
        for client in clients:
            client.app.state.kommunaltypen.models.clock = clock
        yield clients[0], clients[1], clock


def _publish(client: TestClient, model_id: str, typology: dict, current: bool = True) -> None:
    state = client.app.state.kommunaltypen
    with state.sessions.begin() as session:
        repo = ModelRepo(session)
        if repo.get(model_id) is None:
            repo.publish(
                model_id=model_id,
                typology=typology,
                data_hash=typology["data_hash"],
                make_current=current,
            )
        else:
            repo.set_current(model_id)


def _classify(client: TestClient, lang: str = "de") -> dict:
    response = client.post(f"/api/v1/classify?lang={lang}", json={"goals": GOALS})
    assert response.status_code == 200, response.text
    return response.json()


def _expected(typology: dict, model_id: str, lang: str = "de") -> dict:
    return service.classify(GOALS, model=service.load_model(typology, model_id)).to_dict(lang)


def test_classify_uses_the_published_model_on_every_worker(workers) -> None:
    a, b, clock = workers
    bundled = service.classify(GOALS).to_dict("de")
    assert _classify(a) == bundled and _classify(b) == bundled

    wave1 = _typology(1, "sha256:" + "1" * 32)
    _publish(a, "wave:1", wave1)
    clock.now += CURRENT_MODEL_CHECK_SECONDS + 0.01
    for client in (a, b):  # the publishing worker and the other one
        got = _classify(client)
        assert got == _expected(wave1, "wave:1")
        assert got["model_id"] == "wave:1" and got["type"] != bundled["type"]
    assert _classify(b, "en")["label"] == _expected(wave1, "wave:1", "en")["label"]

    wave2 = _typology(2, "sha256:" + "2" * 32)
    _publish(b, "wave:2", wave2)
    clock.now += CURRENT_MODEL_CHECK_SECONDS + 0.01
    assert _classify(a) == _expected(wave2, "wave:2") != _expected(wave1, "wave:1")

    _publish(a, "wave:1", wave1)  # back to the first one: loaded already, same result
    clock.now += CURRENT_MODEL_CHECK_SECONDS + 0.01
    assert _classify(b)["model_id"] == "wave:1"


def test_a_publication_is_seen_after_at_most_the_check_interval(workers) -> None:
    a, _, clock = workers
    assert _classify(a)["model_id"] == service.default_model().model_id
    _publish(a, "wave:x", _typology(1, "sha256:" + "3" * 32))
    clock.now += CURRENT_MODEL_CHECK_SECONDS / 2  # the last look is still fresh
    assert _classify(a)["model_id"] == service.default_model().model_id
    clock.now += CURRENT_MODEL_CHECK_SECONDS / 2 + 0.01
    assert _classify(a)["model_id"] == "wave:x"


def _reader(engine):
    """``engine`` for reading, as the application passes it to its ModelSource."""
    from kommunaltypen.store.engine import READONLY_OPTION

    return engine.execution_options(**{READONLY_OPTION: True})


def test_model_source_without_interval_asks_the_store_on_every_call(db_engine) -> None:
    from sqlalchemy.orm import Session

    source = ModelSource(service.default_model(), _reader(db_engine), check_seconds=0)
    assert source.current().model_id == service.default_model().model_id
    typology = _typology(3, "sha256:" + "4" * 32)
    with db_engine.connect() as connection, connection.begin() as transaction:
        with Session(bind=connection) as session:
            ModelRepo(session).publish(
                model_id="wave:now", typology=typology, data_hash=typology["data_hash"]
            )
            session.flush()
        # uncommitted: other connections still see no published model
        assert source.current().model_id == service.default_model().model_id
        transaction.rollback()
    assert source.current_if_fresh() is None
    assert source.get("wave:now") is None  # rolled back: not in the store
    assert source.get(service.default_model().model_id) is source.bundled


def test_model_source_loads_a_published_model_once(db_engine) -> None:
    from sqlalchemy.orm import Session

    typology = _typology(1, "sha256:" + "5" * 32)
    with Session(db_engine) as session, session.begin():
        ModelRepo(session).publish(
            model_id="wave:once", typology=typology, data_hash=typology["data_hash"]
        )
    try:
        source = ModelSource(service.default_model(), _reader(db_engine), check_seconds=0)
        first = source.current()
        assert first.model_id == "wave:once"
        assert source.current() is first and source.get("wave:once") is first
        result = first.classify(tuple(GOALS))
        assert result.to_dict("de") == _expected(typology, "wave:once")
        assert json.loads(first.response(tuple(GOALS), "en")) == _expected(
            typology, "wave:once", "en"
        )
    finally:
        with Session(db_engine) as session, session.begin():
            record = ModelRepo(session).get("wave:once")
            assert record is not None
            session.delete(record)


def test_one_request_asks_the_store_while_the_others_use_the_last_answer(monkeypatch) -> None:
    from kommunaltypen.web import deps

    clock = Clock()
    source = ModelSource(service.default_model(), None, clock=clock)
    asks, hops = [], []

    def slow_current_row():
        asks.append(clock.now)
        time.sleep(0.05)
        return None

    async def counting_hop(func, *args):
        hops.append(func)
        return await run_in_threadpool(func, *args)

    source._current_row = slow_current_row  # type: ignore[method-assign]
    monkeypatch.setattr(deps, "run_in_threadpool", counting_hop)

    async def requests():
        first = await source.current_async()
        clock.now += CURRENT_MODEL_CHECK_SECONDS + 0.01
        return first, await asyncio.gather(*(source.current_async() for _ in range(50)))

    first, later = asyncio.run(requests())
    # the first request, then one of the 50 after the interval: one store query and one
    # thread hop each; the other 49 neither wait nor hop
    assert len(asks) == 2 and len(hops) == 2
    assert all(model is first is source.bundled for model in later)


# ---------------------------------------------------------------------------- directory
@pytest.mark.parametrize(
    ("q", "land"),
    [("münchen", None), ("halle", None), ("tölz", None), ("09184", None), ("neu", 9), ("", None)],
)
def test_search_entries_are_the_search_results_as_data(db_session, q, land) -> None:
    repo = DirectoryRepo(db_session)
    expected = [k.to_dict() for k in repo.search(q, land=land, limit=30)]
    assert expected
    assert repo.search_entries(q, land=land, limit=30) == expected
    # on a plain connection (what the API uses) too
    on_connection = DirectoryRepo(db_session.connection()).search_entries(q, land=land, limit=30)
    assert on_connection == expected


def test_search_route_answers_the_repository_entries(api: TestClient) -> None:
    state = api.app.state.kommunaltypen
    with state.read_sessions() as session:
        expected = DirectoryRepo(session).search_entries("bad", land=9, limit=7)
    response = api.get("/api/v1/kommunen", params={"q": "bad", "land": 9, "limit": 7})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"items": expected, "count": 7}
    en = api.get("/api/v1/kommunen", params={"q": "09184", "lang": "en"}).json()["items"][0]
    assert en["kind_label"] == "Rural district (Landkreis)"


# ---------------------------------------------------------------------------- classify body
@pytest.mark.parametrize(
    ("content", "status", "slug", "field"),
    [
        (b"", 422, "validation", "body"),
        (b"\xff\xfe{}", 400, "malformed-json", None),
        (b'{"goals": ["effizienz"]', 400, "malformed-json", None),
        (b'["effizienz"]', 422, "validation", "body"),
        (b'{"goals": ["effizienz"], "extra": 1}', 422, "validation", "extra"),
        (b'{"goals": "effizienz"}', 422, "validation", "goals"),
    ],
)
def test_classify_body_errors_are_problem_documents(
    sqlite_api: TestClient, content: bytes, status: int, slug: str, field: str | None
) -> None:
    response = sqlite_api.post(
        "/api/v1/classify?lang=en", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:kommunaltypen:problem:{slug}"
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field]
    if field == "extra":  # the unknown field's message names the allowed ones
        assert "goals" in body["errors"][0]["expected"]
