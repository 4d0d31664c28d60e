"""Choosing the number of types: WSS, silhouette, Calinski–Harabasz and the gap statistic
for k = 2..8, all on the distinct patterns with their counts (docs/typology.md, "Choosing k")."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.i18n import t
from kommunaltypen.typology._errors import TypologyDataError
from kommunaltypen.typology._kmeans import _sq_dist, weighted_kmeans
from kommunaltypen.typology._membership import (
    _all_orders,
    _order_points,
    _plackett_luce_probs,
    _rankings,
    plackett_luce_worths,
)
from kommunaltypen.typology._ranks import (
    GoalSpec,
    count_patterns,
    goal_patterns,
    has_goal_columns,
    is_frame_like,
    typable_patterns,
)


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
    codebook: Codebook | None = None,
) -> KChoice:
    """Diagnostics for choosing the number of types.

    ``data``: a canonical frame, an array of rank points, or a fitted :class:`Typology`
    (its distinct patterns and weights are used; ``sample_weight`` is then ignored).
    ``codebook``: whose goal question a frame is read with (None: the shipped codebook). Every
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
    state = getattr(data, "fitted_", None)
    if state is not None and state.patterns is not None:
        # the fitted model's distinct patterns: no pass over the rows
        patterns, counts, weights = state.patterns, state.pattern_counts, state.pattern_weights
    elif is_frame_like(data) and has_goal_columns(
        data, goals := GoalSpec.from_codebook(codebook or default_codebook())
    ):
        pts_u, typ_u, _, inverse = goal_patterns(data, goals)
        row_w = None if sample_weight is None else np.asarray(sample_weight, float)
        u_counts = np.bincount(inverse, minlength=len(pts_u)).astype(float)
        u_weights = u_counts if row_w is None else np.bincount(inverse, row_w, minlength=len(pts_u))
        keep = typ_u & (u_counts > 0)
        patterns, counts, weights, _ = typable_patterns(pts_u, keep, u_counts, u_weights)
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
