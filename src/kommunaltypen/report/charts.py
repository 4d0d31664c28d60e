"""Charts of the report (matplotlib; Okabe–Ito colours, labels in the report language).

Every chart is written as PNG and SVG into ``DIR/charts/``; the SVG text is also returned so
the HTML report can inline it (no external files, no requests). Suppressed cells (publication
mode) are left out of the charts.
"""

from __future__ import annotations

import re
import textwrap
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from kommunaltypen.i18n import t
from kommunaltypen.report.fmt import is_hidden, number
from kommunaltypen.report.model import (
    NEW_TYPE,
    TYPE_IDS,
    ReportData,
    TableModel,
    TableRow,
    default_type_labels,
    is_type_key,
)

matplotlib.use("Agg")

# Okabe & Ito (2008) colour-blind-safe palette.
TYPE_COLOURS = {
    "bedaechtige": "#E69F00",
    "optimierer": "#0072B2",
    "serviceorientierte": "#009E73",
    "community_manager": "#CC79A7",
    "gesamt": "#555555",
}
EXTRA_COLOURS = ("#56B4E9", "#D55E00", "#000000", "#F0E442")  # new types, other series


def colour(key: str, position: int) -> str:
    """Colour of a series: fixed per study type, per new type number, else by position."""
    if key in TYPE_COLOURS:
        return TYPE_COLOURS[key]
    if NEW_TYPE.fullmatch(key):
        return EXTRA_COLOURS[(int(key.split("_")[1]) - 1) % len(EXTRA_COLOURS)]
    return EXTRA_COLOURS[position % len(EXTRA_COLOURS)]


HATCHES: dict[str, str] = {}  # colours are colour-blind-safe; hatching made charts slow

PNG_DPI = 130  # also the charts of the PDF (raster keeps WeasyPrint fast)

RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "kommunaltypen",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "metadata": None,
}


@dataclass
class Chart:
    id: str
    title: str
    svg: str  # inline SVG markup (without XML prolog)
    png_path: Path
    svg_path: Path
    table: int | None = None


def _wrap(text: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _value(row: TableRow, key: str, publication: bool, min_n: int) -> float | None:
    cell = row.cells.get(key)
    if cell is None or is_hidden(cell, publication, min_n):
        return None
    return cell.value


def _save(fig: Figure, chart_id: str, title: str, charts_dir: Path, table: int | None) -> Chart:
    png = charts_dir / f"{chart_id}.png"
    svg = charts_dir / f"{chart_id}.svg"
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None})
        fig.set_layout_engine("none")  # laid out for the PNG already; same layout for the SVG
        fig.savefig(svg, metadata={"Date": None, "Creator": None})
    text = svg.read_text(encoding="utf-8")
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    # unique ids per chart: several SVGs live in one HTML document
    text = re.sub(r'id="([^"]+)"', rf'id="{chart_id}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", text)
    text = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{chart_id}-\1"', text)
    text = text.replace("<svg ", f'<svg role="img" aria-label="{_attr(title)}" ', 1)
    return Chart(chart_id, title, text, png, svg, table)


def _format_axis(ax, lang: str) -> None:
    """Tick labels in the report language's notation (German: decimal comma)."""
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _pos: number(v, 0 if float(v).is_integer() else 1, lang))
    )


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _figure(n_rows: int, n_series: int) -> Figure:
    height = max(1.9, 1.0 + n_rows * (0.11 * n_series + 0.14))
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        return Figure(figsize=(7.2, height), layout="constrained")


