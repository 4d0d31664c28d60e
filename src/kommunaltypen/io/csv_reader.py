"""CSV reader: UTF-8 (with or without BOM) or cp1252, ``,``/``;``/tab sniffed, decimal commas.

Encoding: the file is parsed as UTF-8; if polars finds invalid UTF-8 (or the header is not
UTF-8), it is decoded as cp1252 instead.

Fast path: ``dtypes`` names columns that should be parsed as numbers by polars' CSV parser
(Int64/Float64, decimal comma when ``;`` separates). If a column holds anything else (text,
``3.0`` in an integer column …), polars reports it and that column is re-read as text, so
nothing is lost: the validator then reports every offending cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t
from kommunaltypen.io._common import Meta, Progress, check_file, report

_SNIFF = 1 << 16
_DELIMITERS = (";", ",", "\t", "|")


def sniff(path: str | Path) -> tuple[str, str]:
    """``(encoding, header line)`` from the start of the file; raises :class:`InputFileError`
    for binary files (NUL bytes) and files without a header line."""
    p = check_file(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(_SNIFF)
    except OSError as exc:
        raise InputFileError(t("validate.file_unreadable", file=p, error=exc)) from exc
    if b"\x00" in head:
        raise InputFileError(t("validate.file_binary", file=p))
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    encoding = "utf-8"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut at the end of the sniffed block
            text = head[: exc.start].decode("utf-8")
        else:
            encoding = "cp1252"
            text = _decode_cp1252(head, p)
    for line in text.splitlines():
        if line.strip():
            return encoding, line
    raise InputFileError(t("validate.file_empty", file=p))


def _decode_cp1252(data: bytes, path: Path) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputFileError(t("validate.file_encoding", file=path)) from exc


def sniff_delimiter(header: str) -> str:
    """The delimiter that occurs most often in the header line (``,`` on a tie or none)."""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


_MAX_RETRIES = 12
_PARSE_ERROR = re.compile(r"at column '(.+?)' \(column number \d+\)")


def _read(
    source: Path | bytes, sep: str, dtypes: Mapping[str, pl.DataType] | None, path: Path
) -> pl.DataFrame:
    names = (
        pl.scan_csv(source, separator=sep, infer_schema=False, truncate_ragged_lines=True, n_rows=0)
        .collect_schema()
        .names()
    )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or any(n.endswith("_duplicated_0") for n in names):
        raise InputFileError(t("validate.duplicate_columns", file=path, columns=", ".join(dupes)))
    typed = {n: d for n, d in (dtypes or {}).items() if n in set(names)}

    def attempt(n_rows: int | None) -> pl.DataFrame:
        return pl.read_csv(
            source,
            separator=sep,
            infer_schema=False,
            schema_overrides=typed or None,
            truncate_ragged_lines=True,
            raise_if_empty=True,
            decimal_comma=sep != ",",
            n_rows=n_rows,
        )

    # a sample first, so that typical problems cost no second full read
    for n_rows in (10_000, None):
        for _ in range(_MAX_RETRIES):
            try:
                frame = attempt(n_rows)
            except pl.exceptions.ComputeError as exc:
                hit = _PARSE_ERROR.search(str(exc))
                if not typed or hit is None or hit.group(1) not in typed:
                    raise
                del typed[hit.group(1)]  # read that column as text
                continue
            if n_rows is None:
                return frame
            break  # the sample parses: go on to the full read
        else:
            typed = {}
    return attempt(None)


def read_csv(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    dtypes: Mapping[str, pl.DataType] | None = None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, Meta]:
    """Read a CSV as a frame of strings; columns in ``dtypes`` are parsed as those types where
    every cell allows it (see the module docstring)."""
    report(progress, "read", 0.0)
    p = check_file(path)
    sniffed, header = sniff(p)
    enc = encoding or sniffed
    sep = delimiter or sniff_delimiter(header)
    meta = Meta(source=str(p), format="csv", encoding=enc, delimiter=sep, decimal_comma=sep != ",")
    try:
        if enc == "utf-8":
            try:
                df = _read(p, sep, dtypes, p)
            except pl.exceptions.ComputeError as exc:
                if "utf-8" not in str(exc).lower() or encoding:
                    raise
                meta.encoding = "cp1252"
                df = _read(_transcode(p, "cp1252"), sep, dtypes, p)
        else:
            df = _read(_transcode(p, enc), sep, dtypes, p)
    except InputFileError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputFileError(t("validate.file_not_csv", file=p, error=_short(exc))) from exc
    report(progress, "read", 1.0)
    return df, meta


def _transcode(path: Path, encoding: str) -> bytes:
    data = path.read_bytes()
    try:
        return data.decode(encoding).encode("utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputFileError(t("validate.file_encoding", file=path)) from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
