"""Readers and writers of survey files.

``READERS`` maps a format name to a reader ``reader(source, *, filename=None, **options) ->
(data, meta)``; ``source`` is a path, the file's bytes or a binary file object (an upload),
``filename`` the name shown in messages and used to detect the format. ``data``
is a polars frame of the file's columns as they are (strings for CSV/XLSX/LimeSurvey, numbers
and strings for SPSS), ``meta`` a :class:`Meta` (source, format, encoding, delimiter, labels,
value labels, user-missing declarations …), like pyreadstat's ``(df, meta)``.
``detect_format(source)`` picks the reader by extension and content; ``read_data`` does both.
``write_data(df, path, format=None, codebook=None)`` writes canonical data as csv, xlsx or sav.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t
from kommunaltypen.io._common import Meta, Progress, Source, SourceLike, as_source
from kommunaltypen.io.csv_reader import read_csv, sniff, sniff_delimiter
from kommunaltypen.io.limesurvey_reader import looks_like_limesurvey, read_limesurvey
from kommunaltypen.io.sav_reader import read_sav
from kommunaltypen.io.writers import WRITERS, write_data
from kommunaltypen.io.xlsx_reader import ROW_COLUMN, read_xlsx

Reader = Callable[..., tuple[Any, Meta]]

READERS: dict[str, Reader] = {
    "csv": read_csv,
    "xlsx": read_xlsx,
    "sav": read_sav,
    "limesurvey": read_limesurvey,
}

_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".sav": "sav",
    ".zsav": "sav",
}

__all__ = [
    "READERS",
    "ROW_COLUMN",
    "WRITERS",
    "Meta",
    "Progress",
    "Source",
    "SourceLike",
    "as_source",
    "detect_format",
    "read_data",
    "write_data",
]


def detect_format(source: SourceLike, filename: str | None = None) -> str:
    """The reader name for ``source`` (path, bytes or binary file object; ``filename``: its
    name, for the extension and messages): by content signature first (SPSS, XLSX), then by
    extension; CSV files whose header looks like a LimeSurvey export give ``limesurvey``."""
    src = as_source(source, filename)
    head = src.head(4)
    name, suffix = src.name, src.suffix
    if head in (b"$FL2", b"$FL3"):
        return "sav"
    if head == b"PK\x03\x04":
        if suffix in (".xlsx", ".xlsm", ""):
            return "xlsx"
        raise InputFileError(
            t("validate.unknown_format", file=name, expected=", ".join(sorted(READERS)))
        )
    fmt = _EXTENSIONS.get(suffix)
    if fmt in ("sav", "xlsx"):
        raise InputFileError(t("validate.wrong_content", file=name, format=fmt))
    if fmt is None and suffix:
        raise InputFileError(
            t("validate.unknown_format", file=name, expected=", ".join(sorted(_EXTENSIONS)))
        )
    _, header = sniff(src)
    names = [n.strip().strip('"') for n in header.split(sniff_delimiter(header))]
    return "limesurvey" if looks_like_limesurvey(names) else "csv"


def read_data(
    source: SourceLike,
    format: str | None = None,
    *,
    filename: str | None = None,
    dtypes: Mapping[str, pl.DataType] | None = None,
    missing_codes: Iterable[int] | None = None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, Meta]:
    """Read ``source`` — a path, the file's bytes or a binary file object (an upload) — with
    the reader ``format`` (detected when None). ``filename``: the name shown in messages and
    ``meta.source`` and used for format detection (default: the path, or the file object's
    name). ``dtypes``: CSV columns to parse as numbers where possible (the validator's fast
    path). ``missing_codes``: the codebook's missing codes, which the SPSS reader keeps as
    values even where the file declares them user-missing (default: the shipped codebook's).
    A file object is read once, into memory."""
    src = as_source(source, filename)
    fmt = format or detect_format(src)
    reader = READERS.get(fmt)
    if reader is None:
        raise InputFileError(
            t("validate.unknown_reader", value=fmt, expected=", ".join(sorted(READERS)))
        )
    if fmt == "csv":
        return reader(src, dtypes=dtypes, progress=progress)
    if fmt == "sav":
        return reader(src, missing_codes=missing_codes, progress=progress)
    return reader(src, progress=progress)
