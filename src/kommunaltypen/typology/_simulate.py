"""Seeded generator of rankings around given centres (tests, benchmarks, reconstruction)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kommunaltypen.typology._membership import (
    _all_orders,
    _fit_plackett_luce,
    _order_points,
    _plackett_luce_probs,
)


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
