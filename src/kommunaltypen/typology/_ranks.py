"""Rank transform: goal rankings -> rank points, the typability rule, distinct patterns.

1st = 3, 2nd = 2, 3rd = 1 points (in general ``max_rank + 1 - rank``), not ranked = 0. A row
is typable when it is a consistent top-m ranking (docs/typology.md, "Rank transform and who is
typed"). Rows are collapsed to their distinct rank patterns once (one integer key per row), so
everything after counting costs the same for 400 or 10⁶ rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, Question, default_codebook
from kommunaltypen.errors import TypologyError
from kommunaltypen.i18n import t
from kommunaltypen.typology._errors import TypologyDataError

REASONS = ("no_ranking", "incomplete_ranking", "invalid_ranking")

_REASON_NAMES = np.array(
    ["no_ranking", "invalid_ranking", "incomplete_ranking", None], dtype=object
)
_TYPABLE_CODE = 3  # index of None in _REASON_NAMES


@dataclass(frozen=True)
class GoalSpec:
    """The goal ranking question as the typology uses it: option ids (the features, in column
    order), the data columns holding the ranks, the highest rank and the id column.

    Built from a codebook (:meth:`from_codebook`) or from a saved model (its ``features``,
    ``columns``, ``scale`` and ``id_column``); ``columns`` empty = the model can only read
    arrays of rank points."""

    options: tuple[str, ...]
    columns: tuple[str, ...]
    max_rank: int
    id_column: str | None = None

    @classmethod
    def from_codebook(cls, codebook: Codebook) -> GoalSpec:
        question = goal_question(codebook)
        return cls(
            options=tuple(o.id for o in question.options),
            columns=tuple(question.columns),
            max_rank=int(question.max_rank or 3),
            id_column=codebook.id_column,
        )


def goal_question(codebook: Codebook) -> Question:
    """The codebook's question with ``role: typology``."""
    try:
        return codebook.typology_question
    except StopIteration as exc:  # pragma: no cover - the shipped codebook has one
        raise TypologyError(t("typology.no_typology_question")) from exc


def reason_label(reason: str | None, lang: str | None = None) -> str | None:
    """User-facing text of a "not typed" reason code (None for typed rows)."""
    if reason is None:
        return None
    return t(f"typology.reason.{reason}", lang=lang)


def is_frame_like(data: Any) -> bool:
    """A polars or pandas data frame (as opposed to an array)."""
    return isinstance(data, pl.DataFrame) or (
        hasattr(data, "columns") and hasattr(data, "to_numpy") and hasattr(data, "iloc")
    )


def has_goal_columns(data: Any, goals: GoalSpec) -> bool:
    """A frame holding at least one of the goal ranking columns (canonical data)."""
    columns = set(goals.columns)
    return any(str(c) in columns for c in data.columns)


def _rank_matrix(data: Any, columns: Sequence[str]) -> np.ndarray:
    """Rank columns of ``data`` as a float array (n, n_options) with NaN for null."""
    columns = list(columns)
    is_polars = isinstance(data, pl.DataFrame)
    if is_polars or (hasattr(data, "columns") and hasattr(data, "to_numpy")):  # or pandas
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise TypologyDataError(
                t(
                    "typology.missing_columns",
                    missing=", ".join(missing),
                    expected=", ".join(columns),
                )
            )
        if is_polars:
            return data.select(pl.col(c).cast(pl.Float64) for c in columns).to_numpy()
        return data[columns].to_numpy(dtype=float, na_value=np.nan)
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise TypologyDataError(
            t("typology.bad_shape", received=str(arr.shape), expected=f"(n, {len(columns)})")
        )
    return arr


