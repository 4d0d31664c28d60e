"""Goal rankings of the typed rows that reproduce Table 1 and that blind k-means recovers.

Candidate rankings (*patterns*) are all ordered choices of 1, 2 or 3 of the ten goals (720
triples, 90 pairs, 10 singles; 1st = 3, 2nd = 2, 3rd = 1 points). Typability (the project's
rule): at least one goal ranked and the ranks present are exactly 1..m. The study's centre
rows sum to less than 6, so some typed municipalities must have ranked only one or two goals.

One integer program over the pattern counts ``x[t, p]`` of all four types holds

* each type's size (Table 2) and, per goal, a point sum that prints as the Table 1 centre
  (``round(c·m)`` within the printed rounding interval; the nearest sum where none exists);
* the *fixed point*: a type only uses patterns strictly nearer (by ``margin`` in squared
  distance) to its own printed centre than to any other, so Lloyd's k-means keeps the
  intended partition;
* *k-means cuts*: for centres ``A`` of an alternative partition found by k-means, one Lloyd
  assignment step from ``A`` yields inertia ``Σ x_p · min_k ‖p − A_k‖²``; it must exceed the
  intended partition's inertia by ``delta``. With the centres fixed to the printed values the
  intended inertia is ``Σ x_p (‖p‖² − 2 c_t·p) + Σ m_t ‖c_t‖²`` (exact up to ``‖e‖²/m`` for the
  rounding error ``e``), so each cut is linear in ``x``.

:func:`search_cuts` finds the cuts iteratively (solve, run k-means from many k-means++ starts,
add a cut for every alternative that is not clearly worse, repeat); the result is stored in
:mod:`kommunaltypen.reconstruct.kmeans_cuts` so that the generator solves a single, fast,
deterministic program.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from kommunaltypen.reconstruct.counts import matches

N_GOALS = 10
#: all candidate rankings: ordered triples, pairs and singles of goal indices.
PATTERNS: tuple[tuple[int, ...], ...] = tuple(
    p for r in (3, 2, 1) for p in itertools.permutations(range(N_GOALS), r)
)
#: rank points of each pattern, shape (len(PATTERNS), N_GOALS).
POINTS = np.zeros((len(PATTERNS), N_GOALS))
for _i, _p in enumerate(PATTERNS):
    POINTS[_i, list(_p)] = (3, 2, 1)[: len(_p)]
#: squared-distance margin of the fixed point (absorbs the rounding of the printed centres).
MARGIN = 0.25
#: how much worse (inertia) every known alternative partition must be.
DELTA = 10.0
#: secondary objective: "concentrate" (rows on the patterns nearest their centre) or
#: "separate" (rows far from the other centres).
OBJECTIVE = "separate"
#: cap of the slack maximised over the cuts (keeps the program small and fast).
SLACK_CAP = 30.0


def point_bounds(centres: np.ndarray, sizes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per type and goal the range of point sums that print as the centre (``lo == hi`` =
    the nearest sum where none prints as the centre)."""
    lo = np.zeros_like(centres)
    hi = np.zeros_like(centres)
    for ti, m in enumerate(sizes):
        for j in range(centres.shape[1]):
            ks = [k for k in range(3 * m + 1) if matches(k / m, centres[ti, j], 2)]
            if ks:
                lo[ti, j], hi[ti, j] = min(ks), max(ks)
            else:
                k = min(range(3 * m + 1), key=lambda k: (abs(k / m - centres[ti, j]), k))
                lo[ti, j] = hi[ti, j] = k
    return lo, hi


