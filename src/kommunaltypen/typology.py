"""The typology engine: goal rankings -> municipality types (Kommunentypen).

Pipeline (see ``docs/typology.md`` for the full description and the reasons behind each choice):

1. **Rank transform** (:func:`goal_points`): the ranking question with ``role: typology``
   (``ziele``) becomes rank points, 1st = 3, 2nd = 2, 3rd = 1, not ranked = 0 (in general
   ``max_rank + 1 - rank``). Only complete rankings (ranks 1..max_rank each exactly once) are
   typable; the other rows are kept with a reason code.
2. **Weighted k-means on unique patterns** (:class:`Typology`): rows are collapsed to their
   distinct answer patterns, with row counts (or summed case weights) as weights, so the cost
   of clustering does not grow with the number of rows. Many k-means++ restarts run as one
   vectorised batch (optionally plus one start from weighted Ward clustering).
3. **Naming**: fitted centres are matched to reference centres (the study's Table 1 by default)
   by an optimal assignment on Euclidean distance; a cluster farther than
   ``max_reference_distance`` from its match is a new type ``neu_1``, ``neu_2`` ...
4. **Mixed membership**: a spherical Gaussian mixture with the fitted centres, equal mixing
   weights and the pooled within-cluster variance, or (default for complete rankings) a
   latent-class model of one Plackett–Luce ranking model per type; ``mischform`` when no type
   reaches ``mischform_threshold`` (default 0.75: odds of at least 3:1 for the leading type).
5. **Choosing k** (:func:`choose_k`), **stability** (:meth:`Typology.stability`), **JSON
   persistence** (:meth:`Typology.save` / :meth:`Typology.load`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import ThreadpoolController

from kommunaltypen import yamlio
from kommunaltypen.codebook import Codebook, Question, default_codebook
from kommunaltypen.errors import TypologyError
from kommunaltypen.estimator import EstimatorBase, check_is_fitted, validate_array
from kommunaltypen.i18n import get_lang, t

MODEL_FORMAT = "kommunaltypen.typology"
MODEL_FORMAT_VERSION = 1
NEW_TYPE_PREFIX = "neu_"
REASONS = ("no_ranking", "incomplete_ranking", "invalid_ranking")

__all__ = [
    "REASONS",
    "KChoice",
    "StabilityResult",
    "Typology",
    "TypologyDataError",
    "choose_k",
    "count_patterns",
    "goal_points",
    "load_reference",
    "reason_label",
    "simulate_rankings",
    "study_centers",
    "type_label",
    "type_table",
]


class TypologyDataError(TypologyError, ValueError):
    """Data the typology cannot be fitted on or applied to (also a ``ValueError``, as
    scikit-learn expects from estimators)."""


# ------------------------------------------------------------------------------- reference data
@cache
def type_table() -> tuple[dict[str, Any], ...]:
    """The study's four types from ``data/types.yaml`` (id, labels, descriptions, study_n)."""
    text = (resources.files("kommunaltypen") / "data" / "types.yaml").read_text("utf-8")
    return tuple(yamlio.safe_load(text)["types"])


def type_label(type_id: str | None, lang: str | None = None) -> str:
    """User-facing label of a type id (study type, ``neu_<i>`` or None = not typed)."""
    lang = lang or get_lang()
    if type_id is None:
        return t("typology.not_typed", lang=lang)
    for row in type_table():
        if row["id"] == type_id:
            return row["label_en"] if lang == "en" else row["label_de"]
    if type_id.startswith(NEW_TYPE_PREFIX):
        return t("typology.new_type", lang=lang, number=type_id[len(NEW_TYPE_PREFIX) :])
    return type_id


def reason_label(reason: str | None, lang: str | None = None) -> str | None:
    """User-facing text of a "not typed" reason code (None for typed rows)."""
    if reason is None:
        return None
    return t(f"typology.reason.{reason}", lang=lang)


