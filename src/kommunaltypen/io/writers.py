"""Writers for canonical data: CSV (UTF-8, ``,``), XLSX and SPSS ``.sav``.

Reading a written file back with the matching reader and validating it gives the same
canonical data (see the round-trip tests). Nulls are written empty (SPSS: system-missing),
except item non-response in an answered multiple-choice/ranking question, which is written
as the missing code −9 (see :func:`with_item_nonresponse`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from kommunaltypen.codebook import MULTI_COLUMN_KINDS, Codebook, Question, default_codebook
from kommunaltypen.errors import InputFileError, KommunaltypenError
from kommunaltypen.i18n import get_lang, label, t
from kommunaltypen.schema import is_integer_question, value_bounds


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


#: SPSS measurement level per question kind
MEASURE = {
    "text": "nominal",
    "single": "nominal",
    "multiple": "nominal",
    "ordinal": "ordinal",
    "ranking": "ordinal",
    "number": "scale",
    "percentage": "scale",
}
#: display format of decimal columns (percentages, decimal numbers)
DECIMAL_FORMAT = "F8.2"


def _digits(value: float) -> int:
    return len(str(int(value)))


def sav_format(q: Question, column: pl.Series | None, missing: Iterable[int]) -> str:
    """The SPSS display format of a question's column: ``A<w>`` for text (``w`` = the longest
    value in bytes), ``F<w>.0`` for whole numbers (``w`` = the widest valid value, missing
    code or value in the data, sign included), ``F8.2`` for decimals."""
    if q.kind == "text":
        longest = 0
        if column is not None and column.len() > column.null_count():
            longest = int(column.cast(pl.String).str.len_bytes().max() or 0)  # type: ignore[arg-type]
        return f"A{max(longest, 1)}"
    if not is_integer_question(q):
        return DECIMAL_FORMAT
    values = [*missing, *(value_bounds(q) or ())]
    if column is not None and column.dtype.is_numeric() and column.len() > column.null_count():
        values += [column.min(), column.max()]  # type: ignore[list-item]
    return f"F{max((_digits(v) for v in values if v is not None), default=8)}.0"


def sav_missing(codes: Iterable[int]) -> list[float | dict[str, float]]:
    """User-missing declaration for the missing codes: up to three discrete values (SPSS's
    limit), else one range from the lowest to the highest code."""
    codes = sorted(float(c) for c in codes)
    if len(codes) <= 3:
        return codes  # type: ignore[return-value]
    return [{"lo": codes[0], "hi": codes[-1]}]


def sav_metadata(
    df: pl.DataFrame, codebook: Codebook, lang: str | None = None
) -> dict[str, dict[str, Any]]:
    """What SPSS users expect in a ``.sav``, for ``pyreadstat.write_sav``: variable labels and
    value labels (in ``lang``, default the current language), the missing codes declared as
    user-missing, display formats (``F2.0`` for codes, ``A<w>`` for text …) and measurement
    levels (nominal / ordinal / scale, from the question kind). Columns not in the codebook
    get none of these."""
    lang = lang or get_lang()
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[float, str]] = {}
    missing: dict[str, list[Any]] = {}
    formats: dict[str, str] = {}
    measure: dict[str, str] = {}
    missing_labels = {float(m.code): label(m, lang) for m in codebook.missing_codes}
    declared = sav_missing(codebook.missing_values)
    for col in df.columns:
        try:
            q, opt = codebook.column_owner(col)
        except KommunaltypenError:
            continue
        labels[col] = f"{label(q, lang)}: {label(opt, lang)}" if opt else label(q, lang)
        formats[col] = sav_format(q, df.get_column(col), codebook.missing_values)
        measure[col] = MEASURE[q.kind]
        if q.kind == "text":
            continue
        vl: dict[float, str] = {}
        if q.kind == "single":
            vl = {float(o.code): label(o, lang) for o in q.options}
        elif q.kind == "ordinal":
            vl = {float(s.code): label(s, lang) for s in q.scale_labels}
        elif q.kind == "multiple":
            vl = {
                1.0: t("validate.sav_ticked", lang=lang),
                0.0: t("validate.sav_not_ticked", lang=lang),
            }
        elif q.kind == "ranking":
            vl = {0.0: t("validate.sav_not_ranked", lang=lang)} | {
                float(r): t("validate.sav_rank", lang=lang, rank=r)
                for r in range(1, (q.max_rank or 1) + 1)
            }
        value_labels[col] = vl | missing_labels
        missing[col] = declared
    return {
        "column_labels": labels,
        "variable_value_labels": value_labels,
        "missing_ranges": missing,
        "variable_format": formats,
        "variable_measure": measure,
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


def write_sav(
    df: pl.DataFrame,
    path: Path,
    codebook: Codebook | None = None,
    *,
    mark_item_nonresponse: bool = True,
) -> None:
    """SPSS file as SPSS users expect it (see :func:`sav_metadata`): variable and value labels
    in the current language, the codebook's missing codes declared as user-missing (nulls
    are written as system-missing), display formats and measurement levels.
    ``mark_item_nonresponse=False`` writes the values as they are (for data that still holds
    its missing codes, such as the bundled reconstruction as stored)."""
    import pyreadstat

    cb = codebook or default_codebook()
    if mark_item_nonresponse:
        df = with_item_nonresponse(df, cb)
    meta = sav_metadata(df, cb)
    pyreadstat.write_sav(
        to_pandas(df),
        str(path),
        column_labels={c: meta["column_labels"].get(c) for c in df.columns},
        variable_value_labels=meta["variable_value_labels"],
        missing_ranges=meta["missing_ranges"],
        variable_format=meta["variable_format"],
        variable_measure=meta["variable_measure"],
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
