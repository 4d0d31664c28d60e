"""SPSS reader (.sav, .zsav) via pyreadstat, honouring value labels and user-missing values
(except the codebook's missing codes, which the validator handles)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t
from kommunaltypen.io._common import (
    Meta,
    Progress,
    SourceLike,
    as_source,
    pandas_to_polars,
    report,
)


def _missing_expr(
    name: str, ranges: list[dict[str, Any]], dtype: pl.DataType, keep: list[float]
) -> pl.Expr:
    col = pl.col(name)
    hit = pl.lit(False)
    for r in ranges:
        lo, hi = r.get("lo"), r.get("hi")
        if dtype.is_numeric() and isinstance(lo, int | float) and isinstance(hi, int | float):
            hit = hit | col.is_between(lo, hi)
        elif not dtype.is_numeric() and isinstance(lo, str):
            hit = hit | (col == lo)
    if keep and dtype.is_numeric():
        hit = hit & ~col.is_in(keep)
    return pl.when(hit).then(None).otherwise(col).alias(name)


def read_sav(
    path: SourceLike,
    *,
    filename: str | None = None,
    missing_codes: Iterable[int] | None = None,
    progress: Progress | None = None,
    **_: object,
) -> tuple[pl.DataFrame, Meta]:
    """Read an SPSS file. Values the file declares user-missing become null (the declaration
    is kept in ``meta.user_missing``) — except the codebook's missing codes (``missing_codes``,
    default: the shipped codebook's −1/−8/−9), which keep their value: the validator turns
    them into null itself, and in multiple-choice/ranking option columns a code (item
    non-response) means something else than an empty cell ("not ticked"). Value labels are
    kept in ``meta.value_labels``. ``path``: a path, bytes or binary file object (pyreadstat
    needs a real file: data in memory is spooled to a temporary file, removed afterwards);
    ``filename`` names it in messages."""
    import pyreadstat

    if missing_codes is None:
        from kommunaltypen.codebook import default_codebook

        missing_codes = default_codebook().missing_values
    keep = sorted(float(c) for c in missing_codes)
    src = as_source(path, filename)
    report(progress, "read", 0.0)
    notes = []
    try:
        with src.local_path() as p:
            try:
                pdf, pmeta = pyreadstat.read_sav(str(p), user_missing=True)
            except (ValueError, OverflowError):  # dates pandas cannot hold: keep as numbers
                pdf, pmeta = pyreadstat.read_sav(
                    str(p), user_missing=True, disable_datetime_conversion=True
                )
                notes.append(t("validate.note_sav_dates"))
    except Exception as exc:  # pyreadstat raises several unrelated types for broken files
        raise InputFileError(t("validate.file_not_sav", file=src.name, error=exc)) from exc
    df = pandas_to_polars(pdf)
    ranges: dict[str, list[dict[str, Any]]] = dict(pmeta.missing_ranges or {})
    for name, values in (getattr(pmeta, "missing_user_values", None) or {}).items():
        ranges.setdefault(name, []).extend({"lo": v, "hi": v} for v in values)
    exprs = [_missing_expr(n, r, df.schema[n], keep) for n, r in ranges.items() if n in df.columns]
    if exprs:
        df = df.with_columns(exprs)
    meta = Meta(
        source=src.name,
        format="sav",
        encoding=getattr(pmeta, "file_encoding", None),
        first_data_row=1,
        column_labels={
            n: lab for n, lab in zip(pmeta.column_names, pmeta.column_labels, strict=False) if lab
        },
        value_labels=dict(pmeta.variable_value_labels or {}),
        user_missing={
            n: [
                (r.get("lo"), r.get("hi")) if r.get("lo") != r.get("hi") else r.get("lo")
                for r in rs
            ]
            for n, rs in ranges.items()
        },
    )
    meta.notes.extend(notes)
    report(progress, "read", 1.0)
    return df, meta
