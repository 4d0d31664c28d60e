"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response of the application has this shape::

    {"type": "urn:kommunaltypen:problem:validation", "title": "Ungültige Eingabe",
     "status": 422, "detail": "…", "instance": "/api/v1/classify",
     "errors": [{"field": "goals[1]", "value": "x", "expected": "…", "message": "…"}]}

``errors`` is present for validation problems only. Titles, details and messages are in the
request's language (:func:`kommunaltypen.i18n.t` reads the per-request context value). The
problem types are listed in ``docs/web.md``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import t
from kommunaltypen.web.logs import redact

log = logging.getLogger("kommunaltypen.web")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:kommunaltypen:problem:"
MAX_VALUE_CHARS = 200

#: problem slug per HTTP status for errors raised by the framework (404, 405, …)
_STATUS_SLUGS = {
    400: ("bad-request", "web.problem.bad_request"),
    401: ("unauthorized", "web.problem.unauthorized"),
    403: ("forbidden", "account.problem.forbidden"),
    404: ("not-found", "web.problem.not_found"),
    405: ("method-not-allowed", "web.problem.method_not_allowed"),
    409: ("conflict", "web.problem.conflict"),
    413: ("request-too-large", "web.problem.too_large"),
    415: ("unsupported-media-type", "web.problem.unsupported_media_type"),
    422: ("validation", "web.problem.validation"),
    500: ("internal", "web.problem.internal"),
    503: ("unavailable", "web.problem.unavailable"),
}


@dataclass(frozen=True)
class FieldError:
    """One invalid value: where, what was received, what was expected, and why."""

    field: str
    value: Any
    expected: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": _json_value(self.value),
            "expected": self.expected,
            "message": self.message,
        }


@dataclass
class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    status: int
    slug: str
    title: str
    detail: str | None = None
    errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.slug}: {self.detail or self.title}"


def problem(
    status: int, detail: str | None = None, *, slug: str | None = None, title_key: str | None = None
) -> ProblemError:
    """A :class:`ProblemError` for ``status`` with the standard slug and title."""
    default_slug, default_title = _STATUS_SLUGS.get(status, ("http-error", "web.problem.http"))
    title = t(title_key or default_title, status=status)
    return ProblemError(status=status, slug=slug or default_slug, title=title, detail=detail)


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    instance: str | None,
    errors: Iterable[FieldError] = (),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug,
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    errs = [e.to_dict() for e in errors]
    if errs:
        body["errors"] = errs
    return body


def problem_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ProblemResponse(Response):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return problem_bytes(content)


def problem_response(exc: ProblemError, instance: str | None = None) -> ProblemResponse:
    body = problem_body(exc.status, exc.slug, exc.title, exc.detail, instance, exc.errors)
    return ProblemResponse(body, status_code=exc.status, headers=dict(exc.headers))


# ---------------------------------------------------------------------- translation of errors
def _json_value(value: Any) -> Any:
    """The received value as JSON, shortened so a huge input does not echo back in full."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) <= MAX_VALUE_CHARS:
        return value if isinstance(value, list | dict) else text
    return text[:MAX_VALUE_CHARS] + "…"


def field_name(loc: Sequence[str | int]) -> str:
    """``("body", "goals", 1)`` → ``goals[1]``; ``("query", "q")`` → ``query.q``."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


_TYPE_NAMES = {
    "string": "web.type.string",
    "int": "web.type.int",
    "float": "web.type.float",
    "bool": "web.type.bool",
    "list": "web.type.list",
    "dict": "web.type.dict",
    "model": "web.type.dict",
    "none": "web.type.none",
}

_RANGE_OPS = {
    "greater_than_equal": "ge",
    "greater_than": "gt",
    "less_than_equal": "le",
    "less_than": "lt",
}


def _type_expected(kind: str) -> str:
    base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_attributes")
    key = _TYPE_NAMES.get(base)
    return t(key) if key else t("web.type.other", name=base)


