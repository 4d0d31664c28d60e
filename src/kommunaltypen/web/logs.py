"""The private links' tokens left out of the server's logs.

A municipality's answers are readable by whoever holds its private link
(``/check/{id}/{token}``, see :mod:`kommunaltypen.web.routers.public`). uvicorn's access log
writes every request path, so without this filter the server's log (and everyone who can
read it) would hold every private link. The filter keeps the submission id, so requests
stay traceable, and replaces the token with ``…``. The application installs it on uvicorn's
access logger when it is created (:func:`install`), however uvicorn was started. The JSON API
sends its token in the ``Authorization`` header, which is never logged.
"""

from __future__ import annotations

import logging
import re

#: ``/check/{id}/{token}`` (the token is the segment after the id)
_PRIVATE_LINK = re.compile(r"(/check/[^/?#\s]+/)[^/?#\s]+")
REDACTED = "…"


def redact(path: str) -> str:
    """``path`` without the token of a private link."""
    return _PRIVATE_LINK.sub(rf"\g<1>{REDACTED}", path)


class RedactPrivateLinks(logging.Filter):
    """Replaces the token in the path of uvicorn's access log records (their third
    argument: client, method, path, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install(logger: str = "uvicorn.access") -> None:
    """Put :class:`RedactPrivateLinks` on ``logger`` (once, however often it is called)."""
    target = logging.getLogger(logger)
    if not any(isinstance(f, RedactPrivateLinks) for f in target.filters):
        target.addFilter(RedactPrivateLinks())
