"""Accounts, login sessions and login protection of the analyst workspace.

- Passwords: argon2 through pwdlib (:data:`PASSWORDS`), at least :data:`MIN_PASSWORD_LENGTH`
  characters; a hash made with other parameters is replaced at the next successful login.
- Login (:func:`authenticate`): the answer for a wrong password and for an unknown e-mail is the
  same, and takes about as long (an unknown e-mail is checked against a dummy hash). Lockout:
  after ``login_max_failures`` failed logins of one e-mail within ``login_lockout_minutes`` that
  e-mail is refused for that long (whether or not an account has it); throttle: after
  ``login_address_max_failures`` failures from one client address in the same window the address
  is refused. Both count rows of ``login_attempt`` in the database, so they hold across worker
  processes; the attempts of one e-mail are serialised (PostgreSQL advisory lock, SQLite's
  ``BEGIN IMMEDIATE``), so no race lets a sixth guess through.
- Sessions: server-side rows (``user_session``) keyed by the SHA-256 of a random 256-bit id; the
  id lives only in the ``kt_session`` cookie (``HttpOnly; SameSite=Lax; Path=/``, ``Secure``
  under https or with the ``cookie_secure`` setting). Every login makes a new id and ends the
  session the browser came with (no session fixation); logout deletes the row. A session ends
  after ``session_idle_minutes`` without a request and ``session_absolute_hours`` after login.
- FastAPI dependencies: :func:`current_user` (``User | None``), :func:`require_analyst` (any
  logged-in account; API: 401 problem, pages: 303 to ``/workspace/login?next=…``) and
  :func:`require_admin` (403 for analysts). :func:`install` registers their exception handlers.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import t
from kommunaltypen.store.models import LoginAttempt, User, UserRole, UserSession, utcnow

SESSION_COOKIE = "kt_session"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 accepts more; a bound keeps hashing cheap for attackers' input
LOGIN_PATH = "/workspace/login"
DEFAULT_NEXT = "/workspace/"
#: a session's last_seen_at is written at most this often (the idle time-out is this exact)
TOUCH_SECONDS = 60
#: login attempts (e-mail, client address: personal data) are kept this long, then deleted
ATTEMPT_RETENTION = timedelta(days=7)
_EMAIL_RE = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
_STATE_KEY = "kt_user"


class AccountError(KommunaltypenError):
    """A user-management request that cannot be done (bad e-mail, short password, unknown or
    duplicate account); the message says what was received and what was expected."""


# ---------------------------------------------------------------------------- passwords
def _password_hash() -> Any:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(),))


@lru_cache(maxsize=1)
def passwords() -> Any:
    """The pwdlib ``PasswordHash`` (argon2 with pwdlib's current parameters); immutable."""
    return _password_hash()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the e-mail is unknown (same work as a real check)."""
    return passwords().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return passwords().hash(password)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The normalised e-mail, or :class:`AccountError` saying what was received."""
    value = normalize_email(email)
    if len(value) > 254 or not _EMAIL_RE.match(value):
        raise AccountError(t("account.bad_email", received=email))
    return value


def check_password(password: str) -> str:
    """``password`` when it is long enough, else :class:`AccountError` (the password itself
    is never repeated in a message, only its length)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            t("account.short_password", length=len(password), minimum=MIN_PASSWORD_LENGTH)
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(
            t("account.long_password", length=len(password), maximum=MAX_PASSWORD_LENGTH)
        )
    return password


def check_role(role: str) -> str:
    roles = [r.value for r in UserRole]
    if role not in roles:
        raise AccountError(t("account.bad_role", received=role, expected=", ".join(roles)))
    return role


# ---------------------------------------------------------------------------- user management
def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise AccountError(t("account.unknown_user", email=normalize_email(email)))
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def create_user(session: Session, email: str, password: str, role: str = "analyst") -> User:
    """A new account (flushed, not committed)."""
    address = check_email(email)
    check_password(password)
    check_role(role)
    if find_user(session, address) is not None:
        raise AccountError(t("account.duplicate_user", email=address))
    user = User(email=address, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, email: str, password: str) -> User:
    """Set a new password; every session of the account ends."""
    check_password(password)
    user = get_user(session, email)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.flush()
    return user


def _admin_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(User.role == UserRole.ADMIN.value)) or 0


def remove_user(session: Session, email: str) -> User:
    """Delete an account and its sessions; the last admin cannot be removed."""
    user = get_user(session, email)
    if user.is_admin and _admin_count(session) <= 1:
        raise AccountError(t("account.last_admin", email=user.email))
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.delete(user)
    session.flush()
    return user


# ---------------------------------------------------------------------------- login
@dataclass(frozen=True)
class LoginResult:
    """``outcome``: ``ok`` (``user`` and ``session_id`` set), ``bad`` (wrong e-mail or password,
    one answer for both) or ``locked`` (lockout or throttle)."""

    outcome: str
    user: User | None = None
    session_id: str | None = None


def _lock_email(session: Session, email: str) -> None:
    """Serialise the login attempts of one e-mail across processes (PostgreSQL: advisory
    transaction lock; SQLite: the writing transaction's BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(b"kommunaltypen.login\0" + email.encode("utf-8")).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _failures(session: Session, since: datetime, **where: str) -> int:
    column, value = next(iter(where.items()))
    query = select(func.count()).where(
        getattr(LoginAttempt, column) == value,
        LoginAttempt.outcome == "bad",
        LoginAttempt.at > since,
    )
    if column == "email":
        last_ok = session.scalar(
            select(func.max(LoginAttempt.at)).where(
                LoginAttempt.email == value, LoginAttempt.outcome == "ok"
            )
        )
        if last_ok is not None and last_ok > since:
            query = query.where(LoginAttempt.at > last_ok)
    return session.scalar(query) or 0


def is_locked(session: Session, email: str, address: str, settings: Any, now: datetime) -> bool:
    since = now - timedelta(minutes=settings.login_lockout_minutes)
    return (
        _failures(session, since, email=email) >= settings.login_max_failures
        or _failures(session, since, address=address) >= settings.login_address_max_failures
    )


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    address: str,
    settings: Any,
    user_agent: str | None = None,
    previous_session_id: str | None = None,
) -> LoginResult:
    """Check a login and record the attempt; on success end ``previous_session_id`` and start
    a new session. The caller commits (also after a failure: the attempt must be stored)."""
    email_key = normalize_email(email)[:254]
    address = (address or "unknown")[:64]
    now = utcnow()
    _lock_email(session, email_key)
    if is_locked(session, email_key, address, settings, now):
        session.add(LoginAttempt(at=now, email=email_key, address=address, outcome="locked"))
        return LoginResult("locked")
    user = find_user(session, email_key)
    candidate = password[:MAX_PASSWORD_LENGTH]
    if user is None:
        passwords().verify(candidate, _dummy_hash())
        valid, updated = False, None
    else:
        valid, updated = passwords().verify_and_update(candidate, user.password_hash)
    if not valid or user is None:
        session.add(LoginAttempt(at=now, email=email_key, address=address, outcome="bad"))
        return LoginResult("bad")
    if updated is not None:  # parameters changed since the hash was made
        user.password_hash = updated
    user.last_login_at = now
    session.add(LoginAttempt(at=now, email=email_key, address=address, outcome="ok"))
    if previous_session_id:
        end_session(session, previous_session_id)
    prune(session, settings, now)
    session_id = start_session(session, user, address=address, user_agent=user_agent, now=now)
    return LoginResult("ok", user=user, session_id=session_id)


# ---------------------------------------------------------------------------- sessions
def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(
    session: Session,
    user: User,
    *,
    address: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new session of ``user``; returns the id for the cookie (only its hash is stored)."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            id_hash=session_hash(session_id),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            address=(address or None) and address[:64],
            user_agent=(user_agent or None) and user_agent[:300],
        )
    )
    session.flush()
    return session_id


