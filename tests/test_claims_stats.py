"""Statistics of the Thesen-Check: every statistic against scipy on the same numbers, and the
intervals' coverage of planted values."""

import math

import numpy as np
import pytest
from scipy import stats as st
from scipy.stats.contingency import odds_ratio

from kommunaltypen.claims import stats as cs


@pytest.fixture
def ordinal_pair():
    rng = np.random.default_rng(7)
    z = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], size=250)
    x = np.digitize(z[:, 0], [-1.0, -0.3, 0.4, 1.2]).astype(float)
    y = np.digitize(z[:, 1], [-0.5, 0.5]).astype(float)
    x[::17] = np.nan  # missing values are dropped pairwise
    return x, y


def _complete(x, y):
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def test_kendall_tau_b_matches_scipy(ordinal_pair):
    x, y = ordinal_pair
    res = cs.kendall_tau_b(x, y)
    ref = st.kendalltau(*_complete(x, y), variant="b")
    assert res.method == "kendall_tau_b"
    assert res.effect == pytest.approx(ref.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.n == len(_complete(x, y)[0])
    assert res.ci_low < res.effect < res.ci_high


def test_kendall_ase_table_gives_scipys_tau_p_and_a_positive_error(ordinal_pair):
    x, y = _complete(*ordinal_pair)
    tau, ase, p = cs.kendall_ase(x, y)
    ref = st.kendalltau(x, y, variant="b", method="asymptotic")
    assert tau == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert 0 < ase < 0.2


def test_large_samples_use_the_tables_and_still_match_scipy():
    """Beyond SCIPY_MAX_N cases the p-values come from the tables of distinct values."""
    rng = np.random.default_rng(8)
    n = cs.SCIPY_MAX_N + 3000
    x = rng.integers(0, 6, n).astype(float)
    y = np.clip(x + rng.integers(-3, 3, n), 0, 5).astype(float)
    res = cs.kendall_tau_b(x, y)
    ref = st.kendalltau(x, y, variant="b")
    assert res.effect == pytest.approx(ref.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    g = (rng.random(n) < 0.3).astype(float)
    v = rng.integers(0, 8, n).astype(float) + 0.3 * g
    res = cs.rank_biserial(g, v)
    ref = st.mannwhitneyu(v[g == 1], v[g == 0], alternative="two-sided")
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    diff = cs.rank_difference(v[g == 1], v[g == 0])
    assert diff.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    # practically continuous in both measures: Fieller's variance, scipy's τ_b and p
    a, b = rng.normal(size=n), rng.normal(size=n)
    res = cs.kendall_tau_b(a, b)
    ref = st.kendalltau(a, b)
    assert res.effect == pytest.approx(ref.statistic) and res.p_value == pytest.approx(ref.pvalue)


def test_spearman_matches_scipy(ordinal_pair):
    x, y = ordinal_pair
    res = cs.spearman_rho(x, y)
    ref = st.spearmanr(*_complete(x, y))
    assert res.effect == pytest.approx(ref.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_rank_biserial_matches_mann_whitney():
    rng = np.random.default_rng(3)
    g = (rng.random(180) < 0.35).astype(float)
    v = rng.integers(0, 6, 180).astype(float) + g  # ties on purpose
    res = cs.rank_biserial(g, v)
    ref = st.mannwhitneyu(v[g == 1], v[g == 0], alternative="two-sided")
    n1, n0 = int(g.sum()), int((1 - g).sum())
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.effect == pytest.approx(2 * ref.statistic / (n1 * n0) - 1)
    # the same effect from mean ranks (Glass's formula)
    ranks = st.rankdata(v)
    glass = 2 * (ranks[g == 1].mean() - ranks[g == 0].mean()) / len(v)
    assert res.effect == pytest.approx(glass)
    assert res.effect > 0  # the group with value 1 has higher values


def test_rank_biserial_delong_variance_matches_brute_force():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 4, 30).astype(float)
    b = rng.integers(0, 4, 40).astype(float)
    psi = (a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / len(a) + v01.var(ddof=1) / len(b)
    r = 2 * psi.mean() - 1
    se_z = 2 * math.sqrt(var) / (1 - r * r)
    group = np.r_[np.ones(30), np.zeros(40)]
    res = cs.rank_biserial(group, np.r_[a, b])
    assert res.effect == pytest.approx(r)
    assert res.ci_low == pytest.approx(math.tanh(math.atanh(r) - cs.Z95 * se_z))
    assert res.ci_high == pytest.approx(math.tanh(math.atanh(r) + cs.Z95 * se_z))


def test_phi_and_odds_ratio_match_scipy():
    rng = np.random.default_rng(11)
    x = (rng.random(300) < 0.4).astype(float)
    y = (rng.random(300) < np.where(x == 1, 0.55, 0.3)).astype(float)
    res = cs.phi_fisher(x, y, seed=1)
    table = cs.two_by_two(x, y)
    ref = st.fisher_exact(table)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.effect == pytest.approx(st.pearsonr(x, y).statistic)  # φ = r of two 0/1 vectors
    assert abs(res.effect) == pytest.approx(
        st.contingency.association(table, method="cramer"), rel=1e-12
    )
    orr = odds_ratio(table, kind="conditional")
    ci = orr.confidence_interval(0.95)
    assert res.odds_ratio == pytest.approx(orr.statistic)
    assert (res.or_ci_low, res.or_ci_high) == pytest.approx((ci.low, ci.high))
    assert res.ci_low < res.effect < res.ci_high
    assert cs.phi_fisher(x, y, seed=1) == res  # seeded bootstrap: reproducible


def test_share_difference_chi2_or_fisher_and_newcombe():
    # Newcombe (1998), Table II example: 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    lo, hi = cs.newcombe_interval(56, 70, 48, 80)
    assert (lo, hi) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    res = cs.share_difference(56, 70, 48, 80)
    assert res.difference == pytest.approx(20.0)
    assert (res.ci_low, res.ci_high) == pytest.approx((5.24, 33.39), abs=5e-3)
    # every expected count >= 5: Pearson's chi-square without continuity correction
    ref = st.chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert res.method == "chi2"
    assert res.p_value == pytest.approx(ref.pvalue)
    # small expected counts: Fisher's exact test (as the table engine decides)
    res = cs.share_difference(5, 51, 0, 44)
    assert res.method == "fisher_exact"
    assert res.p_value == pytest.approx(st.fisher_exact([[5, 46], [0, 44]]).pvalue)
    assert cs.share_difference(0, 20, 0, 30).p_value == 1.0


def test_rank_and_mean_differences_match_scipy():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 5, 60).astype(float)
    b = rng.integers(0, 5, 45).astype(float) + 0.5
    res = cs.rank_difference(a, b)
    assert res.p_value == pytest.approx(st.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert res.difference == pytest.approx(a.mean() - b.mean())
    welch = st.ttest_ind(a, b, equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high))
    res = cs.mean_difference(a, b, scale=100)
    assert res.p_value == pytest.approx(welch.pvalue)
    assert res.difference == pytest.approx(100 * (a.mean() - b.mean()))
    assert (res.ci_low, res.ci_high) == pytest.approx((100 * ci.low, 100 * ci.high))


def test_adjust_p_holm_and_bh():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.005])
    holm = cs.adjust_p(p, "holm")
    # sorted: 0.005*5, 0.01*4, 0.03*3, 0.04*2, 0.2*1 -> running max
    assert holm == pytest.approx([0.04, 0.09, 0.09, 0.2, 0.025])
    assert cs.adjust_p(p, "bh") == pytest.approx(st.false_discovery_control(p, method="bh"))
    assert cs.adjust_p([], "holm").size == 0
    with pytest.raises(ValueError, match="bonferroni"):
        cs.adjust_p(p, "bonferroni")