def _rank_keys(data: Any, columns: Sequence[str], max_rank: int) -> tuple[np.ndarray, int] | None:
    """One integer key per row: the ranks (null = 0) in base ``max_rank + 1``; rows with any
    value outside 0..max_rank or not an integer get the sentinel ``base**d``. Returns
    ``(keys, d)``, or None when the key range does not fit in int64. A polars frame is encoded
    by polars itself (multi-threaded, no float copy of the rank matrix)."""
    columns = list(columns)
    d, base = len(columns), max_rank + 1
    if base**d >= 2**62:  # pragma: no cover - very wide questions
        return None
    sentinel = base**d
    if isinstance(data, pl.DataFrame) and all(c in data.columns for c in columns):
        cols = [pl.col(c).cast(pl.Float64).fill_nan(None) for c in columns]
        bad = pl.any_horizontal(
            c.is_not_null() & (~c.is_between(0, max_rank) | (c != c.round(0))) for c in cols
        )
        key = pl.sum_horizontal(
            c.fill_null(0).cast(pl.Int64, strict=False) * base ** (d - 1 - j)
            for j, c in enumerate(cols)
        )
        out = data.select(pl.when(bad).then(sentinel).otherwise(key).alias("key"))
        return out["key"].to_numpy().astype(np.int64, copy=False), d
    ranks = _rank_matrix(data, columns)
    filled = np.where(np.isnan(ranks), 0.0, ranks)
    bad = ((filled < 0) | (filled > max_rank) | (filled != np.round(filled))).any(axis=1)
    weights = base ** np.arange(d - 1, -1, -1, dtype=np.int64)
    key = np.where(bad[:, None], 0, filled).astype(np.int64) @ weights
    key[bad] = sentinel
    return key, d


