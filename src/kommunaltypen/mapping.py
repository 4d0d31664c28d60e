"""Mapping files: foreign column names and value codes onto codebook ids.

A mapping is a YAML file (see ``docs/import.md``)::

    format: limesurvey            # optional: reader to use
    columns:                      # foreign column name -> codebook column
      Kommune: kommune_id
      "anknuepfung[SQ001]": anknuepfung_gesamtstrategie
    values:                       # codebook column or question id -> {foreign value: code}
      kommunenart: {A1: 1, A2: 2, A3: 3, A4: 4}
    rankings:                     # ranking stored by position: rank r's column holds the code
      ziele: ["ziele[1]", "ziele[2]", "ziele[3]"]

Values not listed in ``values`` pass through unchanged. A ``null`` target in ``values`` turns a
foreign value into "missing".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kommunaltypen import yamlio
from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import MappingError
from kommunaltypen.i18n import t
from kommunaltypen.io._common import float_as_text


@dataclass(frozen=True)
class CellError:
    """A cell the mapping cannot translate: ``row`` is the record's 0-based position in the
    frame (validation turns it into the row number the user sees), ``column`` the file's
    column (or the ranking question), ``value`` the cell as received, ``rule`` a validation
    rule id (``unknown_code``, ``ranking_repeated``) and ``expected`` what was expected."""

    row: int
    column: str
    value: str | None
    rule: str
    expected: str


class Mapped(NamedTuple):
    """What :meth:`Mapping.apply` returns."""

    frame: pl.DataFrame
    #: ``(rule, column)`` pairs: mapped columns missing from the file
    warnings: list[tuple[str, str]]
    #: cells the mapping could not translate, in row order
    cell_errors: list[CellError]


@dataclass(frozen=True)
class _CellCheck:
    mask: pl.Expr
    column: str
    rule: str
    value: pl.Expr
    expected: str


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str | int | float | bool, int | float | str | None]] = Field(
        default_factory=dict
    )
    rankings: dict[str, list[str]] = Field(default_factory=dict)
    source: str = "<mapping>"

    # -- checks ----------------------------------------------------------------------------
    def check(self, codebook: Codebook) -> None:
        """Raise :class:`MappingError` when the mapping refers to unknown codebook ids."""
        known_cols = set(codebook.columns)
        known_q = {q.id for q in codebook}
        for foreign, target in self.columns.items():
            if target not in known_cols:
                raise MappingError(
                    t(
                        "validate.mapping_unknown_target",
                        file=self.source,
                        column=foreign,
                        value=target,
                    )
                )
        targets = list(self.columns.values())
        dupes = sorted({x for x in targets if targets.count(x) > 1})
        if dupes:
            raise MappingError(
                t("validate.mapping_duplicate_target", file=self.source, value=", ".join(dupes))
            )
        for key in self.values:
            if key not in known_cols and key not in known_q:
                raise MappingError(
                    t("validate.mapping_unknown_values_key", file=self.source, value=key)
                )
        for qid, positions in self.rankings.items():
            if qid not in known_q or codebook.question(qid).kind != "ranking":
                rankings = ", ".join(q.id for q in codebook if q.kind == "ranking")
                raise MappingError(
                    t(
                        "validate.mapping_not_ranking",
                        file=self.source,
                        value=qid,
                        expected=rankings,
                    )
                )
            if not positions:
                raise MappingError(
                    t("validate.mapping_empty_positions", file=self.source, value=qid)
                )

    def value_map(self, column: str, codebook: Codebook) -> dict[Any, Any] | None:
        """The value map that applies to a codebook column (own entry, else its question's)."""
        if column in self.values:
            return self.values[column]
        try:
            q, _ = codebook.column_owner(column)
        except Exception:
            return None
        return self.values.get(q.id)

    # -- application -----------------------------------------------------------------------
    def apply(
        self,
        frame: pl.DataFrame | pl.LazyFrame,
        codebook: Codebook | None = None,
        value_labels: dict[str, dict[Any, str]] | None = None,
    ) -> Mapped:
        """Rename, recode and unfold position rankings. Returns the mapped frame (a lazy frame
        is collected), warnings as ``(rule, column)`` pairs (mapped columns missing from the
        file) and the cells that cannot be translated as :class:`CellError` values (unknown
        codes and repeated options in position rankings), which validation merges into its
        report. ``value_labels`` (the reader's, per source column: code -> label, as SPSS
        files carry them): a ``values`` key that is a column's value label also maps that
        label's code, so a mapping can name the answers as the questionnaire shows them."""
        cb = codebook or default_codebook()
        labels = value_labels or {}
        self.check(cb)
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        names = frame.columns
        schema = dict(frame.schema)
        warnings: list[tuple[str, str]] = []
        present = set(names)
        for foreign in self.columns:
            if foreign not in present:
                warnings.append(("mapping_column_absent", foreign))
        for positions in self.rankings.values():
            warnings.extend(("mapping_column_absent", p) for p in positions if p not in present)

        exprs: list[pl.Expr] = []
        checks: list[_CellCheck] = []
        consumed: list[str] = []
        for qid, positions in self.rankings.items():
            q = cb.question(qid)
            vmap = self.values.get(qid) or {}
            pos_cols = [p for p in positions if p in present]
            if not pos_cols:
                continue
            consumed.extend(pos_cols)
            raw = {p: _stripped(p, schema[p]) for p in pos_cols}
            code = {
                p: _recode(raw[p], _with_labels(vmap, labels.get(p))).cast(pl.Float64, strict=False)
                for p in pos_cols
            }
            # a position holding a missing code ("keine Angabe") is not an answer: a row whose
            # positions are all empty or missing did not answer the ranking (all null)
            missing = [float(m) for m in cb.missing_values]
            any_given = pl.any_horizontal(
                [raw[p].is_not_null() & ~code[p].is_in(missing).fill_null(False) for p in pos_cols]
            )
            for o in q.options:
                expr: Any = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
                for rank, p in enumerate(positions, start=1):
                    if p in raw:
                        expr = expr.when(code[p] == o.code).then(pl.lit(str(rank)))
                expr = expr.when(any_given).then(pl.lit("0")).otherwise(pl.lit(None, pl.String))
                exprs.append(expr.alias(q.column_for(o.id)))
                hits = pl.sum_horizontal([(code[p] == o.code).fill_null(False) for p in pos_cols])
                checks.append(
                    _CellCheck(
                        hits > 1,
                        q.id,
                        "ranking_repeated",
                        pl.lit(str(o.code)),
                        t("validate.expected_unique"),
                    )
                )
            codes = [float(c) for c in q.codes]
            expected = t("validate.expected_codes", codes=", ".join(str(c) for c in q.codes))
            for p in pos_cols:
                bad = raw[p].is_not_null() & ~code[p].is_in(codes).fill_null(False)
                bad = bad & ~code[p].is_in(missing).fill_null(False)
                checks.append(_CellCheck(bad, p, "unknown_code", raw[p], expected))
        cell_errors = _cell_errors(frame, checks)
        if exprs:
            frame = frame.with_columns(exprs).drop(consumed)
        renames = {f: tgt for f, tgt in self.columns.items() if f in present}
        clash = sorted(tgt for f, tgt in renames.items() if tgt in present and tgt != f)
        if clash:
            raise MappingError(
                t("validate.mapping_target_exists", file=self.source, value=", ".join(clash))
            )
        frame = frame.rename(renames)
        source_of = {tgt: f for f, tgt in renames.items()}
        schema = dict(frame.collect_schema())
        recodes = []
        for col in schema:
            vmap = self.value_map(col, cb)
            if vmap and not any(col.startswith(f"{qid}_") for qid in self.rankings):
                vmap = _with_labels(vmap, labels.get(source_of.get(col, col)))
                recodes.append(_recode(_stripped(col, schema[col]), vmap).alias(col))
        if recodes:
            frame = frame.with_columns(recodes)
        return Mapped(frame, warnings, cell_errors)


def _cell_errors(frame: pl.DataFrame, checks: list[_CellCheck]) -> list[CellError]:
    """The cells the checks flag, in row order (within a row: in the order of the checks)."""
    if not checks:
        return []
    masks = frame.select(c.mask.fill_null(False).alias(f"m{i}") for i, c in enumerate(checks))
    hits = masks.select(pl.all().any()).row(0)
    found: list[CellError] = []
    for i, (check, hit) in enumerate(zip(checks, hits, strict=True)):
        if not hit:
            continue
        idx = masks.to_series(i).arg_true()
        roots = list(dict.fromkeys(check.value.meta.root_names()))
        if roots:
            rows = frame.select(pl.col(r).gather(idx) for r in roots)
            values = rows.select(check.value.cast(pl.String)).to_series().to_list()
        else:  # a literal
            values = [frame.head(1).select(check.value.cast(pl.String)).item()] * idx.len()
        found.extend(
            CellError(row, check.column, value, check.rule, check.expected)
            for row, value in zip(idx.to_list(), values, strict=True)
        )
    found.sort(key=lambda e: e.row)  # stable: the check order stays within a row
    return found


def _with_labels(vmap: dict[Any, Any], labels: dict[Any, str] | None) -> dict[Any, Any]:
    """``vmap`` plus, for every key that is one of the column's value labels (compared
    without case and surrounding blanks), the labelled code mapped to the same target."""
    if not vmap or not labels:
        return vmap
    code_of = {str(label).strip().casefold(): code for code, label in labels.items()}
    keys = {_key(k) for k in vmap}
    extra = {}
    for key, target in vmap.items():
        code = code_of.get(_key(key).casefold())
        if code is not None and _key(code) not in keys:
            extra[code] = target
    return {**vmap, **extra}


def _stripped(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col.str.strip_chars().replace("", None)
    if dtype.is_float():
        return float_as_text(col)  # integral floats (SPSS codes) without ".0": "1" keys match
    return col.cast(pl.String)


def _recode(expr: pl.Expr, vmap: dict[Any, Any]) -> pl.Expr:
    if not vmap:
        return expr
    old = [_key(k) for k in vmap]
    new = [None if v is None else _key(v) for v in vmap.values()]
    return expr.replace(old, pl.Series(new, dtype=pl.String))


def _key(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def load_mapping(path: str | Path) -> Mapping:
    """Load a mapping YAML file; problems raise :class:`MappingError` naming the file."""
    p = Path(path)
    try:
        raw = yamlio.safe_load(p.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise MappingError(t("validate.mapping_missing", file=p)) from exc
    except (OSError, UnicodeDecodeError, yamlio.YAMLError) as exc:
        raise MappingError(t("validate.mapping_unreadable", file=p, error=exc)) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise MappingError(t("validate.mapping_not_dict", file=p, value=type(raw).__name__))
    try:
        return Mapping.model_validate({**raw, "source": str(p)})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise MappingError(
            t("validate.mapping_invalid", file=p, where=where, error=first["msg"])
        ) from exc
