"""Accounts, sessions and login protection of the analyst workspace (issue 13, first half).

Every test runs on SQLite and PostgreSQL (``db_backend``). The route inventory walks the
application's routes, so a route added later is covered without touching this file: it must
either refuse requests without a session (401 API / redirect pages) and without a CSRF token
(403), or be listed below as public.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from auth_fixtures import (
    ADMIN_EMAIL,
    ANALYST_EMAIL,
    PASSWORD,
    WorkspaceClient,
    add_user,
    logged_in,
    new_client,
    unique_email,
    workspace_settings,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.routing import Mount

from db_fixtures import _new_database
from kommunaltypen.store.models import LoginAttempt, User, UserSession, utcnow
from kommunaltypen.web import auth, create_app

# ---------------------------------------------------------------------------- inventory
#: the routes anyone may use without a session (method, path template): the public Typ-Check
#: pages, the public JSON API, and the login itself. Every other route must refuse.
PUBLIC_ROUTES = {
    ("GET", "/"),
    ("GET", "/barrierefreiheit"),
    ("GET", "/impressum"),
    ("GET", "/check"),
    ("POST", "/check"),
    ("GET", "/check/kommunen"),
    ("GET", "/check/{submission_id}/{token}"),
    ("GET", "/check/{submission_id}/{token}/abschnitt/{number}"),
    ("POST", "/check/{submission_id}/{token}/abschnitt/{number}"),
    ("GET", "/check/{submission_id}/{token}/ergebnis"),
    ("POST", "/check/{submission_id}/{token}/einwilligung"),
    ("POST", "/check/{submission_id}/{token}/abschliessen"),
    ("GET", "/check/{submission_id}/{token}/drucken"),
    ("GET", "/check/{submission_id}/{token}/profil.pdf"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/classify"),
    ("GET", "/api/v1/kommunen"),
    ("GET", "/api/v1/kommunen/{ars}"),
    ("POST", "/api/v1/submissions"),
    ("GET", "/api/v1/submissions/{submission_id}"),
    ("PUT", "/api/v1/submissions/{submission_id}"),
    ("POST", "/api/v1/submissions/{submission_id}/finalize"),
    ("GET", "/workspace/login"),
    ("POST", "/workspace/login"),
}
#: public JSON API routes authenticate with bearer tokens, not cookies: no CSRF check there
CSRF_EXEMPT = {(m, p) for m, p in PUBLIC_ROUTES if p.startswith("/api/")}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _flat(routes) -> Iterator[object]:
    """Every route of the application; routers included lazily (FastAPI ≥ 0.16x keeps them as
    ``_IncludedRouter`` entries) are expanded into their effective routes."""
    for route in routes:
        if isinstance(route, Mount):  # static files
            continue
        expand = getattr(route, "effective_route_contexts", None)
        if expand is not None:
            yield from _flat(expand())
        else:
            yield route


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in _flat(app.routes):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                found.append((method, route.path))
    assert len(found) > 20, found  # the expansion above did find the included routers
    return found


def _concrete(path: str) -> str:
    """A request path for a template: every parameter "1" (a valid int and str)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def _plant(client: WorkspaceClient, value: str) -> None:
    """Put a session cookie into the client's jar as the server would have set it."""
    client.cookies.set("kt_session", value, domain="testserver.local", path="/")


