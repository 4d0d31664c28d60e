"""Tests of the typology engine: rank transform, fitting, naming, membership, persistence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, silhouette_score

from kommunaltypen.codebook import default_codebook
from kommunaltypen.errors import KommunaltypenError, TypologyError
from kommunaltypen.typology import (
    Typology,
    TypologyDataError,
    bootstrap_agreement,
    choose_k,
    count_patterns,
    goal_points,
    ranking_points,
    reason_label,
    simulate_rankings,
    study_centers,
    type_label,
    weighted_kmeans,
)
from kommunaltypen.typology._kchoice import _calinski_harabasz, _weighted_silhouette
from kommunaltypen.typology._kmeans import _assign, _cumsum_rows, _kmeanspp, _lloyd
from kommunaltypen.typology._naming import optimal_assignment as _optimal_assignment

STUDY_SIZES = [47, 111, 115, 52]
CB = default_codebook()
QUESTION = CB.typology_question
GOALS = [o.id for o in QUESTION.options]
COLUMNS = list(QUESTION.columns)


def ranks_from_points(points: np.ndarray) -> np.ndarray:
    """Inverse of the rank transform for complete rankings: points 3/2/1/0 -> ranks 1/2/3/0."""
    return np.where(points > 0, 4 - points, 0)


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """polars -> pandas without pyarrow (nullable integer columns)."""
    return pd.DataFrame(
        {
            c: pd.array(frame[c].to_list(), dtype="Int64" if frame[c].dtype.is_integer() else None)
            for c in frame.columns
        }
    )


def frame_from_points(points: np.ndarray, ids: list[str] | None = None) -> pl.DataFrame:
    ranks = ranks_from_points(points).astype(np.int64)
    data = {"kommune_id": ids or [f"K{i:05d}" for i in range(len(points))]}
    data.update({c: ranks[:, j] for j, c in enumerate(COLUMNS)})
    return pl.DataFrame(data)


@pytest.fixture(scope="module")
def study_like() -> tuple[np.ndarray, np.ndarray]:
    """Data around the Table 1 centres, 20x the study's type sizes, with planted labels."""
    _, centers = study_centers()
    sizes = [20 * s for s in STUDY_SIZES]
    X = simulate_rankings(centers, sizes, np.random.default_rng(7))
    return X, np.repeat(np.arange(4), sizes)


@pytest.fixture(scope="module")
def study_model(study_like) -> Typology:
    return Typology(codebook=CB, random_state=3).fit(study_like[0])


