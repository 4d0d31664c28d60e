"""The request middleware: language, body size limit, security headers, last-resort errors.

One pure ASGI middleware (no ``BaseHTTPMiddleware``: it costs a task and a copy per request)
that, for every HTTP request,

1. picks the response language (``?lang=``, then ``Accept-Language``, then the default
   setting) and sets it for the request with :func:`kommunaltypen.i18n.use_lang` — a
   per-request context value, never a global;
2. refuses a body larger than ``max_body_bytes`` with 413 before reading it (by its
   Content-Length, or while it streams in for chunked bodies);
3. adds the security headers (:mod:`kommunaltypen.web.security`) to every response, plus
   ``Content-Language`` and, under ``/api/``, ``Cache-Control: no-store``;
4. turns any exception that escaped the application into a 500 problem document without a
   traceback (the traceback goes to the server log with an incident id).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kommunaltypen import i18n
from kommunaltypen.i18n import t
from kommunaltypen.web.logs import redact
from kommunaltypen.web.problems import PROBLEM_MEDIA_TYPE, problem, problem_body, problem_bytes
from kommunaltypen.web.security import RAW_NO_STORE, RAW_SECURITY_HEADERS

log = logging.getLogger("kommunaltypen.web")


class BodyTooLarge(StarletteHTTPException):
    """Raised while reading a body that exceeds the limit (FastAPI re-raises HTTPException
    from body parsing, so it ends as a 413 problem)."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        received = (
            t("web.problem.too_large_received", size=size)
            if size is not None
            else t("web.problem.too_large_received_unknown")
        )
        super().__init__(
            413, detail=t("web.problem.too_large_detail", received=received, limit=limit)
        )


def negotiate_lang(scope: Scope, default: str) -> str:
    """``?lang=de|en``, else the best supported language of ``Accept-Language``, else
    ``default``. Unsupported values are ignored (never an error)."""
    query = scope.get("query_string", b"")
    if b"lang=" in query:
        for pair in query.split(b"&"):
            if pair.startswith(b"lang="):
                value = pair[5:].decode("latin-1").strip().lower()
                if value in i18n.LANGUAGES:
                    return value
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            best = _best_accept_language(value.decode("latin-1"))
            if best:
                return best
            break
    return default


def _best_accept_language(header: str) -> str | None:
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(header.split(",")):
        parts = item.strip().split(";")
        tag = parts[0].strip().lower()
        primary = tag.split("-", 1)[0]
        if primary not in i18n.LANGUAGES:
            continue
        q = 1.0
        for param in parts[1:]:
            key, _, val = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        cand = (q, -position, primary)
        if best is None or cand > best:
            best = cand
    return best[2] if best else None


class RequestContextMiddleware:
    """See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_lang: str,
        max_body_bytes: int,
        upload_max_bytes: int = 0,
    ) -> None:
        self.app = app
        self.default_lang = default_lang
        self.max_body_bytes = max_body_bytes
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lang = negotiate_lang(scope, self.default_lang)
        path: str = scope.get("path", "")
        extra: list[tuple[bytes, bytes]] = [
            *RAW_SECURITY_HEADERS,
            (b"content-language", lang.encode()),
            (b"vary", b"Accept-Language"),
        ]
        if path.startswith("/api/"):
            extra.append(RAW_NO_STORE)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        with i18n.use_lang(lang):
            limit = self.max_body_bytes
            if path.startswith("/workspace/waves/") and path.endswith("/import"):
                # a survey file: the workspace route checks upload_max_bytes with a page message
                limit = max(limit, self.upload_max_bytes + 1_048_576)
            length = _content_length(scope)
            if length is not None and length > limit:
                await self._send_problem(scope, send_with_headers, BodyTooLarge(limit, length))
                return
            receive = _limited_receive(receive, limit)
            try:
                await self.app(scope, receive, send_with_headers)
            except BodyTooLarge as exc:  # raised outside FastAPI's body parsing
                if not started:
                    await self._send_problem(scope, send_with_headers, exc)
            except Exception:
                incident = secrets.token_hex(6)
                log.exception(  # never a private link's token in the log
                    "unhandled error in %s %s (incident %s)",
                    scope["method"],
                    redact(path),
                    incident,
                )
                if not started:
                    exc500 = problem(500, t("web.problem.internal_detail", incident=incident))
                    await self._send_json(
                        send_with_headers,
                        500,
                        problem_body(500, exc500.slug, exc500.title, exc500.detail, path),
                    )

    async def _send_problem(self, scope: Scope, send: Send, exc: StarletteHTTPException) -> None:
        out = problem(exc.status_code, str(exc.detail))
        body = problem_body(out.status, out.slug, out.title, out.detail, scope.get("path"))
        await self._send_json(send, out.status, body, close=True)

    @staticmethod
    async def _send_json(
        send: Send, status: int, body: dict[str, Any], close: bool = False
    ) -> None:
        data = problem_bytes(body)
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(data)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _limited_receive(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped
