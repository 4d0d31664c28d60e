"""What the report's charts will be, known before any is drawn (no matplotlib import).

The print HTML refers to each chart by file and by its pixel size (:class:`ChartPlan`), so the
PDF can be laid out while :mod:`kommunaltypen.report.charts` still draws the charts: WeasyPrint
fetches a chart file only when it paints the page that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kommunaltypen.i18n import t
from kommunaltypen.report.model import ReportData, TableModel, TableRow

if TYPE_CHECKING:
    from concurrent.futures import Future

#: resolution of the PNG charts the PDF embeds (raster: WeasyPrint draws a PNG in a fraction of
#: the time it needs for the SVG's elements)
PNG_DPI = 130
#: width of every chart (inches)
FIGURE_WIDTH = 7.2


@dataclass(frozen=True)
class ChartPlan:
    """What a chart will be (known before it is drawn: the PDF refers to it by file and size)."""

    id: str
    title: str
    table: int
    kind: str  # centre_profile | type_shares | population | grouped_bars
    width: int = 0  # pixels of the PNG
    height: int = 0


@dataclass
class Chart:
    id: str
    title: str
    svg: str  # inline SVG markup (without XML prolog)
    svg_path: Path
    png_path: Path
    table: int | None = None
    width: int = 0  # pixels of the PNG
    height: int = 0
    #: the PNG's write when it runs in the background (``draw_chart(..., png_pool)``)
    png_written: Future[None] | None = field(default=None, repr=False, compare=False)


def figure_size(n_rows: int, n_series: int) -> tuple[float, float]:
    """Figure size (inches) of a chart with ``n_rows`` groups of ``n_series`` bars."""
    return FIGURE_WIDTH, max(1.9, 1.0 + n_rows * (0.11 * n_series + 0.14))


def pixel_size(size: tuple[float, float]) -> tuple[int, int]:
    """Pixels of the PNG of a figure of ``size`` inches at :data:`PNG_DPI` (as Agg sizes its
    canvas: the product truncated)."""
    return int(size[0] * PNG_DPI), int(size[1] * PNG_DPI)


def by_scale(table: TableModel) -> list[TableRow]:
    """Rows of one scale: the share rows of a table mixing shares and scale means."""
    percent = [r for r in table.rows if r.percent]
    return percent or [r for r in table.rows if not r.percent]


def chart_kind(table: TableModel) -> str:
    """The chart a table gets, from its declared measures and row types."""
    measures = {r.measure for r in table.rows}
    typed_rows = all(r.type_id for r in table.rows)
    if measures == {"centre"} and table.type_columns:
        return "centre_profile"
    if measures == {"type_share"} and typed_rows:
        return "type_shares"
    if measures == {"grouped_median"} and typed_rows:
        return "population"
    return "grouped_bars"


def chart_shape(table: TableModel, kind: str) -> tuple[int, int]:
    """(groups, bars per group) of a table's chart: decides the figure's height."""
    if kind == "centre_profile":
        return len(table.rows), 3
    if kind == "type_shares":
        return len(table.columns), 1
    if kind == "population":
        return len(table.columns), len(table.rows)
    return len(by_scale(table)), len(table.type_columns or table.columns)


#: file names of the charts of the study's first tables (documented in docs/report.md)
_NAMED = {"centre_profile": "zielprofil", "type_shares": "typenanteile"}
_TITLES = {
    "centre_profile": "report.chart.centres",
    "type_shares": "report.chart.shares",
    "population": "report.chart.population",
}


def plan_charts(data: ReportData, lang: str) -> list[ChartPlan]:
    """Id, title, kind and PNG size of every chart, in report order (before anything is
    drawn)."""
    plans = []
    used: set[str] = set()
    for table_no in sorted(data.tables):
        table = data.tables[table_no]
        kind = chart_kind(table)
        chart_id = _NAMED.get(kind) or ("handlungsfelder" if table_no == 4 else "")
        if not chart_id or chart_id in used:
            chart_id = f"tabelle_{table_no:02d}"
        used.add(chart_id)
        title = t(_TITLES[kind], lang=lang) if kind in _TITLES else table.caption(lang)
        width, height = pixel_size(figure_size(*chart_shape(table, kind)))
        plans.append(ChartPlan(chart_id, title, table_no, kind, width, height))
    return plans
