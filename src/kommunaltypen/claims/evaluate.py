"""Evaluation of the claims on one survey wave: :func:`evaluate_claims` → :class:`ClaimsResult`.

Associations are computed over all valid cases (every accepted municipality, typed or not,
with both measures present); type claims compare the cells of the wave's computed tables and
test the difference each claim rests on with the municipalities in those cells (bases and
missing values exactly as in the tables: the table engine's row expressions give each
municipality's value, null = not in the row's base).

The values never leave polars: each association is computed from the table of cases per pair
of distinct values (``stats.Crosstab``), each type comparison from the cases per distinct value
and type (``stats.Counts``), all counted in one parallel polars pass, so a wave of 10⁶
municipalities costs a few group-bys, not arrays of 10⁶ values per claim.

Verdicts (one family of tests, corrected for multiple testing with Holm or
Benjamini–Hochberg as the claims file says):

* ``supported`` – significant in the claimed direction (type claims: the claimed order holds
  in the tables and its weakest difference is significant);
* ``holds_not_significant`` – type claims only: the order holds in the tables, the weakest
  difference is not significant;
* ``not_supported`` – no significant result either way (the reading says which way the
  estimate points);
* ``contradicted`` – significant in the other direction;
* ``not_testable`` – association claims on the bundled reconstruction, which was generated
  from per-type tables only and carries no information on associations across topics;
* ``no_data`` – a measure needs a question the codebook or the data lack, no case has both
  values, a measure does not vary, or a table, row or type is missing in this wave.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import polars as pl

from kommunaltypen.claims import stats
from kommunaltypen.claims.spec import (
    AssociationClaim,
    Claims,
    Measure,
    TypeClaim,
    column_scale,
    load_claims,
    measure_scale,
    row_keys,
)
from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.i18n import t
from kommunaltypen.tables.engine import (
    TYPE_COLUMN,
    RowResult,
    TableResult,
    row_expression,
    row_test_kind,
)
from kommunaltypen.vocabulary import format_number, type_label

LANGS = ("de", "en")
VERDICTS = (
    "supported",
    "holds_not_significant",
    "not_supported",
    "contradicted",
    "not_testable",
    "no_data",
)
#: fewest valid pairs (associations) or cases per compared type (type claims) for a test
MIN_CASES = 5
#: effect names of the methods (association and type-claim tests)
EFFECT_NAMES = {
    "kendall_tau_b": "tau_b",
    "spearman_rho": "rho",
    "rank_biserial": "r_rb",
    "phi": "phi",
    "chi2": "difference",
    "fisher_exact": "difference",
    "mann_whitney": "difference",
    "welch_t": "difference",
}
#: columns of ``claims.csv`` (:meth:`ClaimsResult.to_frame`) and their types: every field of
#: :class:`ClaimResult` plus the check's ``alpha`` and ``bundled``, so that
#: :meth:`ClaimsResult.from_frame` restores the check from the file alone
CSV_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "kind": pl.String,
    "verdict": pl.String,
    "holds": pl.Boolean,
    "method": pl.String,
    "effect_name": pl.String,
    "effect": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "p_adjusted": pl.Float64,
    "correction": pl.String,
    "alpha": pl.Float64,
    "n": pl.Int64,
    "odds_ratio": pl.Float64,
    "or_ci_low": pl.Float64,
    "or_ci_high": pl.Float64,
    "direction": pl.String,
    "x": pl.String,
    "y": pl.String,
    "table": pl.Int64,
    "rows": pl.String,
    "row": pl.String,
    "higher": pl.String,
    "lower": pl.String,
    "value_higher": pl.Float64,
    "value_lower": pl.Float64,
    "precision": pl.Int64,
    "unit": pl.String,
    "reason": pl.String,
    "bundled": pl.Boolean,
    "place_de": pl.String,
    "place_en": pl.String,
    "text_de": pl.String,
    "text_en": pl.String,
    "reading_de": pl.String,
    "reading_en": pl.String,
    "reason_de": pl.String,
    "reason_en": pl.String,
}
CSV_COLUMNS = tuple(CSV_SCHEMA)


@dataclass
class ClaimResult:
    """The check of one claim on one wave (both languages' texts included)."""

    id: str
    kind: str  # association | type
    verdict: str  # one of VERDICTS
    text_de: str
    text_en: str
    place_de: str
    place_en: str
    reading_de: str = ""
    reading_en: str = ""
    method: str | None = None
    effect_name: str | None = None
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    correction: str | None = None
    n: int | None = None
    holds: bool | None = None  # type claims: the claimed order holds in the tables
    reason: str | None = None  # why not_testable / no_data (machine key)
    reason_de: str | None = None
    reason_en: str | None = None
    # associations
    direction: str | None = None
    x: str | None = None
    y: str | None = None
    odds_ratio: float | None = None
    or_ci_low: float | None = None
    or_ci_high: float | None = None
    # type claims: the comparison the verdict rests on (the weakest, or the reversed one)
    table: int | None = None
    rows: str | None = None
    row: str | None = None
    higher: str | None = None
    lower: str | None = None
    value_higher: float | None = None
    value_lower: float | None = None
    precision: int | None = None
    unit: str | None = None  # "pp" (percentage points) or "" (scale points)

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    def text(self, lang: str = "de") -> str:
        return self.text_en if lang == "en" else self.text_de

    def place(self, lang: str = "de") -> str:
        return self.place_en if lang == "en" else self.place_de

    def reading(self, lang: str = "de") -> str:
        return self.reading_en if lang == "en" else self.reading_de

    def verdict_label(self, lang: str = "de") -> str:
        return t(f"claims.verdict_{self.verdict}", lang=lang)


@dataclass
class ClaimsResult:
    """All claim checks of one wave, with the correction used."""

    results: list[ClaimResult]
    correction: str
    alpha: float
    bundled: bool
    source: str = ""
    n_tests: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[ClaimResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def result(self, claim_id: str) -> ClaimResult:
        for r in self.results:
            if r.id == claim_id:
                return r
        raise KeyError(claim_id)

    def counts(self) -> dict[str, int]:
        """Number of claims per verdict (every verdict present, in the order of VERDICTS)."""
        out = dict.fromkeys(VERDICTS, 0)
        for r in self.results:
            out[r.verdict] += 1
        return out

    def correction_text(self, lang: str = "de") -> str:
        """How the p-values were corrected (stated wherever the check is shown)."""
        tests = self.meta.get("tests") or {}
        return t(
            "claims.correction_note",
            lang=lang,
            method=t(f"claims.correction_{self.correction}", lang=lang),
            associations=tests.get("association", 0),
            types=tests.get("type", 0),
            alpha=format_number(self.alpha, 2, lang),
        )

    def to_frame(self) -> pl.DataFrame:
        """One line per claim (the columns of ``claims.csv``: ``CSV_COLUMNS``)."""
        check = {"alpha": self.alpha, "bundled": self.bundled}
        records = [
            {c: _finite(check[c] if c in check else getattr(r, c)) for c in CSV_COLUMNS}
            for r in self.results
        ]
        return pl.DataFrame(records, schema=CSV_SCHEMA, orient="row")

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, source: str = "") -> ClaimsResult:
        """The check from :meth:`to_frame` (e.g. ``claims.csv`` read back with polars)."""
        missing = [c for c in CSV_COLUMNS if c not in frame.columns]
        if missing:
            from kommunaltypen.claims.spec import ClaimsError

            raise ClaimsError(t("claims.csv_columns", file=source or "-", columns=missing))
        frame = frame.select(pl.col(c).cast(dtype) for c, dtype in CSV_SCHEMA.items())
        names = {f.name for f in fields(ClaimResult)}
        results = [
            ClaimResult(**{k: v for k, v in rec.items() if k in names})
            for rec in frame.iter_rows(named=True)
        ]
        tests = {
            kind: sum(1 for r in results if r.kind == kind and r.p_value is not None)
            for kind in ("association", "type")
        }
        return cls(
            results=results,
            correction=(results[0].correction if results else None) or "holm",
            alpha=float(frame["alpha"][0]) if frame.height else 0.05,
            bundled=bool(frame["bundled"][0]) if frame.height else False,
            source=source,
            n_tests=sum(tests.values()),
            meta={"tests": tests},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (:meth:`from_dict` restores it)."""
        return {
            "correction": self.correction,
            "alpha": self.alpha,
            "bundled": self.bundled,
            "source": self.source,
            "n_tests": self.n_tests,
            "meta": dict(self.meta),
            "results": [{k: _finite(v) for k, v in asdict(r).items()} for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClaimsResult:
        names = {f.name for f in fields(ClaimResult)}
        return cls(
            results=[
                ClaimResult(**{k: v for k, v in r.items() if k in names}) for r in data["results"]
            ],
            correction=data["correction"],
            alpha=float(data["alpha"]),
            bundled=bool(data["bundled"]),
            source=data.get("source", ""),
            n_tests=int(data.get("n_tests", 0)),
            meta=dict(data.get("meta") or {}),
        )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.floating):
        return _finite(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


# ----------------------------------------------------------------------------- measures
@dataclass(frozen=True)
class _Variable:
    name: str
    scale: str | None
    reason: str | None = None  # why no data
    label_de: str = ""
    label_en: str = ""


def _is_in(column: str, values: Sequence[float]) -> pl.Expr:
    wanted = [float(v) for v in values]
    if len(wanted) == 1:  # one value (the usual "yes"): a comparison, no cast of the column
        value = wanted[0]
        return pl.col(column) == (int(value) if value.is_integer() else value)
    return pl.col(column).cast(pl.Float64).is_in(wanted)


def measure_expression(measure: Measure, *, as_float: bool = True) -> pl.Expr:
    """Per-municipality value of a declared measure (Float64, null = not in its base).

    ``as_float=False``: the same values and nulls in the type they come in (booleans for a
    yes/no measure, integer counts, the column's own codes), for counting cases per value,
    which is cheaper on them than on Float64; the counted values are the same numbers."""
    values = measure.values or (1,)

    def number(expr: pl.Expr) -> pl.Expr:
        return expr.cast(pl.Float64) if as_float else expr

    if measure.kind == "column":
        col = measure.column or ""
        if measure.values is None:
            return number(pl.col(col))
        return pl.when(pl.col(col).is_null()).then(None).otherwise(number(_is_in(col, values)))
    cols = measure.columns or ()
    answered = pl.any_horizontal([pl.col(c).is_not_null() for c in cols])
    hits = pl.sum_horizontal([_is_in(c, values).fill_null(False) for c in cols])
    value = hits if measure.kind == "count" else hits > 0
    return pl.when(answered).then(number(value)).otherwise(None)


def _measure(name: str, claims: Claims, codebook: Codebook) -> Measure:
    """The declared measure ``name``, or a codebook column used directly as one."""
    measure = claims.measures.get(name)
    if measure is not None:
        return measure
    question, option = codebook.column_owner(name)
    label_de = question.label_de + (f": {option.label_de}" if option else "")
    label_en = question.label_en + (f": {option.label_en}" if option else "")
    return Measure(id=name, kind="column", column=name, label_de=label_de, label_en=label_en)


class _AssociationCounts:
    """What the association claims need from the data, as polars queries run together with
    the type claims' (:func:`evaluate_claims`, one ``collect_all``): per measure whether any
    municipality has a value, and per measure pair the table of cases per pair of distinct
    values (:class:`stats.Crosstab`). The measures' values (null = not in the base) are
    computed inside each query in the type they come in (booleans, counts, codes; the
    crosstab turns the distinct values into floats); no column of the n values is
    materialised, and no array of them leaves polars. Measures whose columns the codebook
    or the data lack are left out. Lives for one :func:`evaluate_claims` call."""

    def __init__(
        self,
        names: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        claims: Claims,
        data: pl.DataFrame,
        codebook: Codebook,
    ) -> None:
        exprs: dict[str, pl.Expr] = {}
        for name in dict.fromkeys(names):
            measure = _measure(name, claims, codebook)
            cols = measure.referenced_columns()
            if all(c in codebook.columns and c in data.columns for c in cols):
                expr = measure_expression(measure, as_float=False)
                own_values = measure.kind == "column" and measure.values is None
                if own_values and data.schema[measure.column or ""].is_float():
                    expr = expr.fill_nan(None)  # NaN counts as no value
                exprs[name] = expr
        self._names = list(exprs)
        self._pairs = [(x, y) for x, y in dict.fromkeys(pairs) if x in exprs and y in exprs]
        lazy = data.lazy()
        self.queries: list[pl.LazyFrame] = []
        if exprs:
            self.queries.append(
                lazy.select([e.is_not_null().any().alias(n) for n, e in exprs.items()])
            )
        self.queries += [
            lazy.select(exprs[x].alias("x"), exprs[y].alias("y"))
            .drop_nulls()
            .group_by("x", "y")
            .len()
            for x, y in self._pairs
        ]
        self.answered: dict[str, bool] = {}
        self.crosstabs: dict[tuple[str, str], stats.Crosstab] = {}

    def take(self, collected: Sequence[pl.DataFrame]) -> None:
        """Read the results of :attr:`queries` (in their order)."""
        results = iter(collected)
        if self._names:
            self.answered = dict(zip(self._names, next(results).row(0), strict=True))
        for pair, got in zip(self._pairs, results, strict=True):
            self.crosstabs[pair] = stats.Crosstab.from_pairs(
                got["x"].to_numpy(), got["y"].to_numpy(), got["len"].to_numpy()
            )


def _variable(
    name: str,
    claims: Claims,
    data: pl.DataFrame,
    codebook: Codebook,
    answered: Mapping[str, bool] | None = None,
) -> _Variable:
    """A measure's scale and, if it has no data, why: from ``answered``
    (:class:`_AssociationCounts`: whether any municipality has a value of the measure);
    without it only whether anyone answered its columns (null counts)."""
    measure = _measure(name, claims, codebook)
    scale = (
        measure_scale(measure, codebook)
        if name in claims.measures
        else column_scale(name, codebook)
    )
    labels = (measure.label_de, measure.label_en)
    missing_cb = [c for c in measure.referenced_columns() if c not in codebook.columns]
    if missing_cb:
        return _Variable(name, scale, "planned_question", *labels)
    missing = [c for c in measure.referenced_columns() if c not in data.columns]
    if missing:
        return _Variable(name, scale, "no_column", *labels)
    if answered is None:  # only whether anyone answered (cheap: null counts)
        cols = measure.referenced_columns()
        if all(data[c].null_count() == data.height for c in cols):
            return _Variable(name, scale, "no_answers", *labels)
        return _Variable(name, scale, None, *labels)
    if not answered.get(name, False):
        return _Variable(name, scale, "no_answers", *labels)
    return _Variable(name, scale, None, *labels)


# ----------------------------------------------------------------------------- pending results
@dataclass
class _Pending:
    result: ClaimResult
    sign: int = 0  # +1: estimate in the claimed direction, −1: against, 0: none
    kind_of_p: str = ""  # "association" | "holds" | "reversed"
    extra: dict[str, Any] = field(default_factory=dict)


def _base(claim: AssociationClaim | TypeClaim, kind: str) -> ClaimResult:
    return ClaimResult(
        id=claim.id,
        kind=kind,
        verdict="no_data",
        text_de=claim.text_de,
        text_en=claim.text_en,
        place_de=claim.place_text("de"),
        place_en=claim.place_text("en"),
    )


def _set_reason(
    result: ClaimResult,
    verdict: str,
    reason: str,
    labels: dict[str, tuple[str, str]] | None = None,
    **kw: Any,
) -> None:
    """Set a verdict without a test and its reason in both languages; ``labels`` are
    placeholders with a German and an English value."""
    result.verdict = verdict
    result.reason = reason
    for i, lang in enumerate(LANGS):
        per_lang = {k: v[i] for k, v in (labels or {}).items()}
        setattr(result, f"reason_{lang}", t(f"claims.reason_{reason}", lang=lang, **kw, **per_lang))


def _association(
    claim: AssociationClaim,
    claims: Claims,
    data: pl.DataFrame,
    codebook: Codebook,
    bundled: bool,
    seed: int,
    counts: _AssociationCounts | None,
) -> _Pending:
    result = _base(claim, "association")
    result.direction, result.x, result.y = claim.direction, claim.x, claim.y
    pending = _Pending(result)
    answered = counts.answered if counts is not None else None
    vx = _variable(claim.x, claims, data, codebook, answered)
    vy = _variable(claim.y, claims, data, codebook, answered)
    for v in (vx, vy):
        if v.reason is not None:
            _set_reason(result, "no_data", v.reason, {"measure": (v.label_de, v.label_en)})
            return pending
    if bundled:
        _set_reason(result, "not_testable", "bundled")
        return pending
    assert counts is not None  # not bundled: counted
    ct = counts.crosstabs[(claim.x, claim.y)]
    result.n = ct.n
    if result.n < MIN_CASES:
        _set_reason(result, "no_data", "too_few", n=result.n, minimum=MIN_CASES)
        return pending
    if len(ct.x) == 1 or len(ct.y) == 1:
        flat = vx if len(ct.x) == 1 else vy
        _set_reason(result, "no_data", "no_variation", {"measure": (flat.label_de, flat.label_en)})
        return pending
    for v, distinct in ((vx, ct.x), (vy, ct.y)):
        if v.scale == "binary" and not np.isin(distinct, (0.0, 1.0)).all():
            from kommunaltypen.claims.spec import ClaimsError

            odd = sorted(set(distinct.tolist()) - {0.0, 1.0})[:5]
            raise ClaimsError(t("claims.not_binary", measure=v.name, got=odd))
    scales = (vx.scale, vy.scale)
    if scales == ("binary", "binary"):
        res = stats.phi_fisher_of(ct, seed=seed)
        result.odds_ratio, result.or_ci_low, result.or_ci_high = (
            res.odds_ratio,
            res.or_ci_low,
            res.or_ci_high,
        )
    elif scales == ("binary", "ordinal"):
        res = stats.rank_biserial_of(ct)
    elif scales == ("ordinal", "binary"):
        res = stats.rank_biserial_of(ct.transpose())
    elif claim.method == "spearman":
        res = stats.spearman_rho_of(ct)
    else:
        res = stats.kendall_tau_b_of(ct)
    result.method = res.method
    result.effect_name = EFFECT_NAMES[res.method]
    result.effect, result.ci_low, result.ci_high = res.effect, res.ci_low, res.ci_high
    result.p_value = res.p_value if math.isfinite(res.p_value) else 1.0
    want = 1 if claim.direction == "positive" else -1
    pending.sign = 0 if res.effect == 0 else (1 if res.effect * want > 0 else -1)
    pending.kind_of_p = "association"
    return pending


def _find_row(table: TableResult, key: str) -> RowResult | None:
    for row in table.rows:
        if key in row_keys(row.spec):
            return row
    return None


class _RowCounts:
    """Per type, the cases per distinct value of each table row the type claims use (the
    table engine's row expressions: null outside the row's base), as polars queries run
    together with the association claims' (:func:`evaluate_claims`, one ``collect_all``).
    Lives for one :func:`evaluate_claims` call."""

    def __init__(
        self,
        frame: pl.DataFrame,
        claims: Sequence[TypeClaim],
        tables: Sequence[TableResult],
        codebook: Codebook,
    ) -> None:
        by_number = {tb.number: tb for tb in tables}
        exprs: dict[str, pl.Expr] = {}
        for claim in claims:
            table = by_number.get(claim.table)
            for key in claim.rows:
                row = _find_row(table, key) if table is not None else None
                name = f"{claim.table}|{key}"
                # shares are tested from the cells' counts: no values needed
                if row is not None and not row.spec.is_proportion and name not in exprs:
                    exprs[name] = row_expression(row.spec, codebook)
        lazy = frame.lazy()
        # counted in the values' own type (integer codes count faster than Float64; a float
        # row's NaN counts as no value), the distinct values cast to float afterwards
        dtypes = lazy.select(e.alias(n) for n, e in exprs.items()).collect_schema() if exprs else {}
        self._names = list(exprs)
        self.queries = [
            lazy.select(
                pl.col(TYPE_COLUMN), (e.fill_nan(None) if dtypes[n].is_float() else e).alias("v")
            )
            .drop_nulls()
            .group_by(TYPE_COLUMN, "v")
            .len()
            .with_columns(pl.col("v").cast(pl.Float64))
            .sort(TYPE_COLUMN, "v")
            for n, e in exprs.items()
        ]
        self._counts: dict[tuple[str, str], stats.Counts] = {}

    def take(self, collected: Sequence[pl.DataFrame]) -> None:
        """Read the results of :attr:`queries` (in their order)."""
        for name, got in zip(self._names, collected, strict=True):
            for (tid,), part in got.group_by(TYPE_COLUMN, maintain_order=True):
                self._counts[(name, str(tid))] = stats.Counts(
                    part["v"].to_numpy(), part["len"].to_numpy()
                )

    def get(self, table: int, key: str, type_id: str) -> stats.Counts:
        """The cases per value of row ``key`` of Table ``table`` in type ``type_id`` (none
        when no municipality of that type has a value there)."""
        found = self._counts.get((f"{table}|{key}", type_id))
        return found if found is not None else stats.Counts(np.empty(0), np.empty(0))


def _type_claim(
    claim: TypeClaim,
    tables: Sequence[TableResult],
    codebook: Codebook,
    row_values: _RowCounts,
) -> _Pending:
    result = _base(claim, "type")
    result.table = claim.table
    result.rows = " | ".join(claim.rows)
    pending = _Pending(result)
    table = next((tb for tb in tables if tb.number == claim.table), None)
    if table is None:
        _set_reason(result, "no_data", "table_missing", table=claim.table)
        return pending
    keys = {c.column.key for c in table.rows[0].cells} if table.rows else set()
    for tid in claim.named_types():
        if tid not in keys:
            labels = {"type": (type_label(tid, "de"), type_label(tid, "en"))}
            _set_reason(result, "no_data", "type_missing", labels)
            return pending
    comparisons: list[dict[str, Any]] = []
    for key in claim.rows:
        row = _find_row(table, key)
        if row is None:
            _set_reason(result, "no_data", "row_missing", table=claim.table, row=key)
            return pending
        kind = row_test_kind(row.spec, codebook)
        scale = 100.0 if row.spec.percent else 1.0
        for a, b in claim.comparisons():
            ca, cb_ = row.cell(a), row.cell(b)
            if ca.value is None or cb_.value is None:
                _set_reason(result, "no_data", "cell_empty", table=claim.table, row=key)
                return pending
            if row.spec.is_proportion:  # successes and bases are in the cells
                na, nb = ca.n, cb_.n
            else:
                xa = row_values.get(claim.table, key, a)
                xb = row_values.get(claim.table, key, b)
                na, nb = xa.n, xb.n
            if na < MIN_CASES or nb < MIN_CASES:
                _set_reason(result, "no_data", "too_few_type", n=min(na, nb), minimum=MIN_CASES)
                return pending
            if row.spec.is_proportion:
                diff = stats.share_difference(ca.successes or 0.0, na, cb_.successes or 0.0, nb)
            elif kind == "anova":
                diff = stats.mean_difference_of(xa, xb, scale)
            else:
                diff = stats.rank_difference_of(xa, xb, scale)
            comparisons.append(
                {
                    "row": key,
                    "label_de": row.spec.label("de"),
                    "label_en": row.spec.label("en"),
                    "higher": a,
                    "lower": b,
                    "va": float(ca.value),
                    "vb": float(cb_.value),
                    "holds": float(ca.value) > float(cb_.value),
                    "diff": diff,
                    "precision": row.spec.precision,
                    "unit": "pp" if row.spec.percent else "",
                    "n": diff.n_a + diff.n_b,
                }
            )
    holds = all(c["holds"] for c in comparisons)
    if holds:  # intersection–union: the claim is as strong as its weakest comparison
        critical = max(comparisons, key=lambda c: c["diff"].p_value)
        pending.kind_of_p = "holds"
        pending.sign = 1
    else:  # the clearest reversal
        critical = min((c for c in comparisons if not c["holds"]), key=lambda c: c["diff"].p_value)
        pending.kind_of_p = "reversed"
        pending.sign = -1
    d = critical["diff"]
    result.holds = holds
    result.method = d.method
    result.effect_name = EFFECT_NAMES[d.method]
    result.effect, result.ci_low, result.ci_high = d.difference, d.ci_low, d.ci_high
    result.p_value = d.p_value
    result.n = critical["n"]  # the cases of the two compared cells
    result.row = critical["row"]
    result.higher, result.lower = critical["higher"], critical["lower"]
    result.value_higher, result.value_lower = critical["va"], critical["vb"]
    result.precision, result.unit = critical["precision"], critical["unit"]
    pending.extra = {"label_de": critical["label_de"], "label_en": critical["label_en"]}
    return pending


# ----------------------------------------------------------------------------- readings
def _fmt(value: float | None, precision: int, lang: str) -> str:
    return format_number(value, precision, lang)


def _reading(p: _Pending, correction: str, lang: str) -> str:
    r = p.result
    if r.reason is not None:
        return (r.reason_en if lang == "en" else r.reason_de) or ""
    corr = t(f"claims.correction_short_{correction}", lang=lang)
    p_text = "= " + _fmt(r.p_adjusted, 3, lang)
    if r.p_adjusted is not None and r.p_adjusted < 0.001:
        p_text = "< " + _fmt(0.001, 3, lang)
    if r.kind == "association":
        stat = t(
            "claims.reading_association",
            lang=lang,
            effect_name=t(f"claims.effect_{r.effect_name}", lang=lang),
            effect=_fmt(r.effect, 2, lang),
            low=_fmt(r.ci_low, 2, lang),
            high=_fmt(r.ci_high, 2, lang),
            correction=corr,
            p=p_text,
            n=r.n,
        )
        if r.odds_ratio is not None:
            stat += t(
                "claims.reading_odds_ratio",
                lang=lang,
                odds=_fmt(r.odds_ratio, 2, lang),
                low=_fmt(r.or_ci_low, 2, lang),
                high=_fmt(r.or_ci_high, 2, lang),
            )
        key = f"claims.says_association_{r.verdict}"
        if r.verdict == "not_supported":
            key += "_along" if p.sign > 0 else "_against"
        return f"{stat}: {t(key, lang=lang)}"
    prec = r.precision or 0
    unit = t("claims.unit_pp", lang=lang) if r.unit == "pp" else ""
    stat = t(
        "claims.reading_type",
        lang=lang,
        row=p.extra.get(f"label_{lang}", r.row),
        higher=type_label(r.higher, lang),
        lower=type_label(r.lower, lang),
        value_higher=_fmt(r.value_higher, prec, lang),
        value_lower=_fmt(r.value_lower, prec, lang),
        diff=_fmt(r.effect, prec, lang) + unit,
        low=_fmt(r.ci_low, prec, lang),
        high=_fmt(r.ci_high, prec, lang),
        correction=corr,
        p=p_text,
    )
    return f"{stat}: {t(f'claims.says_type_{r.verdict}', lang=lang)}"


# ----------------------------------------------------------------------------- entry point
def evaluate_claims(
    data: pl.DataFrame,
    types: pl.Series | Sequence[str | None],
    tables: Sequence[TableResult],
    claims: Claims | None = None,
    codebook: Codebook | None = None,
    *,
    bundled: bool = False,
    seed: int = 0,
    alpha: float | None = None,
    correction: str | None = None,
) -> ClaimsResult:
    """Check every claim on one wave.

    ``data`` is the canonical validated frame, ``types`` the type id (or null) of each of its
    rows, ``tables`` the wave's computed tables (:func:`kommunaltypen.tables.compute_tables`).
    ``bundled=True`` says the data are the bundled reconstruction (``manifest["input"]
    ["bundled"]``): association claims are then "not testable". ``alpha`` and ``correction``
    (``holm``/``bh``) override the claims file's settings.
    """
    cb = codebook or default_codebook()
    cl = claims if claims is not None else load_claims()
    alpha = cl.settings.alpha if alpha is None else alpha
    correction = correction or cl.settings.correction
    if correction not in stats.CORRECTIONS:
        from kommunaltypen.claims.spec import ClaimsError

        raise ClaimsError(
            t("claims.bad_correction", got=correction, expected=", ".join(stats.CORRECTIONS))
        )
    if not 0 < alpha < 1:
        from kommunaltypen.claims.spec import ClaimsError

        raise ClaimsError(t("claims.bad_alpha", got=alpha))
    tseries = pl.Series(
        TYPE_COLUMN, list(types) if not isinstance(types, pl.Series) else types, dtype=pl.String
    )
    if len(tseries) != data.height:
        from kommunaltypen.claims.spec import ClaimsError

        raise ClaimsError(t("claims.types_length", types=len(tseries), rows=data.height))
    # the type as a category: the claims' counts group by it (faster than by text)
    frame = data.with_columns(tseries.cast(pl.Categorical).alias(TYPE_COLUMN))
    type_claims = [c for c in cl.claims if isinstance(c, TypeClaim)]
    row_values = _RowCounts(frame, type_claims, tables, cb)
    assoc = [c for c in cl.claims if isinstance(c, AssociationClaim)]
    # the bundled reconstruction: associations are not tested, their values not needed
    counts = (
        None
        if bundled
        else _AssociationCounts(
            [v for c in assoc for v in (c.x, c.y)], [(c.x, c.y) for c in assoc], cl, data, cb
        )
    )
    # every count of the check in one parallel pass of polars
    queries = row_values.queries + (counts.queries if counts is not None else [])
    collected = pl.collect_all(queries) if queries else []
    row_values.take(collected[: len(row_values.queries)])
    if counts is not None:
        counts.take(collected[len(row_values.queries) :])
    pending: list[_Pending] = []
    for i, claim in enumerate(cl.claims):
        if isinstance(claim, AssociationClaim):
            pending.append(_association(claim, cl, data, cb, bundled, seed + i, counts))
        else:
            pending.append(_type_claim(claim, tables, cb, row_values))
    # one family of tests per kind of claim: the theses' associations, the type claims
    families: dict[str, list[_Pending]] = {"association": [], "type": []}
    for p in pending:
        if p.result.p_value is not None:
            families[p.result.kind].append(p)
    tested: list[_Pending] = []
    adjusted: list[float] = []
    for family in families.values():
        tested += family
        adjusted += list(stats.adjust_p([p.result.p_value for p in family], correction))
    for p, p_adj in zip(tested, adjusted, strict=True):
        r = p.result
        r.p_adjusted = float(p_adj)
        r.correction = correction
        significant = p_adj < alpha
        if p.kind_of_p == "association":
            r.verdict = (
                ("supported" if p.sign > 0 else "contradicted")
                if significant and p.sign != 0
                else "not_supported"
            )
        elif p.kind_of_p == "holds":
            r.verdict = "supported" if significant else "holds_not_significant"
        else:
            r.verdict = "contradicted" if significant else "not_supported"
    for p in pending:
        p.result.correction = correction  # the check's correction, on every line of claims.csv
        p.result.reading_de = _reading(p, correction, "de")
        p.result.reading_en = _reading(p, correction, "en")
    return ClaimsResult(
        results=[p.result for p in pending],
        correction=correction,
        alpha=alpha,
        bundled=bundled,
        source=cl.source,
        n_tests=len(tested),
        meta={"tests": {kind: len(family) for kind, family in families.items()}},
    )


def check_analysis(
    analysis: Any,
    claims: Claims | str | None = None,
    *,
    codebook: Codebook | None = None,
    seed: int | None = None,
    correction: str | None = None,
) -> ClaimsResult:
    """The Thesen-Check of an analysis (anything with ``data``, ``types``, ``tables`` and
    ``manifest``, e.g. :class:`kommunaltypen.analysis.AnalysisResult`): the hook for
    ``analyze`` (``claims.csv``) and the report. ``claims`` is a loaded file, a path or None
    (the shipped claims); whether the data are the bundled reconstruction comes from the
    manifest (:func:`kommunaltypen.claims.is_bundled_input`); the seed defaults to the
    analysis's; ``correction`` (``holm``/``bh``) overrides the claims file's."""
    from kommunaltypen.claims.view import is_bundled_input

    manifest = getattr(analysis, "manifest", None) or {}
    loaded = claims if isinstance(claims, Claims) else load_claims(claims, codebook=codebook)
    return evaluate_claims(
        analysis.data,
        analysis.types,
        analysis.tables,
        loaded,
        codebook,
        bundled=is_bundled_input(manifest),
        seed=int(manifest.get("seed", 0)) if seed is None else seed,
        correction=correction,
    )
