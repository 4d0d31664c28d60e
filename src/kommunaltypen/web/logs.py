"""Logging of ``kommunaltypen serve``: uvicorn's own configuration, with the private links'
tokens left out of the access log.

A municipality's answers are readable by whoever holds its private link
(``/check/{id}/{token}``, see :mod:`kommunaltypen.web.routers.public`). uvicorn's access log
writes every request path, so without this filter the server's log (and everyone who can
read it) would hold every private link. The filter keeps the submission id, so requests
stay traceable, and replaces the token with ``…``. The JSON API sends its token in the
``Authorization`` header, which is never logged.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

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


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`RedactPrivateLinks` on its access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["private_links"] = {"()": RedactPrivateLinks}
    config["handlers"]["access"].setdefault("filters", []).append("private_links")
    return config