def solve_counts(
    centres: np.ndarray,
    sizes: Sequence[int],
    cuts: Sequence[tuple[float, np.ndarray]] = (),
    *,
    margin: float | None = None,
    delta: float | None = None,
) -> np.ndarray:
    """Pattern counts (n_types, len(PATTERNS)) meeting the constraints of the module
    docstring; the slack of the weakest cut is maximised (up to ``SLACK_CAP``), then rows are
    kept far from the other centres."""
    margin = MARGIN if margin is None else margin
    delta = DELTA if delta is None else delta
    k = len(sizes)
    dist = ((POINTS[:, None, :] - centres[None]) ** 2).sum(axis=2)
    blocks = []
    for ti in range(k):
        others = np.delete(dist, ti, axis=1).min(axis=1)
        blocks.append(np.flatnonzero(dist[:, ti] + margin < others))
    pidx = np.concatenate(blocks)
    tidx = np.concatenate([np.full(len(b), ti) for ti, b in enumerate(blocks)])
    nv = len(pidx)
    lo, hi = point_bounds(centres, sizes)
    rows, lbs, ubs = [], [], []
    for ti in range(k):
        sel = (tidx == ti).astype(float)
        rows.append(np.append(sel, 0.0))
        lbs.append(sizes[ti])
        ubs.append(sizes[ti])
        for j in range(centres.shape[1]):
            rows.append(np.append(sel * POINTS[pidx, j], 0.0))
            lbs.append(lo[ti, j])
            ubs.append(hi[ti, j])
    pts = POINTS[pidx]
    # x·(min_k ‖p − A_k‖² − ‖p‖² + 2 c_t·p) − s ≥ Σ m_t ‖c_t‖² + delta
    base = -(pts**2).sum(axis=1) + 2 * (pts * centres[tidx]).sum(axis=1)
    rhs = float((np.asarray(sizes) * (centres**2).sum(axis=1)).sum())
    for cut_delta, a in cuts:
        lloyd = ((pts[:, None, :] - a[None]) ** 2).sum(axis=2).min(axis=1)
        rows.append(np.append(lloyd + base, -1.0))
        lbs.append(rhs + max(delta, cut_delta))
        ubs.append(np.inf)
    own = dist[pidx, tidx]
    nearest_other = np.array([np.delete(dist[p], t).min() for p, t in zip(pidx, tidx, strict=True)])
    # "concentrate" is concave in the distance to the own centre: with the sum of squared
    # distances fixed by the centres, it puts most rows on the patterns nearest the centre
    secondary = np.sqrt(own) if OBJECTIVE == "concentrate" else own - nearest_other
    cost = np.append(0.001 * secondary, -1.0)
    upper = np.append(np.asarray(sizes, dtype=float)[tidx], SLACK_CAP)
    res = milp(
        cost,
        integrality=np.append(np.ones(nv), 0),
        bounds=Bounds(np.append(np.zeros(nv), -1e4), upper),
        constraints=LinearConstraint(np.array(rows), lbs, ubs),
    )
    if res.x is None:
        raise RuntimeError(f"Table 1 rankings: integer program failed ({res.message})")
    counts = np.zeros((k, len(PATTERNS)), dtype=int)
    np.add.at(counts, (tidx, pidx), np.rint(res.x[:nv]).astype(int))
    return counts


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (points) and intended labels of pattern counts."""
    t_idx, p_idx = np.nonzero(counts)
    reps = counts[t_idx, p_idx]
    return np.repeat(POINTS[p_idx], reps, axis=0), np.repeat(t_idx, reps)


def alternatives(
    x: np.ndarray, labels: np.ndarray, n_starts: int, slack: float
) -> list[tuple[float, np.ndarray]]:
    """Local optima of k-means (k-means++ starts with seeds 0..n_starts−1) that differ from
    the intended partition and whose inertia is below the intended one plus ``slack``."""
    from sklearn.cluster import KMeans

    k = int(labels.max()) + 1
    cent = np.array([x[labels == i].mean(axis=0) for i in range(k)])
    intended = float(((x - cent[labels]) ** 2).sum())
    found = {}
    for seed in range(n_starts):
        km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x)
        if km.inertia_ < intended + slack and len(set(zip(km.labels_, labels, strict=True))) != k:
            found.setdefault(round(float(km.inertia_), 6), km.cluster_centers_)
    return sorted(found.items(), key=lambda kv: kv[0])


def blind_fits(
    x: np.ndarray,
    labels: np.ndarray,
    sklearn_seeds: Sequence[int],
    typology_seeds: Sequence[int],
    n_init: int = 100,
) -> list[tuple[float, np.ndarray]]:
    """Blind fits that miss the intended partition: scikit-learn ``KMeans(n_init=n_init)``
    and :class:`kommunaltypen.typology.Typology` (default settings, ``n_init`` starts) with
    the given seeds. Returns (inertia, centres) of each miss."""
    from sklearn.cluster import KMeans

    from kommunaltypen.codebook import default_codebook
    from kommunaltypen.typology import Typology

    k = int(labels.max()) + 1
    misses = []
    for seed in sklearn_seeds:
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
        if len(set(zip(km.labels_, labels, strict=True))) != k:
            misses.append((float(km.inertia_), km.cluster_centers_))
    for seed in typology_seeds:
        model = Typology(
            random_state=seed, n_init=n_init, n_bootstrap=0, codebook=default_codebook()
        ).fit(x)
        if len(set(zip(np.asarray(model.labels_), labels, strict=True))) != k:
            misses.append((float(model.inertia_), np.asarray(model.cluster_centers_)))
    return misses


def search_cuts(
    centres: np.ndarray,
    sizes: Sequence[int],
    *,
    n_starts: int = 400,
    per_round: int = 10,
    max_rounds: int = 80,
    sklearn_seeds: Sequence[int] = (),
    typology_seeds: Sequence[int] = (),
    verbose: bool = False,
) -> list[tuple[float, np.ndarray]]:
    """Cuts ``(delta, centres)`` until no single k-means++ start finds a partition that is
    not at least ``DELTA`` worse than the intended one, and (optional, with seeds given) the
    blind fits of :func:`blind_fits` all find the intended partition (a partition such a
    fit returns instead gets a cut with ``3·DELTA``). The shipped cuts come from the default
    (no blind-fit stage); with the stage the search did not converge within 40 rounds."""
    cuts: list[tuple[float, np.ndarray]] = []
    for rnd in range(max_rounds):
        x, labels = expand(solve_counts(centres, sizes, cuts))
        found = alternatives(x, labels, n_starts, DELTA)
        if verbose:
            best = found[0][0] if found else None
            print(f"round {rnd}: {len(cuts)} cuts, {len(found)} alternatives, best {best}")
        if found:
            cuts.extend((DELTA, np.round(a, 4)) for _, a in found[:per_round])
            continue
        misses = blind_fits(x, labels, sklearn_seeds, typology_seeds)
        if verbose:
            print(f"round {rnd}: {len(misses)} blind fits miss the intended partition")
        if not misses:
            return cuts
        cuts.extend((3 * DELTA, np.round(a, 4)) for _, a in misses)
    raise RuntimeError("search_cuts: no cut set found within max_rounds")


def format_cuts(cuts: Sequence[tuple[float, np.ndarray]]) -> str:
    """Source of :mod:`kommunaltypen.reconstruct.kmeans_cuts` for ``cuts``."""
    lines = [
        '"""K-means cuts of the Table 1 program (see ``table1.py``).',
        "",
        "Generated by ``python -m kommunaltypen.reconstruct --search-cuts``; do not edit.",
        '"""',
        "",
        "#: (delta, centres of an alternative partition)",
        "CUTS: list[tuple[float, list[list[float]]]] = [",
    ]
    for delta, a in cuts:
        lines.append(f"    (\n        {delta:.1f},\n        [")
        for row in a:
            lines.append("            [" + ", ".join(f"{v:.4f}" for v in row) + "],")
        lines.append("        ],\n    ),")
    lines.append("]")
    return "\n".join(lines) + "\n"