def _read_centers_csv(
    text: str, origin: str, features: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    import csv

    reader = list(csv.reader(rows))
    if not reader or reader[0][:2] != ["option_id", "row_label"] or len(reader[0]) < 3:
        raise TypologyError(
            t("typology.reference_bad_header", origin=origin, received=",".join(reader[0][:4]))
        )
    type_ids = reader[0][2:]
    by_option: dict[str, list[float]] = {}
    for line in reader[1:]:
        try:
            by_option[line[0]] = [float(v.replace(",", ".")) for v in line[2:]]
        except (ValueError, IndexError) as exc:
            raise TypologyError(
                t("typology.reference_bad_row", origin=origin, received=",".join(line))
            ) from exc
        if len(by_option[line[0]]) != len(type_ids):
            raise TypologyError(
                t("typology.reference_bad_row", origin=origin, received=",".join(line))
            )
    if sorted(by_option) != sorted(features):
        raise TypologyError(
            t(
                "typology.reference_bad_options",
                origin=origin,
                received=", ".join(sorted(by_option)),
                expected=", ".join(features),
            )
        )
    matrix = np.array([by_option[f] for f in features], dtype=float).T  # (types, features)
    return type_ids, matrix


def load_reference(
    reference: str | Path, codebook: Codebook | None = None
) -> tuple[list[str], np.ndarray]:
    """Reference centres: ``"study"`` (Table 1, shipped) or a CSV path in the same format
    (``option_id,row_label,<type id>...``). Returns (type ids, centres (n_types, n_goals))."""
    features = [o.id for o in _goal_question(codebook).options]
    if isinstance(reference, str) and reference == "study":
        res = resources.files("kommunaltypen") / "data" / "study_centers.csv"
        return _read_centers_csv(res.read_text("utf-8"), "study_centers.csv", features)
    path = Path(reference)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TypologyError(t("typology.reference_unreadable", path=str(path), error=exc)) from exc
    return _read_centers_csv(text, str(path), features)


def study_centers() -> tuple[list[str], np.ndarray]:
    """Table 1 of the study: (type ids, centres (4, 10)) in the codebook's goal order."""
    return load_reference("study")


# ------------------------------------------------------------------------------- rank transform
def _goal_question(codebook: Codebook | None) -> Question:
    cb = codebook or default_codebook()
    try:
        return cb.typology_question
    except StopIteration as exc:  # pragma: no cover - the shipped codebook has one
        raise TypologyError(t("typology.no_typology_question")) from exc


def _rank_matrix(data: Any, question: Question) -> np.ndarray:
    """Rank columns of ``data`` as a float array (n, n_options) with NaN for null."""
    columns = list(question.columns)
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


_REASON_NAMES = np.array(
    ["no_ranking", "invalid_ranking", "incomplete_ranking", None], dtype=object
)
_TYPABLE_CODE = 3  # index of None in _REASON_NAMES


def _rank_keys(data: Any, question: Question, max_rank: int) -> tuple[np.ndarray, int] | None:
    """One integer key per row: the ranks (null = 0) in base ``max_rank + 1``; rows with any
    value outside 0..max_rank or not an integer get the sentinel ``base**d``. Returns
    ``(keys, d)``, or None when the key range does not fit in int64. A polars frame is encoded
    by polars itself (multi-threaded, no float copy of the rank matrix)."""
    columns = list(question.columns)
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
    ranks = _rank_matrix(data, question)
    filled = np.where(np.isnan(ranks), 0.0, ranks)
    bad = ((filled < 0) | (filled > max_rank) | (filled != np.round(filled))).any(axis=1)
    weights = base ** np.arange(d - 1, -1, -1, dtype=np.int64)
    key = np.where(bad[:, None], 0, filled).astype(np.int64) @ weights
    key[bad] = sentinel
    return key, d


def _unique_rows(data: Any, question: Question, max_rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rank rows of ``data`` and the inverse index, vectorised.

    Cells that are null or 0 are "not ranked" (same outcome, encoded 0); rows with any value
    outside 0..max_rank or not an integer are invalid and share one sentinel row (NaN; all
    their points are 0). Rows are encoded as one integer (:func:`_rank_keys`); when the key
    range is small (4^10 ≈ 10^6 for the shipped codebook) the distinct keys are found with a
    lookup table in O(n), else with ``np.unique``. Returns ``(rows (u, d), inverse (n,))``."""
    base = max_rank + 1
    encoded = _rank_keys(data, question, max_rank)
    if encoded is None:  # pragma: no cover - very wide questions
        filled = np.nan_to_num(_rank_matrix(data, question))
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


def _goal_patterns(
    data: Any, codebook: Codebook | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The typability rule on the distinct rank patterns of ``data``.

    Returns ``(points (u, d), typable (u,), reason code (u,) into _REASON_NAMES, inverse
    (n,))``: row i has pattern ``inverse[i]``. The cost per row is one vectorised encoding;
    the rule itself runs on the few hundred distinct patterns."""
    question = _goal_question(codebook)
    max_rank = int(question.max_rank or 3)
    rows, inverse = _unique_rows(data, question, max_rank)
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
    ranks (n, n_options) with NaN for null. Returns ``(points, typable, reason)``:

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
    points, typable, code, inverse = _goal_patterns(data, codebook)
    return points[inverse], typable[inverse], _REASON_NAMES[code[inverse]].tolist()


def ranking_points(goals: Sequence[str], codebook: Codebook | None = None) -> np.ndarray:
    """Points vector (1, n_options) for an ordered list of goals (most important first).

    Each goal may be an option id, an option code or a German/English label (case-insensitive).
    One to ``max_rank`` goals may be given (a top-m ranking, the typability rule of
    :func:`goal_points`). Raises :class:`TypologyError` for unknown or repeated goals and for
    an empty list or more than ``max_rank`` goals."""
    question = _goal_question(codebook)
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


# ------------------------------------------------------------------------------- simulation
def _all_orders(n_items: int, max_rank: int) -> np.ndarray:
    """All ordered selections of ``max_rank`` out of ``n_items`` (n_orders, max_rank)."""
    grids = np.stack(np.meshgrid(*[np.arange(n_items)] * max_rank, indexing="ij"), axis=-1).reshape(
        -1, max_rank
    )
    distinct = np.ones(len(grids), dtype=bool)
    for a in range(max_rank):
        for b in range(a + 1, max_rank):
            distinct &= grids[:, a] != grids[:, b]
    return grids[distinct]


def _plackett_luce_probs(worth: np.ndarray, orders: np.ndarray) -> np.ndarray:
    prob = np.ones(len(orders))
    remaining = np.full(len(orders), worth.sum())
    for r in range(orders.shape[1]):
        w = worth[orders[:, r]]
        prob *= w / remaining
        remaining = remaining - w
    return prob


def _order_points(orders: np.ndarray, n_items: int, max_rank: int) -> np.ndarray:
    """Rank points of orders (n, m), m <= max_rank: ``max_rank - r`` for the r-th goal."""
    pts = np.zeros((len(orders), n_items))
    rows = np.arange(len(orders))
    for r in range(min(max_rank, orders.shape[1])):
        pts[rows, orders[:, r]] = max_rank - r
    return pts


def _fit_plackett_luce(
    center: np.ndarray,
    orders: np.ndarray,
    pts: np.ndarray,
    mask: np.ndarray | None = None,
    depth_pts: list[tuple[float, np.ndarray]] | None = None,
) -> np.ndarray:
    """Worths of a Plackett–Luce model whose expected rank points approach ``center``; with
    ``mask``, of the model restricted to the orders where ``mask`` is True. ``depth_pts``:
    ``(share, points of the orders cut to their first m goals)`` per depth m — the centre is
    then matched as the mean of top-m rankings in these shares (as in data with rankings of
    one, two or three goals); without it the centre is scaled to complete rankings."""
    target = np.clip(center, 1e-4, None)
    if depth_pts is None:
        target = target * pts[0].sum() / target.sum()
    worth = target / target.sum()
    for _ in range(2000):
        prob = _plackett_luce_probs(worth, orders)
        if mask is not None:
            prob = prob * mask
        if depth_pts is None:
            mean = prob @ pts / prob.sum()
        else:
            mean = sum(share * (prob @ dp) for share, dp in depth_pts) / prob.sum()
        if np.abs(mean - target).max() < 1e-4:
            break
        worth = worth * (target / np.clip(mean, 1e-12, None)) ** 0.5
        worth /= worth.sum()
    return worth


def simulate_rankings(
    centers: np.ndarray,
    sizes: Sequence[int],
    rng: np.random.Generator | int | None = None,
    max_rank: int = 3,
    sharpness: float = 1.0,
    within_cell: bool = True,
) -> np.ndarray:
    """Rank points of simulated complete rankings around given centres.

    Each centre (a mean rank-points vector) gets a Plackett–Luce ranking model whose expected
    rank points match the centre; ``sizes[j]`` rankings are drawn from model ``j``. With
    ``within_cell`` (default) model ``j`` only produces rankings nearer to centre ``j`` than
    to any other centre (and is fitted so that this truncated model has mean ``centers[j]``),
    so the centres are a k-means solution of the population, as the published centres of a
    k-means study are. Without it the types overlap. ``sharpness`` raises the fitted worths to
    that power after fitting (> 1: less noise, < 1: more noise).

    Rows come in blocks: the planted type of row ``i`` is
    ``np.repeat(np.arange(len(sizes)), sizes)[i]``.
    """
    rng = np.random.default_rng(rng)
    centers = np.atleast_2d(np.asarray(centers, dtype=float))
    n_items = centers.shape[1]
    orders = _all_orders(n_items, max_rank)
    pts = _order_points(orders, n_items, max_rank)
    cell = ((pts[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
    blocks = []
    for j, (center, size) in enumerate(zip(centers, sizes, strict=True)):
        mask = (cell == j) if within_cell else None
        if mask is not None and not mask.any():
            mask = None
        worth = _fit_plackett_luce(center, orders, pts, mask) ** sharpness
        prob = _plackett_luce_probs(worth / worth.sum(), orders)
        if mask is not None:
            prob = prob * mask
        draws = rng.choice(len(orders), size=int(size), p=prob / prob.sum())
        blocks.append(pts[draws])
    return np.concatenate(blocks, axis=0) if blocks else np.zeros((0, n_items))


def _rankings(points: np.ndarray, max_rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which rows of ``points`` are consistent top-m rankings (points max_rank, max_rank-1, …,
    max_rank-m+1 each once for m = 1..max_rank, else 0), their goal order (n, max_rank), most
    important first (only the first ``depth`` entries are meaningful), and ``depth`` m (n,)."""
    n, d = points.shape
    if n == 0 or d == 0 or max_rank < 1 or max_rank > d or not np.isfinite(points).all():
        empty = np.zeros(n, dtype=np.int64)
        return np.zeros(n, dtype=bool), np.zeros((n, 0), dtype=np.int64), empty
    order = np.argsort(-points, axis=1, kind="stable")[:, :max_rank]
    depth = (points > 0).sum(axis=1)
    stage = np.arange(max_rank)[None]
    values = np.where(stage < depth[:, None], max_rank - stage, 0).astype(float)
    expected = np.zeros((n, d))
    np.put_along_axis(expected, order, values, axis=1)
    valid = (depth >= 1) & (depth <= max_rank) & (expected == points).all(axis=1)
    return valid, order, depth


def _plackett_luce_loglik(
    order: np.ndarray, worths: np.ndarray, depth: np.ndarray | None = None
) -> np.ndarray:
    """Log-probability of each (top-``depth``) ranking ``order`` (n, r) under each worth
    vector (k, d): (n, k). A top-m ranking's probability is the product of the first m
    Plackett–Luce choice stages (``depth`` None: all r stages)."""
    v = worths[:, order]  # (k, n, r)
    before = np.cumsum(v, axis=2) - v
    terms = np.log(v) - np.log(np.clip(1.0 - before, 1e-300, None))
    if depth is not None:
        terms = np.where(np.arange(order.shape[1])[None, None] < depth[None, :, None], terms, 0.0)
    return terms.sum(axis=2).T


def plackett_luce_worths(
    centers: np.ndarray, max_rank: int = 3, depth_shares: np.ndarray | None = None
) -> np.ndarray:
    """Worths (k, d), each summing to 1, of Plackett–Luce ranking models whose expected rank
    points match the given centres (moment matching; zero centre values get worth ~1e-5).

    ``depth_shares`` (k, max_rank): per type, the shares of top-1 … top-max_rank rankings
    behind its centre (a top-m ranking is the first m choices of the model); None: complete
    rankings only (the centre is scaled to their point sum)."""
    centers = np.atleast_2d(centers)
    d = centers.shape[1]
    orders = _all_orders(d, max_rank)
    pts = _order_points(orders, d, max_rank)
    cut = [_order_points(orders[:, :m], d, max_rank) for m in range(1, max_rank + 1)]
    worths = []
    for j, c in enumerate(centers):
        depth_pts = None
        if depth_shares is not None:
            shares = np.asarray(depth_shares[j], dtype=float)
            if shares.sum() > 0 and shares[-1] < shares.sum():  # partial rankings present
                shares = shares / shares.sum()
                depth_pts = [(float(q), cut[m]) for m, q in enumerate(shares) if q > 0]
        worths.append(_fit_plackett_luce(c, orders, pts, depth_pts=depth_pts))
    worths = np.stack(worths)
    return worths / worths.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------- patterns
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


# ------------------------------------------------------------------------------- k-means core
def _sq_dist(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Squared distances between points X (u, d) and batched centres C (m, k, d): (m, u, k)."""
    x2 = np.einsum("ud,ud->u", X, X)
    c2 = np.einsum("mkd,mkd->mk", C, C)
    d2 = x2[None, :, None] - 2.0 * np.matmul(X, C.transpose(0, 2, 1)) + c2[:, None, :]
    return np.maximum(d2, 0.0)


def _cumsum_rows(A: np.ndarray) -> np.ndarray:
    """Running sums down the rows of A (u, m), as ``np.cumsum(A, axis=0)``: one vector add per
    row runs many times faster than numpy's accumulate for a few hundred short rows, and as
    the same sequential sum it never decreases for non-negative A."""
    out = np.empty_like(A)
    out[0] = A[0]
    for j in range(1, len(A)):
        np.add(out[j - 1], A[j], out=out[j])
    return out


def _kmeanspp(X: np.ndarray, W: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Weighted greedy k-means++ seeding for a batch: W (m, u) -> centres (m, k, d).

    As scikit-learn's ``KMeans``: the first centre is drawn proportional to the weights; each
    further centre is the best (lowest potential) of ``2 + int(ln k)`` candidates drawn
    proportional to weight times squared distance to the nearest centre so far. The batch is
    held point-major (u, m), so that every reduction over the points adds whole rows."""
    m, u = W.shape
    n_trials = 2 + int(math.log(k)) if k > 1 else 1
    x2 = np.einsum("ud,ud->u", X, X)
    sq = x2[:, None] + x2[None, :] - 2.0 * (X @ X.T)  # (u, u) in one product
    np.maximum(sq, 0.0, out=sq)  # rounding (not for rank points: small integers, exact)
    WT = np.ascontiguousarray(W.T)  # (u, m)
    count_dtype = np.uint8 if u < 256 else np.uint16 if u < 65536 else np.int64

    def draw(prob: np.ndarray, size: int) -> np.ndarray:
        """``size`` draws per run from prob (u, m): point indices (size, m)."""
        cum = _cumsum_rows(prob)
        total = cum[-1]
        fallback = total <= 0  # no mass left: pick any positive-weight point
        if fallback.any():
            cum[:, fallback] = _cumsum_rows((WT[:, fallback] > 0).astype(cum.dtype))
            total = cum[-1]
        r = rng.random((size, m)) * total
        below = cum[None, :, :] <= r[:, None, :]  # (size, u, m)
        idx = below.view(np.uint8).sum(axis=1, dtype=count_dtype)
        return np.minimum(idx, u - 1).astype(np.int64)

    cols = np.arange(m)
    idx = draw(WT, 1)[0]
    chosen = np.empty((k, m), dtype=np.int64)
    chosen[0] = idx
    closest = sq[:, idx]  # (u, m)
    for j in range(1, k):
        cand = draw(WT * closest, n_trials)  # (t, m)
        new_closest = sq[:, cand]  # (u, t, m)
        np.minimum(new_closest, closest[:, None, :], out=new_closest)
        potential = np.einsum("utm,um->tm", new_closest, WT)
        best = potential.argmin(axis=0)
        chosen[j] = cand[best, cols]
        closest = new_closest[:, best, cols]
    return X[chosen.T]


def _nearest(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First nearest centre for distances laid out centre-major, dist (k, a, u): labels (a, u)
    and the smallest value (a, u). Each ``dist[j]`` is contiguous, so the k-1 comparisons run
    as flat vector operations; a strictly smaller value is needed to move on, so ties go to
    the lower centre, as ``argmin``."""
    k = dist.shape[0]
    dtype = np.int8 if k < 128 else np.int64
    best = dist[0].copy()
    lab = np.zeros(best.shape, dtype=dtype)
    step = np.empty(best.shape, dtype=dtype)
    for j in range(1, k):  # arithmetic instead of masked writes, which are much slower
        closer = dist[j] < best
        np.subtract(dtype(j), lab, out=step)
        step *= closer
        lab += step
        np.minimum(best, dist[j], out=best)
    return lab, best


def _assign(X: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of each point for batched centres C (a, k, d): labels (a, u) and the
    squared distance minus ``||x||²`` (a, u)."""
    return _assign_km(_aug_points(X), np.ascontiguousarray(C.transpose(1, 0, 2)))


def _aug_points(X: np.ndarray) -> np.ndarray:
    """Points as (d + 1, u): ``-2 xᵀ`` over a row of ones, so that centres augmented by
    ``||c||²`` give ``||c||² - 2 x·c`` in one product."""
    return np.concatenate([-2.0 * X.T, np.ones((1, X.shape[0]), dtype=X.dtype)], axis=0)


def _assign_km(x_aug: np.ndarray, Ck: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As ``_assign`` for centre-major centres Ck (k, a, d) and augmented points (d + 1, u)."""
    k, a, d = Ck.shape
    c2 = np.einsum("kad,kad->ka", Ck, Ck)
    c_aug = np.concatenate([Ck, c2[:, :, None]], axis=2).reshape(k * a, d + 1)
    return _nearest((c_aug @ x_aug).reshape(k, a, -1))


def _lloyd(
    X: np.ndarray,
    W: np.ndarray,
    C: np.ndarray,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched weighted Lloyd iterations until the assignment no longer changes.

    X (u, d), W (m, u), C (m, k, d) -> centres (m, k, d), labels (m, u), inertia (m,);
    the iterations per run are left in ``_lloyd.last_n_iter``. The batch is held centre-major
    (k, a, ...), so that every per-centre slice is contiguous, and it is compacted as runs
    finish: a run whose assignment did not change is done (its centres are the means of that
    assignment already), and only the others are updated."""
    m, u = W.shape
    k, d = C.shape[1], C.shape[2]
    x_aug = _aug_points(X)
    x_one = np.concatenate([X, np.ones((u, 1), dtype=X.dtype)], axis=1)  # sums and mass at once
    C_out = np.array(C, copy=True)
    lab_out = np.empty((m, u), dtype=np.int64)
    best_out = np.empty((m, u), dtype=np.result_type(X, C))
    n_iter = np.zeros(m, dtype=np.int64)
    idx = np.arange(m)  # runs still iterating
    Ck = np.ascontiguousarray(C.transpose(1, 0, 2))  # (k, a, d)
    Wc = W
    Lc = np.full((m, u), -1, dtype=np.int8)
    for it in range(max_iter + 1):
        lab, best = _assign_km(x_aug, Ck)
        if it == max_iter:  # out of iterations: the assignment to the last centres stands
            done = np.ones(len(idx), dtype=bool)
        else:
            n_iter[idx] += 1
            done = ~(lab != Lc).any(axis=1)
        if done.any():
            fin = idx[done]
            lab_out[fin], best_out[fin] = lab[done], best[done]
            C_out[fin] = Ck[:, done].transpose(1, 0, 2)
        if done.all():
            break
        if done.any():
            go = ~done
            idx, Ck, Wc, lab = idx[go], Ck[:, go], Wc[go], lab[go]
        Lc = lab
        # update: weighted sums and mass of each centre's points in one product
        Wk = (lab[None] == np.arange(k, dtype=lab.dtype)[:, None, None]) * Wc[None]
        S = (Wk.reshape(k * len(idx), u) @ x_one).reshape(k, len(idx), d + 1)
        # an empty centre stays where it is: its sums are 0, so S / (0 + 1) + C = C
        empty = (S[:, :, d:] <= 0).astype(S.dtype)
        Ck = S[:, :, :d] / (S[:, :, d:] + empty) + empty * Ck
    x2 = np.einsum("ud,ud->u", X, X)
    inertia = (np.maximum(best_out + x2[None, :], 0.0) * W).sum(axis=1)
    _lloyd.last_n_iter = n_iter  # type: ignore[attr-defined]
    return C_out, lab_out, inertia


def _ward_centers(X: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Centres of the k-cluster cut of weighted Ward clustering of the points X (u, d).

    Each distinct pattern starts as a cluster of size ``w`` (this equals Ward on the rows,
    where identical rows merge first at no cost). Merge cost of clusters a, b:
    ``w_a w_b / (w_a + w_b) * ||c_a - c_b||^2`` (increase of the within-cluster sum of
    squares)."""
    keep = w > 0
    cent = X[keep].astype(float).copy()
    size = w[keep].astype(float).copy()
    n = len(cent)
    if n <= k:
        return np.vstack([cent, np.repeat(cent[:1], k - n, axis=0)])
    alive = np.ones(n, dtype=bool)
    sq = ((cent[:, None, :] - cent[None, :, :]) ** 2).sum(axis=2)
    cost = size[:, None] * size[None, :] / (size[:, None] + size[None, :]) * sq
    np.fill_diagonal(cost, np.inf)
    for _ in range(n - k):
        a, b = divmod(int(np.argmin(cost)), n)
        total = size[a] + size[b]
        cent[a] = (size[a] * cent[a] + size[b] * cent[b]) / total
        size[a] = total
        alive[b] = False
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        row = size * size[a] / (size + size[a]) * ((cent - cent[a]) ** 2).sum(axis=1)
        row[~alive] = np.inf
        row[a] = np.inf
        cost[a, :] = row
        cost[:, a] = row
    return cent[alive]


def _optimal_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (rows, cols) of minimal total cost, as ``scipy.optimize.linear_sum_assignment``.

    Naming matches a handful of clusters to a handful of reference types: up to 8 on the
    shorter side and 10,000 candidate pairings all of them are compared in one step (exact;
    importing scipy.optimize would cost more than that); larger problems go to scipy."""
    n_rows, n_cols = cost.shape
    short = min(n_rows, n_cols)
    if short <= 8 and math.perm(max(n_rows, n_cols), short) <= 10_000:
        tall = cost if n_rows >= n_cols else cost.T  # pick a distinct row for every column
        perms = np.array(list(itertools.permutations(range(len(tall)), short)), dtype=np.int64)
        best = perms[tall[perms, np.arange(short)].sum(axis=1).argmin()]
        rows, cols = (best, np.arange(short)) if n_rows >= n_cols else (np.arange(short), best)
        order = np.argsort(rows)
        return rows[order], cols[order]
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)


@cache
def _blas_controller() -> ThreadpoolController:
    """One controller for the process: building one scans the loaded libraries (~2 ms),
    which is most of the cost of a small batch."""
    return ThreadpoolController()


def weighted_kmeans(
    X: np.ndarray,
    W: np.ndarray,
    k: int,
    n_init: int,
    rng: np.random.Generator,
    max_iter: int = 300,
    start_centers: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best of several weighted k-means runs for each row of weights ``W`` (b, u).

    Runs ``n_init`` k-means++ restarts per weight row, plus a run from each of
    ``start_centers`` (s, k, d) if given, all in one batch. Returns the best run per weight
    row: centres (b, k, d), labels (b, u), inertia (b,), and how many runs reached the best
    inertia (b,)."""
    W = np.atleast_2d(W)
    b = W.shape[0]
    if not n_init and (start_centers is None or not len(start_centers)):
        raise ValueError("weighted_kmeans needs n_init > 0 or start_centers")
    inits = []
    if n_init:
        inits.append(_kmeanspp(X, np.repeat(W, n_init, axis=0), k, rng).reshape(b, n_init, k, -1))
    if start_centers is not None and len(start_centers):
        sc = np.broadcast_to(start_centers, (b, *start_centers.shape))
        inits.append(sc)
    C0 = np.concatenate(inits, axis=1)  # (b, r, k, d)
    r = C0.shape[1]
    # the matrix products have an inner dimension of d or u (small): threads only cost time
    with _blas_controller().limit(limits=1, user_api="blas"):
        C, labels, inertia = _lloyd(
            X,
            np.repeat(W, r, axis=0),
            C0.reshape(b * r, k, -1),
            max_iter,
        )
    inertia = inertia.reshape(b, r)
    best = inertia.argmin(axis=1)
    best_val = inertia[np.arange(b), best]
    n_best = (inertia <= best_val[:, None] + 1e-9 * np.maximum(1.0, best_val[:, None])).sum(axis=1)
    pick = np.arange(b) * r + best
    weighted_kmeans.last_n_iter = _lloyd.last_n_iter[pick]  # type: ignore[attr-defined]
    return C[pick], labels[pick], best_val, n_best


# ------------------------------------------------------------------------------- ARI / Jaccard
def _contingency(a: np.ndarray, bl: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Weighted contingency tables for batches: a (u,), bl (b, u), w (b, u) -> (b, k, k)."""
    b = len(bl)
    flat = (np.arange(b)[:, None] * k * k + a[None, :] * k + bl).ravel()
    return np.bincount(flat, weights=w.ravel(), minlength=b * k * k).reshape(b, k, k)


def _ari_from_tables(tab: np.ndarray) -> np.ndarray:
    def comb2(x: np.ndarray) -> np.ndarray:
        return x * (x - 1) / 2.0

    n = tab.sum(axis=(1, 2))
    sum_ij = comb2(tab).sum(axis=(1, 2))
    sum_a = comb2(tab.sum(axis=2)).sum(axis=1)
    sum_b = comb2(tab.sum(axis=1)).sum(axis=1)
    expected = sum_a * sum_b / comb2(n)
    max_index = (sum_a + sum_b) / 2.0
    denom = max_index - expected
    return np.where(denom == 0, 1.0, (sum_ij - expected) / np.where(denom == 0, 1.0, denom))


def bootstrap_agreement(
    original: np.ndarray, boot_labels: np.ndarray, counts: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Jaccard per original cluster and ARI for each bootstrap replicate.

    ``original`` (u,) labels of the distinct patterns, ``boot_labels`` (b, u) their labels in
    each refit and ``counts`` (b, u) how often each pattern was drawn. As in
    ``fpc::clusterboot``, both are compared on the original points in the resample (with
    multiplicity); the Jaccard of an original cluster is its maximum over the refit's clusters.
    Returns (jaccard (b, k) with NaN where the cluster is absent from the resample, ari (b,))."""
    tab = _contingency(original, boot_labels, counts, k)  # (b, k_orig, k_boot)
    size_a = tab.sum(axis=2)
    size_b = tab.sum(axis=1)
    union = size_a[:, :, None] + size_b[:, None, :] - tab
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, tab / union, 0.0).max(axis=2)
    jac = np.where(size_a > 0, jac, np.nan)
    return jac, _ari_from_tables(tab)


# ------------------------------------------------------------------------------- results
@dataclass
class StabilityResult:
    """Bootstrap stability of a fitted typology (see :meth:`Typology.stability`)."""

    type_ids: list[str]
    jaccard: np.ndarray  # (B, k)
    ari: np.ndarray  # (B,)
    threshold: float = 0.75

    @property
    def jaccard_mean(self) -> np.ndarray:
        return np.nanmean(self.jaccard, axis=0)

    @property
    def unstable(self) -> list[str]:
        """Type ids whose mean Jaccard is below the threshold."""
        return [
            tid
            for tid, j in zip(self.type_ids, self.jaccard_mean, strict=True)
            if j < self.threshold
        ]

    def per_type(self, lang: str | None = None) -> pl.DataFrame:
        """One row per type: mean/sd/5 % quantile of Jaccard, and the unstable flag."""
        return pl.DataFrame(
            {
                "type": self.type_ids,
                "label": [type_label(tid, lang) for tid in self.type_ids],
                "jaccard_mean": self.jaccard_mean,
                "jaccard_sd": np.nanstd(self.jaccard, axis=0, ddof=1),
                "jaccard_q05": np.nanquantile(self.jaccard, 0.05, axis=0),
                "unstable": [bool(j < self.threshold) for j in self.jaccard_mean],
            }
        )

    def ari_summary(self) -> dict[str, float]:
        """Mean, standard deviation and 5/50/95 % quantiles of the adjusted Rand index."""
        q05, q50, q95 = np.quantile(self.ari, [0.05, 0.5, 0.95])
        return {
            "mean": float(self.ari.mean()),
            "sd": float(self.ari.std(ddof=1)) if len(self.ari) > 1 else 0.0,
            "q05": float(q05),
            "median": float(q50),
            "q95": float(q95),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_bootstrap": len(self.ari),
            "threshold": self.threshold,
            "types": self.per_type().to_dicts(),
            "ari": self.ari_summary(),
        }


@dataclass
class KChoice:
    """Model-choice diagnostics for k = 2..8 (see :func:`choose_k`)."""

    table: pl.DataFrame
    recommended_k: int
    reason_code: str
    reason_args: dict[str, Any] = field(default_factory=dict)

    def reason(self, lang: str | None = None) -> str:
        return t(f"typology.k_reason_{self.reason_code}", lang=lang, **self.reason_args)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table.to_dicts(),
            "recommended_k": self.recommended_k,
            "reason_code": self.reason_code,
            "reason_de": self.reason("de"),
            "reason_en": self.reason("en"),
        }


# ------------------------------------------------------------------------------- estimator
def _is_frame(data: Any) -> bool:
    """A polars/pandas frame holding the typology question's columns (canonical data)."""
    is_frame = isinstance(data, pl.DataFrame) or (
        hasattr(data, "columns") and hasattr(data, "to_numpy") and hasattr(data, "iloc")
    )
    if not is_frame:
        return False
    columns = set(_goal_question(None).columns)
    return any(str(c) in columns for c in data.columns)


class Typology(EstimatorBase):
    """Rank-based k-means typology with naming, mixed membership, model choice and stability.

    Parameters
    ----------
    n_clusters : number of types (k).
    n_init : k-means++ restarts (all run as one vectorised batch on the distinct patterns).
    init : ``"k-means++"`` (``n_init`` greedy k-means++ restarts, the best inertia wins),
        ``"ward"`` (one extra start from the k-cluster cut of weighted Ward clustering, in
        addition to the ``n_init`` restarts) or ``"reference"`` (one deterministic run started
        from the reference centres, as when re-applying the study's solution to new data: the
        local optimum nearest to the published typology, not necessarily the best inertia;
        bootstrap refits start from the reference centres as well).
    max_iter : maximum Lloyd iterations per run.
    random_state : seed (int) or None; the same seed gives the same result.
    reference : ``"study"`` (Table 1 centres), a CSV path in the same format, or None (no
        naming: every cluster is a new type ``neu_<i>``).
    max_reference_distance : largest Euclidean distance (rank points) between a fitted centre
        and its matched reference centre for the cluster to take the reference name; None =
        half the smallest distance between two reference centres (so a centre can be close to
        at most one reference type).
    membership : ``"auto"`` (complete rankings get probabilities from a latent-class model for
        ranking data: one Plackett–Luce model per type, moment-matched to its centre, mixed
        with the type shares; other rows, e.g. arbitrary arrays, from the Gaussian model) or
        ``"gaussian"`` (spherical Gaussian mixture with the fitted centres, equal weights and
        the pooled within-cluster variance ``sigma2_``, for every row).
    mischform_threshold : a municipality is a Mischform when its highest type probability is
        below this value.
    n_bootstrap : default number of bootstrap refits in :meth:`stability`.
    n_bootstrap_restarts : greedy k-means++ restarts per bootstrap refit (default 10, as
        scikit-learn's ``KMeans``); every refit starts from scratch.
    stability_threshold : types with mean bootstrap Jaccard below this are flagged unstable.
    """

    def __init__(
        self,
        n_clusters: int = 4,
        n_init: int = 1000,
        init: str = "k-means++",
        max_iter: int = 300,
        random_state: int | None = 0,
        reference: str | Path | None = "study",
        max_reference_distance: float | None = None,
        membership: str = "auto",
        mischform_threshold: float = 0.75,
        n_bootstrap: int = 1000,
        n_bootstrap_restarts: int = 10,
        stability_threshold: float = 0.75,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.init = init
        self.max_iter = max_iter
        self.random_state = random_state
        self.reference = reference
        self.max_reference_distance = max_reference_distance
        self.membership = membership
        self.mischform_threshold = mischform_threshold
        self.n_bootstrap = n_bootstrap
        self.n_bootstrap_restarts = n_bootstrap_restarts
        self.stability_threshold = stability_threshold

    # -- input -----------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not isinstance(self.n_clusters, int | np.integer) or self.n_clusters < 1:
            raise TypologyDataError(
                t(
                    "typology.bad_param",
                    name="n_clusters",
                    received=self.n_clusters,
                    expected="int >= 1",
                )
            )
        if not isinstance(self.n_init, int | np.integer) or self.n_init < 1:
            raise TypologyDataError(
                t("typology.bad_param", name="n_init", received=self.n_init, expected="int >= 1")
            )
        if self.membership not in ("auto", "gaussian"):
            raise TypologyDataError(
                t(
                    "typology.bad_param",
                    name="membership",
                    received=self.membership,
                    expected="auto, gaussian",
                )
            )
        if self.init not in ("k-means++", "ward", "reference"):
            raise TypologyDataError(
                t(
                    "typology.bad_param",
                    name="init",
                    received=self.init,
                    expected="k-means++, ward, reference",
                )
            )

    def _check_features(self, n_features: int, reset: bool) -> None:
        if reset:
            self.n_features_in_ = n_features
        elif n_features != self.n_features_in_:
            raise TypologyDataError(
                t(
                    "typology.bad_shape",
                    received=f"(n, {n_features})",
                    expected=f"(n, {self.n_features_in_})",
                )
            )

    def _input_patterns(
        self, data: Any, reset: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distinct input patterns: ``(points (u, d), typable (u,), reason code (u,),
        inverse (n,))``. A canonical frame goes through the typability rule
        (:func:`goal_points`); an array of rank points is validated and every row is typable.
        Everything downstream runs on the patterns and is broadcast with ``inverse``."""
        if _is_frame(data):
            points, typable, code, inverse = _goal_patterns(data)
            self._check_features(points.shape[1], reset)
            return points, typable, code, inverse
        X = validate_array(self, data, reset=reset, dtype=np.float64, ensure_min_samples=1)
        points, _, _, inverse = count_patterns(X)
        ones = np.ones(len(points), dtype=bool)
        return points, ones, np.full(len(points), _TYPABLE_CODE, dtype=np.int8), inverse

    def _points(self, data: Any, reset: bool) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """(points, typable, reason) per row from a canonical frame or a points array."""
        points, typable, code, inverse = self._input_patterns(data, reset)
        return points[inverse], typable[inverse], _REASON_NAMES[code[inverse]].tolist()

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, data: Any, y: Any = None, sample_weight: Any = None) -> Typology:
        """Fit on the canonical data frame (rank columns of the typology question) or on an
        array of rank points (n, n_goals). ``sample_weight``: optional case weights per row.

        The rows are collapsed to distinct patterns once (vectorised); the typability rule,
        the k-means fit and the membership model run on the patterns only."""
        self._check_params()
        pts_u, typ_u, code_u, inverse = self._input_patterns(data, reset=True)
        n_rows, n_u = len(inverse), len(pts_u)
        typable = typ_u[inverse]
        reason_code = code_u[inverse]
        if sample_weight is not None:
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
        if sample_weight is None:  # per pattern: no pass over the rows beyond one bincount
            counts_u = np.bincount(inverse, minlength=n_u) * typ_u.astype(float)
            weights_u = counts_u
        else:
            counts_u = np.bincount(inverse[typable], minlength=n_u).astype(float)
            weights_u = np.bincount(inverse[typable], weights=sample_weight[typable], minlength=n_u)
        k = int(self.n_clusters)
        n_typable = float(counts_u.sum())
        if n_typable < k:
            raise TypologyDataError(
                t("typology.too_few_typable", received=round(n_typable), expected=k)
            )
        sel = np.flatnonzero(typ_u & (counts_u > 0))
        # lexicographic order of the points, so that the fit does not depend on row order
        patterns, _, _, order = count_patterns(pts_u[sel])
        counts = np.bincount(order, weights=counts_u[sel], minlength=len(patterns))
        weights = np.bincount(order, weights=weights_u[sel], minlength=len(patterns))
        if len(patterns) < k:
            raise TypologyDataError(
                t("typology.too_few_patterns", received=len(patterns), expected=k)
            )
        self._fit_patterns(patterns, counts, weights)
        pattern_of = np.full(n_u, -1, dtype=np.int64)  # input pattern -> fitted pattern
        pattern_of[sel] = order
        label_of = np.full(n_u, -1, dtype=np.int64)  # input pattern -> cluster
        label_of[sel] = self.pattern_labels_[order]
        # one gather per attribute; rows of an untypable pattern get -1 from the pattern,
        # zero-weight rows of a typable one need the row mask
        self.pattern_index_ = pattern_of[inverse]
        self.labels_ = label_of[inverse]
        if sample_weight is not None:
            self.pattern_index_[~typable] = -1
            self.labels_[~typable] = -1
        self.typable_ = typable
        reasons = _REASON_NAMES[reason_code]
        if sample_weight is not None:
            reasons[zero] = "zero_weight"
        self.not_typed_reason_ = reasons.tolist()
        return self

    def _fit_patterns(self, patterns: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> None:
        rng = np.random.default_rng(self.random_state)
        k = int(self.n_clusters)
        start, n_init = None, int(self.n_init)
        if self.init == "ward":
            start = _ward_centers(patterns, weights, k)[None]
        elif self.init == "reference":
            start, n_init = self._reference_start(k)[None], 0
        C, labels, inertia, n_best = weighted_kmeans(
            patterns, weights[None], k, n_init, rng, int(self.max_iter), start
        )
        centers, pat_labels = C[0], labels[0]
        self.n_iter_ = int(weighted_kmeans.last_n_iter[0])  # type: ignore[attr-defined]
        # naming and canonical order
        type_ids, ref_dist = self._name_clusters(centers, weights, pat_labels)
        order = self._canonical_order(type_ids, centers, weights, pat_labels)
        remap = np.empty(k, dtype=np.int64)
        remap[order] = np.arange(k)
        self.cluster_centers_ = centers[order]
        self.type_ids_ = [type_ids[i] for i in order]
        self.reference_distance_ = np.array([ref_dist[i] for i in order])
        self.pattern_labels_ = remap[pat_labels]
        self.patterns_ = patterns
        self.pattern_counts_ = counts
        self.pattern_weights_ = weights
        mass = np.bincount(self.pattern_labels_, weights=weights, minlength=k)
        self.weights_ = mass / mass.sum()
        self.cluster_sizes_ = mass
        self.inertia_ = float(inertia[0])
        self.n_best_restarts_ = int(n_best[0])
        self.n_restarts_ = n_init + (1 if start is not None else 0)
        d = patterns.shape[1]
        self.sigma2_ = max(self.inertia_ / (weights.sum() * d), 1e-6)
        self._set_membership(patterns)
        self.data_hash_ = _data_hash(patterns, weights)
        self.n_patterns_ = len(patterns)
        self.n_samples_fit_ = float(counts.sum())

    def _reference_start(self, k: int) -> np.ndarray:
        """Reference centres as the start of ``init="reference"`` (k must match)."""
        reference = self._reference()
        if reference is None or len(reference[1]) != k:
            raise TypologyDataError(
                t(
                    "typology.reference_init",
                    received=0 if reference is None else len(reference[1]),
                    expected=k,
                )
            )
        return reference[1]

    def _reference(self) -> tuple[list[str], np.ndarray] | None:
        if self.reference is None:
            return None
        ref_ids, ref = load_reference(self.reference)
        if ref.shape[1] != self.n_features_in_:
            raise TypologyDataError(
                t("typology.reference_dims", received=self.n_features_in_, expected=ref.shape[1])
            )
        return ref_ids, ref

    def _max_reference_distance(self, ref: np.ndarray) -> float:
        if self.max_reference_distance is not None:
            return float(self.max_reference_distance)
        if len(ref) < 2:
            return math.inf
        d = np.sqrt(((ref[:, None] - ref[None]) ** 2).sum(axis=2))
        return float(d[np.triu_indices(len(ref), 1)].min() / 2)

    def _name_clusters(
        self, centers: np.ndarray, weights: np.ndarray, labels: np.ndarray
    ) -> tuple[list[str | None], list[float]]:
        k = len(centers)
        names: list[str | None] = [None] * k
        dist = [math.nan] * k
        reference = self._reference()
        if reference is not None:
            ref_ids, ref = reference
            cost = np.sqrt(((centers[:, None] - ref[None]) ** 2).sum(axis=2))
            rows, cols = _optimal_assignment(cost)
            limit = self._max_reference_distance(ref)
            for r, c in zip(rows, cols, strict=True):
                dist[r] = float(cost[r, c])
                if cost[r, c] <= limit:
                    names[r] = ref_ids[c]
            for r in range(k):
                if math.isnan(dist[r]):
                    dist[r] = float(cost[r].min())
        return names, dist

    def _canonical_order(
        self,
        names: list[str | None],
        centers: np.ndarray,
        weights: np.ndarray,
        labels: np.ndarray,
    ) -> list[int]:
        """Named clusters in reference order, then new types by size (desc), then centre."""
        k = len(centers)
        mass = np.bincount(labels, weights=weights, minlength=k)
        ref_order: list[str] = []
        reference = self._reference()
        if reference is not None:
            ref_order = reference[0]
        named = sorted((i for i in range(k) if names[i]), key=lambda i: ref_order.index(names[i]))
        new = sorted(
            (i for i in range(k) if not names[i]), key=lambda i: (-mass[i], tuple(-centers[i]))
        )
        for n, i in enumerate(new, start=1):
            names[i] = f"{NEW_TYPE_PREFIX}{n}"
        return named + new

    def _set_membership(self, patterns: np.ndarray | None) -> None:
        """Choose the membership model: Plackett–Luce mixture when ``membership="auto"`` and
        every training pattern is a top-m ranking (every ranking has a first goal, so the
        largest point value is max_rank; ``patterns`` None: the codebook's max_rank)."""
        self.worths_ = None
        self.membership_ = "gaussian"
        self.pl_max_rank_ = 0
        if self.membership != "auto":
            return
        if patterns is not None:
            max_rank = round(float(patterns.max())) if patterns.size else 0
            if not _rankings(patterns, max_rank)[0].all():
                return
        else:
            max_rank = int(_goal_question(None).max_rank or 3)
        n_goals = self.cluster_centers_.shape[1]
        if not 1 <= max_rank <= min(4, n_goals) or n_goals > 40:
            return  # no rankings, or too many orders to enumerate for the moment matching
        shares = None
        if patterns is not None:  # shares of top-1 … top-max_rank rankings per type
            depth = (patterns > 0).sum(axis=1) - 1
            k = len(self.cluster_centers_)
            flat = self.pattern_labels_ * max_rank + depth
            shares = np.bincount(
                flat, weights=self.pattern_weights_, minlength=k * max_rank
            ).reshape(k, max_rank)
        self.worths_ = plackett_luce_worths(self.cluster_centers_, max_rank, shares)
        self.membership_ = "plackett-luce"
        self.pl_max_rank_ = max_rank

    # -- applying --------------------------------------------------------------------------
    def _per_pattern(self, data: Any, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``fn`` on the distinct typable patterns of ``data`` (u, k), broadcast to the rows;
        NaN rows for untypable rows."""
        points, typable, _, inverse = self._input_patterns(data, reset=False)
        k = len(self.cluster_centers_)
        per = np.full((len(points), k), np.nan)
        if typable.any():
            per[typable] = fn(points[typable])
        return per[inverse]

    def transform(self, data: Any) -> np.ndarray:
        """Euclidean distance of each row to each centre (n, k); NaN rows for untypable rows
        of a data frame."""
        check_is_fitted(self)
        return self._per_pattern(
            data, lambda X: np.sqrt(_sq_dist(X, self.cluster_centers_[None])[0])
        )

    def predict(self, data: Any) -> np.ndarray:
        """Index of the nearest centre (into ``type_ids_``); -1 for untypable rows."""
        check_is_fitted(self)
        points, typable, _, inverse = self._input_patterns(data, reset=False)
        labels = np.full(len(points), -1, dtype=np.int64)
        if typable.any():
            d2 = _sq_dist(points[typable], self.cluster_centers_[None])[0]
            labels[typable] = d2.argmin(axis=1)
        return labels[inverse]

    def fit_predict(self, data: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        return self.fit(data, sample_weight=sample_weight).labels_

    def predict_proba(self, data: Any) -> np.ndarray:
        """Type probabilities (n, k); rows sum to 1; NaN rows for untypable rows of a frame.

        With the Plackett–Luce model (``membership_ == "plackett-luce"``), a top-m ranking
        x gets ``p_j ∝ w_j · PL_j(x)`` (``w_j`` = type share ``weights_``, ``PL_j(x)`` the
        product of the first m choice stages); other rows, and every row with
        ``membership="gaussian"``, get ``p_j ∝ exp(-||x - c_j||² / (2 sigma2_))``. The type
        itself (:meth:`predict`) is always the nearest centre; with the ranking model the most
        probable type can differ for rankings between two types. Computed once per distinct
        pattern and broadcast to the rows."""
        check_is_fitted(self)
        return self._per_pattern(data, self._pattern_proba)

    def _pattern_proba(self, X: np.ndarray) -> np.ndarray:
        d2 = _sq_dist(X, self.cluster_centers_[None])[0]
        logit = -d2 / (2.0 * self.sigma2_)
        if getattr(self, "worths_", None) is not None:
            ranked, order, depth = _rankings(X, self.pl_max_rank_)
            if ranked.any():
                loglik = _plackett_luce_loglik(order[ranked], self.worths_, depth[ranked])
                logit[ranked] = loglik + np.log(np.clip(self.weights_, 1e-300, None))[None]
        logit -= logit.max(axis=1, keepdims=True)
        p = np.exp(logit)
        return p / p.sum(axis=1, keepdims=True)

    def mischform(self, data: Any) -> np.ndarray:
        """True where no type reaches ``mischform_threshold`` probability (False if untypable)."""
        p = self.predict_proba(data)
        top = np.nanmax(np.where(np.isnan(p), -1.0, p), axis=1)
        return (top >= 0) & (top < self.mischform_threshold)

    def type_of(self, data: Any) -> list[str | None]:
        """Type id per row (None for untypable rows)."""
        return [self.type_ids_[i] if i >= 0 else None for i in self.predict(data)]

    def assignments(self, data: Any, lang: str | None = None) -> pl.DataFrame:
        """One row per input row: id (if the frame has the codebook's id column), ``type``,
        ``label``, ``reason`` (why not typed), ``p_<type>`` per type, ``mischform``, and
        ``distance_<type>``. Suitable for ``assignments.csv``."""
        check_is_fitted(self)
        reason = self._points(data, reset=False)[2]
        labels = self.predict(data)
        proba = self.predict_proba(data)
        dist = self.transform(data)
        cols: dict[str, Any] = {}
        id_col = default_codebook().id_column
        if _is_frame(data) and id_col in data.columns:
            cols[id_col] = list(data[id_col])
        types = [self.type_ids_[i] if i >= 0 else None for i in labels]
        cols["type"] = types
        cols["label"] = [type_label(tid, lang) for tid in types]
        cols["reason"] = reason
        for j, tid in enumerate(self.type_ids_):
            cols[f"p_{tid}"] = proba[:, j]
        top = np.nanmax(np.where(np.isnan(proba), -1.0, proba), axis=1)
        cols["mischform"] = [bool(0 <= p < self.mischform_threshold) for p in top]
        for j, tid in enumerate(self.type_ids_):
            cols[f"distance_{tid}"] = dist[:, j]
        out = pl.DataFrame(cols, strict=False)
        return out.with_columns(
            pl.col(c).fill_nan(None) for c in out.columns if c.startswith(("p_", "distance_"))
        )

    def centers_frame(self, lang: str | None = None) -> pl.DataFrame:
        """Centres as a table: one row per goal option, one column per type id."""
        check_is_fitted(self)
        question = _goal_question(None)
        features = [o.id for o in question.options]
        if len(features) != self.n_features_in_:
            features = [f"x{i}" for i in range(self.n_features_in_)]
        data: dict[str, Any] = {"option_id": features}
        for j, tid in enumerate(self.type_ids_):
            data[tid] = self.cluster_centers_[j]
        return pl.DataFrame(data)

    # -- stability -------------------------------------------------------------------------
    def stability(
        self,
        n_bootstrap: int | None = None,
        random_state: int | None = None,
        resample_counts: np.ndarray | None = None,
    ) -> StabilityResult:
        """Bootstrap stability of the fitted clustering.

        Draws ``n_bootstrap`` resamples of the typable rows (a multinomial over the distinct
        patterns with probabilities proportional to their row counts, which is the same as
        drawing rows with replacement), refits k-means on each and compares with the original
        clusters on the original points in the resample: per-type Jaccard (maximum over refit
        clusters, as ``fpc::clusterboot``) and the adjusted Rand index. ``resample_counts``
        (B, n_patterns) gives explicit resamples instead. Case weights: a drawn row carries its
        pattern's mean case weight."""
        check_is_fitted(self)
        if getattr(self, "patterns_", None) is None:
            raise TypologyError(t("typology.stability_needs_data"))
        k = len(self.cluster_centers_)
        counts = self.pattern_counts_
        if resample_counts is None:
            B = int(n_bootstrap if n_bootstrap is not None else self.n_bootstrap)
            rng = np.random.default_rng(self.random_state if random_state is None else random_state)
            resample_counts = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=B)
        else:
            resample_counts = np.asarray(resample_counts, dtype=float)
            rng = np.random.default_rng(self.random_state if random_state is None else random_state)
            if resample_counts.ndim != 2 or resample_counts.shape[1] != len(counts):
                raise TypologyDataError(
                    t(
                        "typology.bad_shape",
                        received=str(resample_counts.shape),
                        expected=f"(B, {len(counts)})",
                    )
                )
        resample_counts = resample_counts.astype(float)
        mean_w = self.pattern_weights_ / np.where(counts > 0, counts, 1.0)
        W = resample_counts * mean_w[None]
        labels = np.empty(W.shape, dtype=np.int64)
        # single precision halves the memory traffic of the batch; rank points and counts are
        # small integers, so only the centres are rounded (by < 1e-6)
        patterns32, W32 = self.patterns_.astype(np.float32), W.astype(np.float32)
        restarts, start = int(self.n_bootstrap_restarts), None
        if self.init == "reference":  # refit as the original: Lloyd from the reference centres
            restarts, start = 0, self._reference_start(k)[None].astype(np.float32)
        chunk = 250  # bounds memory: chunk * restarts * patterns * k
        for s in range(0, len(W), chunk):
            _, lab, _, _ = weighted_kmeans(
                patterns32,
                W32[s : s + chunk],
                k,
                restarts,
                rng,
                int(self.max_iter),
                start,
            )
            labels[s : s + chunk] = lab
        jac, ari = bootstrap_agreement(self.pattern_labels_, labels, resample_counts, k)
        return StabilityResult(list(self.type_ids_), jac, ari, float(self.stability_threshold))

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as a JSON-serialisable dict (centres, type ids, names, scales,
        version, data hash, parameters)."""
        check_is_fitted(self)
        from kommunaltypen import __version__

        question = _goal_question(None)
        features = [o.id for o in question.options]
        if len(features) != self.n_features_in_:
            features = [f"x{i}" for i in range(self.n_features_in_)]
        max_rank = int(question.max_rank or 3)
        params = {
            key: (str(val) if isinstance(val, Path) else val)
            for key, val in self.get_params().items()
        }
        return {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "kommunaltypen_version": __version__,
            "features": features,
            "scale": {
                "points_for_rank": {str(r): max_rank + 1 - r for r in range(1, max_rank + 1)},
                "not_ranked": 0,
            },
            "type_ids": list(self.type_ids_),
            "names": {
                tid: {"de": type_label(tid, "de"), "en": type_label(tid, "en")}
                for tid in self.type_ids_
            },
            "centers": np.round(self.cluster_centers_, 10).tolist(),
            "weights": self.weights_.tolist(),
            "cluster_sizes": self.cluster_sizes_.tolist(),
            "sigma2": self.sigma2_,
            "membership": {
                "model": self.membership_,
                "max_rank": self.pl_max_rank_,
                "worths": None if self.worths_ is None else np.round(self.worths_, 12).tolist(),
                "mischform_threshold": self.mischform_threshold,
            },
            "reference_distance": [
                None if math.isnan(d) else d for d in self.reference_distance_.tolist()
            ],
            "inertia": self.inertia_,
            "n_best_restarts": self.n_best_restarts_,
            "n_restarts": self.n_restarts_,
            "n_patterns": self.n_patterns_,
            "n_samples_fit": self.n_samples_fit_,
            "data_hash": self.data_hash_,
            "params": params,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        try:
            path.write_text(self.to_json() + "\n", encoding="utf-8")
        except OSError as exc:
            raise TypologyError(t("typology.model_unwritable", path=str(path), error=exc)) from exc
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "model") -> Typology:
        """Rebuild a fitted (apply-only) model from :meth:`to_dict` output."""
        required = ("format", "format_version", "type_ids", "centers", "sigma2", "params")
        missing = (
            [key for key in required if key not in data]
            if isinstance(data, dict)
            else list(required)
        )
        if missing or data.get("format") != MODEL_FORMAT:
            raise TypologyError(
                t("typology.model_invalid", origin=origin, missing=", ".join(missing) or "format")
            )
        if int(data["format_version"]) > MODEL_FORMAT_VERSION:
            raise TypologyError(
                t(
                    "typology.model_version",
                    origin=origin,
                    received=data["format_version"],
                    expected=MODEL_FORMAT_VERSION,
                )
            )
        valid = cls().get_params()
        model = cls(**{k: v for k, v in data["params"].items() if k in valid})
        centers = np.asarray(data["centers"], dtype=float)
        if centers.ndim != 2 or len(centers) != len(data["type_ids"]):
            raise TypologyError(
                t("typology.model_invalid", origin=origin, missing="centers/type_ids")
            )
        model.cluster_centers_ = centers
        model.n_features_in_ = centers.shape[1]
        model.type_ids_ = list(data["type_ids"])
        model.sigma2_ = float(data["sigma2"])
        k = len(centers)
        model.weights_ = np.asarray(data.get("weights", [1.0 / k] * k), dtype=float)
        model.cluster_sizes_ = np.asarray(data.get("cluster_sizes", model.weights_), dtype=float)
        model.reference_distance_ = np.array(
            [math.nan if d is None else d for d in data.get("reference_distance", [None] * k)],
            dtype=float,
        )
        model.inertia_ = float(data.get("inertia", math.nan))
        model.n_best_restarts_ = int(data.get("n_best_restarts", 0))
        model.n_restarts_ = int(data.get("n_restarts", 0))
        model.n_patterns_ = int(data.get("n_patterns", 0))
        model.n_samples_fit_ = float(data.get("n_samples_fit", 0))
        model.data_hash_ = str(data.get("data_hash", ""))
        membership = data.get("membership", {})
        model.membership_ = membership.get("model", "gaussian")
        model.pl_max_rank_ = int(membership.get("max_rank", 0))
        worths = membership.get("worths")
        model.worths_ = None if worths is None else np.asarray(worths, dtype=float)
        if model.membership_ == "plackett-luce" and (
            model.worths_ is None or model.worths_.shape != centers.shape
        ):
            raise TypologyError(t("typology.model_invalid", origin=origin, missing="worths"))
        return model

    @classmethod
    def load(cls, path: str | Path) -> Typology:
        """Load a model saved with :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TypologyError(t("typology.model_unreadable", path=str(path), error=exc)) from exc
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_reference(
        cls,
        reference: str | Path = "study",
        sizes: Sequence[float] | None = None,
        **params: Any,
    ) -> Typology:
        """A fitted model made directly from reference centres (default: the study's Table 1),
        for classifying without data. ``sizes`` default to the study's type sizes.

        The pooled variance follows from the centres alone: every complete ranking has the
        same squared norm ``s = 3² + 2² + 1²``, so a type's mean squared distance to its centre
        is ``s - ||c||²``; ``sigma2_`` is the size-weighted mean of that over the types,
        divided by the number of goals."""
        ref_ids, ref = load_reference(reference)
        if sizes is None:
            study_n = {row["id"]: float(row["study_n"]) for row in type_table()}
            sizes = [study_n.get(tid, 1.0) for tid in ref_ids]
        sizes_arr = np.asarray(sizes, dtype=float)
        question = _goal_question(None)
        max_rank = int(question.max_rank or 3)
        norm2 = float(sum(r * r for r in range(1, max_rank + 1)))
        within = np.clip(norm2 - (ref**2).sum(axis=1), 1e-6, None)
        model = cls(n_clusters=len(ref_ids), reference=reference, **params)
        model.cluster_centers_ = ref.copy()
        model.n_features_in_ = ref.shape[1]
        model.type_ids_ = list(ref_ids)
        model.weights_ = sizes_arr / sizes_arr.sum()
        model.cluster_sizes_ = sizes_arr
        model.sigma2_ = float((sizes_arr * within).sum() / sizes_arr.sum() / ref.shape[1])
        model.reference_distance_ = np.zeros(len(ref_ids))
        model.inertia_ = float((sizes_arr * within).sum())
        model.n_best_restarts_ = 0
        model.n_restarts_ = 0
        model.n_patterns_ = 0
        model.n_samples_fit_ = float(sizes_arr.sum())
        model.data_hash_ = "reference:" + hashlib.sha256(ref.tobytes()).hexdigest()[:16]
        model._set_membership(None)
        return model

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _data_hash(patterns: np.ndarray, weights: np.ndarray) -> str:
    """SHA-256 of the (sorted) distinct patterns and their weights: independent of row order
    and of how the weights are split over identical rows."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.round(patterns, 12)).tobytes())
    h.update(np.ascontiguousarray(np.round(weights / weights.sum(), 12)).tobytes())
    return "sha256:" + h.hexdigest()[:32]


# ------------------------------------------------------------------------------- choosing k
def _weighted_silhouette(X: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Silhouette of the rows represented by distinct points ``X`` with counts ``w``.

    Exactly the row-level silhouette when ``w`` are integer counts: a point's own-cluster mean
    distance excludes itself (denominator ``W_c - 1``); clusters of one row score 0."""
    dist = np.sqrt(np.maximum(_sq_dist(X, X[None])[0], 0.0))  # (u, u)
    onehot = (labels[:, None] == np.arange(k)) * w[:, None]  # (u, k)
    sums = dist @ onehot  # (u, k): weighted distance sum to each cluster
    mass = onehot.sum(axis=0)
    own = labels
    own_mass = mass[own] - 1.0
    a = np.where(
        own_mass > 0, sums[np.arange(len(X)), own] / np.where(own_mass > 0, own_mass, 1), 0
    )
    other = np.where(
        np.arange(k)[None] == own[:, None], np.inf, sums / np.where(mass > 0, mass, np.inf)
    )
    other = np.where(mass[None] > 0, other, np.inf)
    b = other.min(axis=1)
    s = np.where((own_mass > 0) & np.isfinite(b), (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0)
    return float((s * w).sum() / w.sum())


def _calinski_harabasz(
    X: np.ndarray, w: np.ndarray, labels: np.ndarray, centers: np.ndarray, wss: float
) -> float:
    n = w.sum()
    k = len(centers)
    mean = (X * w[:, None]).sum(axis=0) / n
    mass = np.bincount(labels, weights=w, minlength=k)
    bss = float((mass * ((centers - mean) ** 2).sum(axis=1)).sum())
    if wss <= 0 or n <= k:
        return math.inf
    return bss / (k - 1) / (wss / (n - k))


def _null_reference(
    patterns: np.ndarray,
    weights: np.ndarray,
    n_rows: int,
    n_references: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference data sets of the gap statistic as pattern counts.

    The "no types" model: one Plackett–Luce ranking model whose expected rank points equal
    the observed mean (with the observed shares of top-1/2/3 rankings when ``patterns`` are
    rankings). Drawing ``n_rows`` rows from it is a multinomial over its (at most 720 + 90 +
    10) patterns, so each reference set costs O(patterns), not O(rows). Returns
    ``(candidate patterns (v, d), counts (n_references, v))``; for data that are no rankings,
    the candidates are the observed patterns with the observed shares."""
    mean_points = (patterns * weights[:, None]).sum(axis=0) / weights.sum()
    max_rank = round(float(patterns.max())) if patterns.size else 0
    ranked, _, depth = _rankings(patterns, max_rank)
    d = patterns.shape[1]
    if not ranked.all() or not 1 <= max_rank <= min(4, d) or d > 40:
        prob = weights / weights.sum()
        return patterns, rng.multinomial(n_rows, prob, size=n_references).astype(float)
    shares = np.bincount(depth - 1, weights=weights, minlength=max_rank)
    worth = plackett_luce_worths(mean_points[None], max_rank, shares[None])[0]
    orders = _all_orders(d, max_rank)
    prob_order = _plackett_luce_probs(worth, orders)
    cand, prob = [], []
    for m in range(1, max_rank + 1):
        if shares[m - 1] > 0:
            cand.append(_order_points(orders[:, :m], d, max_rank))
            prob.append(prob_order * shares[m - 1] / shares.sum())
    cand_pts, _, _, inv = count_patterns(np.concatenate(cand))
    cand_prob = np.bincount(inv, weights=np.concatenate(prob), minlength=len(cand_pts))
    cand_prob /= cand_prob.sum()
    return cand_pts, rng.multinomial(n_rows, cand_prob, size=n_references).astype(float)


def choose_k(
    data: Any,
    k_values: Sequence[int] = range(2, 9),
    n_references: int = 20,
    n_init: int = 20,
    random_state: int | None = 0,
    sample_weight: Any = None,
) -> KChoice:
    """Diagnostics for choosing the number of types.

    ``data``: a canonical frame, an array of rank points, or a fitted :class:`Typology`
    (its distinct patterns and weights are used; ``sample_weight`` is then ignored). Every
    diagnostic runs on the distinct patterns with their counts, so the cost does not grow
    with the rows.

    For each k: within-cluster sum of squares (WSS), the silhouette (row-level, computed
    exactly on the distinct patterns with counts as weights), Calinski–Harabasz and the gap
    statistic (Tibshirani et al. 2001) with ``n_references`` reference data sets of the same
    size drawn from the "no types" model: Plackett–Luce rankings whose goal worths reproduce
    the observed mean rank points of all typable rows (the per-goal marginals are kept, any
    grouping is removed; a uniform box would produce vectors that are no rankings).

    Recommendation: the smallest k with Gap(k) >= Gap(k+1) - s(k+1) (Tibshirani's rule); if no
    k qualifies, the k with the highest silhouette."""
    if isinstance(data, Typology) and getattr(data, "patterns_", None) is not None:
        patterns = data.patterns_  # the fitted model's distinct patterns: no pass over rows
        counts, weights = data.pattern_counts_, data.pattern_weights_
    elif _is_frame(data):
        pts_u, typ_u, _, inverse = _goal_patterns(data)
        row_w = None if sample_weight is None else np.asarray(sample_weight, float)
        u_counts = np.bincount(inverse, minlength=len(pts_u)).astype(float)
        u_weights = u_counts if row_w is None else np.bincount(inverse, row_w, minlength=len(pts_u))
        keep = typ_u & (u_counts > 0)
        patterns, _, _, order = count_patterns(pts_u[keep])
        counts = np.bincount(order, weights=u_counts[keep], minlength=len(patterns))
        weights = np.bincount(order, weights=u_weights[keep], minlength=len(patterns))
    else:
        X = np.asarray(data, dtype=float)
        w_rows = None if sample_weight is None else np.asarray(sample_weight, float)
        patterns, counts, weights, _ = count_patterns(X, w_rows)
    k_values = sorted(int(k) for k in k_values)
    if len(patterns) < max(k_values):
        raise TypologyDataError(
            t("typology.too_few_patterns", received=len(patterns), expected=max(k_values))
        )
    rng = np.random.default_rng(random_state)
    n_rows = round(counts.sum())
    ref_patterns, ref_counts = _null_reference(patterns, weights, n_rows, n_references, rng)
    rows = []
    for k in k_values:
        C, labels, inertia, _ = weighted_kmeans(patterns, weights[None], k, n_init, rng)
        wss = float(inertia[0])
        sil = _weighted_silhouette(patterns, weights, labels[0], k)
        ch = _calinski_harabasz(patterns, weights, labels[0], C[0], wss)
        # all reference data sets share the candidate patterns: one batched k-means per k
        ok = (ref_counts > 0).sum(axis=1) >= k
        _, _, rin, _ = weighted_kmeans(ref_patterns, ref_counts[ok], k, max(5, n_init // 4), rng)
        ref_logw = np.log(np.maximum(rin, 1e-12))
        gap = float(ref_logw.mean() - math.log(max(wss, 1e-12)))
        sd = float(ref_logw.std()) * math.sqrt(1 + 1 / len(ref_logw))
        rows.append(
            {
                "k": k,
                "wss": wss,
                "silhouette": sil,
                "calinski_harabasz": ch,
                "gap": gap,
                "gap_se": sd,
            }
        )
    table = pl.DataFrame(rows)
    gap = table["gap"].to_list()
    se = table["gap_se"].to_list()
    for i in range(len(k_values) - 1):
        if gap[i] >= gap[i + 1] - se[i + 1]:
            return KChoice(
                table,
                k_values[i],
                "gap",
                {
                    "k": k_values[i],
                    "gap": round(gap[i], 3),
                    "next": round(gap[i + 1] - se[i + 1], 3),
                },
            )
    best = int(np.argmax(table["silhouette"].to_numpy()))
    return KChoice(
        table,
        k_values[best],
        "silhouette",
        {"k": k_values[best], "silhouette": round(float(table["silhouette"][best]), 3)},
    )
