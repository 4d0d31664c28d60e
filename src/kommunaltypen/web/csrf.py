"""CSRF protection for every form of the HTML pages (double-submit token, checked in middleware).

Pure ASGI middleware, so that no route can forget it:

- Every request outside ``/api/`` gets a CSRF token: the value of the ``kt_csrf`` cookie when the
  browser sent a well-formed one, else a fresh random token (256 bits) that the response sets as
  that cookie (``HttpOnly; SameSite=Strict; Path=/``, ``Secure`` under https). The token is put
  into ``scope["state"]["csrf_token"]``; templates render it with the Jinja global
  ``csrf_field()`` (a hidden ``<input name="csrf_token">``) and in ``<meta name="csrf-token">``.
- Every unsafe request (anything but GET, HEAD, OPTIONS, TRACE) outside ``/api/`` must carry
  the same token, either in the header ``X-CSRF-Token`` (htmx requests: ``static/site.js`` adds
  it) or in the form field ``csrf_token`` of an ``application/x-www-form-urlencoded`` or
  ``multipart/form-data`` body. The comparison is constant-time. Otherwise: 403 with a short
  HTML page in the request's language, before the application sees the request.
- A cross-site form cannot know the token (the cookie is not readable from another origin, and
  ``SameSite=Strict`` keeps the browser from sending it along with a cross-site request anyway).

The JSON API under ``/api/`` is exempt: it authenticates with bearer tokens and sets no cookie,
so there is no ambient credential a forged request could use — except the analyst routes
(``PROTECTED_API_PREFIXES``), which accept the workspace session cookie and so are checked like
the pages (header ``X-CSRF-Token``; refusal as a 403 problem document).
"""

from __future__ import annotations

import hmac
import html
import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kommunaltypen.i18n import get_lang, t

COOKIE_NAME = "kt_csrf"
FORM_FIELD = "csrf_token"
HEADER_NAME = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
EXEMPT_PREFIXES = ("/api/",)
#: API routes that authenticate with the workspace session cookie (an ambient credential):
#: checked like the pages (header X-CSRF-Token), refused with a problem document
PROTECTED_API_PREFIXES = ("/api/v1/analyst",)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def cookie_token(scope: Scope) -> str | None:
    """The well-formed CSRF token of the request's cookie, else None."""
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is ignored, not an error
        return None
    morsel = jar.get(COOKIE_NAME)
    if morsel is None or not _TOKEN_RE.match(morsel.value):
        return None
    return morsel.value


def form_token(body: bytes, content_type: str) -> str | None:
    """The ``csrf_token`` field of a urlencoded or multipart body (None when absent)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FORM_FIELD)
        return values[0] if values else None
    if mime == "multipart/form-data":
        match = re.search(
            rb'name="' + FORM_FIELD.encode() + rb'"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n', body
        )
        return match.group(1).decode("latin-1") if match else None
    return None


def set_cookie_header(token: str, secure: bool) -> tuple[bytes, bytes]:
    value = f"{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict"
    if secure:
        value += "; Secure"
    return (b"set-cookie", value.encode("latin-1"))


class CSRFMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or (
            path.startswith(EXEMPT_PREFIXES) and not path.startswith(PROTECTED_API_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        known = cookie_token(scope)
        token = known or secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = token
        if scope["method"] not in SAFE_METHODS:
            sent = _header(scope, HEADER_NAME)
            replay: list[Message] = []
            if sent is None:
                body = b""
                while True:
                    message = await receive()
                    replay.append(message)
                    if message["type"] != "http.request":
                        break
                    body += message.get("body", b"")
                    if not message.get("more_body", False):
                        break
                sent = form_token(body, _header(scope, b"content-type") or "")
            if known is None or sent is None or not hmac.compare_digest(sent, known):
                await _refuse(send, path)
                return
            if replay:
                receive = _replaying(replay, receive)
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and known is None:
                headers = [*message.get("headers", ()), set_cookie_header(token, secure)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def wrapped() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return wrapped


async def _refuse(send: Send, path: str = "") -> None:
    if path.startswith("/api/"):
        from kommunaltypen.web.problems import (
            PROBLEM_MEDIA_TYPE,
            problem,
            problem_body,
            problem_bytes,
        )

        exc = problem(403, t("public.csrf.detail"), slug="csrf")
        data = problem_bytes(problem_body(403, exc.slug, exc.title, exc.detail, path))
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
        return
    title = html.escape(t("public.csrf.title"))
    body = (
        f'<!doctype html><html lang="{get_lang()}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="stylesheet" href="/static/site.css"></head>'
        f'<body><main id="main"><h1>{title}</h1><p>{html.escape(t("public.csrf.detail"))}</p>'
        f'<p><a href="/">{html.escape(t("public.nav.home"))}</a></p></main></body></html>'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
