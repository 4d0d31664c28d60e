"""The PDF profile of one municipality: the :class:`~kommunaltypen.selfcheck.view.ProfileView`
rendered with the Jinja template ``templates/profile.html.j2`` and WeasyPrint (A4, tagged
PDF/UA-1 with the document language and title)."""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment

from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import t, use_lang
from kommunaltypen.report.templating import environment
from kommunaltypen.selfcheck.view import ProfileView
from kommunaltypen.vocabulary import type_colour

#: WeasyPrint's PDF variant: PDF/UA-1 (tagged, with language, title and embedded fonts)
PDF_VARIANT = "pdf/ua-1"


def _environment() -> Environment:
    return environment("kommunaltypen.selfcheck")


@cache
def stylesheet() -> Any:
    """The print stylesheet (``static/profile.css``) as a parsed ``weasyprint.CSS``, once per
    process (a render process renders many profiles; parsing it per document cost ~0.1 s CPU
    each)."""
    from weasyprint import CSS

    css = resources.files("kommunaltypen.selfcheck") / "static" / "profile.css"
    return CSS(string=css.read_text("utf-8"))


def render_profile_html(view: ProfileView, lang: str | None = None) -> str:
    """The print HTML of the profile (what WeasyPrint renders)."""
    lang = lang or view.lang
    reasons: dict[str, int] = {}
    for topic in view.topics:
        for row in topic.rows:
            for cell in row.cells:
                if cell.suppressed and cell.reason and cell.reason not in reasons:
                    reasons[cell.reason] = len(reasons) + 1
    colours = {b.type_id: b.colour for b in view.bars}
    for rec in view.recommendations:
        if rec.type_id and rec.type_id not in colours:
            colours[rec.type_id] = type_colour(rec.type_id)
    with use_lang(lang):
        return (
            _environment()
            .get_template("profile.html.j2")
            .render(v=view, reasons=reasons, colours=colours)
        )


def render_profile_pdf(view: ProfileView, lang: str | None = None) -> bytes:
    """The PDF profile (A4, tagged) of ``view`` as bytes. ``lang`` defaults to the view's own
    language (the texts of the view are already in it)."""
    return pdf_from_html(render_profile_html(view, lang))


def pdf_from_html(html: str) -> bytes:
    """The PDF of a :func:`render_profile_html` page with the print stylesheet
    (:func:`stylesheet`; WeasyPrint, the costly step, ~0.8 s CPU). A plain function of a
    string, so a server can run it in another process."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # missing Pango/cairo system libraries
        raise KommunaltypenError(t("selfcheck.pdf.failed", error=exc)) from exc
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    pdf = HTML(string=html, base_url=None).write_pdf(
        stylesheets=[stylesheet()], pdf_variant=PDF_VARIANT
    )
    if pdf is None:  # pragma: no cover - write_pdf without a target returns bytes
        raise KommunaltypenError(t("selfcheck.pdf.failed", error="no output"))
    return bytes(pdf)
