"""Statistics of the Thesen-Check.

Associations between two measures over all valid cases (pairs with both values present):

* :func:`kendall_tau_b` – ordinal × ordinal: Kendall's τ_b (``scipy.stats.kendalltau``), its
  p-value, and a confidence interval on Fisher's z scale from the asymptotic standard error
  with exact ties (Brown & Benedetti 1977), or Fieller's variance 0.437 / (n − 4) for
  practically continuous measures;
* :func:`spearman_rho` – ordinal × ordinal: Spearman's ρ (``scipy.stats.spearmanr``), interval
  on Fisher's z scale with the variance (1 + ρ²/2) / (n − 3) (Bonett & Wright 2000);
* :func:`rank_biserial` – binary × ordinal: the Mann–Whitney U test
  (``scipy.stats.mannwhitneyu``) and its effect, the rank-biserial correlation r = 2U/(n₁n₀) − 1
  (positive: the group with the binary value 1 has the higher values); interval from DeLong's
  variance of U/(n₁n₀) (exact under ties), mapped through Fisher's z;
* :func:`phi_fisher` – binary × binary: φ of the 2×2 table, Fisher's exact test
  (``scipy.stats.fisher_exact``), the conditional odds ratio with its exact interval
  (``scipy.stats.contingency.odds_ratio``; beyond 20,000 cases the sample odds ratio with
  Woolf's logit interval); φ's interval by a seeded parametric bootstrap of the
  four cells (multinomial, percentile interval).

Differences between two types on one table row (type claims): :func:`share_difference`
(chi-square or, with small expected counts, Fisher's exact test, as the table engine decides;
Newcombe's hybrid score interval of the difference of two proportions),
:func:`rank_difference` (Mann–Whitney U test, Welch interval of the difference of the means)
and :func:`mean_difference` (Welch's t test and interval).

Multiple testing: :func:`adjust_p` (Holm or Benjamini–Hochberg).

Every statistic is a function of the cases per distinct value: the ``…_of`` variants take
those tables (:class:`Crosstab` of two measures, :class:`Counts` per group), as the
Thesen-Check counts them in polars; up to ``SCIPY_MAX_N`` cases they expand the tables into
values and call scipy, beyond they use scipy's asymptotic formulas on the tables.

Every p-value comes from scipy; the unit tests check every statistic against scipy on the
same numbers, and the ``…_of`` variants against the array ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
#: parametric bootstrap draws for φ's interval
PHI_RESAMPLES = 4000
#: smallest expected count for the chi-square test of a 2×2 table (else Fisher's exact test)
MIN_EXPECTED = 5.0
#: largest n for the exact conditional odds ratio interval
EXACT_OR_MAX_N = 20_000
CORRECTIONS = ("holm", "bh")


@dataclass(frozen=True)
class Association:
    """Result of one association test."""

    method: str  # kendall_tau_b | spearman_rho | rank_biserial | phi
    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    statistic: float
    odds_ratio: float | None = None
    or_ci_low: float | None = None
    or_ci_high: float | None = None


@dataclass(frozen=True)
class Difference:
    """Difference ``a − b`` of a table row's value between two types, with its test."""

    method: str  # chi2 | fisher_exact | mann_whitney | welch_t
    difference: float  # in the row's unit (percentage points for shares)
    ci_low: float
    ci_high: float
    p_value: float
    n_a: int
    n_b: int