def _is_login_redirect(response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith(
        "/workspace/login"
    )


def test_public_list_is_current(workspace_app: FastAPI) -> None:
    """Every listed public route exists (a renamed one must not linger here as an exception)."""
    assert set(_routes(workspace_app)) >= PUBLIC_ROUTES


def test_every_protected_route_refuses_a_request_without_session(
    workspace_app: FastAPI, anon_client: WorkspaceClient
) -> None:
    protected = [r for r in _routes(workspace_app) if r not in PUBLIC_ROUTES]
    assert ("GET", "/workspace/users") in protected
    assert ("GET", "/api/v1/analyst/waves") in protected
    for method, template in protected:
        path = _concrete(template)
        # a valid CSRF token: what refuses here must be the missing session
        response = anon_client.request(method, path, headers=anon_client.csrf_headers())
        if template.startswith("/api/"):
            assert response.status_code == 401, (method, template, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            assert _is_login_redirect(response), (method, template, response.status_code)
            # (the workspace start page is where the login goes by default: no next= needed)
            assert (
                "next=" in response.headers["location"]
                or method != "GET"
                or template == auth.DEFAULT_NEXT
            )
        # a forged or expired session cookie is no better than none
        _plant(anon_client, "forged-" + "x" * 40)
        response = anon_client.request(method, path, headers=anon_client.csrf_headers())
        anon_client.cookies.clear()
        assert response.status_code == 401 or _is_login_redirect(response), (method, template)


def test_a_valid_session_opens_every_protected_get_route(
    workspace_app: FastAPI, admin_client: WorkspaceClient
) -> None:
    for method, template in _routes(workspace_app):
        if method != "GET" or (method, template) in PUBLIC_ROUTES:
            continue
        response = admin_client.get(_concrete(template))
        assert response.status_code != 401 and not _is_login_redirect(response), template


def test_every_state_changing_route_refuses_a_request_without_csrf_token(
    workspace_app: FastAPI, admin_client: WorkspaceClient
) -> None:
    unsafe = [
        (m, p) for m, p in _routes(workspace_app) if m in UNSAFE and (m, p) not in CSRF_EXEMPT
    ]
    assert ("POST", "/workspace/login") in unsafe and ("POST", "/workspace/users") in unsafe
    assert ("POST", "/api/v1/analyst/waves") in unsafe
    for method, template in unsafe:
        path = _concrete(template)
        for headers, data in (
            ({}, None),  # no token at all
            ({"X-CSRF-Token": "w" * 43}, None),  # a wrong token in the header
            ({}, {"csrf_token": "w" * 43, "email": "a@example.org"}),  # wrong form field
        ):
            response = admin_client.request(method, path, headers=headers, data=data)
            assert response.status_code == 403, (method, template, headers, data)
    # the admin's session still works: the refusals changed nothing
    assert admin_client.get("/workspace/users").status_code == 200


# ---------------------------------------------------------------------------- sessions
def _session_rows(app: FastAPI, user_email: str) -> list[UserSession]:
    with app.state.kommunaltypen.sessions() as db:
        user = db.scalar(select(User).where(User.email == user_email))
        return list(db.scalars(select(UserSession).where(UserSession.user_id == user.id)))


def test_login_sets_a_new_http_only_lax_cookie_and_stores_only_its_hash(
    workspace_app: FastAPI,
) -> None:
    email = unique_email()
    add_user(workspace_app, email)
    client = new_client(workspace_app)
    response = client.login(email)
    assert response.status_code == 303
    assert response.headers["location"] == "/workspace/?lang=de"
    cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith("kt_session=")]
    assert len(cookie) == 1
    attrs = cookie[0].lower()
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert "secure" not in attrs  # plain http here
    session_id = client.cookies["kt_session"]
    assert len(session_id) >= 43  # 256 random bits
    rows = _session_rows(workspace_app, email)
    assert [r.id_hash for r in rows] == [hashlib.sha256(session_id.encode()).hexdigest()]


def test_cookie_is_secure_under_https_or_by_setting(workspace_app: FastAPI) -> None:
    email = unique_email()
    add_user(workspace_app, email)
    client = WorkspaceClient(workspace_app, base_url="https://testserver", follow_redirects=False)
    response = client.login(email)
    cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith("kt_session=")]
    assert "secure" in cookie[0].lower()


def test_session_fixation_login_makes_a_new_id_and_ends_the_old_one(
    workspace_app: FastAPI,
) -> None:
    email = unique_email()
    add_user(workspace_app, email)
    # an id planted by an attacker before the login is not adopted
    victim = new_client(workspace_app)
    _plant(victim, "planted-by-attacker-" + "a" * 30)
    assert victim.login(email).status_code == 303
    assert victim.cookies["kt_session"] != "planted-by-attacker-" + "a" * 30
    # logging in again (e.g. over a session someone saw) gives a new id; the old one ends
    first = victim.cookies["kt_session"]
    assert victim.login(email).status_code == 303
    second = victim.cookies["kt_session"]
    assert second != first
    old = new_client(workspace_app)
    _plant(old, first)
    assert _is_login_redirect(old.get("/workspace/users"))
    assert len(_session_rows(workspace_app, email)) == 1
    # the CSRF token is renewed at login as well
    assert victim.get("/workspace/login").status_code in (200, 303)


