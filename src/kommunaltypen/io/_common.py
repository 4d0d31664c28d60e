"""Shared pieces of the readers: the ``Meta`` record, the ``Source`` of a file (path, bytes
or upload) and file checks."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t

#: progress callback: ``progress(stage, fraction)`` with ``fraction`` in 0..1
from kommunaltypen.vocabulary import Progress


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


@dataclass(frozen=True, eq=False)
class Source:
    """A data file on disk (``path``) or in memory (``data``: an upload), with the ``name``
    that messages show and format detection uses (its extension).

    Build one with :func:`as_source`. Readers take the bytes in memory as they are; a library
    that needs a real file (pyreadstat) gets one through :meth:`local_path`, a temporary copy
    that is removed afterwards."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes."""
        if self.data is not None:
            return self.data[:size]
        try:
            with open(self.path, "rb") as fh:  # type: ignore[arg-type]
                return fh.read(size)
        except OSError as exc:
            raise InputFileError(t("validate.file_unreadable", file=self.name, error=exc)) from exc

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        try:
            return self.path.read_bytes()  # type: ignore[union-attr]
        except OSError as exc:
            raise InputFileError(t("validate.file_unreadable", file=self.name, error=exc)) from exc

    def for_reader(self) -> Path | bytes:
        """What polars/openpyxl can read directly: the path, or the bytes."""
        return self.path if self.data is None else self.data  # type: ignore[return-value]

    @contextmanager
    def local_path(self) -> Iterator[Path]:
        """A real file holding the data: the file itself, or (for data in memory) a
        temporary copy with the same extension, deleted when the block ends."""
        if self.data is None:
            yield self.path  # type: ignore[misc]
            return
        fd, name = tempfile.mkstemp(prefix="kommunaltypen-upload-", suffix=self.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.data)
            yield Path(name)
        finally:
            with suppress(OSError):
                os.unlink(name)


#: what a reader accepts: a path, the file's bytes, or a binary file object (an upload)
SourceLike = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO | Source


def as_source(source: SourceLike, filename: str | None = None) -> Source:
    """A :class:`Source` from a path, bytes or a binary file object (read once, here).
    ``filename``: the name to show in messages and to detect the format by (e.g. the original
    name of an upload); default: the path, or the file object's ``name``, or ``upload``.
    Raises :class:`InputFileError` for missing, folder or empty files."""
    if isinstance(source, Source):
        if filename is None or filename == source.name:
            return source
        return Source(filename, source.path, source.data)
    if isinstance(source, str | os.PathLike):
        p = check_file(source, filename)
        return Source(filename or str(p), path=p)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif hasattr(source, "read"):
        name = filename or _object_name(source)
        try:
            data = source.read()
        except (OSError, ValueError) as exc:
            raise InputFileError(t("validate.file_unreadable", file=name, error=exc)) from exc
        if isinstance(data, str):
            raise InputFileError(t("validate.source_text_mode", file=name))
        data = bytes(data)
        filename = name
    else:
        raise InputFileError(t("validate.source_type", value=type(source).__name__))
    name = filename or "upload"
    if not data:
        raise InputFileError(t("validate.file_empty", file=name))
    return Source(name, data=data)


def _object_name(obj: Any) -> str:
    name = getattr(obj, "name", None)
    return Path(name).name if isinstance(name, str) and name else "upload"


def check_file(path: str | Path, name: str | None = None) -> Path:
    """The path as :class:`Path`, or :class:`InputFileError` if missing, a folder or empty
    (messages name ``name``, default the path)."""
    p = Path(path)
    shown = name or p
    if not p.exists():
        raise InputFileError(t("validate.file_missing", file=shown))
    if not p.is_file():
        raise InputFileError(t("validate.file_not_a_file", file=shown))
    try:
        size = p.stat().st_size
    except OSError as exc:  # pragma: no cover - permission problems
        raise InputFileError(t("validate.file_unreadable", file=shown, error=exc)) from exc
    if size == 0:
        raise InputFileError(t("validate.file_empty", file=shown))
    return p


def report(progress: Progress | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)


_POLARS_DUPLICATE = re.compile(r"^(.*)_duplicated_\d+$")


def duplicate_names(names: list[str], *, polars_renamed: bool = False) -> dict[str, list[int]]:
    """Header names that occur more than once, each with its 1-based column positions.
    ``polars_renamed``: ``names`` come from polars' CSV reader, which renames the second
    ``a`` to ``a_duplicated_0``; such names count as ``a``."""
    originals = []
    present = set(names)
    for n in names:
        hit = _POLARS_DUPLICATE.match(n) if polars_renamed else None
        originals.append(hit.group(1) if hit and hit.group(1) in present else n)
    positions: dict[str, list[int]] = {}
    for i, n in enumerate(originals, start=1):
        positions.setdefault(n, []).append(i)
    return {n: pos for n, pos in positions.items() if len(pos) > 1}


def check_duplicate_names(names: list[str], file: str, *, polars_renamed: bool = False) -> None:
    """:class:`InputFileError` naming every duplicated header (and where it occurs)."""
    dupes = duplicate_names(names, polars_renamed=polars_renamed)
    if dupes:
        listed = "; ".join(
            t("validate.duplicate_column_at", column=n, positions=", ".join(map(str, pos)))
            for n, pos in dupes.items()
        )
        raise InputFileError(t("validate.duplicate_columns", file=file, columns=listed))


def pandas_to_polars(pdf: Any, source: str = "<frame>") -> pl.DataFrame:
    """pandas -> polars without pyarrow: numbers stay numbers (NaN -> null), the rest text.
    Duplicate column names raise :class:`InputFileError` naming them."""
    check_duplicate_names([str(c) for c in pdf.columns], source)
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