def translate_pydantic_error(err: Mapping[str, Any], allowed: Sequence[str] = ()) -> FieldError:
    """One pydantic error (``exc.errors()`` item) as a :class:`FieldError` in the request's
    language."""
    kind = str(err.get("type", ""))
    loc = tuple(err.get("loc", ()))
    ctx = err.get("ctx") or {}
    value = err.get("input")
    name = field_name(loc)
    if kind == "missing":
        return FieldError(name, None, t("web.invalid.missing_expected"), t("web.invalid.missing"))
    if kind == "extra_forbidden":
        expected = (
            t("web.invalid.extra_expected", allowed=", ".join(allowed))
            if allowed
            else t("web.invalid.extra_expected_generic")
        )
        return FieldError(name, value, expected, t("web.invalid.extra"))
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        return FieldError(name, value, _type_expected(kind), t("web.invalid.type"))
    if kind in ("too_short", "string_too_short"):
        lim = ctx.get("min_length")
        return FieldError(
            name, value, t("web.invalid.too_short_expected", min=lim), t("web.invalid.too_short")
        )
    if kind in ("too_long", "string_too_long"):
        lim = ctx.get("max_length")
        return FieldError(
            name, value, t("web.invalid.too_long_expected", max=lim), t("web.invalid.too_long")
        )
    op = _RANGE_OPS.get(kind)
    if op:
        return FieldError(
            name,
            value,
            t(f"web.invalid.range_{op}", limit=ctx.get(op)),
            t("web.invalid.out_of_range"),
        )
    if kind in ("literal_error", "enum"):
        return FieldError(name, value, str(ctx.get("expected", "")), t("web.invalid.choice"))
    if kind == "string_pattern_mismatch":
        return FieldError(
            name,
            value,
            t("web.invalid.pattern_expected", pattern=ctx.get("pattern")),
            t("web.invalid.pattern"),
        )
    return FieldError(
        name,
        value,
        t("web.invalid.other_expected"),
        t("web.invalid.other", reason=err.get("msg", kind)),
    )


def _allowed_fields(request: Request, loc: Sequence[str | int]) -> list[str]:
    """The field names of the request body model at ``loc`` (for 'unknown field' messages)."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    # a route that parses its body itself names its model (api.classify)
    model = model or getattr(getattr(route, "endpoint", None), "body_model", None)
    if model is None or not loc or loc[0] != "body":
        return []
    for part in loc[1:-1]:
        fields = getattr(model, "model_fields", None)
        if not fields or not isinstance(part, str) or part not in fields:
            return []
        model = fields[part].annotation
    fields = getattr(model, "model_fields", None)
    return sorted(fields) if fields else []


def validation_problem(errors: Sequence[FieldError]) -> ProblemError:
    exc = problem(422, t("web.problem.validation_detail", count=len(errors)))
    exc.errors = list(errors)
    return exc


def from_request_validation(request: Request, exc: RequestValidationError) -> ProblemError:
    errs = list(exc.errors())
    for err in errs:
        if err.get("type") == "json_invalid":
            loc = err.get("loc", ())
            position = loc[-1] if loc and isinstance(loc[-1], int) else "?"
            reason = (err.get("ctx") or {}).get("error", "")
            return problem(
                400,
                t("web.problem.malformed_json_detail", error=reason, position=position),
                slug="malformed-json",
                title_key="web.problem.malformed_json",
            )
    return validation_problem(
        [translate_pydantic_error(e, _allowed_fields(request, e.get("loc", ()))) for e in errs]
    )


def from_http_exception(request: Request, exc: StarletteHTTPException) -> ProblemError:
    status = exc.status_code
    if status == 404 and exc.detail in (None, "Not Found"):
        detail = t("web.problem.not_found_detail", path=request.url.path)
    elif status == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow") or "?"
        detail = t(
            "web.problem.method_not_allowed_detail",
            method=request.method,
            path=request.url.path,
            allowed=allowed,
        )
    else:
        detail = exc.detail if isinstance(exc.detail, str) else None
    out = problem(status, detail)
    if exc.headers:
        out.headers = dict(exc.headers)
    return out


def from_service_problems(problems: Iterable[Any]) -> ProblemError:
    """Problems of the core service layer (``Problem(field, value, expected, message)``)."""
    return validation_problem(
        [
            FieldError(
                field=str(getattr(p, "field", "")),
                value=getattr(p, "value", None),
                expected=str(getattr(p, "expected", "")),
                message=str(getattr(p, "message", "")),
            )
            for p in problems
        ]
    )


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers that turn every error into a problem document."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(from_request_validation(request, exc), request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(from_http_exception(request, exc), request.url.path)

    async def on_user_error(request: Request, exc: Exception) -> Response:
        problems = getattr(exc, "problems", None)
        if problems:
            out = from_service_problems(problems)
        else:
            out = problem(422, str(exc), slug="invalid", title_key="web.problem.validation")
        return problem_response(out, request.url.path)

    async def on_database_busy(request: Request, exc: Exception) -> Response:
        # a database that is unreachable or locked for longer than the busy timeout: the
        # client may retry (with its Idempotency-Key); the details go to the log only
        path = redact(request.url.path)  # never a private link's token in the log
        log.warning("database unavailable in %s %s: %s", request.method, path, exc)
        out = problem(503, t("web.problem.unavailable_detail"))
        out.headers = {"Retry-After": "2"}
        return problem_response(out, request.url.path)

    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    app.add_exception_handler(OperationalError, on_database_busy)
    app.add_exception_handler(PoolTimeout, on_database_busy)
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(KommunaltypenError, on_user_error)
