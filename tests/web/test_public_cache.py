"""What the Typ-Check computes once (issue 12, speed; ``web/typcheck.py``): the result page's
view part and the PDF profile kept per submission state in the store (SQLite and PostgreSQL),
replaced when the answers change and deleted with the submission; the PDF rendered in a
bounded process pool, once per key; the comparison basis kept per model id."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from concurrent.futures import CancelledError, Future
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kommunaltypen.store import SubmissionRepo
from kommunaltypen.store.models import SelfcheckCache
from kommunaltypen.web import typcheck

OPTIMIERER = ("effizienz", "leistungsangebot", "buergernaehe")
BEDAECHTIGE = ("rechtliche_vorgaben", "foerdermittel", "effizienz")


def _csrf(client: TestClient, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text)
    assert match
    return match.group(1)


def _submission(client: TestClient, goals: tuple[str, str, str]) -> str:
    token = _csrf(client, "/check?anonym=1")
    data = {"csrf_token": token, "anonym": "1", "kommunenart": "2", "bundesland": "9"}
    response = client.post("/check", data={**data, "groesse": "5"}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    base = response.headers["location"].split("/abschnitt/")[0]
    _rank(client, base, goals)
    return base


def _rank(client: TestClient, base: str, goals: tuple[str, str, str]) -> None:
    ranks = {f"ziele__rang{i}": g for i, g in enumerate(goals, start=1)}
    token = _csrf(client, f"{base}/abschnitt/2")
    response = client.post(
        f"{base}/abschnitt/2",
        data={"csrf_token": token, "aktion": "speichern", **ranks},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]


def _rows(client: TestClient, base: str) -> dict[str, SelfcheckCache]:
    state = client.app.state.kommunaltypen  # type: ignore[attr-defined]
    sid = uuid.UUID(base.split("/")[2])
    with state.read_sessions() as db:
        rows = db.scalars(select(SelfcheckCache).where(SelfcheckCache.submission_id == sid))
        return {r.variant: r for r in rows}


def _overwrite(client: TestClient, base: str, variant: str, content: bytes) -> None:
    """Replace a stored output's content, keeping its key (so only the store can show it)."""
    state = client.app.state.kommunaltypen  # type: ignore[attr-defined]
    sid = uuid.UUID(base.split("/")[2])
    with state.sessions.begin() as db:
        row = db.get(SelfcheckCache, (sid, variant))
        assert row is not None
        row.content = content


