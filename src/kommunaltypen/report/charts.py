"""Charts of the report (matplotlib, Agg/SVG only; Okabe–Ito colours, labels in the report
language).

Every chart is written as PNG and SVG into ``DIR/charts/`` (the HTML inlines the SVG text, the
PDF embeds the PNG). Suppressed cells (publication mode) are left
out of the charts. Which chart a table gets follows from its declaration (measures, row types,
column ids), never from labels. Drawing takes explicit arguments only (no module state), so
charts can be drawn from any thread or process.
"""

from __future__ import annotations

import io
import os
import re
import textwrap
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from PIL import Image

from kommunaltypen.i18n import t
from kommunaltypen.report.chartplan import (
    PNG_DPI,
    Chart,
    ChartPlan,
    by_scale,
    chart_kind,
    figure_size,
    plan_charts,
)
from kommunaltypen.report.fmt import is_hidden, number
from kommunaltypen.report.model import ReportData, TableModel, TableRow
from kommunaltypen.vocabulary import extra_colours, is_type_id, type_colour, type_label

matplotlib.use("Agg")

#: matplotlib's rcParams are process-wide: the settings of a chart (``RC``) are applied for
#: the time one chart is drawn and saved, one chart at a time per process
_RC_LOCK = threading.Lock()

__all__ = [
    "PNG_DPI",
    "Chart",
    "ChartPlan",
    "build_charts",
    "chart_kind",
    "draw_chart",
    "plan_charts",
]

MARKERS = ("o", "s", "D", "^", "v", "P")


def colour(key: str, position: int) -> str:
    """Colour of a series: fixed per type (``data/types.yaml``) and for the total, else by
    position."""
    if is_type_id(key) or key == "gesamt":
        return type_colour(key)
    palette = extra_colours()
    return palette[position % len(palette)]


RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "kommunaltypen",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "metadata": None,
}


def _wrap(text: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _hbars(
    ax,
    ys: Sequence[float],
    widths: Sequence[float],
    height: float,
    left: Sequence[float] | float = 0.0,
    **style,
) -> PolyCollection:
    """Horizontal bars centred on ``ys`` as one collection (what ``ax.barh`` draws, without
    one patch object per bar: the same rectangles, colours, edges, hatch and legend entry, and
    the axis starts where the bars do, as with ``barh``)."""
    lefts = [left] * len(ys) if isinstance(left, int | float) else list(left)
    verts = []
    for y, w, x0 in zip(ys, widths, lefts, strict=True):
        y0 = y - height / 2  # the corners as barh places them: bottom, then bottom + height
        y1, x1 = y0 + height, x0 + w
        verts.append(((x0, y0), (x0, y1), (x1, y1), (x1, y0)))
    bars = PolyCollection(verts, closed=True, **style)
    bars.sticky_edges.x.extend(lefts)
    ax.add_collection(bars, autolim=True)
    return bars


def _value(row: TableRow, key: str, publication: bool, min_n: int) -> float | None:
    cell = row.cells.get(key)
    if cell is None or is_hidden(cell, publication, min_n):
        return None
    return cell.value


def _write_png(image: Image.Image, png: Path, tmp: Path) -> None:
    image.save(tmp, format="png", dpi=(PNG_DPI, PNG_DPI))
    os.replace(tmp, png)


def _save_png(
    fig: Figure, plan: ChartPlan, charts_dir: Path, png_pool: Executor | None
) -> Future[None] | None:
    """Write the PNG (for the PDF) atomically: the PDF worker may be waiting for the file.

    The constrained layout is computed once, at the PNG's resolution, and then switched off:
    each save draws the figure once (with a layout engine set, ``savefig`` draws it twice, the
    first time only to lay it out). With ``png_pool`` the PNG is compressed and written by
    that pool (Pillow releases the GIL while it compresses, so it overlaps with drawing the
    next chart); its future is returned."""
    fig.set_dpi(PNG_DPI)
    canvas = FigureCanvasAgg(fig)  # first: the layout measures text with the renderer that
    engine = fig.get_layout_engine()  # then draws the PNG (its text metrics are cached)
    if engine is not None:
        engine.execute(fig)
        fig.set_layout_engine(None)
    png = charts_dir / f"{plan.id}.png"
    tmp = charts_dir / f".{plan.id}.png.tmp"
    canvas.draw()
    # RGB without the (opaque) alpha channel: WeasyPrint embeds it without a soft mask to
    # split off and compress
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    image = image.convert("RGB")  # a copy: independent of the canvas from here on
    if png_pool is None:
        _write_png(image, png, tmp)
        return None
    return png_pool.submit(_write_png, image, png, tmp)


def _save_svg(
    fig: Figure, plan: ChartPlan, charts_dir: Path, png_written: Future[None] | None
) -> Chart:
    """Write the SVG (for the HTML) of a figure whose PNG is written (:func:`_save_png`)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    raw = buffer.getvalue()
    svg = charts_dir / f"{plan.id}.svg"
    tmp = charts_dir / f".{plan.id}.svg.tmp"
    tmp.write_text(raw, encoding="utf-8")
    os.replace(tmp, svg)
    return Chart(
        plan.id,
        plan.title,
        _inline(raw, plan),
        svg,
        charts_dir / f"{plan.id}.png",
        plan.table,
        plan.width,
        plan.height,
        png_written,
    )


def _inline(raw: str, plan: ChartPlan) -> str:
    """The SVG text for inlining into the HTML (no prolog, ids unique per chart)."""
    chart_id = plan.id
    text = re.sub(r"^<\?xml[^>]*>\s*", "", raw)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    # unique ids per chart: several SVGs live in one HTML document
    text = re.sub(r'id="([^"]+)"', rf'id="{chart_id}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", text)
    text = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{chart_id}-\1"', text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{_attr(plan.title)}" ', 1)


def _format_axis(ax, lang: str) -> None:
    """Tick labels in the report language's notation (German: decimal comma)."""
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _pos: number(v, 0 if float(v).is_integer() else 1, lang))
    )


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _figure(n_rows: int, n_series: int) -> Figure:
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        return Figure(figsize=figure_size(n_rows, n_series), layout="constrained")