def test_logout_ends_the_session_on_the_server(
    workspace_app: FastAPI, admin_client: WorkspaceClient
) -> None:
    session_id = admin_client.cookies["kt_session"]
    assert admin_client.get("/workspace/users").status_code == 200
    response = admin_client.form("/workspace/logout")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/workspace/login?abgemeldet=1")
    assert (
        'kt_session=""' in response.headers["set-cookie"]
        or "Max-Age=0" in (response.headers["set-cookie"])
    )
    # replaying the old cookie (a copy someone kept) no longer works
    replay = new_client(workspace_app)
    _plant(replay, session_id)
    assert _is_login_redirect(replay.get("/workspace/users"))
    assert replay.get("/api/v1/analyst/waves").status_code == 401
    with workspace_app.state.kommunaltypen.sessions() as db:
        key = auth.session_hash(session_id)
        assert db.get(UserSession, key) is None


@pytest.mark.parametrize(
    "shift",
    [
        {"last_seen_at": timedelta(minutes=31)},  # idle time-out (30 min)
        {"created_at": timedelta(hours=8, minutes=1)},  # absolute time-out (8 h)
    ],
    ids=["idle", "absolute"],
)
def test_sessions_time_out(workspace_app: FastAPI, shift: dict[str, timedelta]) -> None:
    email = unique_email()
    add_user(workspace_app, email)
    client = logged_in(workspace_app, email)
    assert client.get("/api/v1/analyst/waves").status_code != 401
    key = auth.session_hash(client.cookies["kt_session"])
    now = utcnow()
    values = {name: now - delta for name, delta in shift.items()}
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        db.execute(update(UserSession).where(UserSession.id_hash == key).values(**values))
    assert _is_login_redirect(client.get("/workspace/users"))
    assert client.get("/api/v1/analyst/waves").status_code == 401
    with workspace_app.state.kommunaltypen.sessions() as db:
        assert db.get(UserSession, key) is None  # an expired session is deleted


def test_a_used_session_is_touched_and_stays_alive(workspace_app: FastAPI) -> None:
    email = unique_email()
    add_user(workspace_app, email)
    client = logged_in(workspace_app, email)
    key = auth.session_hash(client.cookies["kt_session"])
    long_ago = utcnow() - timedelta(minutes=29)
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        db.execute(
            update(UserSession).where(UserSession.id_hash == key).values(last_seen_at=long_ago)
        )
    assert client.get("/api/v1/analyst/waves").status_code == 200
    with workspace_app.state.kommunaltypen.sessions() as db:
        assert db.get(UserSession, key).last_seen_at > long_ago + timedelta(minutes=20)


def test_login_redirects_to_next_only_within_the_site(workspace_app: FastAPI) -> None:
    email = unique_email()
    add_user(workspace_app, email)
    client = new_client(workspace_app)
    response = client.get("/workspace/users?lang=en")
    assert (
        response.headers["location"]
        == "/workspace/login?next=%2Fworkspace%2Fusers%3Flang%3Den&lang=en"
    )
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and 'name="next" value="/workspace/users?lang=en"' in page.text
    response = client.form(
        "/workspace/login", {"email": email, "password": PASSWORD, "next": "/workspace/users"}
    )
    assert response.headers["location"].startswith("/workspace/users")
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client2 = new_client(workspace_app)
        response = client2.form(
            "/workspace/login", {"email": email, "password": PASSWORD, "next": evil}
        )
        assert response.headers["location"].startswith("/workspace/?"), evil


