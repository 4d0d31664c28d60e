"""Print table renderer (the HTML that WeasyPrint turns into the PDF).

Everything is printed (n and intervals under each value); the header row repeats on every page
and rows never break across pages (see ``static/print.css``).
"""

from __future__ import annotations

from kommunaltypen.report.renderers.common import TableView
from kommunaltypen.report.templating import environment


def render_table(view: TableView, lang: str) -> str:
    macro = environment().get_template("table.html.j2").module.table
    return str(macro(view, lang=lang, mode="print"))