def prune(session: Session, settings: Any, now: datetime) -> None:
    """Delete expired sessions and login attempts older than :data:`ATTEMPT_RETENTION`
    (run at each successful login)."""
    idle = now - timedelta(minutes=settings.session_idle_minutes)
    absolute = now - timedelta(hours=settings.session_absolute_hours)
    session.execute(
        delete(UserSession).where(
            (UserSession.last_seen_at < idle) | (UserSession.created_at < absolute)
        )
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPT_RETENTION))


def end_session(session: Session, session_id: str) -> None:
    session.execute(delete(UserSession).where(UserSession.id_hash == session_hash(session_id)))


def _expired(row: UserSession, settings: Any, now: datetime) -> bool:
    return now - row.last_seen_at > timedelta(
        minutes=settings.session_idle_minutes
    ) or now - row.created_at > timedelta(hours=settings.session_absolute_hours)


def session_user(state: Any, session_id: str, *, now: datetime | None = None) -> User | None:
    """The user of a live session (touching it), None for an unknown or expired one (an
    expired one is deleted). ``state``: the application's :class:`~.deps.AppState`."""
    now = now or utcnow()
    key = session_hash(session_id)
    with state.read_sessions() as db:
        found = db.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.id_hash == key)
        ).first()
    if found is None:
        return None
    row, user = found
    if _expired(row, state.settings, now):
        with state.write_lock, state.sessions.begin() as db:
            db.execute(delete(UserSession).where(UserSession.id_hash == key))
        return None
    if (now - row.last_seen_at).total_seconds() >= TOUCH_SECONDS:
        with state.write_lock, state.sessions.begin() as db:
            db.execute(
                update(UserSession).where(UserSession.id_hash == key).values(last_seen_at=now)
            )
    return user


