"""The table engine: computes every declared cell (value and n) plus the row statistics.

Input: the canonical validated polars frame (see ``docs/architecture.md``) and the type of
each row (a type id, or null for municipalities without a type). For every table the engine
builds one lazy query: each declared row becomes a per-municipality expression that is null
outside the row's base (``where`` conditions, valid answers) and otherwise holds the value to
aggregate (0/1 for shares, a number for means); sums over each layout column's row mask
(computed once per layout) give count, sum and sum of squares for every cell in one
``select``. Kruskal–Wallis rows add average ranks over the pooled groups. All tables are
collected together (``pl.collect_all``); no Python loop runs over municipalities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import TableSpecError
from kommunaltypen.i18n import t
from kommunaltypen.tables import stats
from kommunaltypen.tables.spec import TYPE_IDS, RowSpec, TableSpec
from kommunaltypen.vocabulary import Progress, study_types

TYPE_COLUMN = "__type"
KEY_COLUMN = "__key"

#: Column labels of the four types (``data/types.yaml`` through :mod:`kommunaltypen.vocabulary`).
STUDY_TYPE_LABELS_DE = {info.id: info.label_de for info in study_types()}
STUDY_TYPE_LABELS_EN = {info.id: info.label_en for info in study_types()}

OUTPUT_COLUMNS = (
    "table",
    "row_label",
    "column_label",
    "value",
    "n",
    "value2",
    "ci_low",
    "ci_high",
    "p_value",
    "test",
    "effect_size",
    "effect_name",
    "bold",
    "suppressed",
    "precision",
    "measure",
    "row_label_en",
    "column_label_en",
    "study_label",
    "part",
    "row_id",
    "column_id",
)

#: version of the dict form of a table (:meth:`TableResult.to_dict`)
TABLE_FORMAT = 1


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class ColumnDef:
    """One column of a layout: key in the group key, labels, and whether it is the total."""

    key: str
    label_de: str
    label_en: str
    total: bool = False

    def label(self, lang: str = "de") -> str:
        return self.label_en if lang == "en" else self.label_de

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.key, "label_de": self.label_de, "label_en": self.label_en} | (
            {"total": True} if self.total else {}
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ColumnDef:
        return cls(raw["id"], raw["label_de"], raw["label_en"], bool(raw.get("total", False)))


@dataclass
class Cell:
    column: ColumnDef
    value: float | None
    n: int | None  # None only where publication mode hid the cell (``hidden``)
    successes: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    bold: bool = False
    #: hidden by publication mode when the result was made publishable (value, n removed)
    hidden: bool = False

    def suppressed(self, min_n: int) -> bool:
        return self.hidden or (self.n is not None and self.n < min_n)

    def to_dict(self, *, hide: bool = False) -> dict[str, Any]:
        if hide or self.hidden:
            return {"column": self.column.key, "hidden": True}
        return {
            "column": self.column.key,
            "value": self.value,
            "n": self.n,
            "successes": self.successes,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "bold": self.bold,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], column: ColumnDef) -> Cell:
        if raw.get("hidden"):
            return cls(column, None, None, hidden=True)
        return cls(
            column,
            _float(raw.get("value")),
            None if raw.get("n") is None else int(raw["n"]),
            _float(raw.get("successes")),
            _float(raw.get("ci_low")),
            _float(raw.get("ci_high")),
            bool(raw.get("bold", False)),
        )


def _float(value: Any) -> float | None:
    """A number of the dict form (JSON has no NaN: None stands for it)."""
    return None if value is None else float(value)


def _json_float(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


@dataclass
class RowResult:
    spec: RowSpec
    cells: list[Cell]
    test: stats.TestResult | None = None
    partner: RowResult | None = None  # the "geplant" row of a Table 12 "angeboten" row

    @property
    def id(self) -> str:
        return self.spec.id

    def cell(self, column_label: str) -> Cell:
        """The cell of a column, by column id (or label)."""
        for c in self.cells:
            if column_label == c.column.key:
                return c
        for c in self.cells:
            if column_label in (c.column.label_de, c.column.label_en):
                return c
        raise KeyError(column_label)

    def to_dict(self, *, hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
        test = self.test
        return {
            "id": self.spec.id,
            "spec": self.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            | {"id": self.spec.id, "label_de": self.spec.label_de, "measure": self.spec.measure},
            "cells": [c.to_dict(hide=c.column.key in hidden) for c in self.cells],
            "test": None
            if test is None
            else {
                "test": test.test,
                "statistic": _json_float(test.statistic),
                "p_value": _json_float(test.p_value),
                "effect_size": _json_float(test.effect_size),
                "effect_name": test.effect_name,
            },
        }


@dataclass
class TableResult:
    spec: TableSpec
    columns: list[ColumnDef]
    rows: list[RowResult] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.spec.number

    def row(self, row_id: str) -> RowResult:
        """The row with id ``row_id`` (KeyError if there is none)."""
        for r in self.rows:
            if r.spec.id == row_id:
                return r
        raise KeyError(row_id)

    def hidden_cells(self, min_n: int) -> dict[str, frozenset[str]]:
        """Publication mode: per row id, the column ids of the cells with n < ``min_n``."""
        return {
            r.spec.id: frozenset(c.column.key for c in r.cells if c.suppressed(min_n))
            for r in self.rows
        }

    def to_dict(self, *, publication: bool = False, min_n: int = 5) -> dict[str, Any]:
        """Everything of the table as JSON-ready data (ids, declaration, cells, tests).

        With ``publication`` every cell with n < ``min_n`` is written without value, n and
        interval (``{"column": id, "hidden": true}``), as in the CSV."""
        hidden = self.hidden_cells(min_n) if publication else {}
        return {
            "format": TABLE_FORMAT,
            "spec": self.spec.model_dump(mode="json", by_alias=True, exclude={"rows"})
            | {"rows": []},
            "columns": [c.to_dict() for c in self.columns],
            "rows": [r.to_dict(hidden=hidden.get(r.spec.id, frozenset())) for r in self.rows],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TableResult:
        """The inverse of :meth:`to_dict` (Table 12's pairs linked again)."""
        columns = [ColumnDef.from_dict(c) for c in raw["columns"]]
        by_id = {c.key: c for c in columns}
        rows_raw = list(raw["rows"])
        spec = TableSpec.model_validate(
            {**raw["spec"], "rows": [r["spec"] for r in rows_raw]}, context={"trusted": True}
        )
        result = cls(spec, columns)
        for row_spec, r in zip(spec.rows, rows_raw, strict=True):
            test = r.get("test")
            result.rows.append(
                RowResult(
                    row_spec,
                    [Cell.from_dict(c, by_id[c["column"]]) for c in r["cells"]],
                    None
                    if test is None
                    else stats.TestResult(
                        test["test"],
                        _nan(test.get("statistic")),
                        _nan(test.get("p_value")),
                        _nan(test.get("effect_size")),
                        test["effect_name"],
                    ),
                )
            )
        link_parts(result)
        return result

    def to_frame(self, *, publication: bool = False, min_n: int = 5) -> pl.DataFrame:
        """Long format, one line per cell (see ``OUTPUT_COLUMNS``).

        In publication mode every cell with n < ``min_n`` shows ``"<min_n>"`` instead of its
        value (and of ``value2``), and its n, interval and bold mark are left empty;
        ``value``/``value2`` are then strings rounded to the printed precision.
        """
        records: list[dict[str, Any]] = []
        hidden = f"<{min_n}"
        for row in self.rows:
            rs = row.spec
            test = row.test
            for cell in row.cells:
                partner_cell = (
                    row.partner.cell(cell.column.key) if row.partner is not None else None
                )
                value2 = partner_cell.value if partner_cell is not None else None
                sup = cell.hidden or (publication and cell.suppressed(min_n))
                sup2 = partner_cell is not None and (
                    partner_cell.hidden or (publication and partner_cell.suppressed(min_n))
                )
                rec: dict[str, Any] = {
                    "table": self.spec.number,
                    "row_label": rs.label_de,
                    "column_label": cell.column.label_de,
                    "value": cell.value,
                    "n": cell.n,
                    "value2": value2,
                    "ci_low": cell.ci_low,
                    "ci_high": cell.ci_high,
                    "p_value": test.p_value if test else None,
                    "test": test.test if test else None,
                    "effect_size": test.effect_size if test else None,
                    "effect_name": test.effect_name if test else None,
                    "bold": cell.bold,
                    "suppressed": sup,
                    "precision": rs.precision,
                    "measure": rs.measure,
                    "row_label_en": rs.label("en"),
                    "column_label_en": cell.column.label_en,
                    "study_label": rs.study_label,
                    "part": rs.part,
                    "row_id": rs.id,
                    "column_id": cell.column.key,
                }
                if publication:
                    rec["value"] = hidden if sup else _fmt(cell.value, rs.precision)
                    rec["value2"] = hidden if sup2 else _fmt(value2, rs.precision)
                    if sup:
                        rec.update(n=None, ci_low=None, ci_high=None, bold=False)
                records.append(rec)
        value_type = pl.String if publication else pl.Float64
        schema = {
            "table": pl.Int64,
            "row_label": pl.String,
            "column_label": pl.String,
            "value": value_type,
            "n": pl.Int64,
            "value2": value_type,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "p_value": pl.Float64,
            "test": pl.String,
            "effect_size": pl.Float64,
            "effect_name": pl.String,
            "bold": pl.Boolean,
            "suppressed": pl.Boolean,
            "precision": pl.Int64,
            "measure": pl.String,
            "row_label_en": pl.String,
            "column_label_en": pl.String,
            "study_label": pl.String,
            "part": pl.String,
            "row_id": pl.String,
            "column_id": pl.String,
        }
        return pl.DataFrame(records, schema=schema, orient="row")


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _fmt(value: float | None, precision: int) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return f"{value:.{precision}f}"


# ----------------------------------------------------------------------------- layouts
def type_column_defs(
    type_ids: Sequence[str] = TYPE_IDS, labels: Mapping[str, tuple[str, str]] | None = None
) -> list[ColumnDef]:
    """Columns of the type layouts: the study's labels for the four study types; other type
    ids (e.g. ``neu_1`` of a typology fitted on other data) use ``labels`` or the id."""
    labels = labels or {}
    out = []
    for tid in type_ids:
        de, en = labels.get(
            tid, (STUDY_TYPE_LABELS_DE.get(tid, tid), STUDY_TYPE_LABELS_EN.get(tid, tid))
        )
        if tid in STUDY_TYPE_LABELS_DE:  # study tables print these labels, whatever the model says
            de = STUDY_TYPE_LABELS_DE[tid]
        out.append(ColumnDef(tid, de, en))
    return out


def layout_columns(
    layout: str, codebook: Codebook, type_columns: Sequence[ColumnDef] | None = None
) -> tuple[list[ColumnDef], pl.Expr, pl.Expr]:
    """Columns of a layout, the expression of each row's column key (null = in no group
    column) and the mask of the total column (if the layout has one)."""
    typed = pl.col(TYPE_COLUMN).is_not_null()
    if layout in ("types", "types_total"):
        cols = list(type_columns or type_column_defs())
        if layout == "types_total":
            cols.append(ColumnDef("gesamt", "Gesamt", "Total", total=True))
        # "Gesamt" uses all valid cases, untyped municipalities included
        return cols, pl.col(TYPE_COLUMN), pl.lit(True)
    group_name = "kommunengruppe" if layout == "kommunengruppe_all" else "kreis_oder_gemeinde"
    grouping = codebook.groups.get(group_name)
    if grouping is None:
        raise TableSpecError(t("tables.layout_group_missing", layout=layout, group=group_name))
    key = pl.lit(None, dtype=pl.String)
    for level in reversed(grouping.levels):
        key = pl.when(_is_in(grouping.based_on, level.codes)).then(pl.lit(level.id)).otherwise(key)
    key = pl.when(typed).then(key).otherwise(pl.lit(None, dtype=pl.String))
    if layout == "kommunengruppe_all":
        cols = [
            ColumnDef(lv.id, f"... {lv.label_de}", f"... {lv.label_en}") for lv in grouping.levels
        ]
        cols.append(ColumnDef("alle", "... Allen", "... all", total=True))
    else:
        cols = [ColumnDef(lv.id, lv.label_de, lv.label_en) for lv in grouping.levels]
    return cols, key, typed


# ----------------------------------------------------------------------------- row expressions
def _is_in(column: str, values: Sequence[float]) -> pl.Expr:
    """Whether the column's value is one of ``values`` (False for null). A few values are
    compared one by one, which polars does in the column's own type (codebook columns are
    narrow integers) instead of widening every cell to a float first."""
    if not values:
        return pl.lit(False)
    if len(values) <= 4:
        literals = [int(v) if float(v).is_integer() else float(v) for v in values]
        hit = pl.col(column) == literals[0]
        for v in literals[1:]:
            hit = hit | (pl.col(column) == v)
        return hit.fill_null(False)
    return pl.col(column).cast(pl.Float64).is_in([float(v) for v in values]).fill_null(False)


def _where(row: RowSpec) -> pl.Expr:
    expr = pl.lit(True)
    if row.type is not None and row.measure != "type_share":
        expr = pl.col(TYPE_COLUMN) == row.type  # row restricted to one type
    for cond in row.where:
        if cond.not_null:
            expr = expr & pl.col(cond.column).is_not_null()
        else:
            expr = expr & _is_in(cond.column, cond.in_ or ())
    return expr


def _any_answered(columns: Sequence[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(c).is_not_null() for c in columns])


def _count_in(columns: Sequence[str], values: Sequence[float]) -> pl.Expr:
    return pl.sum_horizontal([_is_in(c, values) for c in columns]).cast(pl.Float64)


def ratio_scale(row: RowSpec, n_rows: int) -> int | None:
    """For a ``mean_ratio`` row: the least common multiple L of every possible denominator
    (1 … the number of denominator columns), so that L · numerator / denominator is a whole
    number for every municipality — when the sums of those numbers and of their squares fit
    in int64 over ``n_rows`` rows; else (and for other rows) None.

    Summed as whole numbers, the row's sums are exact, so its means do not depend on the
    order in which polars adds the rows up; sums of the float ratios did, in their last bit,
    on 10⁶ rows (polars adds parallel pieces in varying order)."""
    if row.measure != "mean_ratio" or row.numerator is None or row.denominator is None:
        return None
    scale = math.lcm(*range(1, len(row.denominator.columns) + 1))
    top = max(1, len(row.numerator.columns)) * scale
    return scale if top * top * max(1, n_rows) < 2**62 else None


def scaled_ratio_expression(row: RowSpec, scale: int) -> pl.Expr:
    """``scale`` times the per-municipality value of a ``mean_ratio`` row as a whole number
    (Int64; null outside the row's base, as :func:`row_expression`)."""
    assert row.numerator is not None and row.denominator is not None  # mean_ratio rows
    num = _count_in(row.numerator.columns, row.numerator.values).cast(pl.Int64)
    den = _count_in(row.denominator.columns, row.denominator.values).cast(pl.Int64)
    per_one = pl.lit(scale, dtype=pl.Int64) // pl.when(den > 0).then(den).otherwise(1)
    inside = (den > 0).fill_null(False) & _where(row).fill_null(False)
    return pl.when(inside).then(num * per_one).otherwise(None)


def row_expression(row: RowSpec, codebook: Codebook) -> pl.Expr:
    """Per-municipality value of a row (0/1 as UInt8 for shares, else Float64); null outside
    the row's base."""
    m = row.measure
    where = _where(row)
    if m == "share":
        col = row.column or ""
        base = pl.col(col).is_not_null()
        x = _is_in(col, row.values or ()).cast(pl.UInt8)
    elif m == "share_none":
        cols = row.columns or ()
        base = pl.col(row.base_column).is_not_null() if row.base_column else _any_answered(cols)
        x = (~pl.any_horizontal([(pl.col(c) == 1).fill_null(False) for c in cols])).cast(pl.UInt8)
    elif m == "mean":
        col = row.column or ""
        base = pl.col(col).is_not_null()
        x = pl.col(col).cast(pl.Float64)
    elif m == "mean_count":
        cols = row.columns or ()
        base = pl.col(row.base_column).is_not_null() if row.base_column else _any_answered(cols)
        x = _count_in(cols, row.count_values)
    elif m == "share_sum":  # the value comes from share_sum_parts; this gives the n
        cols = row.columns or ()
        base = _any_answered(cols)
        x = _count_in(cols, row.count_values)
    elif m == "mean_ratio":
        num = row.numerator
        den = row.denominator
        assert num is not None and den is not None  # guaranteed by RowSpec validation
        d = _count_in(den.columns, den.values)
        base = d > 0
        x = _count_in(num.columns, num.values) / d
    elif m == "centre":
        col = row.column or ""
        question, _ = codebook.column_owner(col)
        max_rank = question.max_rank or 3
        base = pl.col(col).is_not_null() & pl.col(TYPE_COLUMN).is_not_null()
        r = pl.col(col).cast(pl.Float64)
        x = pl.when((r >= 1) & (r <= max_rank)).then(max_rank + 1 - r).otherwise(0.0)
    elif m == "type_share":
        base = pl.col(TYPE_COLUMN).is_not_null()
        x = (pl.col(TYPE_COLUMN) == row.type).cast(pl.UInt8)
    elif m == "grouped_median":
        col = row.column or ""
        base = pl.col(col).is_not_null()
        x = pl.col(col).cast(pl.Float64)
    else:  # pragma: no cover - Literal type of RowSpec.measure
        raise TableSpecError(f"unknown measure {m!r}")
    return pl.when(base.fill_null(False) & where.fill_null(False)).then(x).otherwise(None)


def share_sum_parts(row: RowSpec) -> list[pl.Expr]:
    """``share_sum``: one 0/1 expression per column, null where that column is unanswered,
    so that every column's share has its own base (item non-response)."""
    where = _where(row).fill_null(False)
    return [
        pl.when(pl.col(c).is_not_null() & where).then(_is_in(c, row.count_values).cast(pl.UInt8))
        for c in row.columns or ()
    ]


def row_test_kind(row: RowSpec, codebook: Codebook) -> str:
    """Which test of difference a row gets: chi2 family, anova, kruskal or none."""
    if row.test != "auto":
        if row.test == "chi2" and not row.is_proportion:
            raise TableSpecError(t("tables.test_mismatch", row=row.label_de, test=row.test))
        if row.test in ("anova", "kruskal") and row.is_proportion:
            raise TableSpecError(t("tables.test_mismatch", row=row.label_de, test=row.test))
        return row.test
    if row.is_proportion:
        return "chi2"
    if row.measure == "mean_ratio":
        return "anova"
    if row.measure == "share_sum":
        return "none"  # a sum of shares of different bases: no test on one variable
    if row.measure == "mean":
        question, _ = codebook.column_owner(row.column or "")
        return "anova" if question.kind in ("number", "percentage") else "kruskal"
    return "kruskal"  # centre (0..3 points), mean_count (counts), grouped_median (medians)


# ----------------------------------------------------------------------------- engine
@dataclass
class _Plan:
    table: TableSpec
    columns: list[ColumnDef]
    tests: list[str]
    #: per row: the few values a Kruskal–Wallis row can take (counted in the main pass)
    values: list[list[float] | None]
    #: one row: every cell's aggregates, named ``<aggregate><row>@<column index>``
    aggregated: pl.LazyFrame
    ties: dict[int, pl.LazyFrame]
    #: per row: the scale of its whole-number sums (:func:`ratio_scale`), or None
    scales: list[int | None]


def _discrete_values(row: RowSpec, codebook: Codebook) -> list[float] | None:
    """The few values a row's per-municipality measure can take, when the codebook fixes
    them (rank points, counts of options, small integer scales); None otherwise."""
    if row.measure == "centre" and row.column:
        question, _ = codebook.column_owner(row.column)
        return [float(v) for v in range(int(question.max_rank or 3) + 1)]
    if row.measure == "mean_count" and row.columns:
        return [float(v) for v in range(len(row.columns) + 1)]
    if row.measure == "mean" and row.column and row.column in codebook.columns:
        question, _ = codebook.column_owner(row.column)
        if question.kind in ("number", "percentage"):
            return None
        if question.options:
            codes = sorted({float(o.code) for o in question.options})
            return codes if len(codes) <= 50 else None
        lo, hi = question.min, question.max
        if lo is not None and hi is not None and lo == int(lo) and hi == int(hi) and hi - lo <= 50:
            return [float(v) for v in range(int(lo), int(hi) + 1)]
    return None


def _aggregations(
    table: TableSpec,
    codebook: Codebook,
    kruskal_values: list[list[float] | None],
    mask: pl.Expr,
    suffix: str,
    scales: Sequence[int | None],
) -> list[pl.Expr]:
    """The cell aggregates of every row of ``table`` over the rows in ``mask`` (one column
    of the layout), named ``<aggregate><row>`` + ``suffix``: count, sum, sum of squares, cases
    per value for Kruskal–Wallis rows, parts of ``share_sum`` rows, population classes of
    grouped medians. Masked sums instead of a ``group_by``: with a handful of columns per
    table, polars computes them several times faster than grouping 1,000,000 rows."""
    aggs: list[pl.Expr] = []

    def count(x: pl.Expr, name: str) -> None:
        aggs.append((x.is_not_null() & mask).sum().alias(name + suffix))

    def ones(x: pl.Expr, name: str) -> None:  # x is 0/1 (UInt8) or null
        aggs.append(((x == 1) & mask).sum().alias(name + suffix))

    for i, row in enumerate(table.rows):
        x = pl.col(f"__x{i}")
        count(x, f"n{i}")
        values = kruskal_values[i]
        if values is not None:  # Kruskal–Wallis: cases per value; sums follow (_per_column)
            aggs += [
                ((x == v) & mask).sum().alias(f"v{i}_{j}{suffix}") for j, v in enumerate(values)
            ]
        elif row.is_proportion:  # 0/1 values: the sum counts the ones, the sum of squares is it
            ones(x, f"s{i}")
        else:
            whole = scales[i] is not None  # summed as whole numbers (ratio_scale)
            inside = pl.when(mask).then(pl.col(f"__z{i}") if whole else x)
            aggs.append(inside.sum().alias(f"s{i}{suffix}"))
            aggs.append((inside * inside).sum().alias(f"q{i}{suffix}"))
        if row.measure == "share_sum":
            for j in range(len(row.columns or ())):
                part = pl.col(f"__x{i}_{j}")
                count(part, f"n{i}_{j}")
                ones(part, f"s{i}_{j}")
        if row.measure == "grouped_median":
            classes = codebook.population_classes
            for j, (lo, hi) in enumerate(classes):
                in_class = x >= lo if hi is None else (x >= lo) & (x < hi)
                aggs.append((in_class.fill_null(False) & mask).sum().alias(f"c{i}_{j}{suffix}"))
    return aggs


@dataclass(frozen=True)
class _Layout:
    """A column layout with the name of each column's row mask in the engine's frame."""

    columns: list[ColumnDef]
    key: pl.Expr
    masks: dict[str, str]  # column key -> mask column


def _layouts(
    specs: Sequence[TableSpec], codebook: Codebook, type_columns: list[ColumnDef]
) -> tuple[dict[str, _Layout], list[pl.Expr], list[pl.Expr]]:
    """Every layout the tables use, the expressions of their column keys and of their
    column masks (computed once for all tables: first the keys, then the masks from them).

    A column key is computed once per distinct key expression, as an Enum of the layout's
    column ids: comparing it is much cheaper than comparing text or evaluating a grouping's
    conditions once per column. Identical masks (the type columns of ``types`` and
    ``types_total``) are computed once."""
    layouts: dict[str, _Layout] = {}
    keys: list[tuple[pl.Expr, tuple[str, ...], str]] = []  # expression, ids, key column
    masks_made: list[tuple[pl.Expr, str]] = []  # expression, mask column
    key_exprs: list[pl.Expr] = []
    mask_exprs: list[pl.Expr] = []

    def key_column(key: pl.Expr, ids: tuple[str, ...]) -> str:
        for expr, known_ids, column in keys:
            if known_ids == ids and expr.meta.eq(key):
                return column
        column = f"__k{len(keys)}"
        keys.append((key, ids, column))
        key_exprs.append(key.cast(pl.Enum(list(ids))).alias(column))
        return column

    def mask_column(mask: pl.Expr) -> str:
        for expr, column in masks_made:
            if expr.meta.eq(mask):
                return column
        column = f"__m{len(masks_made)}"
        masks_made.append((mask, column))
        mask_exprs.append(mask.fill_null(False).alias(column))
        return column

    for name in dict.fromkeys(tb.columns for tb in specs):
        columns, key, total_mask = layout_columns(name, codebook, type_columns)
        ids = tuple(c.key for c in columns if not c.total)
        key_col = key_column(key, ids) if ids else None
        masks = {
            c.key: mask_column(total_mask if c.total else pl.col(key_col) == c.key) for c in columns
        }
        layouts[name] = _Layout(columns, key, masks)
    return layouts, key_exprs, mask_exprs


def _plan(
    frame: pl.LazyFrame, table: TableSpec, codebook: Codebook, layout: _Layout, n_rows: int
) -> _Plan:
    columns = layout.columns
    tests = [row_test_kind(r, codebook) for r in table.rows]
    values = [
        _discrete_values(r, codebook) if k == "kruskal" else None
        for r, k in zip(table.rows, tests, strict=True)
    ]
    scales = [ratio_scale(r, n_rows) for r in table.rows]
    # a ratio row with a scale: its whole numbers first, its value from them (z / L is the
    # same float as numerator / denominator: both are the correctly rounded same fraction)
    wholes = [
        scaled_ratio_expression(r, scale).alias(f"__z{i}")
        for i, (r, scale) in enumerate(zip(table.rows, scales, strict=True))
        if scale is not None
    ]
    exprs = [
        (pl.col(f"__z{i}") / scale if scale is not None else row_expression(r, codebook)).alias(
            f"__x{i}"
        )
        for i, (r, scale) in enumerate(zip(table.rows, scales, strict=True))
    ]
    for i, r in enumerate(table.rows):
        if r.measure == "share_sum":
            exprs += [e.alias(f"__x{i}_{j}") for j, e in enumerate(share_sum_parts(r))]
    lf = (frame.with_columns(*wholes) if wholes else frame).with_columns(*exprs)
    aggs = [
        agg
        for j, c in enumerate(columns)
        for agg in _aggregations(
            table, codebook, values, pl.col(layout.masks[c.key]), f"@{j}", scales
        )
    ]
    # Kruskal–Wallis rows whose values are not few and known (e.g. populations): counts per
    # (group, value) in a query of their own; ranks and ties follow from them
    keyed = lf.with_columns(layout.key.alias(KEY_COLUMN))
    ties = {
        i: keyed.filter(pl.col(KEY_COLUMN).is_not_null() & pl.col(f"__x{i}").is_not_null())
        .group_by(KEY_COLUMN, f"__x{i}")
        .agg(pl.len().alias("t"))
        for i, k in enumerate(tests)
        if k == "kruskal" and values[i] is None
    }
    return _Plan(table, columns, tests, values, lf.select(aggs), ties, scales)


def _per_column(aggregated: pl.DataFrame, plan: _Plan) -> list[dict[str, Any]]:
    """The one-row result of a plan's aggregation as one dict of aggregates per column; rows
    counted per value get their sum and sum of squares from those counts."""
    out: list[dict[str, Any]] = [{} for _ in plan.columns]
    for name, value in aggregated.row(0, named=True).items():
        aggregate, j = name.rsplit("@", 1)
        out[int(j)][aggregate] = value
    for i, values in enumerate(plan.values):
        if values is not None:
            for agg in out:
                counts = [float(agg.get(f"v{i}_{j}") or 0) for j in range(len(values))]
                agg[f"s{i}"] = sum(v * c for v, c in zip(values, counts, strict=True))
                agg[f"q{i}"] = sum(v * v * c for v, c in zip(values, counts, strict=True))
    for i, scale in enumerate(plan.scales):
        if scale is not None:  # exact whole-number sums: one correctly rounded division each
            for agg in out:
                for name, unit in ((f"s{i}", scale), (f"q{i}", scale * scale)):
                    if agg.get(name) is not None:
                        agg[name] = int(agg[name]) / unit
    return out


def _cell_from(
    row: RowSpec, column: ColumnDef, agg: dict[str, Any], i: int, codebook: Codebook
) -> Cell:
    n = int(agg.get(f"n{i}") or 0)
    s = float(agg.get(f"s{i}") or 0.0)
    q = float(agg.get(f"q{i}") or 0.0)
    if n == 0:
        return Cell(column, None, 0)
    scale = 100.0 if row.percent else 1.0
    if row.measure == "grouped_median":
        counts = [float(agg.get(f"c{i}_{j}") or 0) for j in range(len(codebook.population_classes))]
        value = stats.grouped_median(counts, codebook.population_classes)
        return Cell(column, None if math.isnan(value) else value, n)
    if row.measure == "share_sum":
        shares = []
        for j in range(len(row.columns or ())):
            n_j = float(agg.get(f"n{i}_{j}") or 0)
            if n_j:
                shares.append(float(agg.get(f"s{i}_{j}") or 0.0) / n_j)
        return Cell(column, sum(shares) * scale, n)
    mean = s / n
    if row.is_proportion:
        lo, hi = stats.wilson_interval(s, n)
        return Cell(column, mean * scale, n, s, float(lo) * scale, float(hi) * scale)
    lo = hi = None
    if n > 1:
        var = max((q - s * s / n) / (n - 1), 0.0)
        from scipy import special  # imported late: see kommunaltypen.tables.stats

        half = float(special.stdtrit(n - 1, 0.975)) * math.sqrt(var / n)  # t.ppf
        lo, hi = (mean - half) * scale, (mean + half) * scale
        bounds = _value_bounds(row, codebook)
        if bounds is not None:  # a t interval may reach past what the measure can take
            lo, hi = max(lo, bounds[0] * scale), min(hi, bounds[1] * scale)
    return Cell(column, mean * scale, n, None, lo, hi)


def _value_bounds(row: RowSpec, codebook: Codebook) -> tuple[float, float] | None:
    """The range a mean-type cell can take, when the codebook fixes it."""
    if row.column is not None and row.column not in codebook.columns:
        return None
    if row.measure == "centre" and row.column:
        question, _ = codebook.column_owner(row.column)
        return 0.0, float(question.max_rank or 0)
    if row.measure in ("mean_count", "share_sum") and row.columns:
        return 0.0, float(len(row.columns))
    if row.measure == "mean" and row.column:
        question, _ = codebook.column_owner(row.column)
        if question.kind == "percentage":
            return 0.0, 100.0
        if question.min is not None and question.max is not None:
            return float(question.min), float(question.max)
    return None


def _row_test(
    kind: str,
    i: int,
    group_cells: list[Cell],
    group_aggs: list[dict[str, Any]],
    tie_term: float,
    seed: int,
) -> stats.TestResult | None:
    if kind == "none":
        return None
    ns = [float(a.get(f"n{i}") or 0) for a in group_aggs]
    if kind == "chi2":
        return stats.proportion_test([c.successes or 0.0 for c in group_cells], ns, seed=seed)
    if kind == "anova":
        sums = np.array([float(a.get(f"s{i}") or 0.0) for a in group_aggs])
        sq = np.array([float(a.get(f"q{i}") or 0.0) for a in group_aggs])
        nn = np.array(ns)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(nn > 0, sums / nn, 0.0)
            var = np.where(nn > 1, (sq - sums * sums / nn) / (nn - 1), 0.0)
        return stats.anova_from_moments(nn, means, np.maximum(var, 0.0))
    rank_sums = [float(a.get(f"r{i}") or 0.0) for a in group_aggs]
    return stats.kruskal_from_ranks(ns, rank_sums, tie_term)


def compute_tables(
    data: pl.DataFrame,
    types: pl.Series | Sequence[str | None],
    specs: Sequence[TableSpec],
    *,
    codebook: Codebook | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    type_ids: Sequence[str] = TYPE_IDS,
    type_labels: Mapping[str, tuple[str, str]] | None = None,
) -> list[TableResult]:
    """Compute every cell (value, n, interval), row test and bold mark of ``specs``.

    ``types`` holds one type id (or null) per row of ``data``; ``type_ids`` are the type
    columns in order (default: the study's four types), ``type_labels`` optional
    ``{id: (label_de, label_en)}`` for types the study does not have.
    """
    cb = codebook or default_codebook()
    if len(types) != data.height:
        raise TableSpecError(t("tables.types_length", types=len(types), rows=data.height))
    tseries = pl.Series(
        TYPE_COLUMN, list(types) if not isinstance(types, pl.Series) else types, dtype=pl.String
    )
    unknown = set(tseries.drop_nulls().unique().to_list()) - set(type_ids)
    if unknown:
        raise TableSpecError(
            t("tables.unknown_types", got=sorted(unknown), expected=", ".join(type_ids))
        )
    type_columns = type_column_defs(type_ids, type_labels)
    needed = {c for tb in specs for r in tb.rows for c in r.referenced_columns()}
    needed |= {g.based_on for g in cb.groups.values()}
    missing = sorted(c for c in needed if c not in data.columns)
    if missing:
        raise TableSpecError(t("tables.data_missing_columns", columns=", ".join(missing)))
    layouts, keys, masks = _layouts(specs, cb, type_columns)
    # the masks are computed once, eagerly; each table's query reads them as plain columns
    frame = (
        data.select(sorted(needed))
        .with_columns(tseries.alias(TYPE_COLUMN))
        .with_columns(keys)
        .with_columns(masks)
        .drop(str(k.meta.output_name()) for k in keys)
    ).lazy()

    plans = [_plan(frame, tb, cb, layouts[tb.columns], data.height) for tb in specs]
    queries: list[pl.LazyFrame] = []
    for p in plans:
        queries.append(p.aggregated)
        queries.extend(p.ties.values())
    collected = iter(pl.collect_all(queries))

    results: list[TableResult] = []
    for p in plans:
        per_column = _per_column(next(collected), p)
        ties = {i: next(collected) for i in p.ties}
        by_key = {c.key: a for c, a in zip(p.columns, per_column, strict=True) if not c.total}
        total_agg = next((a for c, a in zip(p.columns, per_column, strict=True) if c.total), {})
        group_cols = [c for c in p.columns if not c.total]
        result = TableResult(p.table, p.columns)
        for i, row in enumerate(p.table.rows):
            group_aggs = [by_key.get(c.key, {}) for c in group_cols]
            group_cells = [
                _cell_from(row, c, a, i, cb) for c, a in zip(group_cols, group_aggs, strict=True)
            ]
            cells = list(group_cells)
            for c in p.columns:
                if c.total:
                    cells.append(_cell_from(row, c, total_agg, i, cb))
            tie_term = 0.0
            values = p.values[i]
            if values is not None:
                ties[i] = _value_counts(i, values, group_cols, group_aggs)
            if i in ties:
                rank_sums, tie_term = _rank_sums(ties[i], f"__x{i}")
                for c, a in zip(group_cols, group_aggs, strict=True):
                    a[f"r{i}"] = rank_sums.get(c.key, 0.0)
            test = _row_test(
                p.tests[i], i, group_cells, group_aggs, tie_term, seed + p.table.number * 1000 + i
            )
            marks = stats.bold_marks([c.value for c in group_cells], row.precision)
            for c, mark in zip(group_cells, marks, strict=True):
                c.bold = mark
            result.rows.append(RowResult(row, cells, test))
        link_parts(result)
        results.append(result)
        if progress is not None:
            progress("tables", len(results) / len(plans))
    return results


def _value_counts(
    i: int, values: list[float], group_cols: list[ColumnDef], group_aggs: list[dict[str, Any]]
) -> pl.DataFrame:
    """The (group, value, cases) frame of row ``i`` from the per-value counts of the main
    aggregation (the layout of the ties queries)."""
    keys, vals, counts = [], [], []
    for c, agg in zip(group_cols, group_aggs, strict=True):
        for j, v in enumerate(values):
            t = int(agg.get(f"v{i}_{j}") or 0)
            if t:
                keys.append(c.key)
                vals.append(v)
                counts.append(t)
        n = int(agg.get(f"n{i}") or 0)
        counted = sum(int(agg.get(f"v{i}_{j}") or 0) for j in range(len(values)))
        if n != counted:
            raise TableSpecError(  # a value outside the codebook's range: a bug, not bad input
                f"row {i}, column {c.key}: {n} cases but {counted} counted over {values}"
            )
    return pl.DataFrame(
        {KEY_COLUMN: keys, f"__x{i}": vals, "t": counts},
        schema={KEY_COLUMN: pl.String, f"__x{i}": pl.Float64, "t": pl.UInt32},
    )


def _rank_sums(counts: pl.DataFrame, value: str) -> tuple[dict[str, float], float]:
    """Rank sums per group (average ranks over the pooled groups) and the tie term
    Σ(t³ − t) from the number of cases per (group, value) – no sort of the raw values."""
    per_value = counts.group_by(value).agg(pl.col("t").sum()).sort(value)
    t = per_value["t"].to_numpy().astype(float)
    below = np.concatenate([[0.0], np.cumsum(t)[:-1]])
    ranks = per_value.select(value).with_columns(pl.Series("avg_rank", below + (t + 1.0) / 2.0))
    by_group = (
        counts.join(ranks, on=value, how="left")
        .group_by(KEY_COLUMN)
        .agg((pl.col("t") * pl.col("avg_rank")).sum().alias("r"))
    )
    sums = dict(zip(by_group[KEY_COLUMN].to_list(), by_group["r"].to_list(), strict=True))
    return sums, float((t**3 - t).sum())


def pair_parts(rows: Sequence[tuple[str, str | None, str | None]]) -> dict[str, str]:
    """Table 12's offered/planned pairs: ``{offered row id: planned row id}`` from
    ``(row id, part, study_label)`` of each row — the one rule that pairs them (rows with the
    same ``study_label``, ``part`` "angeboten" and "geplant")."""
    planned = {label: rid for rid, part, label in rows if part == "geplant" and label}
    return {
        rid: planned[label] for rid, part, label in rows if part == "angeboten" and label in planned
    }


def link_parts(result: TableResult) -> None:
    """Attach each "geplant" row to its "angeboten" row (value2 of Table 12 cells).

    Uses :func:`pair_parts`; outputs, report and charts use ``RowResult.partner``."""
    pairs = pair_parts([(r.spec.id, r.spec.part, r.spec.study_label) for r in result.rows])
    by_id = {r.spec.id: r for r in result.rows}
    for r in result.rows:
        r.partner = by_id[pairs[r.spec.id]] if r.spec.id in pairs else None


def tables_frame(
    results: Sequence[TableResult], *, publication: bool = False, min_n: int = 5
) -> pl.DataFrame:
    """All tables in one long frame."""
    frames = [r.to_frame(publication=publication, min_n=min_n) for r in results]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame()
