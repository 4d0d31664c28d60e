"""Bootstrap stability of a fitted typology (as ``fpc::clusterboot``): per-type Jaccard and
the adjusted Rand index between the original clusters and refits on resamples
(docs/typology.md, "Stability")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kommunaltypen.i18n import t
from kommunaltypen.typology._errors import TypologyDataError
from kommunaltypen.typology._kmeans import weighted_kmeans
from kommunaltypen.typology._naming import type_label
from kommunaltypen.typology._state import FittedTypology


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


def bootstrap_labels(
    patterns: np.ndarray,
    resample_weights: np.ndarray,
    k: int,
    restarts: int,
    rng: np.random.Generator,
    max_iter: int,
    start: np.ndarray | None = None,
    chunk: int = 250,
) -> np.ndarray:
    """Labels (B, u) of the patterns in a k-means refit on each row of ``resample_weights``
    (B, u), from scratch with ``restarts`` k-means++ restarts (or one Lloyd run from
    ``start`` (1, k, d)). Single precision halves the memory traffic of the batch; rank points
    and counts are small integers, so only the centres are rounded (by < 1e-6). ``chunk``
    bounds the memory: chunk * restarts * patterns * k."""
    labels = np.empty(resample_weights.shape, dtype=np.int64)
    patterns32 = patterns.astype(np.float32)
    W32 = resample_weights.astype(np.float32)
    start32 = None if start is None else start.astype(np.float32)
    for s in range(0, len(W32), chunk):
        _, lab, _, _ = weighted_kmeans(
            patterns32, W32[s : s + chunk], k, restarts, rng, max_iter, start32
        )
        labels[s : s + chunk] = lab
    return labels


def bootstrap_stability(
    state: FittedTypology,
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
    restarts: int,
    start: np.ndarray | None,
    max_iter: int,
    threshold: float,
    resample_counts: np.ndarray | None = None,
) -> StabilityResult:
    """Bootstrap stability of a fitted state with training patterns (see
    :meth:`Typology.stability`): ``n_bootstrap`` multinomial resamples of the typable rows
    over the distinct patterns (or the given ``resample_counts`` (B, n_patterns)), each refit
    from scratch with ``restarts`` k-means++ restarts (``start`` (1, k, d): one Lloyd run from
    these centres instead), compared with the original clusters on the resampled points. A
    drawn row carries its pattern's mean case weight."""
    k = len(state.cluster_centers)
    counts = state.pattern_counts
    if resample_counts is None:
        resample_counts = rng.multinomial(
            int(counts.sum()), counts / counts.sum(), size=n_bootstrap
        )
    else:
        resample_counts = np.asarray(resample_counts, dtype=float)
        if resample_counts.ndim != 2 or resample_counts.shape[1] != len(counts):
            raise TypologyDataError(
                t(
                    "typology.bad_shape",
                    received=str(resample_counts.shape),
                    expected=f"(B, {len(counts)})",
                )
            )
    resample_counts = resample_counts.astype(float)
    mean_w = state.pattern_weights / np.where(counts > 0, counts, 1.0)
    labels = bootstrap_labels(
        state.patterns,
        resample_counts * mean_w[None],
        k,
        0 if start is not None else restarts,
        rng,
        max_iter,
        start,
    )
    jac, ari = bootstrap_agreement(state.pattern_labels, labels, resample_counts, k)
    return StabilityResult(list(state.type_ids), jac, ari, threshold)
