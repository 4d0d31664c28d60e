"""Number formatting for the report (German or English conventions, via babel)."""

from __future__ import annotations

from kommunaltypen.report.model import Cell, TableRow
from kommunaltypen.vocabulary import format_number


def number(value: float | None, precision: int, lang: str) -> str:
    """``value`` with ``precision`` decimals in the language's notation; "–" for no value
    (:func:`kommunaltypen.vocabulary.format_number`)."""
    return format_number(value, precision, lang)


def p_value(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    if value < 0.001:
        return "< " + number(0.001, 3, lang)
    return number(value, 3, lang)


def is_hidden(cell: Cell | None, publication: bool, min_n: int) -> bool:
    """Whether a cell must be shown as ``<min_n`` (small-cell suppression)."""
    if cell is None:
        return False
    if cell.suppressed:
        return True
    return publication and cell.n is not None and cell.n < min_n


def cell_text(cell: Cell | None, row: TableRow, lang: str, publication: bool, min_n: int) -> str:
    """The printed cell: value (and Table 12's planned value) or ``<min_n`` if suppressed."""
    if cell is None:
        return ""
    if is_hidden(cell, publication, min_n):
        return f"<{min_n}"
    text = number(cell.value, row.precision, lang)
    if cell.value2 is not None:
        text += " / " + number(cell.value2, row.precision, lang)
    return text


def interval_text(cell: Cell | None, row: TableRow, lang: str, publication: bool, min_n: int):
    if cell is None or cell.ci_low is None or cell.ci_high is None:
        return ""
    if is_hidden(cell, publication, min_n):
        return ""
    return (
        f"[{number(cell.ci_low, row.precision, lang)}; {number(cell.ci_high, row.precision, lang)}]"
    )
