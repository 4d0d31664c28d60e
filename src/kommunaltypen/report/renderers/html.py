"""HTML table renderer (interactive report): n and intervals can be shown per table."""

from __future__ import annotations

from kommunaltypen.report.renderers.common import TableView
from kommunaltypen.report.templating import environment


def render_table(view: TableView, lang: str) -> str:
    """One appendix table as HTML (details toggled by a CSS-only switch, no script)."""
    macro = environment().get_template("table.html.j2").module.table
    return str(macro(view, lang=lang, mode="screen"))
