"""The Excel report: one sheet per table, the assignments, the codebook, rejected rows and the
recommendations. Cell values are numbers, not text; no text cell can become a formula."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from kommunaltypen.codebook import MULTI_COLUMN_KINDS, default_codebook
from kommunaltypen.i18n import t
from kommunaltypen.report.model import ReportData
from kommunaltypen.report.recommendations import all_recommendations
from kommunaltypen.report.renderers.common import table_view
from kommunaltypen.report.renderers.xlsx import SafeSheet, write_table


def _frame_sheet(workbook: Any, name: str, frame: pd.DataFrame) -> None:
    ws = workbook.add_worksheet(name)
    sheet = SafeSheet(workbook, ws)
    head = sheet.fmt(bold=True, bottom=1)
    for c, col in enumerate(frame.columns):
        sheet.write(0, c, str(col), head)
    for r, rec in enumerate(frame.itertuples(index=False), start=1):
        for c, value in enumerate(rec):
            if isinstance(value, float) and value != value:
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            sheet.write(r, c, value)
    ws.freeze_panes(1, 0)
    ws.set_column(0, max(0, len(frame.columns) - 1), 14)


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
    data: ReportData, path: Path, lang: str, publication: bool = False, min_n: int = 5
) -> Path:
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    workbook = xlsxwriter.Workbook(str(path), options)
    workbook.set_properties({"title": t("report.title", lang=lang), "comments": "kommunaltypen"})
    try:
        for number, table in data.tables.items():
            view = table_view(table, data, lang, publication, min_n)
            write_table(
                workbook, view, lang, t("report.xlsx.sheet_table", lang=lang, number=number)
            )
        assignments = data.assignments.copy()
        if "type" in assignments:
            assignments.insert(
                2,
                "label",
                assignments["type"].map(
                    lambda v: data.type_label(v, lang) if isinstance(v, str) else None
                ),
            )
        _frame_sheet(workbook, t("report.xlsx.sheet_assignments", lang=lang), assignments)
        header = t("report.xlsx.codebook_header", lang=lang).split("|")
        _frame_sheet(
            workbook,
            t("report.xlsx.sheet_codebook", lang=lang),
            pd.DataFrame(_codebook_rows(lang), columns=header),
        )
        recs = all_recommendations(data, lang, publication, min_n)
        header = t("report.xlsx.recs_header", lang=lang).split("|")
        _frame_sheet(
            workbook,
            t("report.xlsx.sheet_recommendations", lang=lang),
            pd.DataFrame(
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
                columns=header,
            ),
        )
        rejected = data.rejected if data.rejected is not None else pd.DataFrame()
        _frame_sheet(workbook, t("report.xlsx.sheet_rejected", lang=lang), rejected)
    finally:
        workbook.close()
    return path