# ----------------------------------------------------------------------------- coverage
REPS = 150


def _coverage(hits: int) -> float:
    return hits / REPS


def test_intervals_cover_planted_values():
    """Planted associations of known strength: the 95 % intervals cover the true value in
    about 95 % of samples (at least 89 % of 150; half-width intervals would give ~70 %)."""
    rng = np.random.default_rng(2024)
    rho = 0.5
    true_tau = 2 / math.pi * math.asin(rho)
    true_rho = 6 / math.pi * math.asin(rho / 2)
    delta = 0.6
    true_rb = 2 * st.norm.cdf(delta / math.sqrt(2)) - 1
    p1, p0 = 0.6, 0.3
    cells = np.array([0.5 * p1, 0.5 * (1 - p1), 0.5 * p0, 0.5 * (1 - p0)])
    a, b, c, d = cells
    true_phi = (a * d - b * c) / math.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    hits = dict.fromkeys(("tau", "rho", "rb", "phi"), 0)
    for i in range(REPS):
        z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=150)
        x, y = z[:, 0], np.exp(z[:, 1])  # monotone transform: same τ and ρ_s
        r = cs.kendall_tau_b(x, y)
        hits["tau"] += r.ci_low <= true_tau <= r.ci_high
        r = cs.spearman_rho(x, y)
        hits["rho"] += r.ci_low <= true_rho <= r.ci_high
        g = (rng.random(150) < 0.4).astype(float)
        r = cs.rank_biserial(g, rng.normal(size=150) + delta * g)
        hits["rb"] += r.ci_low <= true_rb <= r.ci_high
        xb = (rng.random(150) < 0.5).astype(float)
        yb = (rng.random(150) < np.where(xb == 1, p1, p0)).astype(float)
        r = cs.phi_fisher(xb, yb, seed=i)
        hits["phi"] += r.ci_low <= true_phi <= r.ci_high
    for name, h in hits.items():
        assert _coverage(h) >= 0.89, (name, _coverage(h))


