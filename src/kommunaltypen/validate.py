"""Validation: a raw frame (any reader, optionally mapped) -> canonical data + report.

Everything is vectorised: the parse step is one polars ``select`` (streamed for lazy CSV
scans) that yields typed codebook columns plus one string column recording cell problems;
every rule is a boolean polars expression over whole columns. Python loops only run over the
(few) rows that have problems, to build :class:`Issue` records.

Row numbers are counted as the user sees them: in CSV and XLSX files the header is row 1, so
the first data record is row 2 (XLSX: the spreadsheet row); in SPSS files the case number.
"""

from __future__ import annotations

import json
import math
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from kommunaltypen.codebook import MULTI_COLUMN_KINDS, Codebook, Question, default_codebook
from kommunaltypen.errors import InputFileError, KommunaltypenError
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.io import ROW_COLUMN, Meta, Progress, SourceLike, as_source, read_data
from kommunaltypen.io._common import INT64_LIMIT, float_as_text, pandas_to_polars
from kommunaltypen.mapping import CellError, Mapping, load_mapping
from kommunaltypen.schema import (  # re-exported: the schema lives beside the codebook
    INT_KINDS,
    canonical_schema,
    dtype_of,
    empty_frame,  # noqa: F401 (re-export)
    value_bounds,
)

Severity = Literal["error", "warning"]

#: rule id -> severity; every rule has a message ``validate.rule.<id>``
RULES: dict[str, Severity] = {
    "not_a_number": "error",
    "not_integer": "error",
    "unknown_code": "error",
    "out_of_range": "error",
    "multiple_not_binary": "error",
    "rank_out_of_range": "error",
    "ranking_repeated": "error",
    "ranking_gap": "error",
    "ranking_too_many": "error",
    "exclusive_with_others": "error",
    "filter_not_asked": "error",
    "missing_required": "error",
    "duplicate_id": "error",
    "unknown_columns": "warning",
    "missing_columns": "warning",
    "renamed_columns": "warning",
    "mapping_column_absent": "warning",
    "reader_note": "warning",
}

#: question kinds stored as one column per option (missing codes there = item non-response)
OPTION_KINDS = MULTI_COLUMN_KINDS
_ROW = "__rownum__"