def grouped_bars(
    table: TableModel, rows: list[TableRow], lang: str, publication: bool, min_n: int, xlabel: str
) -> Figure:
    """Horizontal grouped bars: one group per row, one bar per type (or per column)."""
    series = table.type_columns or table.columns
    fig = _figure(len(rows), len(series))
    planned_label = t("report.chart.planned", lang=lang)
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        ax = fig.add_subplot()
        height = 0.8 / max(1, len(series))
        planned_shown = False
        for s, col in enumerate(series):
            key = col.key
            ys, xs, ys2, xs2, lefts = [], [], [], [], []
            for i, row in enumerate(rows):
                value = _value(row, key, publication, min_n)
                if value is not None:
                    y = len(rows) - 1 - i + 0.4 - (s + 0.5) * height
                    ys.append(y)
                    xs.append(value)
                    cell = row.cells.get(key)
                    if row.planned is not None and cell is not None and cell.value2 is not None:
                        ys2.append(y)
                        xs2.append(cell.value2)
                        lefts.append(value)
            _hbars(
                ax,
                ys,
                xs,
                height * 0.95,
                facecolor=colour(key, s),
                edgecolor="white",
                linewidth=0.3,
                label=col.display(lang),
            )
            if ys2:  # Table 12: offered (solid) followed by planned (light, hatched)
                _hbars(
                    ax,
                    ys2,
                    xs2,
                    height * 0.95,
                    left=lefts,
                    facecolor=colour(key, s),
                    alpha=0.35,
                    hatch="///",
                    edgecolor="white",
                    linewidth=0.3,
                    label="_planned" if planned_shown else planned_label,
                )
                planned_shown = True
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([_wrap(r.label(lang)) for r in reversed(rows)])
        ax.set_xlabel(xlabel)
        _format_axis(ax, lang)
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
        n_entries = len(series) + (1 if planned_shown else 0)
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: labels[i] == planned_label)
        fig.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            loc="outside upper center",
            ncols=4 if n_entries <= 4 else 3,
            frameon=False,
        )
    return fig


def centre_profile(table: TableModel, lang: str, publication: bool, min_n: int) -> Figure:
    """Goal profile of each type (cluster centres, Table 1) as a dot-and-line profile."""
    rows = table.rows
    fig = _figure(len(rows), 3)
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        ax = fig.add_subplot()
        ys = list(range(len(rows) - 1, -1, -1))
        n_types = max(1, len(table.type_columns))
        for s, col in enumerate(table.type_columns):
            offset = 0.3 - 0.6 * s / max(1, n_types - 1)
            xs = [_value(r, col.key, publication, min_n) for r in rows]
            pts = [(x, y + offset) for x, y in zip(xs, ys, strict=True) if x is not None]
            ax.hlines(
                [p[1] for p in pts],
                0,
                [p[0] for p in pts],
                color=colour(col.key, s),
                linewidth=1.0,
                alpha=0.6,
            )
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                linestyle="none",
                marker=MARKERS[s % len(MARKERS)],
                color=colour(col.key, s),
                label=col.display(lang),
            )
        ax.set_yticks(ys)
        ax.set_yticklabels([_wrap(r.label(lang), 40) for r in rows])
        ax.set_xlim(0, 3.08)  # room for markers at the maximum of 3 points
        _format_axis(ax, lang)
        ax.set_xlabel(t("report.chart.centre_axis", lang=lang))
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        fig.legend(loc="outside upper center", ncols=4, frameon=False)
    return fig