def _unique_rows(data: Any, columns: Sequence[str], max_rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rank rows of ``data`` and the inverse index, vectorised.

    Cells that are null or 0 are "not ranked" (same outcome, encoded 0); rows with any value
    outside 0..max_rank or not an integer are invalid and share one sentinel row (NaN; all
    their points are 0). Rows are encoded as one integer (:func:`_rank_keys`); when the key
    range is small (4^10 ≈ 10^6 for the shipped codebook) the distinct keys are found with a
    lookup table in O(n), else with ``np.unique``. Returns ``(rows (u, d), inverse (n,))``."""
    base = max_rank + 1
    encoded = _rank_keys(data, columns, max_rank)
    if encoded is None:  # pragma: no cover - very wide questions
        filled = np.nan_to_num(_rank_matrix(data, columns))
        bad = ((filled < 0) | (filled > max_rank) | (filled != np.round(filled))).any(axis=1)
        cells = np.where(bad[:, None], np.nan, filled)
        rows, inverse = np.unique(cells, axis=0, return_inverse=True, equal_nan=True)
        return rows, inverse.reshape(-1)
    key, d = encoded
    sentinel = base**d
    if sentinel <= 1 << 24:
        present = np.zeros(sentinel + 1, dtype=bool)
        present[key] = True
        uniq = np.flatnonzero(present)
        lut = np.zeros(sentinel + 1, dtype=np.int64)
        lut[uniq] = np.arange(len(uniq))
        inverse = lut[key]
    else:
        uniq, inverse = np.unique(key, return_inverse=True)
    weights = base ** np.arange(d - 1, -1, -1, dtype=np.int64)
    rows = ((uniq[:, None] // weights[None, :]) % base).astype(float)
    rows[uniq == sentinel] = np.nan
    return rows, inverse.reshape(-1)


def goal_patterns(
    data: Any, goals: GoalSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The typability rule on the distinct rank patterns of ``data``.

    Returns ``(points (u, d), typable (u,), reason code (u,) into _REASON_NAMES, inverse
    (n,))``: row i has pattern ``inverse[i]``. The cost per row is one vectorised encoding;
    the rule itself runs on the few hundred distinct patterns."""
    max_rank = goals.max_rank
    rows, inverse = _unique_rows(data, goals.columns, max_rank)
    bad_value = np.isnan(rows).any(axis=1)  # the sentinel row of invalid values
    ri = np.where(np.isnan(rows), 0, rows).astype(np.int64)
    # a rank used twice shows as fewer distinct ranks than ranked goals; a gap as a highest
    # rank that differs from the number of ranked goals (ranks present are not 1..m)
    present = np.zeros((len(ri), max_rank + 1), dtype=bool)
    np.put_along_axis(present, ri, True, axis=1)
    n_distinct = present[:, 1:].sum(axis=1)
    n_ranked = (ri > 0).sum(axis=1)
    duplicate = n_distinct < n_ranked
    gap = ri.max(axis=1, initial=0) != n_ranked
    code = np.select(
        [(n_ranked == 0) & ~bad_value, bad_value | duplicate, gap],
        [0, 1, 2],
        default=_TYPABLE_CODE,
    ).astype(np.int8)
    points = np.where(ri > 0, max_rank + 1 - ri, 0).astype(float)
    return points, code == _TYPABLE_CODE, code, inverse


def goal_points(
    data: Any, codebook: Codebook | None = None
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Rank transform of the typology question and the typability rule.

    ``data``: the canonical frame (polars or pandas; columns ``ziele_<option>``) or an array of
    ranks (n, n_options) with NaN for null. ``codebook``: the codebook whose ``role: typology``
    question is read (None: the shipped codebook). Returns ``(points, typable, reason)``:

    * ``points`` (n, n_options) float: ``max_rank + 1 - rank`` for ranked goals, 0 otherwise
      (rows with an invalid value get 0 everywhere);
    * ``typable``: True for a consistent top-m ranking: at least one goal ranked and the ranks
      present are exactly 1..m (m = 1..max_rank), each once; every other goal 0 or null. The
      study's Table 1 centres sum to less than the 6 points of complete top-3 rankings, so
      the study also typed municipalities that ranked only one or two goals (docs/typology.md);
    * ``reason``: None for typable rows, else ``no_ranking`` (all null or nothing ranked),
      ``invalid_ranking`` (a value outside 0..max_rank or not an integer, or a rank used
      twice) or ``incomplete_ranking`` (a gap: the ranks present are not 1..m, e.g. 1 and 3
      without 2, or only 2).

    The rule is evaluated once per distinct pattern and broadcast (no loop over rows).
    """
    goals = GoalSpec.from_codebook(codebook or default_codebook())
    points, typable, code, inverse = goal_patterns(data, goals)
    return points[inverse], typable[inverse], _REASON_NAMES[code[inverse]].tolist()


def reason_names(code: np.ndarray) -> np.ndarray:
    """Reason codes (from :func:`goal_patterns`) -> reason names (object array, None = typed)."""
    return _REASON_NAMES[code]


def ranking_points(goals: Sequence[str], codebook: Codebook | None = None) -> np.ndarray:
    """Points vector (1, n_options) for an ordered list of goals (most important first).

    Each goal may be an option id, an option code or a German/English label (case-insensitive).
    One to ``max_rank`` goals may be given (a top-m ranking, the typability rule of
    :func:`goal_points`). ``codebook``: None = the shipped codebook. Raises
    :class:`TypologyError` for unknown or repeated goals and for an empty list or more than
    ``max_rank`` goals."""
    question = goal_question(codebook or default_codebook())
    max_rank = int(question.max_rank or 3)
    options = question.options
    expected = ", ".join(o.id for o in options)
    goals = [g.strip() for g in goals if g and g.strip()]
    if not 1 <= len(goals) <= max_rank:
        raise TypologyError(
            t("typology.goal_count", received=len(goals), goals=", ".join(goals), expected=max_rank)
        )
    lookup: dict[str, int] = {}
    for i, o in enumerate(options):
        for key in (o.id, str(o.code), o.label_de, o.label_en):
            lookup[key.casefold()] = i
    points = np.zeros((1, len(options)))
    seen: set[int] = set()
    for rank, goal in enumerate(goals, start=1):
        idx = lookup.get(goal.casefold())
        if idx is None:
            raise TypologyError(t("typology.unknown_goal", received=goal, expected=expected))
        if idx in seen:
            raise TypologyError(t("typology.repeated_goal", received=options[idx].id))
        seen.add(idx)
        points[0, idx] = max_rank + 1 - rank
    return points


def count_patterns(
    X: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of ``X`` with their row counts and summed weights.

    Returns ``(patterns (u, d), counts (u,), weights (u,), inverse (n,))`` with patterns in
    lexicographic order (so the result does not depend on row order). Small non-negative
    integer data (rank points) is encoded as one integer key per row, which is much faster than
    ``np.unique(axis=0)``."""
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    inverse: np.ndarray
    if n and np.all(np.round(X) == X) and X.min() >= 0 and X.max() < 16:
        base = int(X.max()) + 1
        if base**d < 2**62:
            keys = X.astype(np.int64) @ (base ** np.arange(d - 1, -1, -1, dtype=np.int64))
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            patterns = X[first]
        else:  # pragma: no cover - very wide integer data
            patterns, inverse = np.unique(X, axis=0, return_inverse=True)
    else:
        patterns, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=len(patterns)).astype(float)
    if sample_weight is None:
        weights = counts.copy()
    else:
        weights = np.bincount(inverse, weights=sample_weight, minlength=len(patterns))
    return patterns, counts, weights, inverse


def typable_patterns(
    pts_u: np.ndarray, keep: np.ndarray, counts_u: np.ndarray, weights_u: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kept distinct input patterns in lexicographic order (so that nothing downstream
    depends on row order), with their summed counts and weights. Returns ``(patterns,
    counts, weights, order)``: input pattern ``keep[i]`` is fitted pattern ``order[i]``."""
    patterns, _, _, order = count_patterns(pts_u[keep])
    counts = np.bincount(order, weights=counts_u[keep], minlength=len(patterns))
    weights = np.bincount(order, weights=weights_u[keep], minlength=len(patterns))
    return patterns, counts, weights, order


@dataclass(frozen=True, eq=False)
class TrainingPatterns:
    """The rows a fit sees, collapsed: the typable distinct patterns in lexicographic order
    with their row counts and summed case weights, and what is needed to broadcast per-pattern
    results back to the rows (no pass over the rows beyond a few gathers)."""

    patterns: np.ndarray  # (p, d) typable patterns with positive weight, sorted
    counts: np.ndarray  # (p,) rows per pattern
    weights: np.ndarray  # (p,) summed case weights (= counts without weights)
    inverse: np.ndarray  # (n,) row -> input pattern
    fitted_of: np.ndarray  # (u,) input pattern -> index into ``patterns`` (-1: not fitted)
    typable: np.ndarray  # (n,) row is typed (typable and, with weights, weight > 0)
    reasons: list[str | None]  # (n,) why a row is not typed (None: typed)
    n_typable: float  # typed rows (counts, not weights)
    weighted: bool  # case weights given: zero-weight rows of a typable pattern are untyped

    def per_row(self, per_pattern: np.ndarray) -> np.ndarray:
        """A per-fitted-pattern integer array broadcast to the rows (-1 for untyped rows)."""
        of_input = np.full(len(self.fitted_of), -1, dtype=np.int64)
        fitted = self.fitted_of >= 0
        of_input[fitted] = per_pattern[self.fitted_of[fitted]]
        out = of_input[self.inverse]  # rows of an untypable pattern get -1 from the pattern
        if self.weighted:  # zero-weight rows of a typable one need the row mask
            out[~self.typable] = -1
        return out


def training_patterns(
    pts_u: np.ndarray,
    typ_u: np.ndarray,
    code_u: np.ndarray,
    inverse: np.ndarray,
    sample_weight: Any = None,
) -> TrainingPatterns:
    """Collapse the input patterns of a fit (from :func:`goal_patterns` or an array) to the
    typable ones with their counts and case weights. Typable rows with case weight 0 are not
    typed (reason ``zero_weight``). Raises :class:`TypologyDataError` for case weights that
    are not one finite non-negative value per row, or all zero."""
    n_rows, n_u = len(inverse), len(pts_u)
    typable = typ_u[inverse]
    reasons = _REASON_NAMES[code_u[inverse]]
    if sample_weight is None:  # per pattern: no pass over the rows beyond one bincount
        counts_u = np.bincount(inverse, minlength=n_u) * typ_u.astype(float)
        weights_u = counts_u
    else:
        sample_weight = np.asarray(sample_weight, dtype=float).reshape(-1)
        if (
            len(sample_weight) != n_rows
            or not np.all(np.isfinite(sample_weight))
            or (sample_weight < 0).any()
        ):
            raise TypologyDataError(
                t("typology.bad_weights", received=len(sample_weight), expected=n_rows)
            )
        if not (sample_weight > 0).any():
            raise TypologyDataError(t("typology.zero_weights", received=n_rows))
        zero = typable & (sample_weight <= 0)
        typable = typable & ~zero
        reasons[zero] = "zero_weight"
        counts_u = np.bincount(inverse[typable], minlength=n_u).astype(float)
        weights_u = np.bincount(inverse[typable], weights=sample_weight[typable], minlength=n_u)
    sel = np.flatnonzero(typ_u & (counts_u > 0))
    # lexicographic order of the points, so that the fit does not depend on row order
    patterns, counts, weights, order = typable_patterns(pts_u, sel, counts_u, weights_u)
    fitted_of = np.full(n_u, -1, dtype=np.int64)
    fitted_of[sel] = order
    return TrainingPatterns(
        patterns=patterns,
        counts=counts,
        weights=weights,
        inverse=inverse,
        fitted_of=fitted_of,
        typable=typable,
        reasons=reasons.tolist(),
        n_typable=float(counts_u.sum()),
        weighted=sample_weight is not None,
    )
