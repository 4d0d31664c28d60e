"""Shared by the end-to-end tests: a real server with accounts, and the axe-core check."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from kommunaltypen.web import Settings, create_app
from live_server import serve_in_thread

#: the WCAG 2.0/2.1 A and AA rules of axe-core
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@contextmanager
def running_server(
    settings: Settings, users: Sequence[tuple[str, str, str]] = ()
) -> Iterator[tuple[str, Any]]:
    """(base URL, app) of uvicorn serving ``create_app(settings)`` in a thread on a free
    loopback port, with the workspace accounts ``users`` ((e-mail, password, role)) created."""
    from kommunaltypen.store import make_engine, session_factory
    from kommunaltypen.web import auth

    app = create_app(settings)
    with serve_in_thread(app) as url:
        if users:
            engine = make_engine(settings.database_url)
            with session_factory(engine).begin() as db:
                for email, password, role in users:
                    auth.create_user(db, email, password, role)
            engine.dispose()
        yield url, app


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """The WCAG A/AA violations axe-core finds on ``page`` (id, help, first five nodes)."""
    page.evaluate(axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]
