"""The Jinja2 environments of the package's HTML (templates and CSS shipped in the package):
the report's, and the same set-up for other packages' templates (the self-check's PDF profile)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from kommunaltypen.i18n import t


@cache
def environment(package: str = "kommunaltypen.report") -> Environment:
    """The environment of ``package``'s ``templates`` folder (strict, autoescaped, with
    ``t``); one per package, immutable after creation."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
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
