"""Shared pieces of the readers: the ``Meta`` record and file checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t

#: progress callback: ``progress(stage, fraction)`` with ``fraction`` in 0..1
Progress = Callable[[str, float], None]


@dataclass
class Meta:
    """What a reader learnt about a file (modelled on pyreadstat's metadata).

    ``first_data_row`` is the row number the user sees for the first data record: 2 for CSV
    and XLSX (the header is row 1), 1 for SPSS (case number).
    """

    source: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    decimal_comma: bool = False
    first_data_row: int = 2
    column_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    user_missing: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "decimal_comma": self.decimal_comma,
            "first_data_row": self.first_data_row,
            "column_labels": self.column_labels,
            "value_labels": {
                k: {str(c): v for c, v in labels.items()} for k, labels in self.value_labels.items()
            },
            "user_missing": {k: [str(v) for v in vals] for k, vals in self.user_missing.items()},
            "notes": self.notes,
        }


def check_file(path: str | Path) -> Path:
    """The path as :class:`Path`, or :class:`InputFileError` if missing, a folder or empty."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(t("validate.file_missing", file=p))
    if not p.is_file():
        raise InputFileError(t("validate.file_not_a_file", file=p))
    try:
        size = p.stat().st_size
    except OSError as exc:  # pragma: no cover - permission problems
        raise InputFileError(t("validate.file_unreadable", file=p, error=exc)) from exc
    if size == 0:
        raise InputFileError(t("validate.file_empty", file=p))
    return p


def report(progress: Progress | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)


def pandas_to_polars(pdf: Any) -> pl.DataFrame:
    """pandas -> polars without pyarrow: numbers stay numbers (NaN -> null), the rest text."""
    cols = []
    for name in pdf.columns:
        s = pdf[name]
        if s.dtype.kind in "fiub":
            cols.append(pl.Series(str(name), s.to_numpy()).fill_nan(None))
        else:
            cols.append(
                pl.Series(
                    str(name),
                    [None if v is None or v != v else str(v) for v in s.tolist()],
                    dtype=pl.String,
                )
            )
    return pl.DataFrame(cols)


#: whole numbers from this magnitude on do not fit an Int64
INT64_LIMIT = 2.0**63


def float_as_text(col: pl.Expr) -> pl.Expr:
    """A float column as text, whole values without ".0" (SPSS codes: "1" matches ``1``);
    values too large for an Int64 keep their float spelling (e.g. "1e20")."""
    whole = (col == col.round(0)) & (col.abs() < INT64_LIMIT)  # False for inf and NaN
    return (
        pl.when(whole)
        .then(col.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(col.cast(pl.String))
    )
