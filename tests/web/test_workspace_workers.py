"""The login lockout holds across worker processes: ``kommunaltypen serve --workers 2`` on
PostgreSQL, failed logins spread over both workers (each connection pinned to one)."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from test_web_workers import Conn, _one_connection_per_worker, serve_two_workers

from db_fixtures import _new_database
from kommunaltypen.store import make_engine, session_factory
from kommunaltypen.store.models import LoginAttempt
from kommunaltypen.web import auth

pytestmark = pytest.mark.slow

PASSWORD = "korrekt-pferd-batterie-heftklammer"


def _login(conn: Conn, email: str, password: str) -> int:
    token = secrets.token_urlsafe(32)  # double submit: cookie and field carry the same token
    body = urlencode({"csrf_token": token, "email": email, "password": password})
    conn.http.request(
        "POST",
        "/workspace/login",
        body=body.encode(),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "cookie": f"kt_csrf={token}",
        },
    )
    response = conn.http.getresponse()
    response.read()
    return response.status


def _outcomes(url: str, email: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            rows = db.execute(
                select(LoginAttempt.outcome, func.count())
                .where(LoginAttempt.email == email)
                .group_by(LoginAttempt.outcome)
            ).all()
    finally:
        engine.dispose()
    return dict(rows)


def test_lockout_holds_across_two_workers_on_postgresql(
    request: pytest.FixtureRequest, postgres_server_url: str, tmp_path: Path
) -> None:
    database_url = _new_database(request, "postgresql", tmp_path)
    with serve_two_workers(database_url, tmp_path) as (port, proc):
        engine = make_engine(database_url)
        with session_factory(engine).begin() as db:
            for email in ("spread@example.org", "burst@example.org"):
                auth.create_user(db, email, PASSWORD, "analyst")
        engine.dispose()
        (pid_a, a), (pid_b, b) = _one_connection_per_worker(port, proc).items()
        assert pid_a != pid_b

        # five failures, alternating between the workers (3 on a, 2 on b) ...
        for conn in (a, b, a, b, a):
            assert _login(conn, "spread@example.org", "falsch-falsch-falsch") == 401
        # ... lock the account on both: the right password is refused by either worker
        assert _login(b, "spread@example.org", PASSWORD) == 429
        assert _login(a, "spread@example.org", PASSWORD) == 429
        assert _outcomes(database_url, "spread@example.org") == {"bad": 5, "locked": 2}

        # twelve wrong guesses at once over both workers: exactly five are checked, the rest
        # refused (the attempts of one e-mail are serialised across processes)
        conns = [Conn(port) for _ in range(12)]
        statuses: list[int] = []
        barrier = threading.Barrier(len(conns))

        def guess(conn: Conn) -> None:
            barrier.wait()
            statuses.append(_login(conn, "burst@example.org", "falsch-falsch-falsch"))

        threads = [threading.Thread(target=guess, args=(c,)) for c in conns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(statuses) == [401] * 5 + [429] * 7, statuses
        assert _outcomes(database_url, "burst@example.org") == {"bad": 5, "locked": 7}
        for conn in (a, b, *conns):
            conn.http.close()