def grouped_bars(
    table: TableModel,
    rows: list[TableRow],
    data: ReportData,
    lang: str,
    publication: bool,
    min_n: int,
    xlabel: str,
) -> Figure:
    """Horizontal grouped bars: one group per row, one bar per type."""
    series = [c.key for c in table.type_columns] or [c.key for c in table.columns]
    names = {c.key: column_label(c.key, c.label, lang, c.label_en) for c in table.columns}
    fig = _figure(len(rows), len(series))
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        ax = fig.add_subplot()
        height = 0.8 / max(1, len(series))
        planned_shown = False
        for s, key in enumerate(series):
            ys, xs, ys2, xs2, lefts = [], [], [], [], []
            for i, row in enumerate(rows):
                value = _value(row, key, publication, min_n)
                if value is not None:
                    y = len(rows) - 1 - i + 0.4 - (s + 0.5) * height
                    ys.append(y)
                    xs.append(value)
                    cell = row.cells.get(key)
                    if cell is not None and cell.value2 is not None:
                        ys2.append(y)
                        xs2.append(cell.value2)
                        lefts.append(value)
            ax.barh(
                ys,
                xs,
                height=height * 0.95,
                color=colour(key, s),
                hatch=HATCHES.get(key, ""),
                edgecolor="white",
                linewidth=0.3,
                label=names.get(key, key),
            )
            if ys2:  # Table 12: offered (solid) followed by planned (light, hatched)
                ax.barh(
                    ys2,
                    xs2,
                    left=lefts,
                    height=height * 0.95,
                    color=colour(key, s),
                    alpha=0.35,
                    hatch="///",
                    edgecolor="white",
                    linewidth=0.3,
                    label=None if planned_shown else t("report.chart.planned", lang=lang),
                )
                planned_shown = True
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([_wrap(r.label(lang)) for r in reversed(rows)])
        ax.set_xlabel(xlabel)
        _format_axis(ax, lang)
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
        n_entries = len(series) + (1 if planned_shown else 0)
        ncols = 4 if n_entries <= 4 else 3
        handles, labels = ax.get_legend_handles_labels()
        planned_label = t("report.chart.planned", lang=lang)
        order = sorted(range(len(labels)), key=lambda i: labels[i] == planned_label)
        fig.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            loc="outside upper center",
            ncols=ncols,
            frameon=False,
        )
    return fig


def centre_profile(table: TableModel, data: ReportData, lang: str, publication: bool, min_n: int):
    """Goal profile of each type (cluster centres, Table 1) as a dot-and-line profile."""
    rows = table.rows
    fig = _figure(len(rows), 3)
    markers = {
        "bedaechtige": "o",
        "optimierer": "s",
        "serviceorientierte": "D",
        "community_manager": "^",
    }
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
                marker=markers.get(col.key, "o"),
                color=colour(col.key, s),
                label=data.type_label(col.key, lang),
            )
        ax.set_yticks(ys)
        ax.set_yticklabels([_wrap(r.label(lang), 40) for r in rows])
        ax.set_xlim(0, 3.08)  # room for markers at the maximum of 3 points
        _format_axis(ax, lang)
        ax.set_xlabel(t("report.chart.centre_axis", lang=lang))
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        fig.legend(loc="outside upper center", ncols=4, frameon=False)
    return fig


def type_shares(table: TableModel, data: ReportData, lang: str, publication: bool, min_n: int):
    """Stacked 100 % bars: type shares per Kommunenart (Table 2)."""
    columns = table.columns
    fig = _figure(len(columns), 1)
    with matplotlib.rc_context({k: v for k, v in RC.items() if k != "metadata"}):
        ax = fig.add_subplot()
        left = [0.0] * len(columns)
        ys = list(range(len(columns) - 1, -1, -1))
        for row in table.rows:
            type_id = row.key
            widths = [_value(row, c.key, publication, min_n) or 0.0 for c in columns]
            ax.barh(
                ys,
                widths,
                left=left,
                color=TYPE_COLOURS.get(type_id, "#999999"),
                hatch=HATCHES.get(type_id, ""),
                edgecolor="white",
                label=data.type_label(type_id, lang) if type_id in TYPE_IDS else row.label(lang),
            )
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(ys)
        ax.set_yticklabels([column_label(c.key, c.label, lang, c.label_en) for c in columns])
        ax.set_xlim(0, 100)
        _format_axis(ax, lang)
        ax.set_xlabel(t("report.chart.share_axis", lang=lang))
        fig.legend(loc="outside upper center", ncols=4, frameon=False)
    return fig