@dataclass(frozen=True)
class Issue:
    """One problem: a rejected cell/row (error) or a note on the file (warning)."""

    severity: Severity
    rule: str
    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ValidationReport:
    """The outcome of a validation: counts, issues and the fate of every row."""

    source: str
    format: str
    rows_in: int
    rows_accepted: int
    rows_rejected: int
    issues: list[Issue] = field(default_factory=list)
    row_status: pl.DataFrame = field(default_factory=pl.DataFrame)
    rejected_rows: pl.DataFrame = field(default_factory=pl.DataFrame)
    meta: Meta | None = None

    def __post_init__(self) -> None:
        if self.rows_in != self.rows_accepted + self.rows_rejected:  # pragma: no cover
            raise AssertionError("row counts do not balance")

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def counts_by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for issue in self.issues:
            counts[issue.rule] = counts.get(issue.rule, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    # -- output ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "rows_in": self.rows_in,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "counts_by_rule": self.counts_by_rule(),
            "issues": [i.to_dict() for i in self.issues],
            "meta": self.meta.to_dict() if self.meta else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str)

    def write_json(self, path: str | Path) -> Path:
        return _write(Path(path), lambda p: p.write_text(self.to_json(), encoding="utf-8"))

    def write_rejected_csv(self, path: str | Path) -> Path:
        """Every rejected row (row number, id, reasons, the parsed values) as UTF-8 CSV."""
        return _write(Path(path), lambda p: self.rejected_rows.write_csv(p))

    def to_rich(self, max_issues: int = 30) -> Any:
        """A rich renderable: summary, issues (first ``max_issues``), counts per rule."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        summary = Table(title=t("validate.report_title"), show_header=False, title_justify="left")
        summary.add_column()
        summary.add_column(justify="right", overflow="fold")
        summary.add_row(t("validate.file"), self.source)
        summary.add_row(t("validate.format"), self.format)
        summary.add_row(t("validate.rows_in"), str(self.rows_in))
        summary.add_row(t("validate.rows_accepted"), f"[green]{self.rows_accepted}[/]")
        summary.add_row(t("validate.rows_rejected"), f"[red]{self.rows_rejected}[/]")
        parts: list[Any] = [summary]
        warnings = self.warnings
        if warnings:
            parts.append(Text(t("validate.warnings_heading"), style="bold yellow"))
            parts.extend(Text(f"• {w.message}", style="yellow") for w in warnings)
        errors = self.errors
        if errors:
            table = Table(title=t("validate.issues_heading"))
            for key in ("col_row", "col_column", "col_value", "col_message"):
                table.add_column(t(f"validate.{key}"), overflow="fold")
            for issue in errors[:max_issues]:
                table.add_row(
                    str(issue.row if issue.row is not None else "–"),
                    issue.column or "–",
                    issue.value if issue.value is not None else "–",
                    _short_message(issue),
                )
            parts.append(table)
            if len(errors) > max_issues:
                parts.append(Text(t("validate.more_issues", count=len(errors) - max_issues)))
            by_rule = Table(title=t("validate.by_rule_heading"))
            by_rule.add_column(t("validate.col_rule"))
            by_rule.add_column(t("validate.col_count"), justify="right")
            for rule, count in self.counts_by_rule().items():
                if RULES.get(rule) == "error":
                    by_rule.add_row(rule, str(count))
            parts.append(by_rule)
        return Group(*parts)


def _short_message(issue: Issue) -> str:
    """The message without its "file, row, column:" prefix (the table shows those)."""
    prefix = f"{issue.file}, "
    if issue.message.startswith(prefix) and ": " in issue.message[len(prefix) :]:
        return issue.message[len(prefix) :].split(": ", 1)[1]
    return issue.message


def _write(path: Path, writer: Callable[[Path], object]) -> Path:
    try:
        writer(path)
    except OSError as exc:
        raise InputFileError(t("validate.file_unwritable", file=path, error=exc)) from exc
    return path


# ------------------------------------------------------------------------------------------
# entry points
# ------------------------------------------------------------------------------------------
def validate_file(
    source: SourceLike,
    mapping: str | Path | Mapping | None = None,
    codebook: Codebook | None = None,
    format: str | None = None,
    progress: Progress | None = None,
    *,
    filename: str | None = None,
) -> tuple[pl.DataFrame, ValidationReport]:
    """Read ``source`` — a path, the file's bytes or a binary file object (an upload) — with
    the format detected unless given (or taken from the mapping), apply the mapping and
    validate. ``filename``: the name that messages and the report show and that the format is
    detected by (default: the path, or the file object's name). Fatal problems raise
    :class:`InputFileError` / ``MappingError``."""
    cb = codebook or default_codebook()
    mp = load_mapping(mapping) if isinstance(mapping, str | Path) else mapping
    if mp is not None:
        mp.check(cb)
    fmt = format or (mp.format if mp else None)
    fast = None
    if mp is None:
        fast = {c: d for c, d in canonical_schema(cb).items() if d != pl.String}
    src = as_source(source, filename)
    data, meta = read_data(
        src, fmt, dtypes=fast, missing_codes=cb.missing_values, progress=progress
    )
    return validate_frame(
        data, source=src.name, codebook=cb, meta=meta, mapping=mp, progress=progress
    )


def validate_frame(
    frame: pl.DataFrame | pl.LazyFrame | Any,
    source: str = "<frame>",
    codebook: Codebook | None = None,
    *,
    meta: Meta | None = None,
    mapping: Mapping | None = None,
    progress: Progress | None = None,
    unique_ids: bool = True,
) -> tuple[pl.DataFrame, ValidationReport]:
    """Validate a raw frame (polars eager/lazy or pandas) against the codebook.

    ``unique_ids=False`` skips the one rule that compares rows with each other (a repeated
    ``kommune_id``): for a batch of independent answer sets checked in one pass
    (:func:`kommunaltypen.service.check_answers_many`), where two of them may well come from
    the same municipality."""
    cb = codebook or default_codebook()
    meta = meta or Meta(source=source, format="frame")
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    elif not isinstance(frame, pl.DataFrame):
        if not hasattr(frame, "columns") or not hasattr(frame, "dtypes"):
            raise InputFileError(t("validate.not_a_frame", value=type(frame).__name__))
        try:
            frame = pandas_to_polars(frame, source)
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(t("validate.not_a_frame", value=type(frame).__name__)) from exc
    _progress(progress, "parse", 0.0)
    warnings: list[Issue] = [
        _warning("reader_note", source, None, note, note) for note in meta.notes
    ]
    frame, renamed = _forgiving_names(frame, cb, mapping)
    if renamed:
        listed = ", ".join(f"{old!r} → {new}" for old, new in renamed)
        warnings.append(
            _warning(
                "renamed_columns",
                source,
                ", ".join(new for _, new in renamed),
                ", ".join(repr(old) for old, _ in renamed),
                t("validate.rule.renamed_columns", count=len(renamed), columns=listed),
            )
        )
    cell_errors: list[CellError] = []
    if mapping is not None:
        labels = meta.value_labels
        if renamed:  # the value labels of a renamed column under its new name, too
            labels = labels | {new: labels[old] for old, new in renamed if old in labels}
        frame, mwarn, cell_errors = mapping.apply(frame, cb, value_labels=labels)
        for rule, column in mwarn:
            msg = t("validate.rule.mapping_column_absent", column=column, file=mapping.source)
            warnings.append(_warning(rule, source, column, column, msg))
    names = list(frame.collect_schema().names())
    helper = {ROW_COLUMN}
    if cb.id_column not in names:
        raise InputFileError(
            t(
                "validate.no_id_column",
                file=source,
                expected=cb.id_column,
                value=", ".join(n for n in names[:12] if n not in helper) or "–",
            )
        )
    known = set(cb.columns)
    unknown = [n for n in names if n not in known and n not in helper]
    if unknown:
        listed = ", ".join(unknown)
        message = t("validate.rule.unknown_columns", count=len(unknown), columns=listed)
        hints = _suggestions(unknown, [c for c in cb.columns if c not in names])
        if hints:
            message += " " + "; ".join(
                t("validate.did_you_mean", column=u, suggestion=s) for u, s in hints
            )
        warnings.append(_warning("unknown_columns", source, listed, listed, message))
    absent = [c for c in cb.columns if c not in names]
    if absent:
        listed = ", ".join(absent)
        warnings.append(
            _warning(
                "missing_columns",
                source,
                listed,
                None,
                t("validate.rule.missing_columns", count=len(absent), columns=listed),
            )
        )

    if frame.height == 0:
        raise InputFileError(t("validate.no_rows", file=source))
    plan = _plan(cb)
    schema = dict(frame.schema)
    raw_stats = _integer_stats(frame, cb, schema)
    clean = _without_missing_codes(raw_stats, cb)
    values, kinds, flags = plan.parse(cb, schema, clean)
    if ROW_COLUMN in schema:
        row = pl.col(ROW_COLUMN).cast(pl.Int64)
    else:
        row = pl.int_range(pl.len(), dtype=pl.Int64) + meta.first_data_row
    checks = plan.checks(cb, unique_ids)
    # eager steps: one huge lazy plan makes polars' optimiser slow
    df = frame.select([row.alias(_ROW), *values, *flags])
    df, bad_cells = _resolve_suspects(df, frame, cb, list(kinds))
    required = plan.required
    df = df.with_columns(
        _flag_column(df.height, [i for i, c, _, _ in bad_cells], "__cellbad"),
        *(
            _flag_column(df.height, [i for i, col, _, _ in bad_cells if col == c], f"__k_{c}")
            for c in required
        ),
    ).drop([f"__f_{c}" for c in kinds])
    df, touched = _normalise(df, cb, clean)
    counts = plan.rank_counts
    if counts:
        df = df.with_columns(counts)
    # columns the parse passed through unchanged keep the reader's statistics
    known = {c: v for c, v in raw_stats.items() if c in clean and c not in touched}
    _progress(progress, "parse", 1.0)
    # which rules fire at all (scalars), then materialise only those masks
    active = _possible(df, checks, known)
    _progress(progress, "check", 0.5)
    rejected = df.get_column("__cellbad")
    for mask, _ in active:
        rejected = rejected | mask
    if cell_errors:
        rejected = rejected | _flag_column(df.height, [e.row for e in cell_errors], "__maperr")
    errors = _collect_issues(df, active, bad_cells, cb, source, cell_errors)
    _progress(progress, "check", 1.0)

    rows = df.get_column(_ROW)
    accepted = df.select(cb.columns)
    if rejected.any():
        accepted = accepted.filter(~rejected)
    accepted = _canonical_types(accepted, plan.canonical)
    status = pl.DataFrame(
        {
            "row": rows,
            cb.id_column: df.get_column(cb.id_column),
            "status": pl.Series(
                ["accepted", "rejected"], dtype=pl.Enum(["accepted", "rejected"])
            ).gather(rejected.cast(pl.UInt32)),
        }
    )
    reasons: dict[int, list[str]] = {}
    for issue in errors:
        if issue.row is not None:
            reasons.setdefault(issue.row, []).append(f"{issue.rule}: {issue.message}")
    bad = df.filter(rejected)
    rejected_frame = pl.DataFrame(
        {
            "row": bad.get_column(_ROW),
            "reasons": [" | ".join(reasons.get(r, [])) for r in bad.get_column(_ROW).to_list()],
        }
    ).hstack(bad.select(cb.columns))
    report = ValidationReport(
        source=source,
        format=meta.format,
        rows_in=df.height,
        rows_accepted=accepted.height,
        rows_rejected=bad.height,
        issues=warnings + errors,
        row_status=status,
        rejected_rows=rejected_frame,
        meta=meta,
    )
    _progress(progress, "done", 1.0)
    return accepted, report


def _key(name: str) -> str:
    return name.strip().casefold()


def _forgiving_names(
    frame: pl.DataFrame, cb: Codebook, mapping: Mapping | None
) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """Rename headers that differ from a codebook column only in case or surrounding blanks
    (``BUNDESLAND``, `` kommune_id``); returns the frame and the ``(old, new)`` pairs. A
    header is left alone when the mapping names it, when its codebook column is present (or a
    target of the mapping), or when two headers would become the same column."""
    names = frame.columns
    by_key = {_key(c): c for c in cb.columns}
    taken = set(names)
    reserved: set[str] = set()
    if mapping is not None:
        reserved = set(mapping.columns) | {p for ps in mapping.rankings.values() for p in ps}
        taken |= set(mapping.columns.values())
        taken |= {c for qid in mapping.rankings for c in cb.question(qid).columns}
    wanted: dict[str, list[str]] = {}
    for n in names:
        target = by_key.get(_key(n))
        if target is not None and n != target and n not in reserved and target not in taken:
            wanted.setdefault(target, []).append(n)
    renamed = [(olds[0], target) for target, olds in wanted.items() if len(olds) == 1]
    renamed.sort(key=lambda pair: names.index(pair[0]))
    if renamed:
        frame = frame.rename(dict(renamed))
    return frame, renamed


def _suggestions(unknown: list[str], candidates: list[str]) -> list[tuple[str, str]]:
    """``(unknown header, codebook column)`` pairs where the header is close to a column that
    the file lacks (difflib, without regard to case and blanks)."""
    import difflib

    if not candidates:
        return []
    by_key = {_key(c): c for c in candidates}
    keys = list(by_key)
    out = []
    for name in unknown:
        close = difflib.get_close_matches(_key(name), keys, n=1, cutoff=0.8)
        if close:
            out.append((name, by_key[close[0]]))
    return out


def _canonical_types(accepted: pl.DataFrame, canonical: dict[str, pl.DataType]) -> pl.DataFrame:
    """Accepted rows in the canonical dtypes (``canonical``: the codebook's
    :func:`canonical_schema`). Their values passed every rule, so each lies in its column's
    valid range and the (strict) cast to the narrow type cannot fail."""
    schema = accepted.schema
    casts = [pl.col(c).cast(d) for c, d in canonical.items() if schema[c] != d]
    return accepted.with_columns(casts) if casts else accepted


def _progress(progress: Progress | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)


def _warning(rule: str, source: str, column: str | None, value: str | None, msg: str) -> Issue:
    return Issue("warning", rule, source, None, column, value, "", msg)


# ------------------------------------------------------------------------------------------
# the validation plan of a codebook: built once per codebook object, reused on every call
# ------------------------------------------------------------------------------------------
class _Plan:
    """What validation derives from one codebook and needs on every call: the parse
    expressions (per input schema), the rule expressions (per language, since their
    expectations are user texts), the rank counts, the canonical schema and the required
    columns. Building the hundreds of polars expressions costs more than checking a small
    frame with them, so a server that checks one answer set per request must not rebuild
    them each time.

    Everything held is immutable once built (polars expressions are values, the codebook is
    frozen): a plan cannot go stale. It belongs to its codebook object (see :func:`_plan`)
    and holds no reference to it (the methods take it), so the codebook can be freed."""

    #: parse expression sets kept per codebook (one per distinct input schema, most recent)
    PARSE_CACHE_SIZE = 16

    def __init__(self, cb: Codebook) -> None:
        self.columns = cb.columns
        self.canonical = canonical_schema(cb)
        self.required = tuple(c for q in cb if q.required for c in q.columns)
        self.rank_counts = tuple(_rank_counts(cb))
        self._lock = threading.Lock()
        self._checks: dict[tuple[str, bool], tuple[_Check, ...]] = {}
        self._parse: OrderedDict[Hashable, tuple[Any, ...]] = OrderedDict()

    def checks(self, cb: Codebook, unique_ids: bool) -> list[_Check]:
        """The rule checks of ``cb`` (this plan's codebook), with their expectations in the
        current call's language."""
        key = (get_lang(), unique_ids)
        found = self._checks.get(key)
        if found is None:
            found = self._checks.setdefault(key, tuple(_checks(cb, unique_ids)))
        return list(found)

    def parse(
        self, cb: Codebook, schema: dict[str, pl.DataType], clean: set[str]
    ) -> tuple[list[pl.Expr], dict[str, pl.Expr], list[pl.Expr]]:
        """:func:`_parse_exprs` of ``cb`` (this plan's codebook) for a frame of ``schema``
        (value expressions, cell-kind expressions by column) and the cell-kind flag columns
        to select."""
        try:
            key: Hashable = (tuple(schema.get(c) for c in self.columns), frozenset(clean))
            hash(key)
        except TypeError:  # a dtype that cannot be a key: built, not kept
            key = None
        with self._lock:
            found = self._parse.get(key) if key is not None else None
            if found is not None:
                self._parse.move_to_end(key)
        if found is None:
            values, kinds = _parse_exprs(schema, cb, clean)
            flags = [k.alias(f"__f_{c}") for c, k in kinds.items()]
            found = (tuple(values), tuple(kinds.items()), tuple(flags))
            if key is not None:
                with self._lock:
                    self._parse[key] = found
                    while len(self._parse) > self.PARSE_CACHE_SIZE:
                        self._parse.popitem(last=False)
        values, kinds, flags = found
        return list(values), dict(kinds), list(flags)


#: id(codebook) -> (weak reference to it, its plan); an entry leaves with its codebook
_PLANS: dict[int, tuple[weakref.ref[Codebook], _Plan]] = {}


def _plan(cb: Codebook) -> _Plan:
    """The validation plan of ``cb``, built on first use and kept as long as ``cb`` lives.

    Keyed by the object's identity, not its value: a changed copy (``model_copy(update=…)``)
    is another object with a plan of its own, so a plan never outlives or mismatches its
    codebook."""
    key = id(cb)
    entry = _PLANS.get(key)
    if entry is not None and entry[0]() is cb:
        return entry[1]
    plan = _Plan(cb)

    def forget(ref: weakref.ref[Codebook], key: int = key) -> None:
        current = _PLANS.get(key)
        if current is not None and current[0] is ref:
            del _PLANS[key]

    _PLANS[key] = (weakref.ref(cb, forget), plan)
    return plan


# ------------------------------------------------------------------------------------------
# parse: one select that types every codebook column and records cell problems
# ------------------------------------------------------------------------------------------
def _as_text(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return col.str.strip_chars().replace("", None)
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return col.cast(pl.String).str.strip_chars().replace("", None)
    if dtype == pl.Null:
        return col.cast(pl.String)
    if dtype.is_float():
        return float_as_text(col)
    return col.cast(pl.String)


# cell kinds: 0 = fine (or missing), 1 = not a number, 2 = not a whole number,
# 3 = text polars could not read as a number: parsed cell by cell in _resolve_suspects
# 4 = a whole number too large for any integer column
_OK, _NAN, _NONINT, _SUSPECT, _TOO_BIG = 0, 1, 2, 3, 4
_KIND_RULE = {_NAN: "not_a_number", _NONINT: "not_integer", _TOO_BIG: "out_of_range"}


def _too_big(num: pl.Expr) -> pl.Expr:
    return num.abs() >= INT64_LIMIT


def _number_parts(
    present: pl.Expr, num: pl.Expr, missing: list[float], integer: bool
) -> tuple[pl.Expr, pl.Expr]:
    """(value, kind) expressions from "cell not empty" and the cell's numeric reading."""
    not_number = present & (num.is_null() | ~num.is_finite())
    kind = pl.when(not_number).then(pl.lit(_NAN, pl.UInt8))
    bad = not_number
    if integer:
        not_int = ~not_number & num.is_not_null() & (num != num.floor())
        too_big = ~not_number & num.is_not_null() & _too_big(num)
        kind = kind.when(not_int).then(pl.lit(_NONINT, pl.UInt8))
        kind = kind.when(too_big).then(pl.lit(_TOO_BIG, pl.UInt8))
        bad = bad | not_int | too_big
    kind = kind.otherwise(pl.lit(_OK, pl.UInt8))
    value = pl.when(~bad & ~num.is_in(missing).fill_null(False)).then(num)
    return value, kind


def _parse_exprs(
    schema: dict[str, pl.DataType], cb: Codebook, clean: set[str] | frozenset[str] = frozenset()
) -> tuple[list[pl.Expr], dict[str, pl.Expr]]:
    """Canonical value expressions for every codebook column, and cell-kind expressions for
    the columns that can hold unparseable cells. ``clean``: integer columns known to hold no
    missing code (they are passed through unchanged). Option columns of multiple-choice and
    ranking questions keep their missing codes: :func:`_normalise` needs to tell item
    non-response (a code) from "not ticked" (an empty cell).

    Integer columns are checked on wide types (as read, or Int64 when parsed here) and
    narrowed to their canonical dtype only after the rules have run (see
    :func:`_canonical_types`): a value outside the narrow range is reported, never cut off."""
    all_missing = [float(m) for m in cb.missing_values]
    values: list[pl.Expr] = []
    kinds: dict[str, pl.Expr] = {}
    for q in cb:
        target = dtype_of(q)
        integer = target.is_integer()
        work = pl.Int64() if integer else target
        keep_codes = q.kind in OPTION_KINDS
        missing = [] if keep_codes else all_missing
        for name in q.columns:
            dtype = schema.get(name)
            if dtype is None or dtype == pl.Null:
                values.append(pl.lit(None, target).alias(name))
                continue
            col = pl.col(name)
            if q.kind == "text":
                values.append(_as_text(col, dtype).alias(name))
                continue
            if dtype.is_integer() or dtype == pl.Boolean:
                # parsed by the reader already: nothing can be malformed
                if dtype == pl.Boolean:
                    value = col.cast(target)
                elif dtype.is_unsigned_integer() or name in clean or keep_codes:
                    value = col  # no (negative) missing code to remove, or kept on purpose
                else:
                    codes = [int(m) for m in missing]
                    value = pl.when(~col.is_in(codes).fill_null(False)).then(col)
                if not integer:
                    value = value.cast(target)
                values.append(value.alias(name))  # integers keep the width they were read in
                continue
            if dtype.is_numeric():
                value, kind = _number_parts(
                    col.is_not_null(), col.cast(pl.Float64), missing, integer
                )
            else:
                # fast path: polars' own number parsing; cells it cannot read (text, decimal
                # commas, blanks, "2.5" in an integer column …) are flagged SUSPECT and read
                # one by one afterwards (see _resolve_suspects)
                text = col.cast(pl.String) if dtype != pl.String else col
                num = text.cast(pl.Float64, strict=False)
                odd = num.is_null() | ~num.is_finite()
                if integer:
                    odd = odd | (num != num.floor()) | _too_big(num)
                suspect = text.is_not_null() & odd.fill_null(True)
                kind = (
                    pl.when(suspect)
                    .then(pl.lit(_SUSPECT, pl.UInt8))
                    .otherwise(pl.lit(_OK, pl.UInt8))
                )
                value = pl.when(~suspect & ~num.is_in(missing).fill_null(False)).then(num)
            values.append(value.cast(work, strict=False).alias(name))
            kinds[name] = kind
    return values, kinds


def _integer_stats(
    frame: pl.DataFrame, cb: Codebook, schema: dict[str, pl.DataType] | None = None
) -> dict[str, tuple[Any, Any]]:
    """(min, max) of every codebook column the reader already parsed as signed integers
    (``schema``: the frame's, when the caller has it already)."""
    schema = schema if schema is not None else dict(frame.schema)
    ints = [c for c in cb.columns if c in schema and schema[c].is_signed_integer()]
    if not ints:
        return {}
    stats = frame.select(
        [pl.col(c).min().alias(f"a{i}") for i, c in enumerate(ints)]
        + [pl.col(c).max().alias(f"b{i}") for i, c in enumerate(ints)]
    ).row(0)
    return {c: (stats[i], stats[len(ints) + i]) for i, c in enumerate(ints)}


def _without_missing_codes(stats: dict[str, tuple[Any, Any]], cb: Codebook) -> set[str]:
    """Integer columns whose min/max show that they hold no missing code."""
    lo, hi = min(cb.missing_values), max(cb.missing_values)
    return {c for c, (a, b) in stats.items() if a is None or a > hi or b < lo}


def _flag_column(height: int, idx: list[int], name: str) -> pl.Series:
    flags = pl.repeat(False, height, dtype=pl.Boolean, eager=True).alias(name)
    return flags.scatter(idx, True) if idx else flags


#: a number in German notation with thousands points: 1.234 / 12.345.678 / -1.234,56
_GERMAN_GROUPED = re.compile(r"-?\d{1,3}(?:\.\d{3})+(?:,\d+)?")


def parse_number_text(
    text: str, integer: bool, missing: frozenset[int]
) -> tuple[float | None, int]:
    """One cell's text as a number: ``(value, kind)``; blanks and missing codes give None."""
    s = text.strip()
    if not s:
        return None, _OK
    if _GERMAN_GROUPED.fullmatch(s) and ("," in s or integer):
        # German notation with thousands points: "1.234,5", or "12.345" where a whole number
        # is expected (as a decimal point it could not be one anyway)
        s = s.replace(".", "").replace(",", ".")
    try:
        value = float(s.replace(",", ".", 1) if s.count(",") == 1 and "." not in s else s)
    except ValueError:
        return None, _NAN
    if not math.isfinite(value):
        return None, _NAN
    if integer and not value.is_integer():
        return None, _NONINT
    if integer and abs(value) >= INT64_LIMIT:
        return None, _TOO_BIG
    if value in missing:
        return None, _OK
    return value, _OK


def _resolve_suspects(
    df: pl.DataFrame, frame: pl.DataFrame, cb: Codebook, flagged: list[str]
) -> tuple[pl.DataFrame, list[tuple[int, str, int, str | None]]]:
    """Read the flagged cells one by one (they are few): store the values that are fine,
    return the bad cells as ``(row index, column, kind, raw text)``."""
    bad: list[tuple[int, str, int, str | None]] = []
    if not flagged:
        return df, bad
    hits = df.select([(pl.col(f"__f_{c}") > 0).any() for c in flagged]).row(0)
    fixed = []
    no_codes: frozenset[int] = frozenset()
    for c, hit in zip(flagged, hits, strict=True):
        if not hit:
            continue
        q, _ = cb.column_owner(c)
        integer = dtype_of(q).is_integer()
        # option columns keep their missing codes for _normalise (see _parse_exprs)
        missing = no_codes if q.kind in OPTION_KINDS else cb.missing_values
        kinds = df.get_column(f"__f_{c}")
        idx = kinds.arg_true() if kinds.dtype == pl.Boolean else (kinds > 0).arg_true()
        raw = frame.get_column(c).gather(idx)
        raw_text = _as_text_series(raw)
        good_idx, good_values = [], []
        for i, kind, text in zip(idx.to_list(), kinds.gather(idx).to_list(), raw_text, strict=True):
            if kind == _SUSPECT:
                value, kind = parse_number_text(text or "", integer, missing)
                if kind == _OK:
                    if value is not None:
                        good_idx.append(i)
                        good_values.append(value)
                    continue
            bad.append((i, c, kind, text))
        if good_idx:
            values = pl.Series(good_values, dtype=pl.Float64).cast(df.schema[c])
            fixed.append(df.get_column(c).scatter(good_idx, values))
    if fixed:
        df = df.with_columns(fixed)
    bad.sort()
    return df, bad


def _as_text_series(s: pl.Series) -> list[str | None]:
    return s.to_frame("v").select(_as_text(pl.col("v"), s.dtype)).to_series().to_list()


def _normalise(
    df: pl.DataFrame, cb: Codebook, clean: set[str] | frozenset[str] = frozenset()
) -> tuple[pl.DataFrame, set[str]]:
    """Multiple choice / ranking option columns (which still hold their missing codes, see
    :func:`_parse_exprs`): a missing code in an option cell is item non-response for that
    option and becomes null; once any option of a question holds a real value, its empty
    option cells mean "not ticked" / "not ranked" (0) — as in LimeSurvey and SPSS exports. A
    row whose option cells are all empty or missing codes stays all null (not answered).
    Only questions that have such partly empty rows or missing codes are touched. ``clean``:
    columns known to hold no missing code (their min/max need not be computed)."""
    multi = [q for q in cb if q.kind in OPTION_KINDS]
    if not multi:
        return df, set()
    codes = sorted(cb.missing_values)
    lo, hi = codes[0], codes[-1]
    # min/max only where a missing code is possible (the parse passed clean columns through)
    cols = [c for q in multi for c in q.columns if c not in clean]
    stats = df.select(
        [
            pl.all_horizontal([pl.col(c).is_null() for c in q.columns]).sum().alias(f"e{i}")
            for i, q in enumerate(multi)
        ]
        + [pl.col(c).min().alias(f"a{i}") for i, c in enumerate(cols)]
        + [pl.col(c).max().alias(f"b{i}") for i, c in enumerate(cols)]
    ).row(0)
    n, m = len(multi), len(cols)
    mins = dict(zip(cols, stats[n : n + m], strict=True))
    maxs = dict(zip(cols, stats[n + m :], strict=True))
    # two passes: first one "answered" mask per question, then the option columns (in one
    # pass, each column's expression would recompute its question's mask)
    masks: list[pl.Expr] = []
    exprs: list[pl.Expr] = []
    for q, empty_rows in zip(multi, stats[:n], strict=True):
        # a code can only be present where a column's min..max overlaps the codes' range
        coded = any(
            mins[c] is not None and mins[c] <= hi and maxs[c] >= lo for c in q.columns if c in mins
        )
        nulls = sum(df.get_column(c).null_count() for c in q.columns)
        partly = nulls != empty_rows * len(q.columns)
        if not coded and not partly:
            continue  # every row is either fully answered or fully empty, and no codes
        answered = pl.col(f"__answered_{len(masks)}")
        if not coded:
            masks.append(pl.any_horizontal([pl.col(c).is_not_null() for c in q.columns]))
            exprs.extend(pl.when(answered).then(pl.col(c).fill_null(0)).alias(c) for c in q.columns)
            continue
        code = {c: pl.col(c).is_in(codes).fill_null(False) for c in q.columns}
        masks.append(pl.any_horizontal([pl.col(c).is_not_null() & ~code[c] for c in q.columns]))
        exprs.extend(
            pl.when(answered & ~code[c]).then(pl.col(c).fill_null(0)).alias(c) for c in q.columns
        )
    if not exprs:
        return df, set()
    helpers = [f"__answered_{i}" for i in range(len(masks))]
    df = df.with_columns(m.alias(h) for m, h in zip(masks, helpers, strict=True))
    touched = {e.meta.output_name() for e in exprs}
    return df.with_columns(exprs).drop(helpers), touched


# ------------------------------------------------------------------------------------------
# rules
# ------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Check:
    rule: str
    column: str
    mask: pl.Expr
    value: pl.Expr | None
    expected: str
    #: (column, lo, hi): the rule cannot fire when all values of column lie in lo..hi
    safe_if: tuple[str, float, float] | None = None
    #: a cheap whole-frame test (scalar boolean expression): True = the rule cannot fire
    safe: pl.Expr | None = None


def _codes_text(q: Question) -> str:
    return ", ".join(f"{o.code}" for o in q.options)


def _ranked_text(q: Question) -> pl.Expr:
    parts = [
        pl.when(pl.col(c) > 0).then(pl.lit(f"{o.id}=") + pl.col(c).cast(pl.String))
        for c, o in zip(q.columns, q.options, strict=True)
    ]
    return pl.concat_str(parts, separator=", ", ignore_nulls=True)


def _rank_counts(cb: Codebook) -> list[pl.Expr]:
    """Per row and ranking question: how many options got rank r (``__count_<id>_<r>``), and
    how many got any rank (``__count_<id>_0``); computed once, used by three rules."""
    exprs = []
    for q in cb:
        if q.kind == "ranking":
            for r in range(1, (q.max_rank or 1) + 1):
                exprs.append(
                    pl.sum_horizontal([(pl.col(c) == r).fill_null(False) for c in q.columns])
                    .cast(pl.Int32)
                    .alias(f"__count_{q.id}_{r}")
                )
            exprs.append(
                pl.sum_horizontal([(pl.col(c) > 0).fill_null(False) for c in q.columns])
                .cast(pl.Int32)
                .alias(f"__count_{q.id}_0")
            )
    return exprs


def _checks(cb: Codebook, unique_ids: bool = True) -> list[_Check]:
    checks: list[_Check] = []
    for q in cb:
        first = q.columns[0]
        if q.kind == "single":
            lo, hi = min(q.codes), max(q.codes)
            contiguous = (q.id, lo, hi) if hi - lo + 1 == len(q.codes) else None
            for c in q.columns:
                checks.append(
                    _Check(
                        "unknown_code",
                        c,
                        pl.col(c).is_not_null() & ~pl.col(c).is_in(list(q.codes)),
                        pl.col(c).cast(pl.String),
                        t("validate.expected_codes", codes=_codes_text(q)),
                        contiguous,
                    )
                )
        elif q.kind in ("ordinal", "number", "percentage"):
            lo = q.min if q.min is not None else (0.0 if q.kind == "percentage" else None)
            hi = q.max if q.max is not None else (100.0 if q.kind == "percentage" else None)
            if lo is not None or hi is not None:
                cond = pl.lit(False)
                if lo is not None:
                    cond = cond | (pl.col(first) < lo)
                if hi is not None:
                    cond = cond | (pl.col(first) > hi)
                checks.append(
                    _Check(
                        "out_of_range",
                        first,
                        cond.fill_null(False),
                        _as_text(pl.col(first), dtype_of(q)),
                        t("validate.expected_range", lo=_num(lo), hi=_num(hi)),
                        (first, -math.inf if lo is None else lo, math.inf if hi is None else hi),
                    )
                )
        elif q.kind == "multiple":
            for c in q.columns:
                checks.append(
                    _Check(
                        "multiple_not_binary",
                        c,
                        pl.col(c).is_not_null() & ~pl.col(c).is_in([0, 1]),
                        pl.col(c).cast(pl.String),
                        t("validate.expected_binary"),
                        (c, 0, 1),
                    )
                )
            for o in q.options:
                if o.exclusive:
                    ex = q.column_for(o.id)
                    others = [c for c in q.columns if c != ex]
                    ticked = pl.concat_str(
                        [pl.when(pl.col(c) == 1).then(pl.lit(c)) for c in q.columns],
                        separator=", ",
                        ignore_nulls=True,
                    )
                    checks.append(
                        _Check(
                            "exclusive_with_others",
                            ex,
                            (
                                (pl.col(ex) == 1)
                                & pl.any_horizontal([pl.col(c) == 1 for c in others])
                            ).fill_null(False),
                            ticked,
                            t("validate.expected_exclusive", option=ex),
                            (ex, 0, 0),
                        )
                    )
        elif q.kind == "ranking":
            top = q.max_rank or 1
            for c in q.columns:
                checks.append(
                    _Check(
                        "rank_out_of_range",
                        c,
                        pl.col(c).is_not_null() & ~pl.col(c).is_between(0, top),
                        pl.col(c).cast(pl.String),
                        t("validate.expected_rank", max=top),
                        (c, 0, top),
                    )
                )
            count = {r: pl.col(f"__count_{q.id}_{r}") for r in range(1, top + 1)}
            ranked = _ranked_text(q)
            repeated = pl.any_horizontal([count[r] > 1 for r in count])
            gap = pl.any_horizontal([(count[r] > 0) & (count[r - 1] == 0) for r in count if r > 1])
            too_many = pl.col(f"__count_{q.id}_0") > top
            checks += [
                _Check(
                    "ranking_repeated",
                    q.id,
                    repeated,
                    ranked,
                    t("validate.expected_unique"),
                ),
                _Check("ranking_gap", q.id, gap, ranked, t("validate.expected_no_gap")),
                _Check(
                    "ranking_too_many",
                    q.id,
                    too_many,
                    ranked,
                    t("validate.expected_max", max=top),
                ),
            ]
        if q.filter is not None:
            fcol = q.filter.column(cb)
            allowed = list(q.filter.in_)
            outside = pl.col(fcol).is_null() | ~pl.col(fcol).is_in(allowed)
            answered = pl.any_horizontal([pl.col(c).is_not_null() for c in q.columns])
            checks.append(
                _Check(
                    "filter_not_asked",
                    q.id,
                    (outside & answered).fill_null(False),
                    pl.concat_str(
                        [pl.lit(f"{fcol}="), pl.col(fcol).cast(pl.String).fill_null("–")]
                    ),
                    t(
                        "validate.expected_filter",
                        column=fcol,
                        values=", ".join(str(v) for v in allowed),
                    ),
                )
            )
        if q.required:
            failed_cell = pl.col(f"__k_{first}")
            checks.append(
                _Check(
                    "missing_required",
                    first,
                    pl.col(first).is_null() & ~failed_cell,
                    None,
                    t("validate.expected_required"),
                    safe=pl.col(first).null_count() == 0,
                )
            )
    idc = cb.id_column
    if not unique_ids:
        return checks
    checks.append(
        _Check(
            "duplicate_id",
            idc,
            pl.col(idc).is_not_null() & ~pl.col(idc).is_first_distinct(),
            pl.col(idc),
            t("validate.expected_unique_id"),
            # as many distinct hashes as ids: no id repeats (equal ids hash alike; a hash
            # collision only means the exact mask is computed). ~8× cheaper than the mask.
            safe=pl.col(idc).drop_nulls().hash().n_unique() == pl.col(idc).count(),
        )
    )
    return checks


def _num(v: float | None) -> str:
    if v is None:
        return "…"
    return str(int(v)) if float(v).is_integer() else str(v)


def _possible(
    df: pl.DataFrame, checks: list[_Check], known: dict[str, tuple[Any, Any]] | None = None
) -> list[tuple[pl.Series, _Check]]:
    """The checks that fire on at least one row, each with its row mask. Most checks are
    first ruled out cheaply from whole-column statistics (min/max, null counts), so clean
    columns need no row-wise mask at all."""
    known = known or {}
    bounded = sorted({c.safe_if[0] for c in checks if c.safe_if is not None} - set(known))
    safe_exprs = [c.safe for c in checks if c.safe is not None]
    exprs = (
        [pl.col(c).min().alias(f"lo{i}") for i, c in enumerate(bounded)]
        + [pl.col(c).max().alias(f"hi{i}") for i, c in enumerate(bounded)]
        + [e.alias(f"s{i}") for i, e in enumerate(safe_exprs)]
    )
    stats = df.select(exprs).row(0) if exprs else ()
    n = len(bounded)
    lo = dict(zip(bounded, stats[:n], strict=True)) | {c: v[0] for c, v in known.items()}
    hi = dict(zip(bounded, stats[n : 2 * n], strict=True)) | {c: v[1] for c, v in known.items()}
    safe_results = iter(stats[2 * n :])
    candidates = []
    for c in checks:
        surely_fine = False
        if c.safe_if is not None:
            col, low, high = c.safe_if
            surely_fine = lo[col] is None or (lo[col] >= low and hi[col] <= high)
        if c.safe is not None:
            surely_fine = bool(next(safe_results)) or surely_fine
        if not surely_fine:
            candidates.append(c)
    if not candidates:
        return []
    masks = df.select([c.mask.fill_null(False).alias(f"m{i}") for i, c in enumerate(candidates)])
    hits = masks.select(pl.all().any()).row(0)
    return [(masks.to_series(i), c) for i, c in enumerate(candidates) if hits[i]]


def _collect_issues(
    df: pl.DataFrame,
    active: list[tuple[pl.Series, _Check]],
    bad_cells: list[tuple[int, str, int, str | None]],
    cb: Codebook,
    source: str,
    cell_errors: Sequence[CellError] = (),
) -> list[Issue]:
    """Issues from the rule masks, unparseable cells and mapping problems, in row order."""
    issues: list[tuple[int, int, Issue]] = []
    idc = cb.id_column
    for i, (mask, check) in enumerate(active):
        idx = mask.arg_true()
        if check.value is None:
            value_expr = pl.lit(None, pl.String)
            needed = [_ROW]
        else:
            value_expr = check.value
            needed = [_ROW, *dict.fromkeys(check.value.meta.root_names())]
        sub = df.select([pl.col(n).gather(idx) for n in needed]).select(
            _ROW, value_expr.alias("__v")
        )
        first_rows: dict[str, int] = {}
        ids: list[str] = []
        if check.rule == "duplicate_id":
            ids = df.get_column(idc).gather(idx).to_list()
            same = df.select(_ROW, idc).filter(pl.col(idc).is_in(sorted(set(ids))))
            first_rows = dict(same.group_by(idc).agg(pl.col(_ROW).min()).iter_rows())
        for j, (row, value) in enumerate(sub.iter_rows()):
            extra = {"first_row": first_rows.get(ids[j], "?")} if ids else {}
            issue = _issue(check.rule, source, row, check.column, value, check.expected, extra)
            issues.append((row, i, issue))
    if bad_cells:
        expected_for = _cell_expectations(cb)
        numbers = df.get_column(_ROW).gather([i for i, _, _, _ in bad_cells]).to_list()
        for row, (_, column, kind, raw) in zip(numbers, bad_cells, strict=True):
            rule = _KIND_RULE[kind]
            issue = _issue(rule, source, row, column, raw, expected_for(column, rule), {})
            issues.append((row, -1, issue))
    if cell_errors:
        numbers = df.get_column(_ROW).gather([e.row for e in cell_errors]).to_list()
        for row, e in zip(numbers, cell_errors, strict=True):
            issue = _issue(e.rule, source, row, e.column, e.value, e.expected, {})
            issues.append((row, -1, issue))
    issues.sort(key=lambda x: (x[0], x[1]))
    return [i for _, _, i in issues]


def _cell_expectations(cb: Codebook) -> Callable[[str, str], str]:
    def expected(column: str, rule: str) -> str:
        if rule == "ranking_repeated":
            return t("validate.expected_unique")
        try:
            q, _ = cb.column_owner(column)
        except KommunaltypenError:
            try:
                q = cb.question(column)
            except KommunaltypenError:
                return t("validate.expected_number")
        if rule == "unknown_code" and q.options:
            return t("validate.expected_codes", codes=_codes_text(q))
        if rule == "out_of_range":  # a whole number beyond what an integer column holds
            lo, hi = value_bounds(q) or (-INT64_LIMIT, INT64_LIMIT - 1)
            return t("validate.expected_range", lo=_num(lo), hi=_num(hi))
        if q.kind in INT_KINDS or q.integer:
            return t("validate.expected_integer")
        return t("validate.expected_number")

    return expected


def _issue(
    rule: str,
    source: str,
    row: int,
    column: str,
    value: Any,
    expected: str,
    extra: dict[str, Any],
) -> Issue:
    shown = None if value is None else str(value)
    msg = t(
        f"validate.rule.{rule}",
        file=source,
        row=row,
        column=column,
        value=shown if shown is not None else "–",
        expected=expected,
        **extra,
    )
    return Issue("error", rule, source, row, column, shown, expected, msg)
