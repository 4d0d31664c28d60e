"""XLSX reader (openpyxl, read-only): first worksheet, header in row 1."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t
from kommunaltypen.io._common import (
    Meta,
    Progress,
    Source,
    SourceLike,
    as_source,
    check_duplicate_names,
    report,
)

#: column holding the spreadsheet row number of each record (read by the validator)
ROW_COLUMN = "__row__"


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def read_xlsx(
    path: SourceLike,
    *,
    filename: str | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> tuple[pl.DataFrame, Meta]:
    """Read the first (or the named) worksheet as strings; fully empty rows are skipped but
    every record keeps its spreadsheet row number in ``__row__``. ``path``: a path, bytes or
    binary file object; ``filename`` names it in messages."""

    src = as_source(path, filename)
    report(progress, "read", 0.0)
    try:
        return _read(src, sheet, progress)
    except InputFileError:
        raise
    except Exception as exc:  # openpyxl raises many unrelated types for broken files
        raise InputFileError(t("validate.file_not_xlsx", file=src.name, error=exc)) from exc


def _read(src: Source, sheet: str | None, progress: Progress | None) -> tuple[pl.DataFrame, Meta]:
    import openpyxl

    p = src.name
    target = src.path if src.data is None else io.BytesIO(src.data)
    wb = openpyxl.load_workbook(target, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise InputFileError(
                t("validate.sheet_missing", file=p, sheet=sheet, expected=", ".join(wb.sheetnames))
            )
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(h is None for h in header):
            raise InputFileError(t("validate.file_empty", file=p))
        names = [_cell_text(h) or f"column_{i + 1}" for i, h in enumerate(header)]
        while names and header[len(names) - 1] is None:
            names.pop()
        check_duplicate_names(names, p)
        width = len(names)
        columns: list[list[str | None]] = [[] for _ in range(width)]
        row_numbers: list[int] = []
        skipped = 0
        for number, row in enumerate(rows, start=2):
            cells = [_cell_text(v) for v in row[:width]]
            if all(c is None for c in cells):
                skipped += 1
                continue
            cells += [None] * (width - len(cells))
            for col, cell in zip(columns, cells, strict=True):
                col.append(cell)
            row_numbers.append(number)
    finally:
        wb.close()
    data = {n: pl.Series(n, c, dtype=pl.String) for n, c in zip(names, columns, strict=True)}
    df = pl.DataFrame(data).with_columns(pl.Series(ROW_COLUMN, row_numbers, dtype=pl.Int64))
    meta = Meta(source=p, format="xlsx", first_data_row=2)
    if skipped:
        meta.notes.append(t("validate.note_empty_rows", count=skipped))
    report(progress, "read", 1.0)
    return df, meta