# ------------------------------------------------------------------------------ rank transform
def test_goal_points_rank_transform_and_reasons():
    nan = None
    rows = [
        [1, 2, 3, 0, 0, 0, 0, 0, 0, 0],  # complete
        [0, 0, 0, 3, 0, 1, 0, 2, nan, nan],  # complete, nulls count as not ranked
        [nan] * 10,  # not answered
        [0] * 10,  # answered, nothing ranked
        [1, 2, 0, 0, 0, 0, 0, 0, 0, 0],  # top-2 ranking: typable
        [0, nan, 0, 0, 0, 0, 1, 0, 0, 0],  # top-1 ranking: typable
        [1, 0, 3, 0, 0, 0, 0, 0, 0, 0],  # gap (no rank 2)
        [0, 2, 0, 0, 0, 0, 0, 0, 0, 0],  # gap (only rank 2)
        [0, 0, 3, nan, 0, 0, 0, 0, 0, 0],  # gap (only rank 3)
        [1, 1, 2, 3, 0, 0, 0, 0, 0, 0],  # rank 1 twice
        [2, 2, 1, 0, 0, 0, 0, 0, 0, 0],  # rank 2 twice, no rank 3
        [1, 2, 4, 0, 0, 0, 0, 0, 0, 0],  # value out of range
        [1, 2, -1, 0, 0, 0, 0, 0, 0, 0],  # negative value
        [1, 1.5, 0, 0, 0, 0, 0, 0, 0, 0],  # not an integer
    ]
    frame = pl.DataFrame(
        {c: [r[j] for r in rows] for j, c in enumerate(COLUMNS)},
        schema={c: pl.Float64 for c in COLUMNS},
    )
    points, typable, reason = goal_points(frame)
    assert points.shape == (len(rows), 10)
    np.testing.assert_array_equal(points[0], [3, 2, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(points[1], [0, 0, 0, 1, 0, 3, 0, 2, 0, 0])
    np.testing.assert_array_equal(points[4], [3, 2, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(points[5], [0, 0, 0, 0, 0, 0, 3, 0, 0, 0])
    assert typable.tolist() == [True, True, False, False, True, True] + [False] * 8
    assert reason == [
        None,
        None,
        "no_ranking",
        "no_ranking",
        None,
        None,
        "incomplete_ranking",
        "incomplete_ranking",
        "incomplete_ranking",
        "invalid_ranking",
        "invalid_ranking",
        "invalid_ranking",
        "invalid_ranking",
        "invalid_ranking",
    ]
    assert reason_label("incomplete_ranking", "en").startswith("incomplete ranking")
    assert reason_label(None) is None
    # pandas and numpy give the same answer
    p2, t2, r2 = goal_points(to_pandas(frame))
    p3, t3, r3 = goal_points(frame.to_numpy().astype(float))
    for p, tt, r in ((p2, t2, r2), (p3, t3, r3)):
        np.testing.assert_array_equal(p, points)
        np.testing.assert_array_equal(tt, typable)
        assert r == reason


def test_goal_points_errors_say_what_is_missing():
    with pytest.raises(TypologyError, match="ziele_innovation"):
        goal_points(pl.DataFrame({c: [1] for c in COLUMNS[:-1]}))
    with pytest.raises(TypologyError, match=r"\(n, 10\)"):
        goal_points(np.zeros((3, 4)))


def test_ranking_points_accepts_ids_codes_and_labels():
    a = ranking_points(["effizienz", "leistungsangebot", "buergernaehe"])
    b = ranking_points(["3", "Leistungsangebot der Verwaltung erhöhen", "BUERGERNAEHE"])
    np.testing.assert_array_equal(a, b)
    assert a[0, GOALS.index("effizienz")] == 3
    assert a[0, GOALS.index("buergernaehe")] == 1
    with pytest.raises(TypologyError, match="'nope'"):
        ranking_points(["effizienz", "nope", "wirtschaft"])
    with pytest.raises(TypologyError, match="effizienz"):
        ranking_points(["effizienz", "effizienz", "wirtschaft"])
    # one or two goals are a top-1 / top-2 ranking (the typability rule of goal_points)
    two = ranking_points(["effizienz", "wirtschaft"])
    assert two[0, GOALS.index("effizienz")] == 3 and two[0, GOALS.index("wirtschaft")] == 2
    assert two.sum() == 5
    assert ranking_points(["innovation"]).sum() == 3
    with pytest.raises(TypologyError, match="4"):
        ranking_points(["effizienz", "wirtschaft", "innovation", "foerdermittel"])
    with pytest.raises(TypologyError, match="0"):
        ranking_points([" ", ""])


# ------------------------------------------------------------------------------ patterns
def test_count_patterns_is_order_free_and_counts_weights():
    rng = np.random.default_rng(0)
    X = simulate_rankings(study_centers()[1], [30, 30, 30, 30], rng)
    w = rng.random(len(X))
    p1, c1, w1, inv1 = count_patterns(X, w)
    perm = rng.permutation(len(X))
    p2, c2, w2, _ = count_patterns(X[perm], w[perm])
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_allclose(w1, w2)
    np.testing.assert_array_equal(p1[inv1], X)
    assert c1.sum() == len(X)
    # generic (non-integer) data takes the np.unique path with the same contract
    Y = X + 0.5
    p3, c3, _, inv3 = count_patterns(Y)
    np.testing.assert_array_equal(p3[inv3], Y)
    np.testing.assert_array_equal(c3, c1)


# ------------------------------------------------------------------------------ k-means core
def test_weighted_kmeans_equals_sklearn_on_expanded_rows():
    """Counts as weights on distinct patterns give the same optimum as k-means on all rows."""
    X = simulate_rankings(study_centers()[1], STUDY_SIZES, np.random.default_rng(11))
    patterns, _, weights, inverse = count_patterns(X)
    _, labels, inertia, n_best = weighted_kmeans(
        patterns, weights[None], 4, 50, np.random.default_rng(0)
    )
    km = KMeans(4, n_init=20, random_state=0).fit(X)
    assert inertia[0] <= km.inertia_ * (1 + 1e-9)
    assert adjusted_rand_score(km.labels_, labels[0][inverse]) > 0.99
    assert 1 <= n_best[0] <= 50


def test_nearest_centre_breaks_ties_like_argmin():
    """Integer points and centres give many exact ties; the first nearest centre must win."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(40, 5)).astype(float)
    C = rng.integers(0, 3, size=(30, 6, 5)).astype(float)
    labels, best = _assign(X, C)
    d2 = ((X[None, :, None, :] - C[:, None, :, :]) ** 2).sum(axis=3)  # (a, u, k)
    assert (d2 == d2.min(axis=2, keepdims=True)).sum(axis=2).max() > 1  # ties do occur
    np.testing.assert_array_equal(labels, d2.argmin(axis=2))
    np.testing.assert_allclose(best + (X**2).sum(axis=1)[None], d2.min(axis=2), atol=1e-9)


def test_cumsum_rows_equals_numpy():
    A = np.random.default_rng(4).random((57, 9)).astype(np.float32)
    np.testing.assert_allclose(_cumsum_rows(A), np.cumsum(A, axis=0), rtol=1e-6)
    assert (np.diff(_cumsum_rows(A), axis=0) >= 0).all()


def test_kmeanspp_seeds_are_distinct_drawn_points():
    """Seeds are points with positive weight in that run, and k distinct ones while there are
    at least k such points (no mass left falls back to any unchosen positive-weight point)."""
    rng = np.random.default_rng(5)
    X = simulate_rankings(study_centers()[1], STUDY_SIZES, rng)
    patterns, counts, _, _ = count_patterns(X)
    W = rng.multinomial(40, counts / counts.sum(), size=300).astype(float)  # many zero weights
    C = _kmeanspp(patterns, W, 4, np.random.default_rng(6))
    hit = (C[:, :, None, :] == patterns[None, None, :, :]).all(axis=3)  # (m, k, u)
    assert (hit.sum(axis=2) >= 1).all()
    seed_idx = hit.argmax(axis=2)
    assert (np.take_along_axis(W, seed_idx, axis=1) > 0).all()
    distinct = np.array([len(set(r)) for r in seed_idx])
    assert ((distinct == 4) | ((W > 0).sum(axis=1) < 4)).all()


def test_lloyd_converges_to_a_fixed_point_and_keeps_empty_centres():
    rng = np.random.default_rng(7)
    X = simulate_rankings(study_centers()[1], STUDY_SIZES, rng)
    patterns, _, weights, _ = count_patterns(X)
    starts = _kmeanspp(patterns, np.repeat(weights[None], 20, axis=0), 4, rng)
    far = np.full((1, 4, patterns.shape[1]), 50.0)  # three centres far away get no points
    far[0, 0] = patterns.mean(axis=0)
    C, labels, inertia = _lloyd(
        patterns, np.repeat(weights[None], 21, axis=0), np.concatenate([starts, far]), 300
    )
    for c, lab, val in zip(C[:20], labels[:20], inertia[:20], strict=True):
        again, _ = _assign(patterns, c[None])
        np.testing.assert_array_equal(again[0], lab)  # a fixed point: no label would move
        for j in range(4):  # every centre is the weighted mean of its points
            sel = lab == j
            if weights[sel].sum() > 0:
                np.testing.assert_allclose(
                    c[j],
                    (weights[sel, None] * patterns[sel]).sum(0) / weights[sel].sum(),
                    atol=1e-9,
                )
        assert val == pytest.approx(((patterns - c[lab]) ** 2).sum(axis=1) @ weights)
    np.testing.assert_array_equal(C[20, 1:], far[0, 1:])
    assert (labels[20] == 0).all()


@pytest.mark.parametrize("shape", [(4, 4), (7, 4), (4, 6), (1, 4), (9, 9), (12, 4)])
def test_optimal_assignment_equals_scipy(shape):
    """Small problems are solved by comparing every pairing, larger ones by scipy: both give
    scipy's optimal pairs."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(sum(shape))
    for _ in range(30):
        cost = rng.random(shape)
        rows, cols = _optimal_assignment(cost)
        expected_rows, expected_cols = linear_sum_assignment(cost)
        np.testing.assert_array_equal(rows, expected_rows)
        np.testing.assert_array_equal(cols, expected_cols)


def test_silhouette_and_ch_equal_row_level_sklearn():
    X = simulate_rankings(study_centers()[1], [40, 60, 50, 30], np.random.default_rng(5))
    patterns, _, weights, inverse = count_patterns(X)
    C, labels, inertia, _ = weighted_kmeans(
        patterns, weights[None], 4, 20, np.random.default_rng(1)
    )
    rows = labels[0][inverse]
    assert _weighted_silhouette(patterns, weights, labels[0], 4) == pytest.approx(
        silhouette_score(X, rows), abs=1e-9
    )
    assert _calinski_harabasz(patterns, weights, labels[0], C[0], inertia[0]) == pytest.approx(
        calinski_harabasz_score(X, rows), rel=1e-9
    )


# ------------------------------------------------------------------------------ fitting
def test_study_centres_recovered_with_names_in_place(study_like, study_model):
    ids, centers = study_centers()
    assert study_model.type_ids_ == ids
    assert np.abs(study_model.cluster_centers_ - centers).max() < 0.1
    assert adjusted_rand_score(study_like[1], study_model.labels_) >= 0.95
    assert study_model.weights_.sum() == pytest.approx(1)
    assert np.all(study_model.reference_distance_ < 0.2)


@pytest.mark.parametrize("sharpness", [1.5, 2.0])
def test_planted_clusters_recovered(sharpness):
    """Four planted types (overlapping Plackett–Luce rankings, not truncated to their cells).

    Realistic noise: second and third choices spread over all goals as in Table 1, and 1 %
    (sharpness 1.5) or 0.2 % (sharpness 2) of the rows do not rank their type's goal first."""
    planted = np.array(
        [
            [2.6, 0.2, 1.4, 0.6, 0.3, 0.2, 0.3, 0.2, 0.1, 0.1],
            [0.2, 0.1, 0.4, 0.5, 0.3, 0.2, 0.3, 2.6, 0.2, 1.2],
            [0.3, 0.1, 0.2, 0.2, 1.4, 0.3, 0.2, 0.2, 2.6, 0.5],
            [0.2, 1.3, 0.2, 0.2, 0.2, 2.6, 0.6, 0.3, 0.2, 0.2],
        ]
    )
    sizes = [1500, 1250, 1250, 1000]
    X = simulate_rankings(
        planted, sizes, np.random.default_rng(21), sharpness=sharpness, within_cell=False
    )
    truth = np.repeat(np.arange(4), sizes)
    model = Typology(codebook=CB, reference=None, random_state=0).fit(X)
    assert adjusted_rand_score(truth, model.labels_) >= 0.95
    planted_means = np.stack([X[truth == j].mean(axis=0) for j in range(4)])
    # match fitted clusters to planted types by majority
    for j in range(4):
        fitted = np.bincount(model.labels_[truth == j], minlength=4).argmax()
        assert np.abs(model.cluster_centers_[fitted] - planted_means[j]).max() < 0.05
    assert model.type_ids_ == ["neu_1", "neu_2", "neu_3", "neu_4"]


def test_invariances(study_like):
    X = study_like[0][::5]
    base = Typology(codebook=CB, random_state=1).fit(X)
    again = Typology(codebook=CB, random_state=1).fit(X)
    np.testing.assert_array_equal(base.cluster_centers_, again.cluster_centers_)
    assert base.data_hash_ == again.data_hash_
    perm = np.random.default_rng(0).permutation(len(X))
    shuffled = Typology(codebook=CB, random_state=1).fit(X[perm])
    np.testing.assert_allclose(shuffled.cluster_centers_, base.cluster_centers_, atol=1e-12)
    assert shuffled.type_ids_ == base.type_ids_
    np.testing.assert_array_equal(shuffled.labels_, base.labels_[perm])
    doubled = Typology(codebook=CB, random_state=1).fit(
        np.vstack([X, X]), sample_weight=np.full(2 * len(X), 0.5)
    )
    np.testing.assert_allclose(doubled.cluster_centers_, base.cluster_centers_, atol=1e-12)
    assert doubled.type_ids_ == base.type_ids_
    assert doubled.data_hash_ == base.data_hash_
    # data frames: renaming the municipality ids changes nothing
    f1 = frame_from_points(X)
    f2 = frame_from_points(X, ids=[f"X-{i}" for i in range(len(X))][::-1])
    m1, m2 = (
        Typology(codebook=CB, random_state=1).fit(f1),
        Typology(codebook=CB, random_state=1).fit(f2),
    )
    np.testing.assert_allclose(m1.cluster_centers_, base.cluster_centers_, atol=1e-12)
    np.testing.assert_allclose(m2.cluster_centers_, m1.cluster_centers_, atol=1e-12)
    assert m1.type_ids_ == m2.type_ids_ == base.type_ids_


def test_frame_with_untyped_rows_keeps_them_marked(study_like):
    X = study_like[0][::10]
    frame = frame_from_points(X)
    extra = pl.DataFrame(
        {"kommune_id": ["U1", "U2"]}
        | {c: [None, 2 if j == 0 else 0] for j, c in enumerate(COLUMNS)},
        schema={"kommune_id": pl.String} | {c: pl.Int64 for c in COLUMNS},
    )
    data = pl.concat([frame, extra])
    model = Typology(codebook=CB, random_state=0).fit(data)
    assert model.labels_[-2:].tolist() == [-1, -1]
    assert model.not_typed_reason_[-2:] == ["no_ranking", "incomplete_ranking"]
    out = model.assignments(data)
    assert out.height == data.height
    assert out["kommune_id"].to_list()[-2:] == ["U1", "U2"]
    assert out["type"].to_list()[-2:] == [None, None]
    assert out["reason"].to_list()[-1] == "incomplete_ranking"
    probs = out.select(pl.col("^p_.*$")).to_numpy()
    np.testing.assert_allclose(probs[:-2].sum(axis=1), 1.0)
    assert np.isnan(probs[-2:].astype(float)).all()
    # the same through pandas
    np.testing.assert_array_equal(model.predict(to_pandas(data)), model.predict(data))


def test_partial_rankings_are_typed_with_ranking_model(study_like):
    """Top-1 and top-2 rankings are typed and get Plackett–Luce probabilities (the first
    m choice stages), not the Gaussian fallback."""
    X = study_like[0][::5]
    partial = X.copy()
    partial[::4] = np.where(partial[::4] == 1, 0, partial[::4])  # drop the 3rd goal
    partial[1::4] = np.where(partial[1::4] == 3, partial[1::4], 0)  # keep only the 1st goal
    model = Typology(codebook=CB, random_state=0).fit(frame_from_points(partial))
    assert model.typable_.all()
    assert model.membership_ == "plackett-luce"
    sums = model.patterns_.sum(axis=1)
    assert set(np.unique(sums)) == {3.0, 5.0, 6.0}
    top1 = np.zeros((1, 10))
    top1[0, GOALS.index("effizienz")] = 3
    p = model.predict_proba(top1)[0]
    # first stage only: p_j ∝ share_j · worth_j(effizienz)
    expected = model.weights_ * model.worths_[:, GOALS.index("effizienz")]
    np.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-9)
    gauss = Typology(codebook=CB, random_state=0, membership="gaussian").fit(
        frame_from_points(partial)
    )
    assert not np.allclose(gauss.predict_proba(top1), p)


def test_case_weights_equal_replicated_rows():
    _, centers = study_centers()
    X = simulate_rankings(centers, [60, 60, 60, 60], np.random.default_rng(2))
    reps = np.where(np.arange(len(X)) % 7 == 0, 5, 1)
    weighted = Typology(codebook=CB, random_state=0).fit(X, sample_weight=reps.astype(float))
    replicated = Typology(codebook=CB, random_state=0).fit(np.repeat(X, reps, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, replicated.cluster_centers_, atol=1e-12)
    assert weighted.type_ids_ == replicated.type_ids_
    assert weighted.inertia_ == pytest.approx(replicated.inertia_)
    unweighted = Typology(codebook=CB, random_state=0).fit(X)
    assert not np.allclose(unweighted.weights_, weighted.weights_)
    with pytest.raises(TypologyDataError, match="240"):
        Typology(codebook=CB).fit(X, sample_weight=np.ones(3))


def test_zero_weight_rows_stay_untyped_even_where_their_pattern_is_typed():
    _, centers = study_centers()
    X = simulate_rankings(centers, [60, 60, 60, 60], np.random.default_rng(3))
    X = np.vstack([X, X[:5]])  # the last five rows repeat typed patterns
    weights = np.ones(len(X))
    weights[-5:] = 0.0
    model = Typology(codebook=CB, random_state=0).fit(X, sample_weight=weights)
    assert (model.labels_[-5:] == -1).all() and (model.pattern_index_[-5:] == -1).all()
    assert model.not_typed_reason_[-5:] == ["zero_weight"] * 5
    assert (model.labels_[:5] >= 0).all()
    np.testing.assert_array_equal(model.labels_[:5], model.predict(X[:5]))
    without = Typology(codebook=CB, random_state=0).fit(X[:-5])
    np.testing.assert_allclose(model.cluster_centers_, without.cluster_centers_, atol=1e-12)


def test_ward_init_gives_a_valid_fit(study_like):
    X = study_like[0][::4]
    km = Typology(codebook=CB, init="ward", random_state=0).fit(X)
    plain = Typology(codebook=CB, random_state=0).fit(X)
    assert km.type_ids_ == study_centers()[0]
    assert km.inertia_ <= plain.inertia_ * 1.001
    assert km.n_restarts_ == plain.n_restarts_ + 1


def test_new_type_is_not_forced_onto_a_name():
    _, centers = study_centers()
    other = np.array([[0.1, 0.3, 0.3, 0.2, 0.2, 0.6, 0.3, 2.7, 0.2, 1.1]])
    X = simulate_rankings(
        np.vstack([centers, other]), [300] * 5, np.random.default_rng(4), within_cell=False
    )
    model = Typology(codebook=CB, n_clusters=5, random_state=0).fit(X)
    assert model.type_ids_[:4] == study_centers()[0]
    assert model.type_ids_[4] == "neu_1"
    assert type_label("neu_1", "de") == "Neuer Typ 1"
    # with 4 clusters the Wirtschaft cluster must not push out a study name wrongly: every
    # named cluster is within the naming distance of its reference
    m4 = Typology(codebook=CB, n_clusters=4, random_state=0).fit(X)
    named = [
        d
        for tid, d in zip(m4.type_ids_, m4.reference_distance_, strict=True)
        if not tid.startswith("neu_")
    ]
    limit = m4._max_reference_distance(centers)
    assert all(d <= limit for d in named)


def test_fit_errors_say_received_and_expected():
    X = np.zeros((3, 10))
    X[:, :3] = [3, 2, 1]
    with pytest.raises(TypologyDataError, match=r"3 typisierbare.*mindestens 4"):
        Typology(codebook=CB).fit(X)
    X = np.tile([[3, 2, 1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 3, 2, 1, 0, 0, 0, 0]], (10, 1))
    with pytest.raises(TypologyDataError, match=r"2 verschiedene.*mindestens 4"):
        Typology(codebook=CB).fit(X.astype(float))
    frame = pl.DataFrame({c: [None] * 5 for c in COLUMNS}, schema={c: pl.Int64 for c in COLUMNS})
    with pytest.raises(KommunaltypenError, match="0 typisierbare"):
        Typology(codebook=CB).fit(frame)
    with pytest.raises(TypologyDataError, match="n_clusters"):
        Typology(codebook=CB, n_clusters=0).fit(X)
    with pytest.raises(TypologyDataError, match="init"):
        Typology(codebook=CB, init="random").fit(X)


def test_unfitted_model_raises():
    from sklearn.exceptions import NotFittedError

    for method in ("predict", "predict_proba", "transform"):
        with pytest.raises(NotFittedError):
            getattr(Typology(codebook=CB), method)(np.zeros((1, 10)))


# ------------------------------------------------------------------------------ membership
def test_probabilities_and_mischform(study_like, study_model):
    X = study_like[0]
    assert study_model.membership_ == "plackett-luce"
    p = study_model.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    d = study_model.transform(X)
    np.testing.assert_array_equal(d.argmin(axis=1), study_model.labels_)
    # the ranking model mostly agrees with the nearest centre, but not always
    agree = (p.argmax(axis=1) == study_model.labels_).mean()
    assert 0.9 < agree < 1.0
    mischform = study_model.mischform(X)
    np.testing.assert_array_equal(mischform, p.max(axis=1) < 0.75)
    assert 0.02 < mischform.mean() < 0.4
    # a point between two centres (not a ranking) uses the Gaussian model: a Mischform
    mixed = 0.5 * (study_model.cluster_centers_[1] + study_model.cluster_centers_[2])
    assert study_model.mischform(mixed[None])[0]
    assert not study_model.mischform(study_model.cluster_centers_[:1])[0]


def test_plackett_luce_probabilities_by_hand(study_model):
    """p_j ∝ share_j · PL_j(ranking); PL(a, b, c) = v_a · v_b / (1 - v_a) · v_c / (1 - v_a - v_b)
    for the ranking a, b, c."""
    a, b, c = GOALS.index("effizienz"), GOALS.index("buergernaehe"), GOALS.index("wirtschaft")
    x = np.zeros((1, 10))
    x[0, [a, b, c]] = [3, 2, 1]
    v = study_model.worths_
    like = v[:, a] * v[:, b] / (1 - v[:, a]) * v[:, c] / (1 - v[:, a] - v[:, b])
    expected = like * study_model.weights_ / (like * study_model.weights_).sum()
    np.testing.assert_allclose(study_model.predict_proba(x)[0], expected, rtol=1e-9)


def test_worths_reproduce_the_centres(study_model):
    """Moment matching: the Plackett–Luce model of each type has the type's centre as mean."""
    from itertools import permutations

    orders = np.array(list(permutations(range(10), 3)))
    for v, centre in zip(study_model.worths_, study_model.cluster_centers_, strict=True):
        prob = v[orders[:, 0]] * v[orders[:, 1]] / (1 - v[orders[:, 0]])
        prob *= v[orders[:, 2]] / (1 - v[orders[:, 0]] - v[orders[:, 1]])
        mean = np.zeros(10)
        for points, col in zip((3, 2, 1), orders.T, strict=True):
            np.add.at(mean, col, points * prob)
        np.testing.assert_allclose(mean, centre, atol=0.02)


def test_gaussian_membership(study_like):
    X = study_like[0][::10]
    model = Typology(codebook=CB, membership="gaussian", random_state=0).fit(X)
    assert model.membership_ == "gaussian" and model.worths_ is None
    p = model.predict_proba(X)
    np.testing.assert_array_equal(p.argmax(axis=1), model.predict(X))
    d2 = model.transform(X) ** 2
    logit = -d2 / (2 * model.sigma2_)
    expected = np.exp(logit - logit.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, expected / expected.sum(axis=1, keepdims=True), atol=1e-12)
    with pytest.raises(TypologyDataError, match="membership"):
        Typology(codebook=CB, membership="other").fit(X)


def test_reference_model_classifies_examples():
    model = Typology.from_reference(codebook=CB)
    opt = ranking_points(["effizienz", "leistungsangebot", "buergernaehe"])
    bed = ranking_points(["rechtliche_vorgaben", "foerdermittel", "effizienz"])
    assert model.type_of(np.vstack([opt, bed])) == ["optimierer", "bedaechtige"]
    assert model.predict_proba(opt).sum() == pytest.approx(1)
    assert model.membership_ == "plackett-luce"
    # sigma2 follows from the centres: mean of 14 - ||c||^2 weighted by the study sizes, / 10
    _, centers = study_centers()
    within = 14 - (centers**2).sum(axis=1)
    assert model.sigma2_ == pytest.approx((within * STUDY_SIZES).sum() / 325 / 10)


# ------------------------------------------------------------------------------ persistence
def test_json_round_trip(tmp_path, study_like, study_model):
    path = study_model.save(tmp_path / "model.json")
    data = json.loads(path.read_text("utf-8"))
    assert data["type_ids"] == study_model.type_ids_
    assert data["features"] == GOALS
    assert data["scale"]["points_for_rank"] == {"1": 3, "2": 2, "3": 1}
    assert data["names"]["optimierer"] == {"de": "Optimierer", "en": "Optimisers"}
    assert path.stat().st_size < 20_000
    loaded = Typology.load(path, codebook=CB)
    X = study_like[0][:500]
    np.testing.assert_allclose(loaded.predict_proba(X), study_model.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(loaded.predict(X), study_model.predict(X))
    assert loaded.data_hash_ == study_model.data_hash_
    assert loaded.get_params() == study_model.get_params()
    with pytest.raises(TypologyError, match="Trainingsdaten"):
        loaded.stability(n_bootstrap=2)


def test_load_errors(tmp_path):
    with pytest.raises(TypologyError, match="nicht lesbar"):
        Typology.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(TypologyError, match="centers"):
        Typology.load(bad)


def test_reference_csv_path(tmp_path):
    _, centers = study_centers()
    lines = ["option_id,row_label,a,b,c,d"] + [
        f"{g},{g},{','.join(f'{v:.2f}' for v in centers[:, j])}" for j, g in enumerate(GOALS)
    ]
    path = tmp_path / "ref.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    X = simulate_rankings(centers, [200, 200, 200, 200], np.random.default_rng(0))
    model = Typology(codebook=CB, reference=path, random_state=0).fit(X)
    assert model.type_ids_ == ["a", "b", "c", "d"]
    path.write_text("option,label,a\n", encoding="utf-8")
    with pytest.raises(TypologyError, match="option_id,row_label"):
        Typology(codebook=CB, reference=path).fit(X)


# ------------------------------------------------------------------------------ stability
def test_bootstrap_agreement_matches_row_level_definition():
    """Jaccard and ARI on patterns with counts equal the row-level figures (fpc::clusterboot)."""
    rng = np.random.default_rng(3)
    original = rng.integers(0, 3, 12)
    counts = rng.integers(0, 4, (5, 12)).astype(float)
    boot = rng.integers(0, 3, (5, 12))
    jac, ari = bootstrap_agreement(original, boot, counts, 3)
    for b in range(5):
        rows = np.repeat(np.arange(12), counts[b].astype(int))
        a, c = original[rows], boot[b][rows]
        assert ari[b] == pytest.approx(adjusted_rand_score(a, c))
        for i in range(3):
            if not (a == i).any():
                assert np.isnan(jac[b, i])
                continue
            best = max(((a == i) & (c == j)).sum() / ((a == i) | (c == j)).sum() for j in range(3))
            assert jac[b, i] == pytest.approx(best)


def test_stability_flags_unstable_types():
    _, centers = study_centers()
    X = simulate_rankings(centers, [400, 400, 400, 400], np.random.default_rng(8))
    stable = Typology(codebook=CB, random_state=0).fit(X).stability(n_bootstrap=40)
    assert stable.jaccard.shape == (40, 4)
    assert stable.unstable == []
    assert stable.ari_summary()["mean"] > 0.9
    # structureless data: uniform random rankings split into 4 arbitrary groups
    noise = simulate_rankings(np.full((1, 10), 0.6), [400], np.random.default_rng(9))
    weak = (
        Typology(codebook=CB, reference=None, random_state=0).fit(noise).stability(n_bootstrap=40)
    )
    assert weak.unstable
    table = weak.per_type()
    assert set(table.columns) >= {"type", "label", "jaccard_mean", "unstable"}
    assert table.filter(pl.col("unstable")).height == len(weak.unstable)


def test_stability_same_seed_same_result(study_like):
    model = Typology(codebook=CB, random_state=0).fit(study_like[0][::8])
    a = model.stability(n_bootstrap=20, random_state=5)
    b = model.stability(n_bootstrap=20, random_state=5)
    np.testing.assert_array_equal(a.jaccard, b.jaccard)
    np.testing.assert_array_equal(a.ari, b.ari)


# ------------------------------------------------------------------------------ choosing k
def test_choose_k_finds_planted_k():
    planted = np.array(
        [
            [2.8, 0.2, 1.5, 0.6, 0.3, 0.2, 0.2, 0.1, 0.0, 0.1],
            [0.2, 0.1, 0.3, 0.5, 0.3, 0.2, 0.3, 2.8, 0.2, 1.1],
            [0.3, 0.1, 0.2, 0.2, 1.4, 0.3, 0.2, 0.2, 2.8, 0.5],
        ]
    )
    X = simulate_rankings(planted, [300, 300, 300], np.random.default_rng(2), within_cell=False)
    kc = choose_k(X, random_state=0, n_references=8)
    assert kc.table["k"].to_list() == list(range(2, 9))
    assert set(kc.table.columns) == {"k", "wss", "silhouette", "calinski_harabasz", "gap", "gap_se"}
    assert kc.table["wss"].is_sorted(descending=True)
    assert kc.recommended_k == 3
    assert "k = 3" in kc.reason("de") and "k = 3" in kc.reason("en")
    assert kc.to_dict()["recommended_k"] == 3
    # a fitted model's patterns give the same diagnostics as the rows (same seed)
    frame = frame_from_points(X)
    from_frame = choose_k(frame, random_state=0, n_references=8)
    from_model = choose_k(
        Typology(codebook=CB, random_state=0).fit(frame), random_state=0, n_references=8
    )
    assert from_model.table.equals(from_frame.table)
    assert from_frame.table.equals(kc.table)


def test_pandas_frame_input_equals_polars(study_like):
    X = study_like[0][::20]
    frame = frame_from_points(X)
    a = Typology(codebook=CB, random_state=0).fit(frame)
    b = Typology(codebook=CB, random_state=0).fit(to_pandas(frame))
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_reference_init_reaches_the_study_solution():
    """init="reference": Lloyd from the Table 1 centres, one deterministic run, names kept."""
    ids, centers = study_centers()
    X = simulate_rankings(centers, [20 * s for s in STUDY_SIZES], np.random.default_rng(12))
    model = Typology(codebook=CB, init="reference").fit(X)
    assert model.type_ids_ == ids
    assert model.n_restarts_ == 1
    assert np.abs(model.cluster_centers_ - centers).max() < 0.1
    best = Typology(codebook=CB, random_state=0).fit(X)
    assert best.inertia_ <= model.inertia_ * (1 + 1e-9)
    st = model.stability(n_bootstrap=30)
    assert st.jaccard.shape == (30, 4)
    with pytest.raises(TypologyDataError, match="reference"):
        Typology(codebook=CB, init="reference", reference=None).fit(X)
    with pytest.raises(TypologyDataError, match="5"):
        Typology(codebook=CB, init="reference", n_clusters=5).fit(X)
