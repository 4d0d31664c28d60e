"""Writers for canonical data: CSV (UTF-8, ``,``), XLSX and SPSS ``.sav``.

Reading a written file back with the matching reader and validating it gives the same
canonical data (see the round-trip tests). Nulls are written empty (SPSS: system-missing),
except item non-response in an answered multiple-choice/ranking question, which is written
as the missing code −9 (see :func:`with_item_nonresponse`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from kommunaltypen.codebook import MULTI_COLUMN_KINDS, Codebook, default_codebook
from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t


def item_nonresponse_code(codebook: Codebook) -> int:
    """The missing code written for item non-response (−9 "keine Angabe")."""
    by_id = {m.id: m.code for m in codebook.missing_codes}
    return by_id.get("keine_angabe", min(codebook.missing_values))


def with_item_nonresponse(df: pl.DataFrame, codebook: Codebook | None = None) -> pl.DataFrame:
    """Mark item non-response for writing: in multiple-choice and ranking questions, an empty
    (null) option cell of a row that answered the question becomes the missing code −9 —
    written empty, it would read back as 0 ("not ticked"). Rows that did not answer the
    question at all stay empty."""
    cb = codebook or default_codebook()
    exprs = []
    for q in cb:
        if q.kind not in MULTI_COLUMN_KINDS:
            continue
        cols = [c for c in q.columns if c in df.columns and df.schema[c].is_numeric()]
        if not cols or sum(df.get_column(c).null_count() for c in cols) == 0:
            continue
        answered = pl.any_horizontal([pl.col(c).is_not_null() for c in cols])
        code = item_nonresponse_code(cb)
        exprs.extend(
            pl.when(answered).then(pl.col(c).fill_null(code)).otherwise(pl.col(c)).alias(c)
            for c in cols
        )
    return df.with_columns(exprs) if exprs else df


def write_csv(df: pl.DataFrame, path: Path, codebook: Codebook | None = None) -> None:
    with_item_nonresponse(df, codebook).write_csv(path, separator=",", null_value="")


def write_xlsx(
    df: pl.DataFrame,
    path: Path,
    codebook: Codebook | None = None,
    *,
    sheet: str = "Daten",
    extra_sheets: dict[str, list[list[object]]] | None = None,
) -> None:
    """Write the data to worksheet ``sheet`` (header in row 1); ``extra_sheets`` maps
    further sheet names to rows (e.g. an explanation of the columns)."""
    import xlsxwriter

    df = with_item_nonresponse(df, codebook)
    wb = xlsxwriter.Workbook(str(path))
    try:
        bold = wb.add_format({"bold": True})
        ws = wb.add_worksheet(sheet)
        ws.write_row(0, 0, df.columns, bold)
        ws.freeze_panes(1, 0)
        for r, row in enumerate(df.iter_rows(), start=1):
            for c, value in enumerate(row):
                if value is not None:
                    ws.write(r, c, value)
        for name, rows in (extra_sheets or {}).items():
            extra = wb.add_worksheet(name)
            for r, row in enumerate(rows):
                extra.write_row(r, 0, row, bold if r == 0 else None)
    finally:
        wb.close()


def sav_metadata(df: pl.DataFrame, codebook: Codebook) -> dict[str, object]:
    """Variable labels, value labels and user-missing declarations for ``write_sav``."""
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[float, str]] = {}
    missing: dict[str, list[float]] = {}
    missing_labels = {float(m.code): m.label_de for m in codebook.missing_codes}
    missing_codes = sorted(float(m.code) for m in codebook.missing_codes)[:3]
    for col in df.columns:
        try:
            q, opt = codebook.column_owner(col)
        except Exception:
            continue
        labels[col] = f"{q.label_de}: {opt.label_de}" if opt else q.label_de
        if q.kind == "text":
            continue
        vl: dict[float, str] = {}
        if q.kind == "single":
            vl = {float(o.code): o.label_de for o in q.options}
        elif q.kind == "ordinal":
            vl = {float(s.code): s.label_de for s in q.scale_labels}
        elif q.kind == "multiple":
            vl = {1.0: "ausgewählt", 0.0: "nicht ausgewählt"}
        elif q.kind == "ranking":
            vl = {0.0: "nicht gewählt"} | {float(r): f"Rang {r}" for r in range(1, q.max_rank + 1)}
        value_labels[col] = vl | missing_labels
        missing[col] = missing_codes
    return {
        "column_labels": labels,
        "variable_value_labels": value_labels,
        "missing_ranges": missing,
    }


def to_pandas(df: pl.DataFrame) -> Any:
    """A pandas frame for pyreadstat without needing pyarrow: numbers as float64 (null ->
    NaN, i.e. system-missing), everything else as text (null -> "")."""
    import pandas as pd

    data = {}
    for c, d in df.schema.items():
        s = df.get_column(c)
        if d.is_numeric() or d == pl.Boolean:
            data[c] = s.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        else:
            data[c] = pd.Series(s.cast(pl.String).fill_null("").to_list(), dtype=object)
    return pd.DataFrame(data, columns=df.columns)


def write_sav(df: pl.DataFrame, path: Path, codebook: Codebook | None = None) -> None:
    """SPSS file with variable labels, value labels and the codebook's missing codes declared
    as user-missing values (nulls are written as system-missing)."""
    import pyreadstat

    cb = codebook or default_codebook()
    df = with_item_nonresponse(df, cb)
    pdf = to_pandas(df)
    meta = sav_metadata(df, cb)
    column_labels = meta["column_labels"]
    pyreadstat.write_sav(
        pdf,
        str(path),
        column_labels=[column_labels.get(c, "") for c in df.columns],  # type: ignore[union-attr]
        variable_value_labels=meta["variable_value_labels"],
        missing_ranges=meta["missing_ranges"],
    )


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "sav": write_sav}


def write_data(
    df: pl.DataFrame,
    path: str | Path,
    format: str | None = None,
    codebook: Codebook | None = None,
) -> Path:
    """Write ``df`` as csv, xlsx or sav (format from ``format`` or the file extension)."""
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".")).lower()
    if fmt == "zsav":
        fmt = "sav"
    writer = WRITERS.get(fmt)
    if writer is None:
        raise InputFileError(
            t("validate.unknown_write_format", file=p, value=fmt, expected=", ".join(WRITERS))
        )
    try:
        writer(df, p, codebook)
    except OSError as exc:
        raise InputFileError(t("validate.file_unwritable", file=p, error=exc)) from exc
    return p
