"""The Typology package's structure: declared parameter constraints, the codebook as a
parameter, the one fitted-state object, persistence of old and new model files, and no state
shared between calls."""

from __future__ import annotations

import json
import math
import threading
from importlib import resources

import numpy as np
import polars as pl
import pytest

import kommunaltypen.typology as typology_pkg
from kommunaltypen import i18n
from kommunaltypen.codebook import default_codebook
from kommunaltypen.errors import TypologyError
from kommunaltypen.typology import (
    FittedTypology,
    Typology,
    TypologyDataError,
    simulate_rankings,
    study_centers,
    weighted_kmeans,
)
from kommunaltypen.typology._kmeans import _lloyd

CB = default_codebook()
COLUMNS = list(CB.typology_question.columns)
SIZES = [47, 111, 115, 52]


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return simulate_rankings(study_centers()[1], [4 * s for s in SIZES], np.random.default_rng(1))


@pytest.fixture(scope="module")
def model(points) -> Typology:
    return Typology(codebook=CB, n_init=200, random_state=0).fit(points)


def frame_of(points: np.ndarray) -> pl.DataFrame:
    ranks = np.where(points > 0, 4 - points, 0).astype(np.int64)
    data = {"kommune_id": [f"K{i:04d}" for i in range(len(points))]}
    data.update({c: ranks[:, j] for j, c in enumerate(COLUMNS)})
    return pl.DataFrame(data)


# ------------------------------------------------------------------------------ constraints
@pytest.mark.parametrize(
    ("param", "value", "expected_de", "expected_en"),
    [
        ("n_clusters", 0, "ganze Zahl ≥ 1", "integer >= 1"),
        ("n_clusters", True, "ganze Zahl ≥ 1", "integer >= 1"),
        ("n_init", 2.5, "ganze Zahl ≥ 1", "integer >= 1"),
        ("max_iter", -3, "ganze Zahl ≥ 1", "integer >= 1"),
        ("random_state", -1, "None oder eine ganze Zahl ≥ 0", "None or an integer >= 0"),
        ("init", "random", "'k-means++', 'ward', 'reference'", "'k-means++', 'ward', 'reference'"),
        ("membership", "other", "'auto', 'gaussian'", "'auto', 'gaussian'"),
        ("mischform_threshold", 1.5, "Zahl von 0 bis 1", "number from 0 to 1"),
        ("stability_threshold", math.nan, "Zahl von 0 bis 1", "number from 0 to 1"),
        ("max_reference_distance", -0.5, "None oder eine Zahl ≥ 0", "None or a number >= 0"),
        ("n_bootstrap", -1, "ganze Zahl ≥ 0", "integer >= 0"),
        ("n_bootstrap_restarts", 0, "ganze Zahl ≥ 1", "integer >= 1"),
        ("reference", 3, '"study" oder der Pfad', '"study" or the path'),
        ("codebook", "ziele", "None oder ein Codebuch", "None or a codebook"),
    ],
)
def test_bad_parameters_name_the_parameter_the_value_and_what_was_expected(
    points, param, value, expected_de, expected_en
):
    for lang, expected in (("de", expected_de), ("en", expected_en)):
        with i18n.use_lang(lang), pytest.raises(TypologyDataError) as err:
            Typology(**{"codebook": CB, param: value}).fit(points)
        text = str(err.value)
        assert f"{param}={value!r}" in text, text
        assert expected in text, text


def test_valid_parameters_of_numpy_types_are_accepted(points):
    model = Typology(
        codebook=CB,
        n_clusters=np.int64(4),
        n_init=np.int32(20),
        mischform_threshold=np.float64(0.8),
        max_reference_distance=2,
        random_state=np.int64(3),
    ).fit(points)
    assert model.n_patterns_ > 4


def test_every_constructor_parameter_has_declared_constraints():
    assert set(Typology._parameter_constraints) == set(Typology().get_params())


