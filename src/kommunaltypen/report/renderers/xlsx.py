"""XLSX table renderer: one worksheet per table; numbers stay numbers.

Columns per table column of the report: value (and Table 12's planned value where present),
n, lower and upper bound of the 95 % interval; then test, p value and effect size per row.
Suppressed cells (publication mode) are written as the text ``<min_n``.
"""

from __future__ import annotations

from typing import Any

from kommunaltypen.i18n import t
from kommunaltypen.report.renderers.common import TableView

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class SafeSheet:
    """Writes cells so that no text can ever become a formula (CSV/formula injection)."""

    def __init__(self, workbook: Any, worksheet: Any) -> None:
        self.ws = worksheet
        self.quoted = workbook.add_format({"quote_prefix": True})
        self.formats: dict[tuple, Any] = {}
        self.workbook = workbook

    def fmt(self, **props: Any) -> Any:
        key = tuple(sorted(props.items()))
        if key not in self.formats:
            self.formats[key] = self.workbook.add_format(props)
        return self.formats[key]

    def write(self, row: int, col: int, value: Any, cell_format: Any = None) -> None:
        if value is None:
            self.ws.write_blank(row, col, None, cell_format)
        elif isinstance(value, bool):
            self.ws.write_boolean(row, col, value, cell_format)
        elif isinstance(value, int | float):
            if value != value:  # NaN
                self.ws.write_blank(row, col, None, cell_format)
            else:
                self.ws.write_number(row, col, value, cell_format)
        else:
            text = str(value)
            if text.startswith(FORMULA_PREFIXES):
                # leading apostrophe (Excel's quote prefix): shown as text, never evaluated
                self.ws.write_string(row, col, text, cell_format or self.quoted)
                if cell_format is not None:
                    self.ws.write_string(row, col, text, self.quoted)
            else:
                self.ws.write_string(row, col, text, cell_format)


def number_format(precision: int) -> str:
    """Excel number format; Excel shows it with the reader's locale (German: 1.234,5)."""
    return "#,##0" + ("." + "0" * precision if precision > 0 else "")


def write_table(workbook: Any, view: TableView, lang: str, name: str) -> None:
    ws = workbook.add_worksheet(name)
    sheet = SafeSheet(workbook, ws)
    bold = sheet.fmt(bold=True)
    head = sheet.fmt(bold=True, bottom=1, text_wrap=True, valign="top")
    sheet.write(0, 0, f"{view.title}: {view.caption}", bold)
    has_value2 = any(c.value2 is not None for r in view.rows for c in r.cells)
    sub = [t("report.xlsx.value", lang=lang)]
    if has_value2:
        sub.append(t("report.xlsx.value2", lang=lang))
    sub += ["n", t("report.xlsx.ci_low", lang=lang), t("report.xlsx.ci_high", lang=lang)]
    sheet.write(2, 0, t("report.xlsx.row", lang=lang), head)
    col = 1
    group = sheet.fmt(bold=True, align="center", bottom=1)
    for label in view.columns:
        if label.startswith(FORMULA_PREFIXES):
            sheet.write(1, col, label, bold)
        else:
            ws.merge_range(1, col, 1, col + len(sub) - 1, label, group)
        for s in sub:
            sheet.write(2, col, s, head)
            col += 1
    extra = ["Test", t("report.xlsx.p_value", lang=lang), t("report.xlsx.effect", lang=lang)]
    for i, label in enumerate(extra):
        sheet.write(2, col + i, label, head)
    for r, row in enumerate(view.rows, start=3):
        sheet.write(r, 0, row.label)
        value_fmt = sheet.fmt(num_format=number_format(row.precision))
        value_bold = sheet.fmt(num_format=number_format(row.precision), bold=True)
        n_fmt = sheet.fmt(num_format="#,##0")
        c = 1
        for cell in row.cells:
            if cell.suppressed:
                sheet.write(r, c, cell.text)
            else:
                sheet.write(r, c, cell.value, value_bold if cell.bold else value_fmt)
            c += 1
            if has_value2:
                sheet.write(r, c, None if cell.suppressed else cell.value2, value_fmt)
                c += 1
            sheet.write(r, c, cell.n_value, n_fmt)
            sheet.write(r, c + 1, cell.ci_low, value_fmt)
            sheet.write(r, c + 2, cell.ci_high, value_fmt)
            c += 3
        sheet.write(r, c, row.test or None)
        sheet.write(r, c + 1, row.p_raw, sheet.fmt(num_format="0.000"))
        sheet.write(r, c + 2, row.effect or None)
    ws.set_column(0, 0, 48)
    ws.set_column(1, col + 2, 10)
    ws.freeze_panes(3, 1)