def _arrays(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("x and y must be 1-d arrays of the same length")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def _z_interval(r: float, se: float, z: float = Z95) -> tuple[float, float]:
    """Interval for a correlation on Fisher's z scale (clipped to ±1)."""
    if not math.isfinite(se):
        return -1.0, 1.0
    r = min(max(r, -0.999999999), 0.999999999)
    centre = math.atanh(r)
    return math.tanh(centre - z * se), math.tanh(centre + z * se)


#: largest contingency table (distinct x values × distinct y values) for τ_b's exact-ties ASE
MAX_TABLE_CELLS = 4_000_000


#: widest range of whole-number values counted with ``numpy.bincount`` (else a hash grouping)
MAX_CODE_RANGE = 100_000


def _small_codes(values: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """Whole-number values of a small range as codes ``value − min`` (with ``min`` and the
    range's size), so that counting per distinct value is one ``bincount`` over the n values
    instead of a hash grouping; None for fractional values or a wide range."""
    if len(values) == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    if hi - lo >= MAX_CODE_RANGE or not lo.is_integer():
        return None
    codes = values - lo
    as_int = codes.astype(np.int64)
    if not np.array_equal(as_int, codes):
        return None
    return as_int, int(lo), int(hi - lo) + 1


def _pair_counts(
    x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of x and y (sorted) and the cases per distinct pair, as index arrays
    (hash grouping in polars: no sort of the n values)."""
    import polars as pl

    xs_codes, ys_codes = _small_codes(x), _small_codes(y)
    if xs_codes is not None and ys_codes is not None:
        (xc, x0, nx), (yc, y0, ny) = xs_codes, ys_codes
        if nx * ny <= MAX_TABLE_CELLS:
            cells = np.bincount(xc * ny + yc, minlength=nx * ny)
            pairs = np.flatnonzero(cells)
            xs, ys = x0 + pairs // ny, y0 + pairs % ny
            xv, yv = np.unique(xs), np.unique(ys)
            return (
                xv.astype(float),
                yv.astype(float),
                np.searchsorted(xv, xs),
                np.searchsorted(yv, ys),
                cells[pairs],
            )
    counts = pl.DataFrame({"x": x, "y": y}).group_by("x", "y").len()
    xs = counts["x"].to_numpy()
    ys = counts["y"].to_numpy()
    xv, yv = np.unique(xs), np.unique(ys)
    return xv, yv, np.searchsorted(xv, xs), np.searchsorted(yv, ys), counts["len"].to_numpy()


@dataclass(frozen=True)
class Crosstab:
    """Cases per distinct pair of values of two measures (pairwise valid cases), kept sparse:
    ``x``/``y`` the distinct values (ascending), and per observed pair its indices ``xi``/``yi``
    into them and its ``counts``. Every association statistic here is a function of it, so a
    caller with many cases can count them where they live (e.g. a polars group-by) and never
    hand over the raw values (:func:`kendall_tau_b_of`, :func:`rank_biserial_of`,
    :func:`phi_fisher_of`, :func:`spearman_rho_of`)."""

    x: np.ndarray
    y: np.ndarray
    xi: np.ndarray
    yi: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def of(cls, x: object, y: object) -> Crosstab:
        """The table of two arrays (NaN = missing, dropped pairwise)."""
        a, b = _arrays(x, y)
        if len(a) == 0:
            empty = np.empty(0)
            return cls(empty, empty, empty.astype(np.int64), empty.astype(np.int64), empty)
        return cls(*_pair_counts(a, b))

    @classmethod
    def from_pairs(cls, xs: np.ndarray, ys: np.ndarray, counts: np.ndarray) -> Crosstab:
        """The table of one (x, y, cases) entry per distinct pair (the rows of a group-by)."""
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        xv, yv = np.unique(xs), np.unique(ys)
        return cls(xv, yv, np.searchsorted(xv, xs), np.searchsorted(yv, ys), np.asarray(counts))

    def transpose(self) -> Crosstab:
        return Crosstab(self.y, self.x, self.yi, self.xi, self.counts)

    def expand(self) -> tuple[np.ndarray, np.ndarray]:
        """The pairs as two arrays of values (sorted by pair; every statistic here ignores
        the order of the cases)."""
        reps = self.counts.astype(np.int64)
        return np.repeat(self.x[self.xi], reps), np.repeat(self.y[self.yi], reps)


@dataclass(frozen=True)
class Counts:
    """Cases per distinct value of one group: ``values`` ascending, ``counts`` per value."""

    values: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def of(cls, values: object) -> Counts:
        v = np.asarray(values, dtype=float)
        distinct, counts = np.unique(v[~np.isnan(v)], return_counts=True)
        return cls(distinct, counts)

    def expand(self) -> np.ndarray:
        return np.repeat(self.values, self.counts.astype(np.int64))

    def moments(self) -> tuple[float, float]:
        """Mean and variance (ddof = 1; NaN below two cases)."""
        n = float(self.counts.sum())
        mean = float((self.values * self.counts).sum() / n) if n else math.nan
        if n < 2:
            return mean, math.nan
        return mean, float((self.counts * (self.values - mean) ** 2).sum() / (n - 1))


def kendall_ase(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """τ_b, its asymptotic standard error (no independence assumed) and its two-sided
    p-value, from the contingency table of the distinct values, with ties handled exactly.

    ASE = √(Σ n_ij (2w·d_ij + τ_b·v_ij)² − n³τ_b²(w_r + w_c)²) / w² (Brown & Benedetti 1977;
    the formula of SAS PROC FREQ). The p-value is scipy's asymptotic one (``kendalltau``,
    ``method="asymptotic"``): C − D over its variance under independence with ties.
    None when the table would be too large (many distinct values in both measures)."""
    return _kendall_table(Crosstab(*_pair_counts(x, y)))


def _kendall_table(ct: Crosstab) -> tuple[float, float, float] | None:
    """:func:`kendall_ase` of a :class:`Crosstab`."""
    rows, cols = len(ct.x), len(ct.y)
    if rows * cols > MAX_TABLE_CELLS:
        return None
    table = np.zeros((rows, cols))
    table[ct.xi, ct.yi] = ct.counts
    n = table.sum()
    # F[a, b] = number of cases with x index < a and y index < b
    f = np.zeros((rows + 1, cols + 1))
    f[1:, 1:] = table.cumsum(axis=0).cumsum(axis=1)
    row_tot = table.sum(axis=1)
    col_tot = table.sum(axis=0)
    below_left = f[:-1, :-1]  # x <, y <
    upto = f[1:, 1:]  # x <=, y <=
    row_le = np.cumsum(row_tot)[:, None]  # x <=
    col_le = np.cumsum(col_tot)[None, :]  # y <=
    above_right = n - row_le - col_le + upto  # x >, y >
    below_right = f[:-1, -1][:, None] - f[:-1, 1:]  # x <, y >
    above_left = f[-1, :-1][None, :] - f[1:, :-1]  # x >, y <
    d = below_left + above_right - below_right - above_left
    w_r = n * n - float((row_tot**2).sum())
    w_c = n * n - float((col_tot**2).sum())
    if w_r <= 0 or w_c <= 0:
        return None
    w = math.sqrt(w_r * w_c)
    con_minus_dis = float((table * d).sum()) / 2.0
    tau = 2.0 * con_minus_dis / w
    v = row_tot[:, None] * w_c + col_tot[None, :] * w_r
    inner = float((table * (2.0 * w * d + tau * v) ** 2).sum()) - n**3 * tau**2 * (w_r + w_c) ** 2
    ase = math.sqrt(max(inner, 0.0)) / (w * w)
    p = _kendall_p(con_minus_dis, n, row_tot, col_tot)
    return tau, ase, p


def _kendall_p(con_minus_dis: float, n: float, row_tot: np.ndarray, col_tot: np.ndarray) -> float:
    """scipy's asymptotic two-sided p-value of Kendall's τ from C − D and the tie margins."""
    from scipy import special

    def ties(t: np.ndarray) -> tuple[float, float, float]:
        t = t[t > 1]
        return (
            float((t * (t - 1) / 2).sum()),
            float((t * (t - 1) * (t - 2)).sum()),
            float((t * (t - 1) * (2 * t + 5)).sum()),
        )

    xtie, x0, x1 = ties(row_tot)
    ytie, y0, y1 = ties(col_tot)
    m = n * (n - 1.0)
    var = (m * (2 * n + 5) - x1 - y1) / 18 + (2 * xtie * ytie) / m + x0 * y0 / (9 * m * (n - 2))
    z = abs(con_minus_dis) / math.sqrt(var)
    return float(min(1.0, 2.0 * special.ndtr(-z)))


#: above this many cases the association tests compute their p-values from the tables of
#: distinct values (scipy's asymptotic formulas, checked against scipy in the tests) instead
#: of calling scipy on the raw values
SCIPY_MAX_N = 5000


def kendall_tau_b(x: object, y: object) -> Association:
    """Kendall's τ_b of two ordinal measures (NaN = missing, dropped pairwise).

    Interval on Fisher's z scale: se_z = ASE / (1 − τ_b²) with the tie-exact ASE of
    :func:`kendall_ase`; when both measures have too many distinct values for that table
    (practically continuous, so ties are rare), Fieller's variance 0.437 / (n − 4). Up to
    ``SCIPY_MAX_N`` cases τ_b and p come from ``scipy.stats.kendalltau`` (exact p without
    ties for n ≤ 33), beyond from the table (the same asymptotic values)."""
    a, b = _arrays(x, y)
    n = len(a)
    return _kendall(Crosstab(*_pair_counts(a, b)) if n > 4 else None, n, lambda: (a, b))


def kendall_tau_b_of(ct: Crosstab) -> Association:
    """:func:`kendall_tau_b` from the table of the cases."""
    return _kendall(ct if ct.n > 4 else None, ct.n, ct.expand)


def _kendall(
    ct: Crosstab | None, n: int, raw: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> Association:
    from scipy import stats as st

    table = _kendall_table(ct) if ct is not None else None
    if table is not None and n > SCIPY_MAX_N:
        tau, ase, p = table
    else:
        a, b = raw()
        res = st.kendalltau(a, b, variant="b")
        tau, p = float(res.statistic), float(res.pvalue)
        ase = table[1] if table is not None else 0.0
    if ase > 0:
        se = ase / max(1.0 - tau * tau, 1e-9)
    else:
        se = math.sqrt(0.437 / (n - 4)) if n > 4 else math.inf
    lo, hi = _z_interval(tau, se)
    return Association("kendall_tau_b", tau, lo, hi, p, n, tau)


def spearman_rho(x: object, y: object) -> Association:
    """Spearman's ρ of two ordinal measures (NaN = missing, dropped pairwise)."""
    from scipy import stats as st

    a, b = _arrays(x, y)
    n = len(a)
    res = st.spearmanr(a, b)
    rho = float(res.statistic)
    se = math.sqrt((1.0 + rho * rho / 2.0) / (n - 3)) if n > 3 else math.inf
    lo, hi = _z_interval(rho, se)
    return Association("spearman_rho", rho, lo, hi, float(res.pvalue), n, rho)


def spearman_rho_of(ct: Crosstab) -> Association:
    """:func:`spearman_rho` from the table of the cases."""
    return spearman_rho(*ct.expand())


def _group_value_counts(group: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cases of group 1 and of group 0 per distinct value (values ascending)."""
    import polars as pl

    codes = _small_codes(values)
    if codes is not None:
        vc, _, size = codes
        present = np.bincount(vc, minlength=size) > 0
        c1 = np.bincount(vc[group == 1], minlength=size)[present]
        c0 = np.bincount(vc[group == 0], minlength=size)[present]
        return c1.astype(float), c0.astype(float)
    counts = (
        pl.DataFrame({"v": values, "g": group})
        .group_by("v")
        .agg((pl.col("g") == 1).sum().alias("c1"), (pl.col("g") == 0).sum().alias("c0"))
        .sort("v")
    )
    return counts["c1"].to_numpy().astype(float), counts["c0"].to_numpy().astype(float)


def _placements(c1: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct value: the share of group 0 below a group-1 case there and the share of
    group 1 below a group-0 case there (ties count ½)."""
    below0 = np.concatenate([[0.0], np.cumsum(c0)[:-1]])
    below1 = np.concatenate([[0.0], np.cumsum(c1)[:-1]])
    return (below0 + 0.5 * c0) / c0.sum(), (below1 + 0.5 * c1) / c1.sum()


def _mann_whitney(
    c1: np.ndarray,
    c0: np.ndarray,
    place10: np.ndarray,
    raw: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> tuple[float, float]:
    """U of group 1 and the two-sided p-value: ``scipy.stats.mannwhitneyu`` on the raw values
    (``raw()``) up to ``SCIPY_MAX_N`` cases, beyond its asymptotic formula (tie and
    continuity correction) from the counts per value."""
    from scipy import special
    from scipy import stats as st

    n1, n0 = float(c1.sum()), float(c0.sum())
    n = n1 + n0
    u = float((c1 * place10).sum() * n0)
    if n <= SCIPY_MAX_N:
        a, b = raw()
        p = float(st.mannwhitneyu(a, b, alternative="two-sided").pvalue)
        return u, (p if math.isfinite(p) else 1.0)
    t = c1 + c0
    tie_term = float((t**3 - t).sum())
    var = n1 * n0 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return u, 1.0
    z = (max(u, n1 * n0 - u) - n1 * n0 / 2 - 0.5) / math.sqrt(var)
    return u, float(min(1.0, 2.0 * special.ndtr(-z)))


def rank_biserial(group: object, values: object) -> Association:
    """Rank-biserial correlation between a binary ``group`` (0/1) and ordinal ``values``.

    U is the Mann–Whitney statistic of the group with value 1; r = 2U/(n₁n₀) − 1 lies in
    [−1, 1] and is positive when that group has the higher values. The p-value is
    ``scipy.stats.mannwhitneyu`` (two-sided, its default method; beyond ``SCIPY_MAX_N`` cases
    its asymptotic formula with tie and continuity correction, from the counts per value).
    The interval uses DeLong's variance of A = U/(n₁n₀) (placement values, exact with ties),
    transformed with Fisher's z: se_z = 2·se_A / (1 − r²). Everything comes from the number of
    cases per distinct value and group, so 10⁶ values need no sort beyond their distinct ones.
    """
    g, v = _arrays(group, values)
    c1, c0 = _group_value_counts(g, v)
    return _rank_biserial(c1, c0, lambda: (v[g == 1], v[g == 0]))


def rank_biserial_of(ct: Crosstab) -> Association:
    """:func:`rank_biserial` from the table of the cases (``ct.x`` the binary group)."""
    group = ct.x[ct.xi]
    c1 = np.bincount(ct.yi[group == 1], ct.counts[group == 1], minlength=len(ct.y))
    c0 = np.bincount(ct.yi[group == 0], ct.counts[group == 0], minlength=len(ct.y))

    def raw() -> tuple[np.ndarray, np.ndarray]:
        g, v = ct.expand()
        return v[g == 1], v[g == 0]

    return _rank_biserial(c1.astype(float), c0.astype(float), raw)


def _rank_biserial(
    c1: np.ndarray, c0: np.ndarray, raw: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> Association:
    n1, n0 = float(c1.sum()), float(c0.sum())
    n = int(n1 + n0)
    if n1 == 0 or n0 == 0:
        raise ValueError("both groups need cases")
    place10, place01 = _placements(c1, c0)
    u, p = _mann_whitney(c1, c0, place10, raw)
    auc = u / (n1 * n0)
    r = 2.0 * auc - 1.0

    def weighted_var(values: np.ndarray, weights: np.ndarray, total: float) -> float:
        if total < 2:
            return 0.0
        mean = float((weights * values).sum() / total)
        return float((weights * (values - mean) ** 2).sum() / (total - 1))

    # DeLong: V10 = placements of group 1 among group 0; V01 = 1 − placements of group 0
    var = weighted_var(place10, c1, n1) / n1 + weighted_var(1.0 - place01, c0, n0) / n0
    denom = 1.0 - min(r * r, 0.999999999)
    se_z = 2.0 * math.sqrt(var) / denom if var > 0 else math.inf
    lo, hi = _z_interval(r, se_z)
    return Association("rank_biserial", r, lo, hi, p, n, u)


def _phi(table: np.ndarray) -> np.ndarray:
    """φ of one or many 2×2 tables (``[..., 2, 2]``); NaN where a margin is 0."""
    a, b = table[..., 0, 0], table[..., 0, 1]
    c, d = table[..., 1, 0], table[..., 1, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a * d - b * c) / np.sqrt((a + b) * (c + d) * (a + c) * (b + d))


def two_by_two(x: object, y: object) -> np.ndarray:
    """The 2×2 table ``[[x=1 & y=1, x=1 & y=0], [x=0 & y=1, x=0 & y=0]]`` (pairwise valid)."""
    a, b = _arrays(x, y)
    return np.array(
        [
            [np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
            [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))],
        ],
        dtype=np.int64,
    )


def phi_fisher(x: object, y: object, *, seed: int = 0) -> Association:
    """φ, odds ratio and Fisher's exact test of two binary measures (0/1)."""
    return _phi_fisher(two_by_two(x, y), seed)


def phi_fisher_of(ct: Crosstab, *, seed: int = 0) -> Association:
    """:func:`phi_fisher` from the table of the cases."""
    xs, ys = ct.x[ct.xi], ct.y[ct.yi]
    table = np.array(
        [[int(ct.counts[(xs == a) & (ys == b)].sum()) for b in (1.0, 0.0)] for a in (1.0, 0.0)],
        dtype=np.int64,
    )
    return _phi_fisher(table, seed)


def _phi_fisher(table: np.ndarray, seed: int) -> Association:
    from scipy import stats as st
    from scipy.stats.contingency import odds_ratio

    n = int(table.sum())
    phi = float(_phi(table.astype(float)))
    res = st.fisher_exact(table)
    # the exact conditional interval costs seconds per 10⁵ cases; beyond EXACT_OR_MAX_N the
    # sample odds ratio with Woolf's logit interval (asymptotically the same)
    orr = odds_ratio(table, kind="conditional" if n <= EXACT_OR_MAX_N else "sample")
    or_ci = orr.confidence_interval(confidence_level=0.95)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, table.ravel() / n, size=PHI_RESAMPLES).reshape(-1, 2, 2)
    phis = _phi(draws.astype(float))
    phis = phis[~np.isnan(phis)]
    lo, hi = (
        (float(np.quantile(phis, 0.025)), float(np.quantile(phis, 0.975)))
        if len(phis)
        else (-1.0, 1.0)
    )
    return Association(
        "phi",
        phi,
        lo,
        hi,
        float(res.pvalue),
        n,
        float(res.statistic),
        float(orr.statistic),
        float(or_ci.low),
        float(or_ci.high),
    )


# ----------------------------------------------------------------------------- differences
def _wilson(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(centre - half, 0.0), min(centre + half, 1.0)


def newcombe_interval(k1: float, n1: float, k2: float, n2: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) of p₁ − p₂ (as proportions)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson(k1, n1)
    l2, u2 = _wilson(k2, n2)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def share_difference(
    k1: float, n1: float, k2: float, n2: float, scale: float = 100.0
) -> Difference:
    """Difference of two shares, ``k1`` of ``n1`` minus ``k2`` of ``n2`` (``scale`` = 100:
    percentage points), with Newcombe's interval. The test follows the table engine's rule:
    Pearson's chi-square test of the 2×2 table (no continuity correction) when every expected
    count is at least 5, else Fisher's exact test."""
    from scipy import special
    from scipy import stats as st

    table = np.array([[k1, n1 - k1], [k2, n2 - k2]], dtype=float).round()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if (expected >= MIN_EXPECTED).all():
        chi2 = float(((table - expected) ** 2 / expected).sum())
        p, method = float(special.chdtrc(1, chi2)), "chi2"
    elif (table.sum(axis=0) == 0).any():
        p, method = 1.0, "fisher_exact"  # everyone or no one in both groups
    else:
        p, method = float(st.fisher_exact(table.astype(np.int64)).pvalue), "fisher_exact"
    lo, hi = newcombe_interval(k1, n1, k2, n2)
    d = k1 / n1 - k2 / n2
    return Difference(method, d * scale, lo * scale, hi * scale, p, int(n1), int(n2))


def _welch_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Difference of means and its Welch t interval."""
    if len(x) < 2 or len(y) < 2:
        return float(x.mean() - y.mean()), math.nan, math.nan
    mx, my = float(x.mean()), float(y.mean())
    return _welch(mx, float(x.var(ddof=1)), len(x), my, float(y.var(ddof=1)), len(y))


def _welch(
    mx: float, var_x: float, nx: int, my: float, var_y: float, ny: int
) -> tuple[float, float, float]:
    """:func:`_welch_interval` from each group's mean, variance (ddof = 1) and size."""
    from scipy import special

    d = mx - my
    if nx < 2 or ny < 2:
        return d, math.nan, math.nan
    vx, vy = var_x / nx, var_y / ny
    se = math.sqrt(vx + vy)
    if se == 0:
        return d, d, d
    df = (vx + vy) ** 2 / (vx * vx / (nx - 1) + vy * vy / (ny - 1))
    half = float(special.stdtrit(df, 0.975)) * se
    return d, d - half, d + half


def rank_difference(a: object, b: object, scale: float = 1.0) -> Difference:
    """Difference of means of two groups of ordinal values; Mann–Whitney U test (from the
    counts per value beyond ``SCIPY_MAX_N`` cases, as :func:`rank_biserial`)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    group = np.concatenate([np.ones(len(x)), np.zeros(len(y))])
    c1, c0 = _group_value_counts(group, np.concatenate([x, y]))
    place10, _ = _placements(c1, c0)
    _, p = _mann_whitney(c1, c0, place10, lambda: (x, y))
    d, lo, hi = _welch_interval(x, y)
    return Difference("mann_whitney", d * scale, lo * scale, hi * scale, p, len(x), len(y))


def rank_difference_of(a: Counts, b: Counts, scale: float = 1.0) -> Difference:
    """:func:`rank_difference` from each group's cases per value."""
    values = np.union1d(a.values, b.values)
    c1, c0 = np.zeros(len(values)), np.zeros(len(values))
    c1[np.searchsorted(values, a.values)] = a.counts
    c0[np.searchsorted(values, b.values)] = b.counts
    place10, _ = _placements(c1, c0)
    _, p = _mann_whitney(c1, c0, place10, lambda: (a.expand(), b.expand()))
    d, lo, hi = _welch(*a.moments(), a.n, *b.moments(), b.n)
    return Difference("mann_whitney", d * scale, lo * scale, hi * scale, p, a.n, b.n)


def mean_difference(a: object, b: object, scale: float = 1.0) -> Difference:
    """Difference of means of two groups of metric values; Welch's t test."""
    from scipy import stats as st

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    p = float(st.ttest_ind(x, y, equal_var=False).pvalue)
    if not math.isfinite(p):  # no variance in either group
        p = 1.0 if x.mean() == y.mean() else 0.0
    d, lo, hi = _welch_interval(x, y)
    return Difference("welch_t", d * scale, lo * scale, hi * scale, p, len(x), len(y))


def mean_difference_of(a: Counts, b: Counts, scale: float = 1.0) -> Difference:
    """:func:`mean_difference` from each group's cases per value: up to ``SCIPY_MAX_N`` cases
    on the values themselves, beyond Welch's test from the groups' means and variances
    (``scipy.stats.ttest_ind_from_stats``)."""
    from scipy import stats as st

    if a.n + b.n <= SCIPY_MAX_N:
        return mean_difference(a.expand(), b.expand(), scale)
    (ma, va), (mb, vb) = a.moments(), b.moments()
    p = float(
        st.ttest_ind_from_stats(
            ma, math.sqrt(va), a.n, mb, math.sqrt(vb), b.n, equal_var=False
        ).pvalue
    )
    if not math.isfinite(p):  # no variance in either group
        p = 1.0 if ma == mb else 0.0
    d, lo, hi = _welch(ma, va, a.n, mb, vb, b.n)
    return Difference("welch_t", d * scale, lo * scale, hi * scale, p, a.n, b.n)


# ----------------------------------------------------------------------------- correction
def adjust_p(p_values: list[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values: ``holm`` (Holm–Bonferroni, family-wise error) or ``bh``
    (Benjamini–Hochberg, false discovery rate; = ``scipy.stats.false_discovery_control``)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adj = np.minimum.accumulate((m / np.arange(m, 0, -1)) * ranked[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}; expected one of {CORRECTIONS}")
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out