def _row_label(row: TableRow, lang: str) -> str:
    return type_label(row.type_id, lang) if row.type_id else row.label(lang)


def type_shares(table: TableModel, lang: str, publication: bool, min_n: int) -> Figure:
    """Stacked 100 % bars: type shares per column (Table 2: per Kommunenart)."""
    columns = table.columns
    fig = _figure(len(columns), 1)
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        ax = fig.add_subplot()
        left = [0.0] * len(columns)
        ys = list(range(len(columns) - 1, -1, -1))
        for s, row in enumerate(table.rows):
            widths = [_value(row, c.key, publication, min_n) or 0.0 for c in columns]
            _hbars(
                ax,
                ys,
                widths,
                0.8,
                left=left,
                facecolor=colour(row.type_id or "", s),
                edgecolor="white",
                linewidth=1.0,
                label=_row_label(row, lang),
            )
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(ys)
        ax.set_yticklabels([c.display(lang) for c in columns])
        ax.set_xlim(0, 100)
        _format_axis(ax, lang)
        ax.set_xlabel(t("report.chart.share_axis", lang=lang))
        fig.legend(loc="outside upper center", ncols=4, frameon=False)
    return fig


def population(table: TableModel, lang: str, publication: bool, min_n: int) -> Figure:
    """Grouped medians of the population per type (rows) and column (Table 3)."""
    fig = _figure(len(table.columns), len(table.rows))
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        ax = fig.add_subplot()
        height = 0.8 / max(1, len(table.rows))
        ys_base = list(range(len(table.columns) - 1, -1, -1))
        for s, row in enumerate(table.rows):
            xs, ys = [], []
            for y, col in zip(ys_base, table.columns, strict=True):
                value = _value(row, col.key, publication, min_n)
                if value is not None:
                    xs.append(value)
                    ys.append(y + 0.4 - (s + 0.5) * height)
            _hbars(
                ax,
                ys,
                xs,
                height * 0.95,
                facecolor=colour(row.type_id or "", s),
                edgecolor="white",
                linewidth=1.0,
                label=_row_label(row, lang),
            )
        ax.set_yticks(ys_base)
        ax.set_yticklabels([c.display(lang) for c in table.columns])
        ax.set_xlabel(t("report.chart.population_axis", lang=lang))
        _format_axis(ax, lang)
        fig.legend(loc="outside upper center", ncols=4, frameon=False)
    return fig


def draw_chart(
    data: ReportData,
    plan: ChartPlan,
    charts_dir: Path,
    lang: str,
    publication: bool,
    min_n: int,
    png_pool: Executor | None = None,
) -> Chart:
    """Draw and save one planned chart (one at a time per process: see ``_RC_LOCK``). With
    ``png_pool`` (an executor of the caller) the PNG is written in the background: wait for
    ``Chart.png_written`` before using it."""
    return draw_charts(data, [plan], charts_dir, lang, publication, min_n, png_pool)[0]


def draw_charts(
    data: ReportData,
    plans: Sequence[ChartPlan],
    charts_dir: Path,
    lang: str,
    publication: bool,
    min_n: int,
    png_pool: Executor | None = None,
) -> list[Chart]:
    """Draw and save the planned charts: first every PNG in report order (a PDF worker
    painting its pages waits for them), then every SVG (only the HTML, written last, needs
    them). Each figure is laid out once and drawn once per format (:func:`_save_png`)."""
    rc = {k: v for k, v in RC.items() if k != "metadata"}
    drawn: list[tuple[ChartPlan, Figure, Future[None] | None]] = []
    for plan in plans:
        with _RC_LOCK, matplotlib.rc_context(rc):
            fig = _figure_of(data, plan, lang, publication, min_n)
            drawn.append((plan, fig, _save_png(fig, plan, charts_dir, png_pool)))
    charts = []
    for plan, fig, written in drawn:
        with _RC_LOCK, matplotlib.rc_context(rc):
            charts.append(_save_svg(fig, plan, charts_dir, written))
    return charts


def _figure_of(
    data: ReportData, plan: ChartPlan, lang: str, publication: bool, min_n: int
) -> Figure:
    table = data.tables[plan.table]
    if plan.kind == "centre_profile":
        return centre_profile(table, lang, publication, min_n)
    if plan.kind == "type_shares":
        return type_shares(table, lang, publication, min_n)
    if plan.kind == "population":
        return population(table, lang, publication, min_n)
    rows = by_scale(table)
    axis = "report.chart.share_axis" if rows and rows[0].percent else "report.chart.mean_axis"
    return grouped_bars(table, rows, lang, publication, min_n, t(axis, lang=lang))


def build_charts(
    data: ReportData, charts_dir: Path, lang: str, publication: bool, min_n: int
) -> list[Chart]:
    """Draw every chart of the report, in report order."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    return draw_charts(data, plan_charts(data, lang), charts_dir, lang, publication, min_n)
