"""Weighted Ward clustering of the distinct patterns: the extra start of ``init="ward"``."""

from __future__ import annotations

import numpy as np


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
