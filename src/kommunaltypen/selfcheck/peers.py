"""Comparison with peer groups, with the small-group rules of the public Typ-Check.

A municipality compares its answers with four groups of the analysis data, row by row of every
table by type (the rows :func:`kommunaltypen.service.evaluate` places): all municipalities
(``all``), its type (``type``), a peer group it chooses (``peer``: same Kommunenart, same size
class of the codebook, or same Land) and, on request, the peer group's members of its type
(``type_peer``). Each figure is the row's value in that group as the tables compute it (share in
percent, mean), with its n and, for numeric rows, median and quartiles.

**Suppression** (issue 12, "Privacy and small groups"), per row:

1. a figure is never shown for fewer than ``min_n`` (5) municipalities, counted *without* the
   viewing municipality itself (when its own answers are part of the data, found by its
   ``kommune_id``, they are taken out of every count);
2. no two figures shown together may differ by fewer than ``min_n`` in their base when one
   group contains the other (all ⊃ type, all ⊃ peer, type ⊃ type∩peer, peer ⊃ type∩peer, or
   any pair that happens to be nested), so nothing can be recovered by subtraction. Identical
   groups (difference 0) reveal nothing and are both shown. Figures are considered in the order
   all, type, peer, type∩peer; a figure that breaks the rule against one already shown is
   suppressed (the more specific one gives way).

Suppressed figures carry no value, no n and no spread, only the reason (a message id with its
German and English text). The values themselves are the tables' (they include the viewing
municipality's own row when it is in the data; only the counts of the rule leave it out).

All group figures of an analysis are computed once (:func:`peer_basis`: one ``group_by`` per
peer kind) and looked up per request, so :func:`compare` costs no pass over the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.vocabulary import format_number, type_label

if TYPE_CHECKING:
    from kommunaltypen.analysis import AnalysisResult
    from kommunaltypen.service import ComparisonBasis, Evaluation

#: the peer groups a municipality can choose, with the data column that defines them
PEER_KINDS = ("kommunenart", "groessenklasse", "bundesland")
#: figures in the order the suppression rule considers them
GROUPS = ("all", "type", "peer", "type_peer")
MIN_N = 5

_SIZE = "__groessenklasse"
_TYPE = "__type"
_KIND_COLUMN = {"kommunenart": "kommunenart", "groessenklasse": _SIZE, "bundesland": "bundesland"}


# ------------------------------------------------------------------------------ groups
@dataclass(frozen=True)
class PeerGroup:
    """A peer group: ``kind`` (one of :data:`PEER_KINDS`) and the code of the municipality's
    own value (Kommunenart code, size class index into the codebook's population classes,
    Land code)."""

    kind: str
    code: int

    def label(self, lang: str | None = None, codebook: Codebook | None = None) -> str:
        """ "Gleiche Kommunenart: Gemeinde" etc."""
        return t(f"selfcheck.peer.{self.kind}", lang=lang, value=self.value_label(lang, codebook))

    def value_label(self, lang: str | None = None, codebook: Codebook | None = None) -> str:
        cb = codebook or default_codebook()
        lang = lang or get_lang()
        if self.kind == "groessenklasse":
            return size_class_label(self.code, lang, cb)
        question = next(q for q in cb.questions if q.id == self.kind)
        for option in question.options:
            if option.code == self.code:
                return option.label_en if lang == "en" else option.label_de
        return str(self.code)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code, "label": self.label(lang)}


def size_class(population: float | None, codebook: Codebook | None = None) -> int | None:
    """Index of the codebook's population class holding ``population`` (None if unknown)."""
    if population is None:
        return None
    for i, (low, high) in enumerate((codebook or default_codebook()).population_classes):
        if population >= low and (high is None or population < high):
            return i
    return None


def size_class_label(index: int, lang: str | None = None, codebook: Codebook | None = None) -> str:
    low, high = (codebook or default_codebook()).population_classes[index]
    if high is None:
        return t("selfcheck.size.open", lang=lang, low=format_number(low, 0, lang))
    return t(
        "selfcheck.size.range",
        lang=lang,
        low=format_number(low, 0, lang),
        high=format_number(high, 0, lang),
    )


