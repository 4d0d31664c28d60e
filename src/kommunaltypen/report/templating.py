"""The Jinja2 environment of the report (templates and CSS shipped in the package)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from kommunaltypen.i18n import t


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("kommunaltypen.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = t
    return env


def static_text(name: str) -> str:
    """A file of ``report/static`` as text (CSS is inlined into the report)."""
    return (resources.files("kommunaltypen.report") / "static" / name).read_text("utf-8")