def test_htmx_request_without_session_gets_hx_redirect(anon_client: WorkspaceClient) -> None:
    response = anon_client.get("/workspace/users", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["hx-redirect"].startswith("/workspace/login")


# ---------------------------------------------------------------------------- login answers
@pytest.fixture(scope="module")
def guard_app(
    request: pytest.FixtureRequest, db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """An application with the default lockout (5 per e-mail, 15 min) and a small per-address
    throttle (8); each test uses its own client address."""
    data = tmp_path_factory.mktemp("guard")
    url = _new_database(request, db_backend, data)
    app = create_app(workspace_settings(url, data, login_address_max_failures=8))
    with TestClient(app):
        yield app


def _client(app: FastAPI, address: str) -> WorkspaceClient:
    return WorkspaceClient(app, follow_redirects=False, client=(address, 50000))


def _error_text(response) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', response.text, re.S)
    assert match, response.text
    return match.group(0)


def test_wrong_password_and_unknown_email_get_the_same_answer(guard_app: FastAPI) -> None:
    email = unique_email()
    add_user(guard_app, email)
    client = _client(guard_app, "10.1.0.1")
    times = {"wrong": [], "unknown": []}
    answers = {}
    for _ in range(3):
        for kind, login in (("wrong", email), ("unknown", unique_email("nobody"))):
            start = time.perf_counter()
            response = client.login(login, "falsches-passwort-123")
            times[kind].append(time.perf_counter() - start)
            answers[kind] = (response.status_code, _error_text(response))
    assert answers["wrong"] == answers["unknown"]
    assert answers["wrong"][0] == 401
    assert "E-Mail-Adresse oder Passwort sind falsch" in answers["wrong"][1]
    # an unknown e-mail is checked against a dummy hash: about as slow as a real check
    wrong, unknown = statistics.median(times["wrong"]), statistics.median(times["unknown"])
    assert unknown > 0.4 * wrong, times


def test_lockout_after_five_failures_for_fifteen_minutes(guard_app: FastAPI) -> None:
    email = unique_email()
    add_user(guard_app, email)
    client = _client(guard_app, "10.1.0.2")
    for _ in range(5):
        assert client.login(email, "falsches-passwort-123").status_code == 401
    # now even the right password is refused, with the lockout message
    response = client.login(email, PASSWORD)
    assert response.status_code == 429
    assert "15 Minuten" in _error_text(response)
    assert "kt_session" not in client.cookies
    # an unknown e-mail is locked the same way (the answer tells nothing about existence)
    ghost = unique_email("ghost")
    for _ in range(5):
        client.login(ghost, "falsches-passwort-123")
    assert client.login(ghost, PASSWORD).status_code == 429
    # another client address is refused as well: the lockout is per account
    assert _client(guard_app, "10.1.0.3").login(email, PASSWORD).status_code == 429
    # 15 minutes later the account opens again
    with guard_app.state.kommunaltypen.sessions.begin() as db:
        db.execute(
            update(LoginAttempt)
            .where(LoginAttempt.email == email)
            .values(at=utcnow() - timedelta(minutes=16))
        )
    assert client.login(email, PASSWORD).status_code == 303


def test_a_successful_login_resets_the_failure_count(guard_app: FastAPI) -> None:
    email = unique_email()
    add_user(guard_app, email)
    client = _client(guard_app, "10.1.0.4")
    for _ in range(4):
        client.login(email, "falsches-passwort-123")
    assert client.login(email, PASSWORD).status_code == 303
    client = _client(guard_app, "10.1.0.9")  # (the address throttle does not reset)
    for _ in range(4):
        client.login(email, "falsches-passwort-123")
    assert client.login(email, PASSWORD).status_code == 303


def test_per_address_throttle(guard_app: FastAPI) -> None:
    email = unique_email()
    add_user(guard_app, email)
    attacker = _client(guard_app, "10.1.0.5")
    for _ in range(8):  # eight different e-mails: no single account reaches its lockout
        assert attacker.login(unique_email("spray"), "falsches-passwort-123").status_code == 401
    assert attacker.login(email, PASSWORD).status_code == 429
    # the account itself is not locked: from another address it logs in
    assert _client(guard_app, "10.1.0.6").login(email, PASSWORD).status_code == 303


def test_login_page_in_english(guard_app: FastAPI) -> None:
    client = _client(guard_app, "10.1.0.7")
    page = client.get("/workspace/login?lang=en")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert "E-mail address" in page.text and 'name="csrf_token"' in page.text
    response = client.form(
        "/workspace/login?lang=en", {"email": "x@example.org", "password": "falsches-passwort"}
    )
    assert "The e-mail address or the password is wrong." in response.text


def test_password_is_rehashed_when_the_parameters_change(guard_app: FastAPI) -> None:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    email = unique_email()
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    old_hash = weak.hash(PASSWORD)
    with guard_app.state.kommunaltypen.sessions.begin() as db:
        db.add(User(email=email, password_hash=old_hash, role="analyst"))
    assert _client(guard_app, "10.1.0.8").login(email, PASSWORD).status_code == 303
    with guard_app.state.kommunaltypen.sessions() as db:
        new_hash = db.scalar(select(User.password_hash).where(User.email == email))
    assert new_hash != old_hash and new_hash.startswith("$argon2id$")
    assert not auth.passwords().hashers[0].check_needs_rehash(new_hash)
    assert auth.passwords().verify(PASSWORD, new_hash)
    # the next login verifies against the new hash and leaves it alone
    assert _client(guard_app, "10.1.0.8").login(email, PASSWORD).status_code == 303
    with guard_app.state.kommunaltypen.sessions() as db:
        assert db.scalar(select(User.password_hash).where(User.email == email)) == new_hash


# ---------------------------------------------------------------------------- users page
def test_an_analyst_cannot_manage_users(
    workspace_app: FastAPI, analyst_client: WorkspaceClient
) -> None:
    page = analyst_client.get("/workspace/users")
    assert page.status_code == 403 and "Keine Berechtigung" in page.text
    target = unique_email("victim")
    response = analyst_client.form(
        "/workspace/users",
        {"email": target, "role": "admin", "password": PASSWORD, "password_repeat": PASSWORD},
    )
    assert response.status_code == 403
    with workspace_app.state.kommunaltypen.sessions() as db:
        assert auth.find_user(db, target) is None
        admin_id = auth.get_user(db, ADMIN_EMAIL).id
        analyst_id = auth.get_user(db, ANALYST_EMAIL).id
    assert analyst_client.form(f"/workspace/users/{admin_id}/remove").status_code == 403
    assert (
        analyst_client.form(
            f"/workspace/users/{admin_id}/password",
            {"password": "uebernommen-1234", "password_repeat": "uebernommen-1234"},
        ).status_code
        == 403
    )
    assert analyst_client.get("/workspace/users").status_code == 403  # still logged in
    assert analyst_id != admin_id
    assert logged_in(workspace_app, ADMIN_EMAIL)  # the admin's password is unchanged


def test_admin_adds_resets_and_removes_a_user(
    workspace_app: FastAPI, admin_client: WorkspaceClient
) -> None:
    email = unique_email("neu")
    page = admin_client.get("/workspace/users")
    assert page.status_code == 200 and ADMIN_EMAIL in page.text and "csrf_token" in page.text
    response = admin_client.form(
        "/workspace/users",
        {
            "email": email.upper(),
            "role": "analyst",
            "password": PASSWORD,
            "password_repeat": PASSWORD,
        },
    )
    assert response.status_code == 200 and f"Konto {email} angelegt." in response.text
    user_client = logged_in(workspace_app, email)
    with workspace_app.state.kommunaltypen.sessions() as db:
        user_id = auth.get_user(db, email).id
    # bad input: clear messages, nothing changed
    for data, message in (
        (
            {"email": "kein-at", "password": PASSWORD, "password_repeat": PASSWORD},
            "Ungültige E-Mail-Adresse »kein-at«",
        ),
        (
            {"email": unique_email(), "password": "kurz", "password_repeat": "kurz"},
            "zu kurz (4 Zeichen)",
        ),
        (
            {"email": unique_email(), "password": PASSWORD, "password_repeat": PASSWORD + "x"},
            "stimmen nicht überein",
        ),
        (
            {"email": email, "password": PASSWORD, "password_repeat": PASSWORD},
            "gibt schon ein Konto",
        ),
    ):
        response = admin_client.form("/workspace/users", {"role": "analyst", **data})
        assert response.status_code == 422 and message in response.text, message
    # reset: new password works, the user's sessions end
    new_password = "ein-ganz-neues-passwort"
    response = admin_client.form(
        f"/workspace/users/{user_id}/password",
        {"password": new_password, "password_repeat": new_password},
    )
    assert response.status_code == 200 and "Passwort von" in response.text
    assert user_client.get("/api/v1/analyst/waves").status_code == 401
    assert new_client(workspace_app).login(email, new_password).status_code == 303
    # remove: gone, cannot log in; the admin cannot remove themself
    response = admin_client.form(f"/workspace/users/{user_id}/remove")
    assert response.status_code == 200 and f"Konto {email} entfernt." in response.text
    assert new_client(workspace_app).login(email, new_password).status_code == 401
    with workspace_app.state.kommunaltypen.sessions() as db:
        admin_id = auth.get_user(db, ADMIN_EMAIL).id
    response = admin_client.form(f"/workspace/users/{admin_id}/remove")
    assert response.status_code == 422 and "eigene Konto" in response.text


def test_a_login_prunes_expired_sessions_and_old_attempts(workspace_app: FastAPI) -> None:
    email = unique_email()
    add_user(workspace_app, email)
    stale = logged_in(workspace_app, email)
    key = auth.session_hash(stale.cookies["kt_session"])
    long_ago = utcnow() - timedelta(days=8)
    with workspace_app.state.kommunaltypen.sessions.begin() as db:
        db.execute(
            update(UserSession).where(UserSession.id_hash == key).values(last_seen_at=long_ago)
        )
        db.add(LoginAttempt(at=long_ago, email=email, address="10.9.9.9", outcome="bad"))
    logged_in(workspace_app, ADMIN_EMAIL)
    with workspace_app.state.kommunaltypen.sessions() as db:
        assert db.get(UserSession, key) is None
        old = db.scalars(select(LoginAttempt).where(LoginAttempt.address == "10.9.9.9")).all()
        assert old == []
