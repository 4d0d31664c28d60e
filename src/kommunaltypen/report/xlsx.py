"""The Excel report: one sheet per table, the assignments, the codebook, rejected rows and the
recommendations. Cell values are numbers, not text; no text cell can become a formula."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from kommunaltypen.codebook import MULTI_COLUMN_KINDS, default_codebook
from kommunaltypen.i18n import t
from kommunaltypen.report.model import ReportData
from kommunaltypen.report.recommendations import all_recommendations
from kommunaltypen.report.renderers.common import TableView, table_view
from kommunaltypen.report.renderers.xlsx import SafeSheet, write_table


def _frame_sheet(workbook: Any, name: str, columns: list[str], rows: Any) -> None:
    ws = workbook.add_worksheet(name)
    sheet = SafeSheet(workbook, ws)
    head = sheet.fmt(bold=True, bottom=1)
    for c, col in enumerate(columns):
        sheet.write(0, c, str(col), head)
    for r, rec in enumerate(rows, start=1):
        for c, value in enumerate(rec):
            if isinstance(value, float) and value != value:
                value = None
            sheet.write(r, c, value)
    ws.freeze_panes(1, 0)
    ws.set_column(0, max(0, len(columns) - 1), 14)


def _polars_sheet(workbook: Any, name: str, frame: pl.DataFrame) -> None:
    _frame_sheet(workbook, name, list(frame.columns), frame.iter_rows())


def _codebook_rows(lang: str) -> list[list[Any]]:
    rows = []
    for q in default_codebook():
        label = q.label(lang)
        if q.options and q.kind in MULTI_COLUMN_KINDS:
            for o in q.options:
                rows.append(
                    [q.id, f"{q.id}_{o.id}", q.kind, label, o.code, getattr(o, f"label_{lang}")]
                )
        elif q.options:
            for o in q.options:
                rows.append([q.id, q.id, q.kind, label, o.code, getattr(o, f"label_{lang}")])
        elif q.scale_labels:
            for s in q.scale_labels:
                rows.append([q.id, q.id, q.kind, label, s.code, getattr(s, f"label_{lang}")])
        else:
            rows.append([q.id, q.id, q.kind, label, None, None])
    return rows


def write_xlsx(
    data: ReportData,
    path: Path,
    lang: str,
    publication: bool = False,
    min_n: int = 5,
    views: Mapping[int, TableView] | None = None,
) -> Path:
    """The XLSX report; ``views``: the tables' display strings if already made (for the same
    language and suppression, see :func:`kommunaltypen.report.html.shared_context`)."""
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    workbook = xlsxwriter.Workbook(str(path), options)
    workbook.set_properties({"title": t("report.title", lang=lang), "comments": "kommunaltypen"})
    try:
        for number, table in data.tables.items():
            view = (views or {}).get(number) or table_view(table, data, lang, publication, min_n)
            write_table(
                workbook, view, lang, t("report.xlsx.sheet_table", lang=lang, number=number)
            )
        if data.claims is not None:  # the Thesen-Check
            from kommunaltypen.claims import write_claims_sheet

            write_claims_sheet(workbook, data.claims, lang)
        assignments = data.assignments
        if "type" in assignments.columns:
            labels = {tid: data.type_label(tid, lang) for tid in data.type_ids}
            for tid in assignments["type"].drop_nulls().unique().to_list():
                labels.setdefault(tid, data.type_label(tid, lang))
            label = assignments["type"].replace_strict(labels, default=None, return_dtype=pl.String)
            cols = assignments.get_columns()  # a new frame: the result's stays as it is
            cols.insert(min(2, len(cols)), label.alias("label"))
            assignments = pl.DataFrame(cols)
        _polars_sheet(workbook, t("report.xlsx.sheet_assignments", lang=lang), assignments)
        header = t("report.xlsx.codebook_header", lang=lang).split("|")
        _frame_sheet(
            workbook, t("report.xlsx.sheet_codebook", lang=lang), header, _codebook_rows(lang)
        )
        recs = all_recommendations(data, lang, publication, min_n)
        header = t("report.xlsx.recs_header", lang=lang).split("|")
        _frame_sheet(
            workbook,
            t("report.xlsx.sheet_recommendations", lang=lang),
            header,
            [
                [
                    r.rule_id,
                    r.topic,
                    r.type_label,
                    r.value_text,
                    r.total_text,
                    r.table,
                    r.row_label,
                    r.advice,
                ]
                for r in recs
            ],
        )
        _polars_sheet(workbook, t("report.xlsx.sheet_rejected", lang=lang), data.rejected)
    finally:
        workbook.close()
    return path
