"""CSV reader: UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode-Text"), or cp1252;
``,``/``;``/tab/``|`` sniffed; decimal commas.

Encoding: a byte order mark decides (UTF-8, UTF-16 LE/BE); UTF-16 without a mark is
recognised by its zero bytes. Otherwise the file is parsed as UTF-8; if polars finds invalid
UTF-8 (or the header is not UTF-8), it is decoded as cp1252 instead. Everything not UTF-8 is
transcoded to UTF-8 in memory before polars parses it.

The source is a path, the file's bytes or a binary file object (see
:func:`kommunaltypen.io._common.as_source`); ``filename`` names it in messages.

Fast path: ``dtypes`` names columns that should be parsed as numbers by polars' CSV parser
(Int64/Float64, decimal comma when ``;`` separates). If a column holds anything else (text,
``3.0`` in an integer column …), polars reports it and that column is re-read as text, so
nothing is lost: the validator then reports every offending cell. Header names match
``dtypes`` keys without regard to case and surrounding blanks (the validator renames them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

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

_SNIFF = 1 << 16
_DELIMITERS = (";", ",", "\t", "|")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the start looks like UTF-16 text without a byte order mark
    (every second byte zero, as ASCII text gives), else None."""
    sample = head[:256]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) == len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) == len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def sniff(source: SourceLike, filename: str | None = None) -> tuple[str, str]:
    """``(encoding, header line)`` from the start of the file; raises :class:`InputFileError`
    for binary files (NUL bytes outside UTF-16) and files without a header line."""
    src = as_source(source, filename)
    head = src.head(_SNIFF)
    encoding = None
    for bom, enc in _BOMS:
        if head.startswith(bom):
            head, encoding = head[len(bom) :], enc
            break
    if encoding is None and b"\x00" in head:
        encoding = _utf16_without_bom(head)
        if encoding is None:
            raise InputFileError(t("validate.file_binary", file=src.name))
    if encoding in ("utf-16-le", "utf-16-be"):
        text = head[: len(head) - len(head) % 2].decode(encoding, errors="replace")
    else:
        encoding = "utf-8"
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4:  # a character cut at the end of the sniffed block
                text = head[: exc.start].decode("utf-8")
            else:
                encoding = "cp1252"
                text = _decode_cp1252(head, src.name)
    for line in text.splitlines():
        if line.strip():
            return encoding, line
    raise InputFileError(t("validate.file_empty", file=src.name))


def _decode_cp1252(data: bytes, name: str) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputFileError(t("validate.file_encoding", file=name)) from exc


def sniff_delimiter(header: str) -> str:
    """The delimiter that occurs most often in the header line (``,`` on a tie or none)."""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


_MAX_RETRIES = 12
_PARSE_ERROR = re.compile(r"at column '(.+?)' \(column number \d+\)")


def _read(
    source: Path | bytes, sep: str, dtypes: Mapping[str, pl.DataType] | None, name: str
) -> pl.DataFrame:
    names = (
        pl.scan_csv(source, separator=sep, infer_schema=False, truncate_ragged_lines=True, n_rows=0)
        .collect_schema()
        .names()
    )
    check_duplicate_names(names, name, polars_renamed=True)
    by_key = {_key(n): d for n, d in (dtypes or {}).items()}
    typed = {n: by_key[_key(n)] for n in names if _key(n) in by_key}

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


def _key(name: str) -> str:
    return name.strip().casefold()


def read_csv(
    path: SourceLike,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    dtypes: Mapping[str, pl.DataType] | None = None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, Meta]:
    """Read a CSV (path, bytes or binary file object) as a frame of strings; columns in
    ``dtypes`` are parsed as those types where every cell allows it (see the module
    docstring). ``filename`` names an upload in messages."""
    report(progress, "read", 0.0)
    src = as_source(path, filename)
    sniffed, header = sniff(src)
    enc = encoding or sniffed
    sep = delimiter or sniff_delimiter(header)
    meta = Meta(
        source=src.name, format="csv", encoding=enc, delimiter=sep, decimal_comma=sep != ","
    )
    try:
        if enc == "utf-8":
            try:
                df = _read(src.for_reader(), sep, dtypes, src.name)
            except pl.exceptions.ComputeError as exc:
                if "utf-8" not in str(exc).lower() or encoding:
                    raise
                meta.encoding = "cp1252"
                df = _read(_transcode(src, "cp1252"), sep, dtypes, src.name)
        else:
            df = _read(_transcode(src, enc), sep, dtypes, src.name)
    except InputFileError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputFileError(t("validate.file_not_csv", file=src.name, error=_short(exc))) from exc
    report(progress, "read", 1.0)
    return df, meta


def _transcode(src: Source, encoding: str) -> bytes:
    data = src.read_bytes()
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputFileError(t("validate.file_encoding", file=src.name)) from exc
    return text.removeprefix("\ufeff").encode("utf-8")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