def peer_group_of(
    answers: Mapping[str, Any], kind: str, codebook: Codebook | None = None
) -> PeerGroup | None:
    """The municipality's peer group of ``kind`` from its canonical answers (None when the
    answer that defines it is missing)."""
    if kind not in PEER_KINDS:
        raise KommunaltypenError(
            t("selfcheck.peer.unknown_kind", received=kind, expected=", ".join(PEER_KINDS))
        )
    if kind == "groessenklasse":
        value = answers.get("einwohner")
        code = size_class(None if value is None else float(value), codebook)
    else:
        value = answers.get(kind)
        code = None if value is None else int(value)
    return None if code is None else PeerGroup(kind, code)


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Suppression:
    """Why a figure is not shown: message id and its arguments (texts in both languages)."""

    message_id: str
    args: tuple[tuple[str, str], ...] = ()

    def text(self, lang: str | None = None) -> str:
        args = dict(self.args)
        if "other" in args:  # a group id: named in the text's language
            args["other"] = t(f"selfcheck.group_name.{args['other']}", lang=lang)
        return t(self.message_id, lang=lang, **args)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.message_id, "de": self.text("de"), "en": self.text("en")}


@dataclass(frozen=True)
class Figure:
    """One group's figure for one row: value (percent for shares, as in the tables), n,
    median and quartiles (numeric rows); all None when ``suppressed`` (see ``reason``) or when
    the group has no answer in this row (``n == 0``)."""

    group: str
    value: float | None
    n: int | None
    q1: float | None = None
    median: float | None = None
    q3: float | None = None
    reason: Suppression | None = None

    @property
    def suppressed(self) -> bool:
        return self.reason is not None

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "group": self.group,
            "value": self.value,
            "n": self.n,
            "q1": self.q1,
            "median": self.median,
            "q3": self.q3,
            "suppressed": self.suppressed,
            "reason": None if self.reason is None else self.reason.to_dict(),
        }


@dataclass(frozen=True)
class PeerRow:
    """One table row: the municipality's own value (the row's unit before scaling, as in
    :class:`kommunaltypen.service.RowPlace`) and one :class:`Figure` per group."""

    table: int
    row_id: str
    label_de: str
    label_en: str | None
    measure: str
    percent: bool
    precision: int
    numeric: bool
    own: float | None
    figures: dict[str, Figure]

    def label(self, lang: str | None = None) -> str:
        return (self.label_en or self.label_de) if (lang or get_lang()) == "en" else self.label_de

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "table": self.table,
            "row_id": self.row_id,
            "label": self.label(lang),
            "measure": self.measure,
            "percent": self.percent,
            "precision": self.precision,
            "own": self.own,
            "figures": {g: f.to_dict(lang) for g, f in self.figures.items()},
        }


@dataclass(frozen=True)
class PeerComparison:
    """Every placed row of an analysis for one municipality and one peer group."""

    group: PeerGroup | None
    type_id: str | None
    groups: tuple[str, ...]
    rows: list[PeerRow]
    min_n: int
    own_in_data: bool

    def rows_of(self, table: int) -> list[PeerRow]:
        return [r for r in self.rows if r.table == table]

    def row(self, table: int, row_id: str) -> PeerRow:
        for r in self.rows:
            if r.table == table and r.row_id == row_id:
                return r
        raise KeyError((table, row_id))

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "group": None if self.group is None else self.group.to_dict(lang),
            "type": self.type_id,
            "groups": list(self.groups),
            "min_n": self.min_n,
            "own_in_data": self.own_in_data,
            "rows": [r.to_dict(lang) for r in self.rows],
        }


# ------------------------------------------------------------------------------ basis
@dataclass(frozen=True)
class _Stats:
    """Per row (arrays of the placed rows' length): count, mean, quartiles."""

    n: np.ndarray
    mean: np.ndarray
    q1: np.ndarray
    median: np.ndarray
    q3: np.ndarray


@dataclass(frozen=True)
class _RowMeta:
    table: int
    row_id: str
    label_de: str
    label_en: str | None
    measure: str
    percent: bool
    precision: int
    numeric: bool


@dataclass(frozen=True)
class PeerBasis:
    """Every group figure of one analysis, computed once (:func:`peer_basis`); read-only.
    ``stats`` keys: ``("all",)``, ``("type", type_id)``, ``(kind, code)``,
    ``(kind, code, type_id)``."""

    comparison: ComparisonBasis
    rows: tuple[_RowMeta, ...]
    stats: Mapping[tuple[Any, ...], _Stats]
    exprs: tuple[pl.Expr, ...]
    frame: pl.DataFrame  # the data with the type and size class columns (for own rows)
    id_column: str | None
    type_ids: tuple[str, ...] = field(default_factory=tuple)
    captions: Mapping[int, tuple[str, str | None]] = field(default_factory=dict)
    #: the report's table models of the analysis (what the recommendation rules read),
    #: converted once instead of per request
    table_models: Mapping[int, Any] = field(default_factory=dict)
    #: where the figures come from: (waves, n rows, n typed, bundled data?)
    source: tuple[tuple[int, ...], int, int, bool] = ((), 0, 0, False)
    #: the municipality ids of the data (None: unknown, look them up in ``frame``)
    ids: frozenset[str] | None = None

    def caption(self, table: int, lang: str | None = None) -> str:
        de, en = self.captions.get(table, (str(table), None))
        return (en or de) if (lang or get_lang()) == "en" else de


def _frame(result: AnalysisResult, cb: Codebook) -> pl.DataFrame:
    classes = cb.population_classes
    size = pl.lit(None, dtype=pl.Int16)
    for i, (low, high) in reversed(list(enumerate(classes))):
        cond = pl.col("einwohner").cast(pl.Float64) >= low
        if high is not None:
            cond = cond & (pl.col("einwohner").cast(pl.Float64) < high)
        size = pl.when(cond).then(pl.lit(i, dtype=pl.Int16)).otherwise(size)
    return result.data.with_columns(result.types.cast(pl.String).alias(_TYPE), size.alias(_SIZE))


def _aggregate(values: pl.DataFrame, keys: Sequence[str], n_rows: int) -> dict[tuple, _Stats]:
    """Count, mean and quartiles of every row column ``r0 … r{n-1}`` per ``keys`` group."""
    aggs: list[pl.Expr] = []
    for i in range(n_rows):
        c = pl.col(f"r{i}")
        aggs += [
            c.count().alias(f"n{i}"),
            c.mean().alias(f"m{i}"),
            c.quantile(0.25, "linear").alias(f"a{i}"),
            c.median().alias(f"b{i}"),
            c.quantile(0.75, "linear").alias(f"c{i}"),
        ]
    table = values.group_by(list(keys)).agg(aggs) if keys else values.select(aggs)
    out: dict[tuple, _Stats] = {}
    for rec in table.iter_rows(named=True):
        key = tuple(rec[k] for k in keys)
        if any(k is None for k in key):
            continue

        def arr(prefix: str, rec: dict = rec) -> np.ndarray:
            return np.array(
                [
                    np.nan if rec[f"{prefix}{i}"] is None else rec[f"{prefix}{i}"]
                    for i in range(n_rows)
                ],
                dtype=float,
            )

        out[key] = _Stats(arr("n").astype(int), arr("m"), arr("a"), arr("b"), arr("c"))
    return out


def peer_basis(
    basis: AnalysisResult | ComparisonBasis, codebook: Codebook | None = None
) -> PeerBasis:
    """Every group figure of an analysis: all, per type, per peer group and per peer group and
    type, for every row :func:`kommunaltypen.service.evaluate` places. Keep one per published
    analysis (like the comparison basis); it holds no per-request data."""
    from kommunaltypen import service
    from kommunaltypen.report.recommendations import as_table_models

    if not isinstance(basis, service.ComparisonBasis):
        basis = service.comparison_basis(basis, codebook)
    cb = basis.codebook
    result = basis.result
    frame = _frame(result, cb)
    metas: list[_RowMeta] = []
    exprs: list[pl.Expr] = []
    for plan in basis.plans:
        for row, expr in zip(plan.rows, plan.exprs, strict=True):
            spec = row.spec
            i = len(exprs)
            exprs.append(expr.cast(pl.Float64).alias(f"r{i}"))
            metas.append(
                _RowMeta(
                    table=plan.table.number,
                    row_id=service._row_id(spec),
                    label_de=spec.label_de,
                    label_en=spec.label_en,
                    measure=spec.measure,
                    percent=bool(spec.percent),
                    precision=int(spec.precision),
                    numeric=not spec.is_proportion,
                )
            )
    keys = [_TYPE, *(_KIND_COLUMN[k] for k in PEER_KINDS)]
    values = frame.select([*exprs, *(pl.col(k) for k in keys)])
    n = len(exprs)
    stats: dict[tuple, _Stats] = {}
    stats[("all",)] = _aggregate(values, [], n)[()]
    for (tid,), s in _aggregate(values, [_TYPE], n).items():
        stats[("type", tid)] = s
    for kind in PEER_KINDS:
        col = _KIND_COLUMN[kind]
        for (code,), s in _aggregate(values, [col], n).items():
            stats[(kind, int(code))] = s
        for (code, tid), s in _aggregate(values, [col, _TYPE], n).items():
            stats[(kind, int(code), tid)] = s
    return PeerBasis(
        comparison=basis,
        rows=tuple(metas),
        stats=stats,
        exprs=tuple(exprs),
        frame=frame,
        id_column=cb.id_column,
        type_ids=tuple(result.model.type_ids_),
        captions={
            plan.table.number: (plan.table.spec.caption_de, plan.table.spec.caption_en)
            for plan in basis.plans
        },
        table_models=basis.table_models or as_table_models(result.tables),
        source=_source(result),
        ids=(
            frozenset(frame[cb.id_column].cast(pl.String).drop_nulls().to_list())
            if cb.id_column and cb.id_column in frame.columns
            else None
        ),
    )


def _source(result: AnalysisResult) -> tuple[tuple[int, ...], int, int, bool]:
    """The facts of "where the figures come from": waves, rows, typed rows, bundled data."""
    data = result.data
    waves: tuple[int, ...] = ()
    if "welle" in data.columns:
        waves = tuple(sorted(int(w) for w in data["welle"].drop_nulls().unique().to_list()))
    typed = int(result.types.cast(pl.String).is_not_null().sum())
    bundled = bool(result.manifest.get("input", {}).get("bundled"))
    return waves, data.height, typed, bundled


# ------------------------------------------------------------------------------ compare
def _own_rows(pb: PeerBasis, kommune_id: Any) -> pl.DataFrame | None:
    """The viewing municipality's rows in the data (by its id), with their row values."""
    if kommune_id is None or not pb.id_column or pb.id_column not in pb.frame.columns:
        return None
    if pb.ids is not None and str(kommune_id) not in pb.ids:
        return None  # not in the data (the usual case): no scan of the data per request
    mine = pb.frame.filter(pl.col(pb.id_column) == str(kommune_id))
    if mine.height == 0:
        return None
    return mine.select([*pb.exprs, pl.col(_TYPE), *(pl.col(_KIND_COLUMN[k]) for k in PEER_KINDS)])


def _members(
    own: pl.DataFrame | None, n_rows: int, type_id: str | None, group: PeerGroup | None
) -> dict[str, np.ndarray]:
    """How many of the viewer's own data rows are in each group's base, per row."""
    zero = np.zeros(n_rows, dtype=int)
    out = {g: zero.copy() for g in GROUPS}
    if own is None:
        return out
    for rec in own.iter_rows(named=True):
        in_base = np.array([rec[f"r{i}"] is not None for i in range(n_rows)], dtype=int)
        is_type = type_id is not None and rec[_TYPE] == type_id
        is_peer = group is not None and rec[_KIND_COLUMN[group.kind]] is not None
        is_peer = is_peer and int(rec[_KIND_COLUMN[group.kind]]) == group.code  # type: ignore[union-attr]
        out["all"] += in_base
        if is_type:
            out["type"] += in_base
        if is_peer:
            out["peer"] += in_base
        if is_type and is_peer:
            out["type_peer"] += in_base
    return out


def _contains(a: str, b: str, counts: Mapping[str, int]) -> bool:
    """Whether group ``a``'s base contains group ``b``'s (from the counts: b ⊆ a iff
    |a ∩ b| = |b|)."""
    if a == b:
        return True
    if a == "all":
        return True
    if b == "all":
        return counts[a] == counts["all"]
    pair = {a, b}
    if "type_peer" in pair:
        other = (pair - {"type_peer"}).pop()
        # type∩peer ⊆ type and ⊆ peer always; type ⊆ type∩peer iff they are equal
        return b == "type_peer" or counts[other] == counts["type_peer"]
    # type vs peer: nested iff their intersection equals the smaller one
    return counts["type_peer"] == counts[b]


def suppress(
    counts: Mapping[str, int], order: Sequence[str], min_n: int = MIN_N, labels: Any = None
) -> dict[str, Suppression | None]:
    """The rule on one row: ``counts`` are the groups' bases without the viewing
    municipality (``type_peer`` always given, as it decides whether type and peer are nested);
    ``order`` the figures shown together, most general first. Returns the reason per figure
    (None = shown)."""
    shown: list[str] = []
    out: dict[str, Suppression | None] = {}
    for g in order:
        n = counts[g]
        reason: Suppression | None = None
        if 0 < n < min_n:
            reason = Suppression("selfcheck.suppressed.small", (("min_n", str(min_n)),))
        elif n > 0:
            for h in shown:
                nested = _contains(h, g, counts) or _contains(g, h, counts)
                if nested and 0 < abs(counts[h] - n) < min_n:
                    reason = Suppression(
                        "selfcheck.suppressed.difference",
                        (("min_n", str(min_n)), ("other", h)),
                    )
                    break
        out[g] = reason
        if reason is None and n > 0:
            shown.append(g)
    return out


def compare(
    pb: PeerBasis,
    evaluation: Evaluation,
    kind: str | None,
    *,
    min_n: int = MIN_N,
    with_type_peer: bool = False,
) -> PeerComparison:
    """The municipality of ``evaluation`` against all, its type, its peer group of ``kind``
    (None: no peer group) and, with ``with_type_peer``, the members of its type in that peer
    group — every figure under the suppression rule."""
    answers = evaluation.answers
    cb = pb.comparison.codebook
    type_id = evaluation.classification.type_id if evaluation.classification else None
    group = peer_group_of(answers, kind, cb) if kind else None
    order = ["all"]
    if type_id is not None:
        order.append("type")
    if group is not None:
        order.append("peer")
        if with_type_peer and type_id is not None:
            order.append("type_peer")
    n_rows = len(pb.rows)
    own_rows = _own_rows(pb, answers.get(pb.id_column) if pb.id_column else None)
    members = _members(own_rows, n_rows, type_id, group)
    empty = _Stats(*(np.zeros(n_rows) for _ in range(5)))
    keys: dict[str, tuple] = {"all": ("all",)}
    if type_id is not None:
        keys["type"] = ("type", type_id)
    if group is not None:
        keys["peer"] = (group.kind, group.code)
        if type_id is not None:
            keys["type_peer"] = (group.kind, group.code, type_id)
    stats = {g: pb.stats.get(k, empty) for g, k in keys.items()}
    own_values = {(p.table, p.row_id): p.own for p in evaluation.places}

    rows: list[PeerRow] = []
    for i, meta in enumerate(pb.rows):
        counts = {g: 0 for g in GROUPS}
        for g, s in stats.items():
            counts[g] = int(s.n[i]) - int(members[g][i])
        reasons = suppress(counts, order, min_n)
        scale = 100.0 if meta.percent else 1.0
        figures: dict[str, Figure] = {}
        for g in order:
            s = stats[g]
            reason = reasons[g]
            n = int(s.n[i])
            if reason is not None or n == 0:
                figures[g] = Figure(g, None, None if reason else 0, reason=reason)
                continue

            def num(x: float) -> float | None:
                return None if np.isnan(x) else float(x)

            figures[g] = Figure(
                g,
                num(s.mean[i] * scale),
                n,
                num(s.q1[i]) if meta.numeric else None,
                num(s.median[i]) if meta.numeric else None,
                num(s.q3[i]) if meta.numeric else None,
            )
        rows.append(
            PeerRow(
                table=meta.table,
                row_id=meta.row_id,
                label_de=meta.label_de,
                label_en=meta.label_en,
                measure=meta.measure,
                percent=meta.percent,
                precision=meta.precision,
                numeric=meta.numeric,
                own=own_values.get((meta.table, meta.row_id)),
                figures=figures,
            )
        )
    return PeerComparison(
        group=group,
        type_id=type_id,
        groups=tuple(order),
        rows=rows,
        min_n=min_n,
        own_in_data=own_rows is not None,
    )


def group_label(group: str, comparison: PeerComparison, lang: str | None = None) -> str:
    """Column heading of a figure: "Alle Kommunen", the type's label, the peer group."""
    lang = lang or get_lang()
    if group == "all":
        return t("selfcheck.group.all", lang=lang)
    if group == "type":
        return type_label(comparison.type_id, lang)
    if group == "peer" and comparison.group is not None:
        return comparison.group.label(lang)
    if group == "type_peer" and comparison.group is not None:
        return t(
            "selfcheck.group.type_peer",
            lang=lang,
            type=type_label(comparison.type_id, lang),
            group=comparison.group.value_label(lang),
        )
    return group
