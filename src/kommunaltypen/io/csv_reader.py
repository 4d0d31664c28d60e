"""CSV reader: UTF-8 (with or without BOM) or cp1252, ``,``/``;``/tab sniffed, decimal commas.

The fast path keeps the data lazy (``pl.LazyFrame`` of strings) so that the validator can parse
and check it in one streaming pass without holding every cell as a string in memory.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t
from kommunaltypen.io._common import Meta, Progress, check_file, report

_CHUNK = 1 << 24
_DELIMITERS = (";", ",", "\t", "|")


def detect_encoding(path: Path) -> str:
    """``utf-8`` (BOM allowed) if the whole file decodes as UTF-8, else ``cp1252``.

    Raises :class:`InputFileError` for binary files (NUL bytes) and files that are neither.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                if b"\x00" in chunk:
                    raise InputFileError(t("validate.file_binary", file=path))
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    except OSError as exc:
        raise InputFileError(t("validate.file_unreadable", file=path, error=exc)) from exc
    try:
        path.read_bytes().decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputFileError(t("validate.file_encoding", file=path)) from exc
    return "cp1252"


def sniff_delimiter(header: str) -> str:
    """The delimiter that occurs most often in the header line (``,`` on a tie or none)."""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def _first_line(path: Path, encoding: str) -> str:
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding) as fh:
        for line in fh:
            if line.strip():
                return line.rstrip("\r\n")
    raise InputFileError(t("validate.file_empty", file=path))


def open_csv(
    path: str | Path, *, encoding: str | None = None, delimiter: str | None = None
) -> tuple[pl.LazyFrame, Meta]:
    """Scan a CSV lazily as strings; the header must be on the first non-empty line."""
    p = check_file(path)
    enc = encoding or detect_encoding(p)
    header = _first_line(p, enc)
    sep = delimiter or sniff_delimiter(header)
    if enc == "utf-8":
        source: Path | bytes = p
    else:
        source = p.read_bytes().decode(enc).encode("utf-8")
    meta = Meta(
        source=str(p), format="csv", encoding=enc, delimiter=sep, decimal_comma=sep != ","
    )
    try:
        lf = pl.scan_csv(
            source,
            separator=sep,
            infer_schema=False,
            truncate_ragged_lines=True,
            raise_if_empty=True,
        )
        names = lf.collect_schema().names()
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputFileError(t("validate.file_not_csv", file=p, error=_short(exc))) from exc
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or any(n.endswith("_duplicated_0") for n in names):
        raise InputFileError(t("validate.duplicate_columns", file=p, columns=", ".join(dupes)))
    return lf, meta


def collect(lf: pl.LazyFrame, path: str | Path) -> pl.DataFrame:
    """Collect a lazily scanned CSV, turning polars errors into :class:`InputFileError`."""
    try:
        return lf.collect(engine="streaming")
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputFileError(t("validate.file_not_csv", file=path, error=_short(exc))) from exc


def read_csv(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    lazy: bool = False,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame | pl.LazyFrame, Meta]:
    """Read a CSV as a frame of strings (``lazy=True``: a ``LazyFrame``) and its :class:`Meta`."""
    report(progress, "read", 0.0)
    lf, meta = open_csv(path, encoding=encoding, delimiter=delimiter)
    if lazy:
        return lf, meta
    df = collect(lf, path)
    report(progress, "read", 1.0)
    return df, meta


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