# ------------------------------------------------------------------------------ codebook
def test_without_codebook_frames_and_references_ask_for_it(points):
    frame = frame_of(points)
    with pytest.raises(TypologyDataError, match=r"codebook=") as err:
        Typology(reference=None).fit(frame)
    assert "kommune_id" in str(err.value)
    with pytest.raises(TypologyDataError, match=r"'study'.*codebook="):
        Typology().fit(points)  # the default reference needs the goal order
    with pytest.raises(TypologyError, match="codebook="):
        Typology.from_reference("study")
    # arrays without naming need no codebook
    plain = Typology(reference=None, n_init=50).fit(points)
    assert all(tid.startswith("neu_") for tid in plain.type_ids_)
    assert plain.centers_frame()["option_id"].to_list()[:2] == ["x0", "x1"]


def test_the_codebook_passed_is_the_one_used(points):
    """A codebook with other goal columns: the frame is read by its columns, not by the
    shipped codebook's."""
    question = CB.typology_question
    renamed = question.model_copy(update={"id": "goals"})
    other = CB.model_copy(
        update={"questions": tuple(renamed if q.id == question.id else q for q in CB.questions)}
    )
    frame = frame_of(points).rename({c: c.replace("ziele_", "goals_", 1) for c in COLUMNS})
    model = Typology(codebook=other, n_init=50, random_state=0).fit(frame)
    same = Typology(codebook=CB, n_init=50, random_state=0).fit(frame_of(points))
    np.testing.assert_array_equal(model.labels_, same.labels_)
    assert model.to_dict()["columns"][0] == "goals_rechtliche_vorgaben"


def test_repr_shows_the_codebook_short():
    assert repr(Typology(codebook=CB, n_init=5)) == (
        "Typology(codebook=<Codebook 'digitale-kommune-2019'>, n_init=5)"
    )


# ------------------------------------------------------------------------------ fitted state
def test_fitted_attributes_are_views_of_one_state(model, points):
    state = model.fitted_
    assert isinstance(state, FittedTypology)
    assert model.cluster_centers_ is state.cluster_centers
    assert model.labels_ is state.labels and len(model.labels_) == len(points)
    assert model.n_features_in_ == state.n_features_in == 10
    with pytest.raises(AttributeError, match="read-only"):
        model.cluster_centers_ = np.zeros((4, 10))
    with pytest.raises(AttributeError):
        state.sigma2 = 1.0  # type: ignore[misc]


def test_unfitted_estimator_has_no_fitted_attributes():
    fresh = Typology(codebook=CB)
    for name in ("cluster_centers_", "labels_", "type_ids_", "worths_", "n_features_in_"):
        assert not hasattr(fresh, name)