def test_kendall_interval_covers_with_heavy_ties():
    """Two coarse ordinal scales (5 × 3 categories): the tie-exact standard error keeps the
    coverage (Fieller's continuous-data variance alone covers only ~88 % here)."""
    rng = np.random.default_rng(1)
    rho = 0.4

    def draw(n):
        z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
        return (
            np.digitize(z[:, 0], [-1.0, -0.3, 0.4, 1.2]).astype(float),
            np.digitize(z[:, 1], [-0.5, 0.5]).astype(float),
        )

    true_tau = st.kendalltau(*draw(200_000), variant="b").statistic
    hits = 0
    for _ in range(REPS):
        r = cs.kendall_tau_b(*draw(200))
        hits += r.ci_low <= true_tau <= r.ci_high
    assert _coverage(hits) >= 0.9


@pytest.mark.parametrize("shift", [0.0, -3.0, 0.5])  # 0.5: fractional values, hash grouping
def test_counts_by_bincount_equal_the_hash_grouping(monkeypatch, shift):
    """Whole-number measures are counted with numpy.bincount; the counts must equal polars'
    grouping (the only path for fractional values or wide ranges)."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 7, 20_000).astype(float) + shift
    y = rng.integers(1, 12, 20_000).astype(float) * 2.0
    group = rng.integers(0, 2, 20_000).astype(float)
    fast_pairs = cs._pair_counts(x, y)
    fast_groups = cs._group_value_counts(group, x)
    assert (cs._small_codes(x) is None) == (shift == 0.5)
    monkeypatch.setattr(cs, "MAX_CODE_RANGE", 0)  # forces the hash grouping
    assert cs._small_codes(x) is None
    slow_pairs = cs._pair_counts(x, y)
    slow_groups = cs._group_value_counts(group, x)

    def table(parts):
        xv, yv, xi, yi, cnt = parts
        out = np.zeros((len(xv), len(yv)))
        out[xi, yi] = cnt
        return xv, yv, out

    for fast, slow in zip(table(fast_pairs), table(slow_pairs), strict=True):
        np.testing.assert_array_equal(fast, slow)
    for fast, slow in zip(fast_groups, slow_groups, strict=True):
        np.testing.assert_array_equal(fast, slow)
    assert fast_groups[0].sum() + fast_groups[1].sum() == len(x)


@pytest.mark.parametrize("n", [300, cs.SCIPY_MAX_N + 2500])
def test_statistics_from_the_table_of_cases_equal_those_from_the_values(n):
    """The Thesen-Check counts cases per distinct value in polars and hands over only those
    tables (Crosstab, Counts): every statistic equals the one computed from the raw values,
    on the scipy path (small n) and on the table path (beyond SCIPY_MAX_N)."""
    rng = np.random.default_rng(n)
    x = rng.integers(0, 5, n).astype(float)
    y = np.clip(x + rng.integers(-2, 3, n), 0, 6).astype(float)
    x[::29] = np.nan
    g = (rng.random(n) < 0.35).astype(float)
    h = (rng.random(n) < 0.5 + 0.1 * g).astype(float)
    ct = cs.Crosstab.of(x, y)
    assert ct.n == int((~np.isnan(x)).sum())
    # the same table from a group-by's rows (one row per distinct pair, any order)
    keep = ~np.isnan(x)
    pairs, counts = np.unique(np.stack([x[keep], y[keep]], axis=1), axis=0, return_counts=True)
    order = rng.permutation(len(pairs))
    grouped = cs.Crosstab.from_pairs(pairs[order, 0], pairs[order, 1], counts[order])
    for got, want in (
        (cs.kendall_tau_b_of(grouped), cs.kendall_tau_b(x, y)),
        (cs.spearman_rho_of(grouped), cs.spearman_rho(x, y)),
        (cs.rank_biserial_of(cs.Crosstab.of(g, y)), cs.rank_biserial(g, y)),
        (cs.rank_biserial_of(cs.Crosstab.of(y, g).transpose()), cs.rank_biserial(g, y)),
        (cs.phi_fisher_of(cs.Crosstab.of(g, h), seed=3), cs.phi_fisher(g, h, seed=3)),
    ):
        assert got.method == want.method and got.n == want.n
        for field in ("effect", "ci_low", "ci_high", "p_value", "statistic"):
            assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-9, abs=1e-12)
    a, b = y[g == 1], y[g == 0]
    for got, want in (
        (
            cs.rank_difference_of(cs.Counts.of(a), cs.Counts.of(b), 100),
            cs.rank_difference(a, b, 100),
        ),
        (cs.mean_difference_of(cs.Counts.of(a), cs.Counts.of(b), 2), cs.mean_difference(a, b, 2)),
    ):
        assert (got.method, got.n_a, got.n_b) == (want.method, want.n_a, want.n_b)
        for field in ("difference", "ci_low", "ci_high", "p_value"):
            assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-9, abs=1e-12)
    ref = st.ttest_ind(a, b, equal_var=False)
    assert cs.mean_difference_of(cs.Counts.of(a), cs.Counts.of(b)).p_value == pytest.approx(
        ref.pvalue, rel=1e-9, abs=1e-300
    )


def test_counts_of_values_expand_back_and_give_mean_and_variance():
    values = np.array([3.0, 1.0, np.nan, 3.0, 2.0, 3.0])
    c = cs.Counts.of(values)
    assert c.values.tolist() == [1.0, 2.0, 3.0] and c.counts.tolist() == [1, 1, 3] and c.n == 5
    assert sorted(c.expand().tolist()) == [1.0, 2.0, 3.0, 3.0, 3.0]
    mean, var = c.moments()
    assert mean == pytest.approx(2.4) and var == pytest.approx(np.var([3, 1, 3, 2, 3], ddof=1))
    assert math.isnan(cs.Counts.of([4.0]).moments()[1])
