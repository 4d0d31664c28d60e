"""Unit tests of kommunaltypen.tables.stats against hand computations and scipy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as st

from kommunaltypen.codebook import default_codebook
from kommunaltypen.tables import stats

CLASSES = default_codebook().population_classes


# ----------------------------------------------------------------------------- Wilson
@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (47, 325), (1, 1), (500, 1000)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    low, high = stats.wilson_interval(k, n)
    ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert float(low) == pytest.approx(ci.low, abs=1e-12)
    assert float(high) == pytest.approx(ci.high, abs=1e-12)


def test_wilson_hand_computed() -> None:
    # k=3, n=10, z=1.959964: centre (0.3 + z²/20)/(1 + z²/10), textbook value 0.1078..0.6032
    low, high = stats.wilson_interval(3, 10)
    assert float(low) == pytest.approx(0.10779, abs=5e-5)
    assert float(high) == pytest.approx(0.60323, abs=5e-5)


def test_wilson_vectorised_and_empty() -> None:
    low, high = stats.wilson_interval(np.array([0, 5, 0]), np.array([10, 10, 0]))
    assert low.shape == (3,)
    assert low[0] == 0.0
    assert low[1] < 0.5 < high[1]
    assert math.isnan(low[2]) and math.isnan(high[2])


# ----------------------------------------------------------------------------- grouped median
def test_grouped_median_hand_example() -> None:
    # 9 Kreise: 1 below 100 000, 5 in [100 000, 150 000), 3 above.
    # N/2 = 4.5; median class [100 000, 150 000), F = 1, f = 5, w = 50 000
    # → 100 000 + (4.5 − 1)/5 · 50 000 = 135 000 (the study's Table 3 Bedächtige/Kreise value)
    counts = np.zeros(len(CLASSES))
    counts[6] = 1  # 50 000–100 000
    counts[7] = 5  # 100 000–150 000
    counts[8] = 3  # 150 000–200 000
    assert stats.grouped_median(counts, CLASSES) == pytest.approx(135_000)


def test_grouped_median_simple_classes() -> None:
    classes = [(0, 10), (10, 20), (20, None)]
    # N = 4, N/2 = 2: class (10, 20) with F = 1, f = 2 → 10 + (2 − 1)/2 · 10 = 15
    assert stats.grouped_median([1, 2, 1], classes) == pytest.approx(15.0)
    # median exactly at a class border: 10 + (2 - 2)/.. -> upper bound of the first class
    assert stats.grouped_median([2, 0, 2], classes) == pytest.approx(10.0)
    # median in the open last class: its lower bound
    assert stats.grouped_median([0, 1, 5], classes) == pytest.approx(20.0)
    assert math.isnan(stats.grouped_median([0, 0, 0], classes))
    with pytest.raises(ValueError):
        stats.grouped_median([1, 2], classes)


def test_class_counts() -> None:
    counts = stats.class_counts(np.array([100, 4999, 5000, 600_000, np.nan]), CLASSES)
    assert counts[0] == 2 and counts[1] == 1 and counts[-1] == 1
    assert counts.sum() == 4


# ----------------------------------------------------------------------------- share tests
def test_chi_square_matches_scipy() -> None:
    k = np.array([30, 45, 60, 20])
    n = np.array([47, 111, 115, 52])
    res = stats.proportion_test(k, n)
    assert res is not None and res.test == "chi2"
    table = np.vstack([k, n - k])
    chi2, p, _, _ = st.chi2_contingency(table, correction=False)
    assert res.p_value == pytest.approx(p)
    assert res.statistic == pytest.approx(chi2)
    assert res.effect_size == pytest.approx(math.sqrt(chi2 / n.sum()))
    assert res.effect_name == "cramers_v"


def test_fisher_for_small_2x2() -> None:
    res = stats.proportion_test([1, 6], [8, 9])
    assert res is not None and res.test == "fisher"
    expected = st.fisher_exact([[1, 6], [7, 3]])
    assert res.p_value == pytest.approx(expected.pvalue)


def test_monte_carlo_for_small_2xk() -> None:
    k, n = [0, 4, 0, 2], [47, 111, 115, 52]  # expected successes < 5 in every group
    res = stats.proportion_test(k, n, seed=3, n_resamples=4999)
    assert res is not None and res.test == "chi2_montecarlo"
    chi2, p_asym, _, _ = st.chi2_contingency(np.vstack([k, np.subtract(n, k)]), correction=False)
    assert res.statistic == pytest.approx(chi2)
    # the Monte-Carlo p-value estimates the exact one; it must be near the asymptotic value
    # but is not identical to it, and it is reproducible with the same seed
    assert 0 < res.p_value <= 1
    assert abs(res.p_value - p_asym) < 0.1
    again = stats.proportion_test(k, n, seed=3, n_resamples=4999)
    assert again is not None and again.p_value == res.p_value


def test_proportion_test_degenerate() -> None:
    assert stats.proportion_test([3], [10]) is None  # one group
    assert stats.proportion_test([0, 0], [10, 12]) is None  # nobody in any group
    assert stats.proportion_test([10, 12], [10, 12]) is None  # everybody
    assert stats.proportion_test([3, 4], [10, 0]) is None  # empty group dropped → one left


# ----------------------------------------------------------------------------- mean tests
def _groups() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.normal(loc, 1.0, size) for loc, size in ((0, 20), (0.5, 30), (1.0, 25), (0.2, 5))]


def test_anova_from_moments_matches_scipy() -> None:
    groups = _groups()
    res = stats.anova_from_moments(
        [len(g) for g in groups], [g.mean() for g in groups], [g.var(ddof=1) for g in groups]
    )
    expected = st.f_oneway(*groups)
    assert res is not None and res.test == "anova"
    assert res.statistic == pytest.approx(expected.statistic)
    assert res.p_value == pytest.approx(expected.pvalue)
    pooled = np.concatenate(groups)
    ss_between = sum(len(g) * (g.mean() - pooled.mean()) ** 2 for g in groups)
    assert res.effect_size == pytest.approx(ss_between / ((pooled - pooled.mean()) ** 2).sum())


def test_kruskal_from_ranks_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(11)
    groups = [rng.integers(0, 4, size) for size in (20, 30, 25, 8)]  # many ties
    pooled = np.concatenate(groups)
    ranks = st.rankdata(pooled)
    bounds = np.cumsum([0] + [len(g) for g in groups])
    rank_sums = [ranks[a:b].sum() for a, b in itertools.pairwise(bounds)]
    _, counts = np.unique(pooled, return_counts=True)
    tie_term = float((counts**3 - counts).sum())
    res = stats.kruskal_from_ranks([len(g) for g in groups], rank_sums, tie_term)
    expected = st.kruskal(*groups)
    assert res is not None and res.test == "kruskal"
    assert res.statistic == pytest.approx(expected.statistic)
    assert res.p_value == pytest.approx(expected.pvalue)
    n, k = len(pooled), len(groups)
    assert res.effect_size == pytest.approx(max((expected.statistic - k + 1) / (n - k), 0))


def test_mean_tests_degenerate() -> None:
    assert stats.anova_from_moments([5], [1.0], [1.0]) is None
    assert stats.anova_from_moments([3, 3], [1.0, 1.0], [0.0, 0.0]) is None  # no variance
    assert stats.kruskal_from_ranks([3], [6.0], 0.0) is None
    # all six values equal: ranks 3.5 each, tie term 6³ − 6
    assert stats.kruskal_from_ranks([3, 3], [10.5, 10.5], 210.0) is None


# ----------------------------------------------------------------------------- marks
def test_bold_marks_table1_logic() -> None:
    # Study Table 1, row "Rechtliche Vorgaben umsetzen": Bedächtige 2.91 is the row maximum
    assert stats.bold_marks([2.91, 0.35, 0.35, 0.21], 2) == [True, False, False, False]
    # ties at the printed precision are all marked, comparison is on printed values
    assert stats.bold_marks([0.604, 0.6, 0.1, None], 2) == [True, True, False, False]
    assert stats.bold_marks([0.0, 0.0, 0.0, 0.0], 1) == [False] * 4
    assert stats.bold_marks([None, 1.0, None, None], 1) == [False] * 4


def test_suppress() -> None:
    assert stats.suppress([0, 4, 5, 100], 5).tolist() == [True, True, False, False]
    assert stats.suppress([0, 4, 5, 100], 1).tolist() == [True, False, False, False]


def test_z95_is_the_normal_quantile() -> None:
    from scipy import special

    assert float(special.ndtri(0.975)) == stats.Z95
