"""Mixed membership: one Plackett–Luce ranking model per type (a latent-class model for
ranking data), or a spherical Gaussian mixture (docs/typology.md, "Mixed membership").

The worths of each type's Plackett–Luce model are moment-matched to its centre, as the mean
over the type's mix of top-1/2/3 rankings; a top-m ranking's probability is the product of
the first m choice stages.
"""

from __future__ import annotations

import numpy as np

from kommunaltypen.typology._kmeans import _sq_dist


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


def membership_model(
    membership: str,
    centers: np.ndarray,
    max_rank: int,
    patterns: np.ndarray | None = None,
    pattern_labels: np.ndarray | None = None,
    pattern_weights: np.ndarray | None = None,
) -> tuple[str, np.ndarray | None, int]:
    """Choose the membership model: ``("plackett-luce", worths (k, d), max_rank)`` when
    ``membership="auto"`` and every training pattern is a top-m ranking (every ranking has a
    first goal, so the largest point value is max_rank), else ``("gaussian", None, 0)``.
    Without ``patterns`` (a model made from reference centres) ``max_rank`` is the
    question's, and the centres are taken as means of complete rankings."""
    gaussian = ("gaussian", None, 0)
    if membership != "auto":
        return gaussian
    if patterns is not None:
        max_rank = round(float(patterns.max())) if patterns.size else 0
        if not _rankings(patterns, max_rank)[0].all():
            return gaussian
    n_goals = centers.shape[1]
    if not 1 <= max_rank <= min(4, n_goals) or n_goals > 40:
        return gaussian  # no rankings, or too many orders to enumerate for the moment matching
    shares = None
    if patterns is not None:  # shares of top-1 … top-max_rank rankings per type
        depth = (patterns > 0).sum(axis=1) - 1
        k = len(centers)
        flat = pattern_labels * max_rank + depth
        shares = np.bincount(flat, weights=pattern_weights, minlength=k * max_rank).reshape(
            k, max_rank
        )
    return "plackett-luce", plackett_luce_worths(centers, max_rank, shares), max_rank


def membership_proba(
    X: np.ndarray,
    centers: np.ndarray,
    sigma2: float,
    worths: np.ndarray | None,
    pl_max_rank: int,
    shares: np.ndarray,
) -> np.ndarray:
    """Type probabilities (u, k) of the points X: ``p_j ∝ share_j · PL_j(x)`` for top-m
    rankings when ``worths`` are given, else (and for rows that are no rankings)
    ``p_j ∝ exp(-||x - c_j||² / (2 sigma2))``."""
    d2 = _sq_dist(X, centers[None])[0]
    logit = -d2 / (2.0 * sigma2)
    if worths is not None:
        ranked, order, depth = _rankings(X, pl_max_rank)
        if ranked.any():
            loglik = _plackett_luce_loglik(order[ranked], worths, depth[ranked])
            logit[ranked] = loglik + np.log(np.clip(shares, 1e-300, None))[None]
    logit -= logit.max(axis=1, keepdims=True)
    p = np.exp(logit)
    return p / p.sum(axis=1, keepdims=True)