def test_refit_replaces_the_whole_state(points):
    model = Typology(codebook=CB, n_init=50, random_state=0).fit(points)
    first = model.fitted_
    model.fit(points[: len(points) // 2])
    assert model.fitted_ is not first
    assert len(model.labels_) == len(points) // 2
    assert model.pattern_counts_.sum() == len(points) // 2


def test_from_dict_and_from_reference_build_the_same_state_type(model, tmp_path):
    loaded = Typology.load(model.save(tmp_path / "m.json"), codebook=CB)
    reference = Typology.from_reference(codebook=CB)
    for other in (loaded, reference):
        assert isinstance(other.fitted_, FittedTypology)
        assert other.fitted_.goals == model.fitted_.goals
        for name in ("labels_", "patterns_", "pattern_index_", "n_iter_"):
            assert not hasattr(other, name)  # fit only
    np.testing.assert_allclose(loaded.cluster_centers_, model.cluster_centers_, atol=1e-9)
    assert loaded.type_ids_ == model.type_ids_ and loaded.worths_ is not None


# ------------------------------------------------------------------------------ persistence
def test_model_without_codebook_reads_frames_by_its_stored_columns(model, points, tmp_path):
    path = model.save(tmp_path / "m.json")
    loaded = Typology.load(path)  # no codebook: goal ids, columns and id column from the file
    assert loaded.codebook is None
    frame = frame_of(points[:50])
    expected = model.assignments(frame)
    got = loaded.assignments(frame)
    assert got.columns == expected.columns and got.columns[0] == "kommune_id"
    assert got.select("kommune_id", "type", "reason", "mischform").equals(
        expected.select("kommune_id", "type", "reason", "mischform")
    )
    np.testing.assert_allclose(
        got.select(pl.selectors.starts_with("p_", "distance_")).to_numpy(),
        expected.select(pl.selectors.starts_with("p_", "distance_")).to_numpy(),
        atol=1e-8,
    )


def test_model_files_without_stored_columns_still_load(model, points):
    """Files written before ``columns``/``id_column`` were stored (the format of the shipped
    model until now) load with the codebook, and without it for arrays."""
    old = model.to_dict()
    del old["columns"], old["id_column"]
    with_cb = Typology.from_dict(json.loads(json.dumps(old)), codebook=CB)
    np.testing.assert_allclose(with_cb.predict_proba(points), model.predict_proba(points))
    np.testing.assert_array_equal(
        with_cb.predict(frame_of(points)), model.predict(frame_of(points))
    )
    without = Typology.from_dict(old)
    np.testing.assert_array_equal(without.predict(points), model.predict(points))
    with pytest.raises(TypologyDataError, match="codebook="):
        without.predict(frame_of(points))


def test_loading_with_a_codebook_of_other_goals_is_an_error(model):
    data = model.to_dict()
    data["features"] = list(reversed(data["features"]))
    with pytest.raises(TypologyError, match="innovation, zivilgesellschaft"):
        Typology.from_dict(data, origin="m.json", codebook=CB)


def test_shipped_model_loads_with_and_without_codebook():
    path = resources.files("kommunaltypen") / "data" / "model.json"
    a = Typology.load(str(path), codebook=CB)
    b = Typology.load(str(path))
    x = np.zeros((1, 10))
    x[0, :3] = [3, 2, 1]
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert a.get_params(deep=False)["codebook"] is CB


def test_model_file_with_bad_params_is_rejected(model):
    data = model.to_dict()
    data["params"]["n_clusters"] = "vier"
    with pytest.raises(TypologyError, match="n_clusters='vier'"):
        Typology.from_dict(data)


# ------------------------------------------------------------------------------ no shared state
def test_kernels_keep_no_state_between_calls(points):
    """The iteration counts were once left on the functions (``_lloyd.last_n_iter``), which
    a concurrent fit in another thread could overwrite before they were read."""
    patterns, _, weights, _ = typology_pkg.count_patterns(points)
    weighted_kmeans(patterns, weights[None], 4, 5, np.random.default_rng(0))
    assert not vars(weighted_kmeans) and not vars(_lloyd)
    *_, n_iter = weighted_kmeans(
        patterns, weights[None], 4, 5, np.random.default_rng(0), return_n_iter=True
    )
    assert n_iter.shape == (1,) and n_iter[0] >= 1


def test_concurrent_fits_equal_sequential_fits(points):
    seeds = list(range(6))
    sequential = [
        Typology(codebook=CB, n_init=100, random_state=s).fit(points[s::2]) for s in seeds
    ]
    results: dict[int, Typology] = {}

    def run(s: int) -> None:
        results[s] = Typology(codebook=CB, n_init=100, random_state=s).fit(points[s::2])

    threads = [threading.Thread(target=run, args=(s,)) for s in seeds]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for s, expected in zip(seeds, sequential, strict=True):
        np.testing.assert_array_equal(results[s].cluster_centers_, expected.cluster_centers_)
        assert results[s].n_iter_ == expected.n_iter_


# ------------------------------------------------------------------------------ package
def test_package_exports_every_public_name():
    for name in typology_pkg.__all__:
        assert getattr(typology_pkg, name) is not None
    for name in (
        "goal_points",
        "ranking_points",
        "choose_k",
        "KChoice",
        "StabilityResult",
        "type_label",
        "reason_label",
        "load_reference",
        "bootstrap_agreement",
        "plackett_luce_worths",
        "weighted_kmeans",
        "count_patterns",
    ):
        assert name in typology_pkg.__all__
