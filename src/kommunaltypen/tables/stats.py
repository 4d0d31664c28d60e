"""Statistics of the table engine.

* :func:`wilson_interval` – Wilson score interval of a binomial proportion (vectorised);
* :func:`grouped_median` – median interpolated inside declared classes (study Table 3);
* :func:`proportion_test` – difference of a share between groups: chi-square test of the
  2×k table, or an exact/Monte-Carlo test when an expected count is below 5, with Cramér's V;
* :func:`anova_from_moments` / :func:`kruskal_from_ranks` – difference of a mean between
  groups from per-group aggregates (so the engine never needs per-row Python loops), with eta²;
* :func:`bold_marks` – the column where a row is relatively highest;
* :func:`suppress` – which cells publication mode hides.

Every test returns a :class:`TestResult`; all p-values come from scipy distributions or scipy
tests, and the unit tests check them against scipy run on the raw data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# scipy.stats takes ~0.5 s to import; the common paths use the distribution functions of
# scipy.special (what scipy.stats calls underneath) and scipy.stats is imported only for the
# exact tests (Fisher, Monte-Carlo chi-square) of small tables. scipy.special itself (~0.15 s)
# is imported where it is first needed, so that ``analyze`` can import it in the background
# while the input is read (see kommunaltypen.analysis).
Z95 = 1.959963984540054  # scipy.special.ndtri(0.975), checked in the tests
MIN_EXPECTED = 5.0
DEFAULT_RESAMPLES = 9999


@dataclass(frozen=True)
class TestResult:
    """Result of a test of difference between the groups of one table row."""

    test: str  # chi2 | fisher | chi2_montecarlo | anova | kruskal
    statistic: float
    p_value: float
    effect_size: float
    effect_name: str  # cramers_v | eta2 | eta2_h

    __test__ = False  # not a pytest class


# ----------------------------------------------------------------------------- intervals
def wilson_interval(
    successes: np.ndarray | Sequence[float] | float,
    n: np.ndarray | Sequence[float] | float,
    z: float = Z95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (as proportions 0..1) for ``successes`` out of ``n``.

    Cells with n = 0 give NaN.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2 = z * z
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


# ----------------------------------------------------------------------------- medians
def grouped_median(
    counts: Sequence[float] | np.ndarray,
    classes: Sequence[tuple[float, float | None]],
) -> float:
    """Median interpolated inside classes: ``L + (N/2 − F) / f · w``.

    ``counts[i]`` is the number of values in ``classes[i] = (lower, upper)`` (lower inclusive,
    upper exclusive, ``None`` = open). ``L`` is the lower bound of the class holding the
    ``N/2``-th value, ``F`` the count below it, ``f`` its count, ``w`` its width. If the median
    falls into the open last class, its lower bound is returned (no width to interpolate in).
    Returns NaN when there are no values.
    """
    c = np.asarray(counts, dtype=float)
    if len(c) != len(classes):
        raise ValueError("one count per class expected")
    total = c.sum()
    if total <= 0:
        return float("nan")
    half = total / 2.0
    cum = np.cumsum(c)
    i = int(np.searchsorted(cum, half, side="left"))  # first class with cum >= N/2 (f > 0)
    lower, upper = classes[i]
    below = cum[i] - c[i]
    if upper is None:
        return float(lower)
    return float(lower + (half - below) / c[i] * (upper - lower))


def class_counts(values: np.ndarray, classes: Sequence[tuple[float, float | None]]) -> np.ndarray:
    """Number of ``values`` in each class (values outside every class are ignored)."""
    edges = [lo for lo, _ in classes]
    last_hi = classes[-1][1]
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    idx = np.searchsorted(np.asarray(edges, dtype=float), v, side="right") - 1
    ok = idx >= 0
    if last_hi is not None:
        ok &= v < last_hi
    return np.bincount(idx[ok], minlength=len(classes)).astype(float)


# ----------------------------------------------------------------------------- tests
def cramers_v(chi2: float, n: float, shape: tuple[int, int]) -> float:
    m = min(shape) - 1
    if n <= 0 or m <= 0:
        return float("nan")
    return float(np.sqrt(chi2 / (n * m)))


def proportion_test(
    successes: Sequence[float] | np.ndarray,
    n: Sequence[float] | np.ndarray,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> TestResult | None:
    """Test whether a share differs between groups (``successes[i]`` of ``n[i]``).

    Builds the 2×k table (successes / failures per group; groups with n = 0 are dropped).
    If every expected count is ≥ 5: Pearson's chi-square test without continuity correction.
    Otherwise an exact test: Fisher's exact test for 2×2, and for 2×k (k > 2) the
    Monte-Carlo version of the chi-square test (``scipy.stats.chi2_contingency`` with
    ``MonteCarloMethod``, tables drawn with fixed margins, ``n_resamples`` draws, seeded).
    Effect size: Cramér's V of the observed table. Returns None when no test is possible
    (fewer than two groups, or a constant row).
    """
    k = np.asarray(successes, dtype=float)
    nn = np.asarray(n, dtype=float)
    keep = nn > 0
    k, nn = k[keep], nn[keep]
    if len(nn) < 2:
        return None
    table = np.vstack([k, nn - k]).round().astype(np.int64)
    if (table.sum(axis=1) == 0).any():
        return None  # everyone (or no one) in every group: nothing to test
    # Pearson's chi-square, as scipy.stats.chi2_contingency(correction=False)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    dof = (table.shape[0] - 1) * (table.shape[1] - 1)
    from scipy import special

    p = float(special.chdtrc(dof, chi2))
    v = cramers_v(chi2, float(table.sum()), table.shape)
    if (expected >= MIN_EXPECTED).all():
        return TestResult("chi2", chi2, p, v, "cramers_v")
    from scipy import stats as st

    if table.shape[1] == 2:
        res = st.fisher_exact(table)
        return TestResult("fisher", float(res.statistic), float(res.pvalue), v, "cramers_v")
    method = st.MonteCarloMethod(n_resamples=n_resamples, rng=np.random.default_rng(seed))
    res = st.chi2_contingency(table, correction=False, method=method)
    return TestResult("chi2_montecarlo", float(res.statistic), float(res.pvalue), v, "cramers_v")


def anova_from_moments(
    n: Sequence[float] | np.ndarray,
    mean: Sequence[float] | np.ndarray,
    var: Sequence[float] | np.ndarray,
) -> TestResult | None:
    """One-way ANOVA from group sizes, means and sample variances (ddof=1); effect eta².

    Identical to ``scipy.stats.f_oneway`` on the raw values. None if not computable.
    """
    nn = np.asarray(n, dtype=float)
    m = np.asarray(mean, dtype=float)
    v = np.nan_to_num(np.asarray(var, dtype=float))
    keep = nn > 0
    nn, m, v = nn[keep], m[keep], v[keep]
    k = len(nn)
    total = nn.sum()
    if k < 2 or total - k <= 0:
        return None
    grand = (nn * m).sum() / total
    ss_between = float((nn * (m - grand) ** 2).sum())
    ss_within = float(((nn - 1) * v).sum())
    ss_total = ss_between + ss_within
    if ss_within <= 0 or ss_total <= 0:
        return None
    f = (ss_between / (k - 1)) / (ss_within / (total - k))
    from scipy import special

    p = float(special.fdtrc(k - 1, total - k, f))  # = scipy.stats.f.sf
    return TestResult("anova", float(f), p, ss_between / ss_total, "eta2")


def kruskal_from_ranks(
    n: Sequence[float] | np.ndarray,
    rank_sum: Sequence[float] | np.ndarray,
    tie_term: float,
) -> TestResult | None:
    """Kruskal–Wallis H from group sizes and rank sums (average ranks over all groups).

    ``tie_term`` is Σ(t³ − t) over the tie groups of the pooled values. Identical to
    ``scipy.stats.kruskal`` on the raw values. Effect size eta²_H = (H − k + 1) / (N − k).
    """
    nn = np.asarray(n, dtype=float)
    r = np.asarray(rank_sum, dtype=float)
    keep = nn > 0
    nn, r = nn[keep], r[keep]
    k = len(nn)
    total = nn.sum()
    if k < 2 or total - k <= 0:
        return None
    h = 12.0 / (total * (total + 1.0)) * (r**2 / nn).sum() - 3.0 * (total + 1.0)
    correction = 1.0 - tie_term / (total**3 - total)
    if correction <= 0:
        return None  # all values equal
    h /= correction
    from scipy import special

    p = float(special.chdtrc(k - 1, h))  # = scipy.stats.chi2.sf
    eta = (h - k + 1.0) / (total - k)
    return TestResult("kruskal", float(h), p, float(max(eta, 0.0)), "eta2_h")


# ----------------------------------------------------------------------------- marks
def bold_marks(values: Sequence[float | None], precision: int) -> list[bool]:
    """The study's bold marks for one row: the column(s) where the row is highest.

    The study sets in bold, per row, the type for which the row's value is highest relative to
    the other types. Within one row all cells share the same measure and scale, so this is the
    row maximum; values are compared as printed (rounded to ``precision``), so types tied at the
    printed precision are all marked. Missing (None/NaN) cells are never marked; a row with
    fewer than two values or all values equal gets no mark.
    """
    rounded = [
        None if v is None or (isinstance(v, float) and np.isnan(v)) else round(v, precision)
        for v in values
    ]
    present = [v for v in rounded if v is not None]
    if len(present) < 2 or max(present) == min(present):
        return [False] * len(values)
    top = max(present)
    return [v is not None and v == top for v in rounded]


def suppress(n: Sequence[float] | np.ndarray, min_n: int) -> np.ndarray:
    """True where a cell must be hidden in publication mode (n below ``min_n``)."""
    return np.asarray(n, dtype=float) < min_n
