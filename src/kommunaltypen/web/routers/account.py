"""Workspace pages of the accounts: login, logout, and the users page of the admins.

===========================================  ===============================================
``GET /workspace/login``                     the login form (``next``: where to go after it)
``POST /workspace/login``                    checks the login (lockout, throttle), new session
``POST /workspace/logout``                   ends the session on the server and the cookie
``GET /workspace/users``                     admins: every account, add / reset / remove
``POST /workspace/users``                    admins: add an account
``POST /workspace/users/{id}/password``      admins: set a new password (ends its sessions)
``POST /workspace/users/{id}/remove``        admins: remove an account (not one's own)
===========================================  ===============================================

Every form carries the CSRF field (checked by :mod:`kommunaltypen.web.csrf`); every page works
without JavaScript. See ``docs/workspace.md``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kommunaltypen.i18n import get_lang, t
from kommunaltypen.store.models import User
from kommunaltypen.web import auth, csrf, deps
from kommunaltypen.web.routers.public import render

router = APIRouter(prefix="/workspace", include_in_schema=False)

PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _page(
    request: Request, name: str, context: Mapping[str, Any], *, status: int = 200
) -> HTMLResponse:
    ctx = {"user": None, "nav_active": None, **context}
    return render(request, name, ctx, status=status, headers=PRIVATE)


def _redirect(request: Request, url: str, *, status: int = 303) -> Response:
    lang = get_lang()
    url += ("&" if "?" in url else "?") + f"lang={lang}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={**PRIVATE, "HX-Redirect": url})
    return RedirectResponse(url, status_code=status, headers=PRIVATE)


def forbidden_page(request: Request) -> HTMLResponse:
    """The 403 page for an analyst on an admin page."""
    return _page(
        request, "workspace/forbidden.html", {"user": auth.current_user(request)}, status=403
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(form.get(k) or "") for k in form}


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# ---------------------------------------------------------------------------- login / logout
@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: str | None = None, abgemeldet: str | None = None
) -> Response:
    user = auth.current_user(request)
    if user is not None:
        return _redirect(request, auth.safe_next(next))
    notice = t("account.login.logged_out") if abgemeldet else None
    if notice is None and next:
        notice = t("account.login.expired_hint")
    return _page(
        request,
        "workspace/login.html",
        {"next": auth.safe_next(next), "email": "", "error": None, "notice": notice},
    )


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: Mapping[str, str]) -> Response:
    state = deps.app_state(request)
    settings = state.settings
    email = form.get("email", "")
    target = auth.safe_next(form.get("next"))
    with state.write_lock, state.sessions.begin() as db:
        result = auth.authenticate(
            db,
            email,
            form.get("password", ""),
            address=_client_address(request),
            settings=settings,
            user_agent=request.headers.get("user-agent"),
            previous_session_id=auth.cookie_session_id(request),
        )
    if result.outcome != "ok":
        if result.outcome == "locked":
            error, status = t("account.login.locked", minutes=settings.login_lockout_minutes), 429
        else:
            error, status = t("account.login.failed"), 401
        response = _page(
            request,
            "workspace/login.html",
            {"next": target, "email": email.strip()[:254], "error": error, "notice": None},
            status=status,
        )
        return response
    response = _redirect(request, target)
    assert result.session_id is not None
    auth.set_session_cookie(response, request, result.session_id)
    # a fresh CSRF token with the new session (the old one may have been seen before login)
    secure = auth.cookie_secure(request, settings)
    response.raw_headers.append(csrf.set_cookie_header(secrets.token_urlsafe(32), secure))
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, user: Annotated[User, Depends(auth.require_analyst)]) -> Response:
    state = deps.app_state(request)
    session_id = auth.cookie_session_id(request)
    if session_id:
        with state.write_lock, state.sessions.begin() as db:
            auth.end_session(db, session_id)
    response = _redirect(request, f"{auth.LOGIN_PATH}?abgemeldet=1")
    auth.clear_session_cookie(response, request)
    return response


# ---------------------------------------------------------------------------- users (admins)
def _users_page(
    request: Request,
    admin: User,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    state = deps.app_state(request)
    with state.read_sessions() as db:
        users = auth.list_users(db)
    form = form or {}
    return _page(
        request,
        "workspace/users.html",
        {
            "user": admin,
            "nav_active": "users",
            "users": users,
            "error": error,
            "notice": notice,
            "form_email": form.get("email", "").strip()[:254],
            "form_role": form.get("role", "analyst"),
            "min_length": auth.MIN_PASSWORD_LENGTH,
        },
        status=status,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, admin: Annotated[User, Depends(auth.require_admin)], ok: str | None = None
) -> HTMLResponse:
    return _users_page(request, admin)


def _run(request: Request, admin: User, work: Any, form: Mapping[str, str]) -> Response:
    state = deps.app_state(request)
    try:
        with state.write_lock, state.sessions.begin() as db:
            notice = work(db)
    except auth.AccountError as exc:
        return _users_page(request, admin, error=str(exc), form=form, status=422)
    return _users_page(request, admin, notice=notice)


def _passwords(form: Mapping[str, str]) -> str:
    password = form.get("password", "")
    if password != form.get("password_repeat", ""):
        raise auth.AccountError(t("account.password_mismatch"))
    return password


@router.post("/users", response_class=HTMLResponse)
async def users_add(
    request: Request, admin: Annotated[User, Depends(auth.require_admin)]
) -> Response:
    form = await _form(request)

    def work(db: Any) -> str:
        user = auth.create_user(db, form.get("email", ""), _passwords(form), form.get("role", ""))
        return t("account.users.added", email=user.email)

    return await run_in_threadpool(_run, request, admin, work, form)


def _target(db: Any, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise auth.AccountError(t("account.users.unknown"))
    return user


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
async def users_password(
    request: Request, user_id: int, admin: Annotated[User, Depends(auth.require_admin)]
) -> Response:
    form = await _form(request)

    def work(db: Any) -> str:
        user = _target(db, user_id)
        auth.set_password(db, user.email, _passwords(form))
        return t("account.users.reset_done", email=user.email)

    return await run_in_threadpool(_run, request, admin, work, {})


@router.post("/users/{user_id}/remove", response_class=HTMLResponse)
async def users_remove(
    request: Request, user_id: int, admin: Annotated[User, Depends(auth.require_admin)]
) -> Response:
    def work(db: Any) -> str:
        user = _target(db, user_id)
        if user.id == admin.id:
            raise auth.AccountError(t("account.remove_self"))
        auth.remove_user(db, user.email)
        return t("account.users.removed", email=user.email)

    return await run_in_threadpool(_run, request, admin, work, {})