def column_label(key: str, label: str, lang: str, label_en: str | None = None) -> str:
    """Display label of a table column (types, Gesamt, Kommunenart groups)."""
    if key in TYPE_IDS:
        return default_type_labels()[key][lang]
    if lang == "en" and label_en:
        return label_en
    msg = f"report.column.{key}"
    from kommunaltypen.i18n import catalog

    if msg in catalog():
        return t(msg, lang=lang)
    return label


def _by_scale(table: TableModel) -> tuple[list[TableRow], list[TableRow]]:
    percent = [r for r in table.rows if r.percent]
    other = [r for r in table.rows if not r.percent]
    return percent, other


def chart_for_table(
    data: ReportData, table_no: int, charts_dir: Path, lang: str, publication: bool, min_n: int
) -> Chart:
    """Draw and save the chart of one appendix table (Table 1: goal profile, 2: type shares,
    3: populations, 4: priority fields, 5–16: grouped bars per topic)."""
    table = data.tables[table_no]
    keys = {c.key for c in table.columns}
    if table_no == 1 and all(is_type_key(k) for k in keys):
        fig = centre_profile(table, data, lang, publication, min_n)
        return _save(fig, "zielprofil", t("report.chart.centres", lang=lang), charts_dir, 1)
    if table_no == 2 and "allen" in keys:
        fig = type_shares(table, data, lang, publication, min_n)
        return _save(fig, "typenanteile", t("report.chart.shares", lang=lang), charts_dir, 2)
    if table_no == 3 and "in_kreisen" in keys:
        fig = _population_chart(table, data, lang, publication, min_n)
        title = t("report.chart.population", lang=lang)
        return _save(fig, "tabelle_03", title, charts_dir, 3)
    percent, other = _by_scale(table)
    rows, axis = (
        (percent, "report.chart.share_axis") if percent else (other, "report.chart.mean_axis")
    )
    fig = grouped_bars(table, rows, data, lang, publication, min_n, t(axis, lang=lang))
    chart_id = "handlungsfelder" if table_no == 4 else f"tabelle_{table_no:02d}"
    return _save(fig, chart_id, table.caption(lang), charts_dir, table_no)


# Parallel drawing: workers are forked after _JOB is set, so they share the data without pickling.
_JOB: tuple[ReportData, Path, str, bool, int] | None = None


def _draw(table_no: int) -> Chart:
    assert _JOB is not None
    data, charts_dir, lang, publication, min_n = _JOB
    return chart_for_table(data, table_no, charts_dir, lang, publication, min_n)


def build_charts(
    data: ReportData,
    charts_dir: Path,
    lang: str,
    publication: bool,
    min_n: int,
    pool: Executor | None = None,
) -> list[Chart]:
    """Draw every chart of the report (in ``pool`` when given: a fork-based process pool
    created after :func:`prepare_pool`); returns them in report order."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    numbers = sorted(data.tables)
    if pool is None:
        return [chart_for_table(data, n, charts_dir, lang, publication, min_n) for n in numbers]
    return list(pool.map(_draw, numbers))


def prepare_pool(data: ReportData, charts_dir: Path, lang: str, publication: bool, min_n: int):
    """Set the job that forked chart workers will see (call before creating the pool)."""
    global _JOB
    charts_dir.mkdir(parents=True, exist_ok=True)
    _JOB = (data, charts_dir, lang, publication, min_n)


def _population_chart(table: TableModel, data: ReportData, lang, publication, min_n):
    """Grouped medians of the population per type and area (Table 3)."""
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
            ax.barh(
                ys,
                xs,
                height=height * 0.95,
                color=colour(row.key, s),
                hatch=HATCHES.get(row.key, ""),
                edgecolor="white",
                label=data.type_label(row.key, lang) if row.key in TYPE_IDS else row.label(lang),
            )
        ax.set_yticks(ys_base)
        ax.set_yticklabels([column_label(c.key, c.label, lang, c.label_en) for c in table.columns])
        ax.set_xlabel(t("report.chart.population_axis", lang=lang))
        _format_axis(ax, lang)
        fig.legend(loc="outside upper center", ncols=4, frameon=False)
    return fig