def cookie_session_id(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    if not value or len(value) > 128:
        return None
    return value


def cookie_secure(request: Request, settings: Any) -> bool:
    if settings.cookie_secure is not None:
        return bool(settings.cookie_secure)
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    from kommunaltypen.web.deps import app_state

    settings = app_state(request).settings
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_absolute_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    from kommunaltypen.web.deps import app_state

    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, app_state(request).settings),
    )


# ---------------------------------------------------------------------------- dependencies
class LoginRequired(Exception):
    """Raised by :func:`require_analyst` for a page request without a valid session."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(Exception):
    """Raised by :func:`require_admin` for a page request of an analyst."""


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def current_user(request: Request) -> User | None:
    """The logged-in user of the request (None without a valid session); looked up once per
    request."""
    cached = request.scope.setdefault("state", {})
    if _STATE_KEY in cached:
        return cached[_STATE_KEY]
    from kommunaltypen.web.deps import app_state

    session_id = cookie_session_id(request)
    user = session_user(app_state(request), session_id) if session_id else None
    cached[_STATE_KEY] = user
    return user


def require_analyst(request: Request) -> User:
    """Any logged-in account (analyst or admin). Without one: 401 problem (API) or a redirect
    to the login page (pages)."""
    user = current_user(request)
    if user is not None:
        return user
    if is_api(request):
        from kommunaltypen.web.problems import problem

        exc = problem(401, t("account.problem.login_required_detail"))
        exc.headers = {"WWW-Authenticate": 'Session realm="kommunaltypen-workspace"'}
        raise exc
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(target)


def require_admin(request: Request) -> User:
    """An admin account; analysts get 403."""
    user = require_analyst(request)
    if user.is_admin:
        return user
    if is_api(request):
        from kommunaltypen.web.problems import problem

        raise problem(403, t("account.problem.admin_only_detail"))
    raise Forbidden()


def safe_next(value: str | None) -> str:
    """A local path to go to after the login (anything else: the workspace start)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    if any(ord(c) < 32 for c in value):
        return DEFAULT_NEXT
    return value


def login_url(next_url: str | None = None, lang: str | None = None) -> str:
    params = {}
    if next_url and safe_next(next_url) != DEFAULT_NEXT:
        params["next"] = next_url
    if lang:
        params["lang"] = lang
    return LOGIN_PATH + (f"?{urlencode(params, quote_via=quote)}" if params else "")


def install(app: FastAPI) -> None:
    """Register the handlers of :class:`LoginRequired` (303 to the login page; for htmx a
    200 with ``HX-Redirect``) and :class:`Forbidden` (a 403 page)."""

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        lang = request.query_params.get("lang")
        url = login_url(exc.next_url, lang if lang in ("de", "en") else None)
        headers = {"Cache-Control": "no-store"}
        if request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={**headers, "HX-Redirect": url})
        return RedirectResponse(url, status_code=303, headers=headers)

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        from starlette.concurrency import run_in_threadpool

        from kommunaltypen.web.routers.account import forbidden_page

        return await run_in_threadpool(forbidden_page, request)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(Forbidden, on_forbidden)


__all__ = [
    "SESSION_COOKIE",
    "AccountError",
    "Forbidden",
    "LoginRequired",
    "LoginResult",
    "authenticate",
    "create_user",
    "current_user",
    "install",
    "list_users",
    "remove_user",
    "require_admin",
    "require_analyst",
    "set_password",
]
