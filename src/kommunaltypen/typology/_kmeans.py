"""Weighted k-means kernels: batched greedy k-means++ seeding and Lloyd iterations.

Everything runs on the distinct rank patterns with their counts (or summed case weights) as
weights, which equals k-means on the rows. All restarts (and all bootstrap resamples) run as
one vectorised NumPy batch; the layouts (centre-major in Lloyd, point-major in the seeding) and
the arithmetic label updates were tuned carefully (docs/typology.md, "Fitting"): change them
only with ``benchmarks/bench_typology.py`` at hand. The kernels keep no state between calls
(the iteration counts are returned, not stored), so fits may run in many threads at once.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController


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
    return_n_iter: bool = False,
) -> tuple[np.ndarray, ...]:
    """Batched weighted Lloyd iterations until the assignment no longer changes.

    X (u, d), W (m, u), C (m, k, d) -> centres (m, k, d), labels (m, u), inertia (m,), and
    with ``return_n_iter`` the iterations per run (m,). The batch is held centre-major
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
    if return_n_iter:
        return C_out, lab_out, inertia, n_iter
    return C_out, lab_out, inertia


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
    return_n_iter: bool = False,
) -> tuple[np.ndarray, ...]:
    """Best of several weighted k-means runs for each row of weights ``W`` (b, u).

    Runs ``n_init`` k-means++ restarts per weight row, plus a run from each of
    ``start_centers`` (s, k, d) if given, all in one batch. Returns the best run per weight
    row: centres (b, k, d), labels (b, u), inertia (b,), how many runs reached the best
    inertia (b,) and, with ``return_n_iter``, the Lloyd iterations of the best run (b,)."""
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
        C, labels, inertia, n_iter = _lloyd(
            X,
            np.repeat(W, r, axis=0),
            C0.reshape(b * r, k, -1),
            max_iter,
            return_n_iter=True,
        )
    inertia = inertia.reshape(b, r)
    best = inertia.argmin(axis=1)
    best_val = inertia[np.arange(b), best]
    n_best = (inertia <= best_val[:, None] + 1e-9 * np.maximum(1.0, best_val[:, None])).sum(axis=1)
    pick = np.arange(b) * r + best
    if return_n_iter:
        return C[pick], labels[pick], best_val, n_best, n_iter[pick]
    return C[pick], labels[pick], best_val, n_best
