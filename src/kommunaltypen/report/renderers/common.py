"""The format-independent view of a table: display strings for every cell, in one language."""

from __future__ import annotations

from dataclasses import dataclass

from kommunaltypen.i18n import t
from kommunaltypen.report import fmt
from kommunaltypen.report.model import ReportData, TableModel


@dataclass
class CellView:
    text: str
    n: str
    interval: str
    bold: bool
    suppressed: bool
    value: float | None
    value2: float | None
    n_value: int | None
    ci_low: float | None
    ci_high: float | None


@dataclass
class RowView:
    key: str
    label: str
    cells: list[CellView]
    p_value: str
    p_raw: float | None
    test: str
    effect: str
    precision: int
    percent: bool


@dataclass
class TableView:
    number: int
    anchor: str
    title: str
    caption: str
    columns: list[str]
    rows: list[RowView]
    has_tests: bool


def _test_name(code: str | None, lang: str) -> str:
    if not code:
        return ""
    key = f"report.test.{code}"
    from kommunaltypen.i18n import catalog

    return t(key, lang=lang) if key in catalog() else code


def table_view(
    table: TableModel, data: ReportData | None, lang: str, publication: bool, min_n: int
) -> TableView:
    """Display strings of ``table`` (suppression applied when ``publication``)."""
    del data
    columns = [c.display(lang) for c in table.columns]
    rows: list[RowView] = []
    for row in table.rows:
        cells = []
        for col in table.columns:
            cell = row.cells.get(col.key)
            hidden = fmt.is_hidden(cell, publication, min_n)
            cells.append(
                CellView(
                    text=fmt.cell_text(cell, row, lang, publication, min_n),
                    n="" if cell is None or cell.n is None else fmt.number(cell.n, 0, lang),
                    interval=fmt.interval_text(cell, row, lang, publication, min_n),
                    bold=bool(cell and cell.bold and not hidden),
                    suppressed=hidden,
                    value=None if cell is None or hidden else cell.value,
                    value2=None if cell is None or hidden else cell.value2,
                    n_value=None if cell is None else cell.n,
                    ci_low=None if cell is None or hidden else cell.ci_low,
                    ci_high=None if cell is None or hidden else cell.ci_high,
                )
            )
        effect = ""
        if row.effect_size is not None:
            name = _test_name(row.effect_name, lang) if row.effect_name else ""
            effect = f"{name} {fmt.number(row.effect_size, 2, lang)}".strip()
        rows.append(
            RowView(
                key=row.key,
                label=row.label(lang),
                cells=cells,
                p_value=fmt.p_value(row.p_value, lang) if row.p_value is not None else "",
                p_raw=row.p_value,
                test=_test_name(row.test, lang),
                effect=effect,
                precision=row.precision,
                percent=row.percent,
            )
        )
    return TableView(
        number=table.number,
        anchor=f"tabelle-{table.number:02d}",
        title=t("report.table_title", lang=lang, number=table.number),
        caption=table.caption(lang),
        columns=columns,
        rows=rows,
        has_tests=any(r.p_value or r.test for r in rows),
    )