def _heading(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match
    return match.group(1)


def test_result_page_is_kept_per_state_and_replaced_when_the_answers_change(
    api: TestClient,
) -> None:
    base = _submission(api, OPTIMIERER)
    page = api.get(f"{base}/ergebnis")
    assert page.status_code == 200 and "Optimierer" in _heading(page.text)
    rows = _rows(api, base)
    assert "page:de:kommunenart" in rows
    # the second request shows what the store holds (a marker proves it is not recomputed)
    parts = b'{"typed": true, "summary": "<h1>MARKER</h1>", "figures": "<p>FIGURES</p>"}'
    _overwrite(api, base, "page:de:kommunenart", parts)
    again = api.get(f"{base}/ergebnis").text
    assert "MARKER" in again and "FIGURES" in again and 'name="csrf_token"' in again
    # other language and peer group: their own rows, computed
    english = api.get(f"{base}/ergebnis", params={"lang": "en", "gruppe": "bundesland"})
    assert "MARKER" not in english.text and "Optimisers" in _heading(english.text)
    assert {"page:de:kommunenart", "page:en:bundesland"} <= set(_rows(api, base))
    # new answers: the stored page is stale and replaced (one row per variant)
    _rank(api, base, BEDAECHTIGE)
    changed = api.get(f"{base}/ergebnis").text
    assert "MARKER" not in changed and "Bedächtige" in _heading(changed)
    assert _rows(api, base)["page:de:kommunenart"].content != parts


def test_pdf_is_rendered_once_kept_and_served_from_the_store(api: TestClient) -> None:
    base = _submission(api, OPTIMIERER)
    assert api.get(f"{base}/ergebnis").status_code == 200  # queues the render
    first = api.get(f"{base}/profil.pdf", params={"lang": "de", "gruppe": "kommunenart"})
    assert first.status_code == 200 and first.content.startswith(b"%PDF")
    assert first.headers["content-type"] == "application/pdf"
    assert _rows(api, base)["pdf:de:kommunenart"].content == first.content
    _overwrite(api, base, "pdf:de:kommunenart", b"%PDF-stored")
    assert api.get(f"{base}/profil.pdf").content == b"%PDF-stored"
    # without a result page before it (no render queued): rendered on request
    other = api.get(f"{base}/profil.pdf", params={"lang": "en", "gruppe": "keine"})
    assert other.status_code == 200 and other.content.startswith(b"%PDF-1")
    assert "pdf:en:keine" in _rows(api, base)


def test_stored_outputs_are_deleted_with_their_submission(api: TestClient) -> None:
    base = _submission(api, OPTIMIERER)
    assert api.get(f"{base}/ergebnis").status_code == 200
    assert _rows(api, base)
    state = api.app.state.kommunaltypen  # type: ignore[attr-defined]
    with state.sessions.begin() as db:
        assert SubmissionRepo(db).delete(base.split("/")[2], "test", "erasure request")
    assert _rows(api, base) == {}


def test_output_key_depends_on_everything_the_output_shows() -> None:
    day = dt.date(2026, 12, 2)
    answers: dict[str, Any] = {"ziele_effizienz": 1, "kommunenart": 2}
    key = typcheck.output_key(answers, "m1", "de", "kommunenart", day)
    assert key == typcheck.output_key(
        dict(reversed(answers.items())), "m1", "de", "kommunenart", day
    )
    assert key == typcheck.output_key(answers, "m1", "de", "kommunenart", day)
    changed = [
        typcheck.output_key({**answers, "kommunenart": 3}, "m1", "de", "kommunenart", day),
        typcheck.output_key(answers, "m2", "de", "kommunenart", day),
        typcheck.output_key(answers, "m1", "en", "kommunenart", day),
        typcheck.output_key(answers, "m1", "de", "bundesland", day),
        typcheck.output_key(answers, "m1", "de", None, day),
        typcheck.output_key(answers, "m1", "de", "kommunenart", day + dt.timedelta(days=1)),
    ]
    assert len({key, *changed}) == len(changed) + 1
    assert typcheck.variant("pdf", "en", None) == "pdf:en:keine"


HTML = (
    "<!doctype html><html lang='de'><head><title>T</title></head><body><p>Hallo</p></body></html>"
)


def test_pdf_renderer_renders_each_key_once_and_bounds_what_it_queues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renderer = typcheck.PdfRenderer(1)
    kept: list[bytes] = []
    try:
        one = renderer.submit("a", HTML, kept.append)
        assert renderer.submit("a", HTML, kept.append) is one  # the same render, not a second
        pdf = one.result(timeout=120)
        assert pdf.startswith(b"%PDF")
        # the render process runs below the server's priority
        niceness = renderer._executor().submit(os.nice, 0).result(timeout=60)
        assert niceness >= os.nice(0) + typcheck.PDF_NICENESS or niceness == 19
        assert renderer.render("a", HTML, kept.append) == pdf  # done: kept by its callback
        assert len(kept) >= 1 and kept[0] == pdf
        asked: list[str] = []

        def html_of() -> str:
            asked.append("html")
            return HTML

        monkeypatch.setattr(typcheck, "PREFETCH_MAX", 1)
        renderer._inflight["b"] = Future()  # a render that is still running
        assert renderer.prefetch("b", html_of, kept.append) is True  # already queued
        assert renderer.prefetch("c", html_of, kept.append) is False  # beyond the bound
        assert asked == []  # nothing rendered for either
        del renderer._inflight["b"]
        assert renderer.prefetch("c", html_of, kept.append) is True and asked == ["html"]
    finally:
        renderer.close()
    assert renderer.prefetch("d", lambda: HTML, kept.append) is False  # closed


def test_comparison_basis_is_kept_per_model_id(api: TestClient) -> None:
    from kommunaltypen import service

    state = api.app.state.kommunaltypen  # type: ignore[attr-defined]
    bundled = typcheck.comparison_for(state, state.model)
    assert typcheck.comparison_for(state, state.model) is bundled
    assert state.bases[state.model.model_id] is bundled
    # a model the store does not have (no wave data): compared with the bundled data, kept
    # under its own id
    other = service.ModelInfo(state.model.typology, "test-model-unpublished", "test")
    basis = typcheck.comparison_for(state, other)
    assert basis is not bundled and state.bases["test-model-unpublished"] is basis
    assert basis[0].result.data.height == bundled[0].result.data.height


def test_concurrent_result_pages_are_evaluated_together_with_equal_results(
    api: TestClient,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from kommunaltypen import service

    state = api.app.state.kommunaltypen  # type: ignore[attr-defined]
    comparison, _ = typcheck.comparison_for(state, state.model)
    data = comparison.result.data
    rows = [data.row(i, named=True) for i in range(0, 160, 10)]
    with ThreadPoolExecutor(len(rows)) as pool:
        together = list(pool.map(lambda r: typcheck.evaluate(state, state.model, r), rows))
    alone = [service.evaluate(r, comparison, model=state.model, validated=True) for r in rows]
    assert together == alone
    batcher = state.evaluators[state.model.model_id]
    assert sum(batcher.batch_sizes) >= len(rows)


def test_each_application_is_warm_before_its_first_request(tmp_path) -> None:
    """The lifespan builds the current model's comparison basis and evaluation batcher (and
    compiles the result templates) before the application answers anything."""
    from kommunaltypen.web import Settings, create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        state = client.app.state.kommunaltypen  # type: ignore[attr-defined]
        assert state.model.model_id in state.bases
        assert state.model.model_id in state.evaluators
        batcher = state.evaluators[state.model.model_id]
        assert sum(batcher.batch_sizes) >= 2  # the sample, in German and in English


def test_a_failed_warm_up_is_logged_and_left_to_the_first_request(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from kommunaltypen.web import Settings, create_app

    def broken(state: Any, lang: str) -> Any:
        raise RuntimeError("no basis today")

    monkeypatch.setattr(typcheck, "warm", broken)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path)
    with (
        caplog.at_level("WARNING", logger="kommunaltypen.web"),
        TestClient(create_app(settings)) as client,
    ):
        state = client.app.state.kommunaltypen  # type: ignore[attr-defined]
        assert state.model.model_id not in state.evaluators
        base = _submission(client, OPTIMIERER)
        page = client.get(f"{base}/ergebnis")
        assert page.status_code == 200 and "Optimierer" in _heading(page.text)
    assert any("warm-up failed" in r.getMessage() for r in caplog.records)


def test_the_result_page_queues_the_view_data_not_html_for_the_render_process(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The print HTML is made in the render process (off the request path): the page hands
    the renderer the view data, slimmed to what the print template uses, and that renders to
    the same profile."""
    from kommunaltypen.selfcheck.view import ProfileView

    state = api.app.state.kommunaltypen  # type: ignore[attr-defined]
    queued: list[Any] = []
    monkeypatch.setattr(
        state.pdf, "prefetch", lambda key, source_of, on_done: queued.append(source_of())
    )
    base = _submission(api, BEDAECHTIGE)
    assert api.get(f"{base}/ergebnis").status_code == 200
    assert len(queued) == 1
    source = queued[0]
    assert isinstance(source, ProfileView) and source.type_id == "bedaechtige"
    assert source.explanation is None and source.comparison is None and source.profile is None
    pdf = typcheck._render(source)
    assert pdf.startswith(b"%PDF")
    from kommunaltypen.selfcheck.pdf import render_profile_html

    assert typcheck._render(render_profile_html(source))[:8] == pdf[:8]


def test_pdf_renderer_starts_its_processes_in_advance() -> None:
    renderer = typcheck.PdfRenderer(2)
    try:
        renderer.start()
        pool = renderer._pool
        assert pool is not None
        renderer.start()  # once
        assert renderer._pool is pool
        # each process loaded WeasyPrint in its initialiser; renders still work
        assert renderer.render("x", HTML, lambda pdf: None).startswith(b"%PDF")
        assert len(pool._processes) == 2  # type: ignore[attr-defined]
    finally:
        renderer.close()
    renderer.start()  # closed: nothing started
    assert renderer._pool is None


def test_render_processes_share_the_cores_among_the_workers(monkeypatch) -> None:
    monkeypatch.setattr(typcheck.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(typcheck, "PDF_PROCESSES", 2)
    assert [typcheck.pdf_processes(w) for w in (1, 2, 3)] == [2, 1, 1]
    monkeypatch.setattr(typcheck.os, "cpu_count", lambda: 8)
    assert [typcheck.pdf_processes(w) for w in (1, 2, 4, 8)] == [2, 2, 2, 1]


def test_renders_a_request_waits_for_start_before_advance_renders() -> None:
    """A downloaded PDF never waits behind the advance renders of pages others opened: with
    every process busy, requested renders queue in front, and a queued advance render that a
    request asks for moves to the front."""
    renderer = typcheck.PdfRenderer(1)
    renderer._running = 1  # the one process is busy (nothing is started below)
    kept: list[bytes] = []
    try:
        for key in ("a", "b", "c"):
            assert renderer.prefetch(key, lambda: HTML, kept.append) is True
        asked = renderer.submit("x", HTML, kept.append)  # a request
        assert renderer.submit("b", HTML, kept.append) is renderer._inflight["b"]  # one render
        assert [j.key for j in renderer._urgent] == ["x", "b"]
        assert [j.key for j in renderer._later] == ["a", "c"]
        assert renderer.pending() == 4
        renderer._running = 0
        assert [j.key for j in renderer._take()] == ["x"]  # one idle process: the request
        renderer._running = 0
        renderer.processes = 3
        assert [j.key for j in renderer._take()] == ["b", "a", "c"]
    finally:
        renderer.close()
    assert not asked.done()  # taken for a process above (none started): closing leaves it


def test_queued_renders_are_dropped_when_the_renderer_closes() -> None:
    renderer = typcheck.PdfRenderer(1)
    renderer._running = 1  # busy: the renders below stay queued
    queued = renderer.submit("q", HTML, lambda pdf: None)
    ahead = renderer.submit("r", HTML, lambda pdf: None, urgent=False)
    renderer.close()
    for future in (queued, ahead):
        with pytest.raises(CancelledError):
            future.result(timeout=1)
    assert renderer.pending() == 0
