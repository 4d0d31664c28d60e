"""The scikit-learn-style :class:`Typology` estimator.

The estimator is short on purpose: it checks its parameters (declared constraints), turns
the input into distinct patterns (:mod:`._ranks`), runs the k-means kernels
(:mod:`._kmeans`, :mod:`._ward`), names the clusters (:mod:`._naming`), fits the membership
model (:mod:`._membership`) and keeps everything it learnt in one frozen
:class:`~kommunaltypen.typology._state.FittedTypology` (``fitted_``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook
from kommunaltypen.errors import TypologyError
from kommunaltypen.estimator import EstimatorBase, check_is_fitted, validate_array
from kommunaltypen.i18n import t
from kommunaltypen.typology import _persistence
from kommunaltypen.typology._errors import TypologyDataError
from kommunaltypen.typology._kmeans import _sq_dist, weighted_kmeans
from kommunaltypen.typology._membership import membership_model, membership_proba
from kommunaltypen.typology._naming import (
    canonical_order,
    name_clusters,
    read_reference,
    reference_limit,
    type_label,
)
from kommunaltypen.typology._params import (
    Constraint,
    InstanceOf,
    Interval,
    IsNone,
    OneOf,
    validate_params,
)
from kommunaltypen.typology._ranks import (
    _TYPABLE_CODE,
    GoalSpec,
    count_patterns,
    goal_patterns,
    has_goal_columns,
    is_frame_like,
    reason_names,
    training_patterns,
)
from kommunaltypen.typology._stability import StabilityResult, bootstrap_stability
from kommunaltypen.typology._state import FittedAttribute, FittedTypology
from kommunaltypen.typology._ward import _ward_centers

_PROBABILITY = Interval("real", 0, 1)


class Typology(EstimatorBase):
    """Rank-based k-means typology with naming, mixed membership, model choice and stability.

    Parameters
    ----------
    n_clusters : number of types (k).
    n_init : k-means++ restarts (all run as one vectorised batch on the distinct patterns).
    init : ``"k-means++"`` (``n_init`` greedy k-means++ restarts, the best inertia wins),
        ``"ward"`` (one extra start from the k-cluster cut of weighted Ward clustering, in
        addition to the ``n_init`` restarts) or ``"reference"`` (one deterministic run started
        from the reference centres, as when re-applying the study's solution to new data: the
        local optimum nearest to the published typology, not necessarily the best inertia;
        bootstrap refits start from the reference centres as well).
    max_iter : maximum Lloyd iterations per run.
    random_state : seed (int >= 0) or None; the same seed gives the same result.
    reference : ``"study"`` (Table 1 centres), a CSV path in the same format, or None (no
        naming: every cluster is a new type ``neu_<i>``). Needs ``codebook`` (the goal order).
    max_reference_distance : largest Euclidean distance (rank points) between a fitted centre
        and its matched reference centre for the cluster to take the reference name; None =
        half the smallest distance between two reference centres (so a centre can be close to
        at most one reference type).
    membership : ``"auto"`` (complete rankings get probabilities from a latent-class model for
        ranking data: one Plackett–Luce model per type, moment-matched to its centre, mixed
        with the type shares; other rows, e.g. arbitrary arrays, from the Gaussian model) or
        ``"gaussian"`` (spherical Gaussian mixture with the fitted centres, equal weights and
        the pooled within-cluster variance ``sigma2_``, for every row).
    mischform_threshold : a municipality is a Mischform when its highest type probability is
        below this value.
    n_bootstrap : default number of bootstrap refits in :meth:`stability`.
    n_bootstrap_restarts : greedy k-means++ restarts per bootstrap refit (default 10, as
        scikit-learn's ``KMeans``); every refit starts from scratch.
    stability_threshold : types with mean bootstrap Jaccard below this are flagged unstable.
    codebook : the :class:`~kommunaltypen.codebook.Codebook` whose ``role: typology``
        question (goal ranking) the model reads: its columns in a data frame, the goal order
        of the reference centres, the id column of :meth:`assignments`. None (default): the
        model reads arrays of rank points only, without reference names (``reference=None``);
        a data frame or a reference then is an error that asks for the codebook. Nothing is
        looked up implicitly: ``run_analysis`` passes the codebook it validated with.

    Fitted attributes are read-only views of ``fitted_`` (a frozen
    :class:`~kommunaltypen.typology._state.FittedTypology`).
    """

    #: per parameter, the constraints of which one must hold (checked by fit, from_dict and
    #: from_reference in one place, :func:`._params.validate_params`)
    _parameter_constraints: ClassVar[Mapping[str, tuple[Constraint, ...]]] = MappingProxyType(
        {
            "n_clusters": (Interval("int", 1),),
            "n_init": (Interval("int", 1),),
            "init": (OneOf(("k-means++", "ward", "reference")),),
            "max_iter": (Interval("int", 1),),
            "random_state": (IsNone(), Interval("int", 0)),
            "reference": (IsNone(), InstanceOf((str, os.PathLike), "typology.expect.reference")),
            "max_reference_distance": (IsNone(), Interval("real", 0)),
            "membership": (OneOf(("auto", "gaussian")),),
            "mischform_threshold": (_PROBABILITY,),
            "n_bootstrap": (Interval("int", 0),),
            "n_bootstrap_restarts": (Interval("int", 1),),
            "stability_threshold": (_PROBABILITY,),
            "codebook": (IsNone(), InstanceOf((Codebook,), "typology.expect.codebook")),
        }
    )

    def __init__(
        self,
        n_clusters: int = 4,
        n_init: int = 1000,
        init: str = "k-means++",
        max_iter: int = 300,
        random_state: int | None = 0,
        reference: str | Path | None = "study",
        max_reference_distance: float | None = None,
        membership: str = "auto",
        mischform_threshold: float = 0.75,
        n_bootstrap: int = 1000,
        n_bootstrap_restarts: int = 10,
        stability_threshold: float = 0.75,
        codebook: Codebook | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.init = init
        self.max_iter = max_iter
        self.random_state = random_state
        self.reference = reference
        self.max_reference_distance = max_reference_distance
        self.membership = membership
        self.mischform_threshold = mischform_threshold
        self.n_bootstrap = n_bootstrap
        self.n_bootstrap_restarts = n_bootstrap_restarts
        self.stability_threshold = stability_threshold
        self.codebook = codebook

    # -- fitted attributes (read-only views of ``fitted_``) --------------------------------
    cluster_centers_ = FittedAttribute()
    type_ids_ = FittedAttribute()
    weights_ = FittedAttribute()
    cluster_sizes_ = FittedAttribute()
    reference_distance_ = FittedAttribute()
    sigma2_ = FittedAttribute()
    membership_ = FittedAttribute()
    worths_ = FittedAttribute(optional=True)
    pl_max_rank_ = FittedAttribute()
    inertia_ = FittedAttribute()
    n_best_restarts_ = FittedAttribute()
    n_restarts_ = FittedAttribute()
    n_patterns_ = FittedAttribute()
    n_samples_fit_ = FittedAttribute()
    data_hash_ = FittedAttribute()
    n_iter_ = FittedAttribute()
    patterns_ = FittedAttribute()
    pattern_counts_ = FittedAttribute()
    pattern_weights_ = FittedAttribute()
    pattern_labels_ = FittedAttribute()
    labels_ = FittedAttribute()
    typable_ = FittedAttribute()
    not_typed_reason_ = FittedAttribute()
    pattern_index_ = FittedAttribute()

    def _set_state(self, state: FittedTypology) -> None:
        """Install a fitted state (from fit, from_dict or from_reference)."""
        self.fitted_ = state
        self.n_features_in_ = state.n_features_in

    def __sklearn_is_fitted__(self) -> bool:
        return "fitted_" in self.__dict__

    # -- parameters ------------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Every constructor parameter against its declared constraints (one place)."""
        validate_params(self.get_params(deep=False), self._parameter_constraints)

    def _fit_goals(self) -> GoalSpec | None:
        """The goal question of ``codebook``; a reference needs it (the goal order)."""
        if self.codebook is None:
            if self.reference is not None:
                raise TypologyDataError(
                    t("typology.codebook_needed_reference", reference=str(self.reference))
                )
            return None
        return GoalSpec.from_codebook(self.codebook)

    # -- input -----------------------------------------------------------------------------
    def _check_features(self, n_features: int, reset: bool) -> None:
        if reset:
            self.n_features_in_ = n_features
        elif n_features != self.n_features_in_:
            raise TypologyDataError(
                t(
                    "typology.bad_shape",
                    received=f"(n, {n_features})",
                    expected=f"(n, {self.n_features_in_})",
                )
            )

    def _input_patterns(
        self, data: Any, goals: GoalSpec | None, reset: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distinct input patterns: ``(points (u, d), typable (u,), reason code (u,),
        inverse (n,))``. A canonical frame goes through the typability rule
        (:func:`goal_points`); an array of rank points (or a frame without any goal column)
        is validated and every row is typable. Everything downstream runs on the patterns and
        is broadcast with ``inverse``."""
        if is_frame_like(data):
            if goals is None or not goals.columns:
                shown = ", ".join(str(c) for c in list(data.columns)[:5])
                raise TypologyDataError(t("typology.codebook_needed_frame", columns=shown))
            if has_goal_columns(data, goals):
                points, typable, code, inverse = goal_patterns(data, goals)
                self._check_features(points.shape[1], reset)
                return points, typable, code, inverse
        X = validate_array(self, data, reset=reset, dtype=np.float64, ensure_min_samples=1)
        points, _, _, inverse = count_patterns(X)
        ones = np.ones(len(points), dtype=bool)
        return points, ones, np.full(len(points), _TYPABLE_CODE, dtype=np.int8), inverse

    def _apply_patterns(self, data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        check_is_fitted(self)
        return self._input_patterns(data, self.fitted_.goals, reset=False)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, data: Any, y: Any = None, sample_weight: Any = None) -> Typology:
        """Fit on the canonical data frame (rank columns of the typology question; needs
        ``codebook``) or on an array of rank points (n, n_goals). ``sample_weight``: optional
        case weights per row.

        The rows are collapsed to distinct patterns once (vectorised); the typability rule,
        the k-means fit and the membership model run on the patterns only."""
        self._validate_params()
        goals = self._fit_goals()
        pts_u, typ_u, code_u, inverse = self._input_patterns(data, goals, reset=True)
        rows = training_patterns(pts_u, typ_u, code_u, inverse, sample_weight)
        k = int(self.n_clusters)
        if rows.n_typable < k:
            raise TypologyDataError(
                t("typology.too_few_typable", received=round(rows.n_typable), expected=k)
            )
        if len(rows.patterns) < k:
            raise TypologyDataError(
                t("typology.too_few_patterns", received=len(rows.patterns), expected=k)
            )
        fitted = self._fit_patterns(rows.patterns, rows.counts, rows.weights, goals)
        self._set_state(
            FittedTypology(
                goals=goals,
                n_features_in=self.n_features_in_,
                labels=rows.per_row(fitted["pattern_labels"]),
                typable=rows.typable,
                not_typed_reason=rows.reasons,
                pattern_index=rows.per_row(np.arange(len(rows.patterns))),
                **fitted,
            )
        )
        return self

    def _fit_patterns(
        self, patterns: np.ndarray, counts: np.ndarray, weights: np.ndarray, goals: GoalSpec | None
    ) -> dict[str, Any]:
        """k-means on the weighted patterns, naming, canonical order and membership model:
        the fields of the fitted state that do not depend on the rows."""
        reference = self._reference(goals)
        rng = np.random.default_rng(self.random_state)
        k = int(self.n_clusters)
        start, n_init = None, int(self.n_init)
        if self.init == "ward":
            start = _ward_centers(patterns, weights, k)[None]
        elif self.init == "reference":
            start, n_init = self._reference_start(reference, k)[None], 0
        C, labels, inertia, n_best, n_iter = weighted_kmeans(
            patterns, weights[None], k, n_init, rng, int(self.max_iter), start, return_n_iter=True
        )
        centers, pat_labels = C[0], labels[0]
        # naming and canonical order
        names, ref_dist = name_clusters(centers, reference, self.max_reference_distance)
        ref_order = reference[0] if reference is not None else []
        order, type_ids = canonical_order(names, centers, weights, pat_labels, ref_order)
        remap = np.empty(k, dtype=np.int64)
        remap[order] = np.arange(k)
        centers = centers[order]
        pattern_labels = remap[pat_labels]
        mass = np.bincount(pattern_labels, weights=weights, minlength=k)
        inertia_best = float(inertia[0])
        membership, worths, pl_max_rank = membership_model(
            self.membership, centers, 0, patterns, pattern_labels, weights
        )
        return {
            "cluster_centers": centers,
            "type_ids": [type_ids[i] for i in order],
            "reference_distance": np.array([ref_dist[i] for i in order]),
            "weights": mass / mass.sum(),
            "cluster_sizes": mass,
            "sigma2": max(inertia_best / (weights.sum() * patterns.shape[1]), 1e-6),
            "membership": membership,
            "worths": worths,
            "pl_max_rank": pl_max_rank,
            "inertia": inertia_best,
            "n_best_restarts": int(n_best[0]),
            "n_restarts": n_init + (1 if start is not None else 0),
            "n_iter": int(n_iter[0]),
            "n_patterns": len(patterns),
            "n_samples_fit": float(counts.sum()),
            "data_hash": _persistence.data_hash(patterns, weights),
            "patterns": patterns,
            "pattern_counts": counts,
            "pattern_weights": weights,
            "pattern_labels": pattern_labels,
        }

    def _reference(self, goals: GoalSpec | None) -> tuple[list[str], np.ndarray] | None:
        """The reference centres in the goal order (None: no naming)."""
        if self.reference is None:
            return None
        if goals is None:
            raise TypologyDataError(
                t("typology.codebook_needed_reference", reference=str(self.reference))
            )
        ref_ids, ref = read_reference(self.reference, goals.options)
        if ref.shape[1] != self.n_features_in_:
            raise TypologyDataError(
                t("typology.reference_dims", received=self.n_features_in_, expected=ref.shape[1])
            )
        return ref_ids, ref

    def _reference_start(
        self, reference: tuple[list[str], np.ndarray] | None, k: int
    ) -> np.ndarray:
        """Reference centres as the start of ``init="reference"`` (k must match)."""
        if reference is None or len(reference[1]) != k:
            raise TypologyDataError(
                t(
                    "typology.reference_init",
                    received=0 if reference is None else len(reference[1]),
                    expected=k,
                )
            )
        return reference[1]

    def _max_reference_distance(self, ref: np.ndarray) -> float:
        return reference_limit(ref, self.max_reference_distance)

    # -- applying --------------------------------------------------------------------------
    def _per_pattern(self, data: Any, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``fn`` on the distinct typable patterns of ``data`` (u, k), broadcast to the rows;
        NaN rows for untypable rows."""
        points, typable, _, inverse = self._apply_patterns(data)
        per = np.full((len(points), len(self.fitted_.cluster_centers)), np.nan)
        if typable.any():
            per[typable] = fn(points[typable])
        return per[inverse]

    def transform(self, data: Any) -> np.ndarray:
        """Euclidean distance of each row to each centre (n, k); NaN rows for untypable rows
        of a data frame."""
        check_is_fitted(self)
        centers = self.fitted_.cluster_centers
        return self._per_pattern(data, lambda X: np.sqrt(_sq_dist(X, centers[None])[0]))

    def predict(self, data: Any) -> np.ndarray:
        """Index of the nearest centre (into ``type_ids_``); -1 for untypable rows."""
        points, typable, _, inverse = self._apply_patterns(data)
        labels = np.full(len(points), -1, dtype=np.int64)
        if typable.any():
            d2 = _sq_dist(points[typable], self.fitted_.cluster_centers[None])[0]
            labels[typable] = d2.argmin(axis=1)
        return labels[inverse]

    def fit_predict(self, data: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        return self.fit(data, sample_weight=sample_weight).labels_

    def predict_proba(self, data: Any) -> np.ndarray:
        """Type probabilities (n, k); rows sum to 1; NaN rows for untypable rows of a frame.

        With the Plackett–Luce model (``membership_ == "plackett-luce"``), a top-m ranking
        x gets ``p_j ∝ w_j · PL_j(x)`` (``w_j`` = type share ``weights_``, ``PL_j(x)`` the
        product of the first m choice stages); other rows, and every row with
        ``membership="gaussian"``, get ``p_j ∝ exp(-||x - c_j||² / (2 sigma2_))``. The type
        itself (:meth:`predict`) is always the nearest centre; with the ranking model the most
        probable type can differ for rankings between two types. Computed once per distinct
        pattern and broadcast to the rows."""
        check_is_fitted(self)
        s = self.fitted_
        return self._per_pattern(
            data,
            lambda X: membership_proba(
                X, s.cluster_centers, s.sigma2, s.worths, s.pl_max_rank, s.weights
            ),
        )

    def mischform(self, data: Any) -> np.ndarray:
        """True where no type reaches ``mischform_threshold`` probability (False if untypable)."""
        p = self.predict_proba(data)
        top = np.nanmax(np.where(np.isnan(p), -1.0, p), axis=1)
        return (top >= 0) & (top < self.mischform_threshold)

    def type_of(self, data: Any) -> list[str | None]:
        """Type id per row (None for untypable rows)."""
        labels = self.predict(data)
        type_ids = self.fitted_.type_ids
        return [type_ids[i] if i >= 0 else None for i in labels]

    def assignments(self, data: Any, lang: str | None = None) -> pl.DataFrame:
        """One row per input row: id (if the frame has the goal question's id column),
        ``type``, ``label``, ``reason`` (why not typed), ``p_<type>`` per type, ``mischform``,
        and ``distance_<type>``. Suitable for ``assignments.csv``."""
        _, _, code, inverse = self._apply_patterns(data)
        reason = reason_names(code[inverse]).tolist()
        labels = self.predict(data)
        proba = self.predict_proba(data)
        dist = self.transform(data)
        state = self.fitted_
        cols: dict[str, Any] = {}
        id_col = state.goals.id_column if state.goals is not None else None
        if id_col is not None and is_frame_like(data) and id_col in data.columns:
            cols[id_col] = list(data[id_col])
        types = [state.type_ids[i] if i >= 0 else None for i in labels]
        cols["type"] = types
        cols["label"] = [type_label(tid, lang) for tid in types]
        cols["reason"] = reason
        for j, tid in enumerate(state.type_ids):
            cols[f"p_{tid}"] = proba[:, j]
        top = np.nanmax(np.where(np.isnan(proba), -1.0, proba), axis=1)
        cols["mischform"] = [bool(0 <= p < self.mischform_threshold) for p in top]
        for j, tid in enumerate(state.type_ids):
            cols[f"distance_{tid}"] = dist[:, j]
        out = pl.DataFrame(cols, strict=False)
        return out.with_columns(
            pl.col(c).fill_nan(None) for c in out.columns if c.startswith(("p_", "distance_"))
        )

    def centers_frame(self, lang: str | None = None) -> pl.DataFrame:
        """Centres as a table: one row per goal option, one column per type id."""
        check_is_fitted(self)
        state = self.fitted_
        data: dict[str, Any] = {"option_id": state.feature_names()}
        for j, tid in enumerate(state.type_ids):
            data[tid] = state.cluster_centers[j]
        return pl.DataFrame(data)

    # -- stability -------------------------------------------------------------------------
    def stability(
        self,
        n_bootstrap: int | None = None,
        random_state: int | None = None,
        resample_counts: np.ndarray | None = None,
    ) -> StabilityResult:
        """Bootstrap stability of the fitted clustering.

        Draws ``n_bootstrap`` resamples of the typable rows (a multinomial over the distinct
        patterns with probabilities proportional to their row counts, which is the same as
        drawing rows with replacement), refits k-means on each and compares with the original
        clusters on the original points in the resample: per-type Jaccard (maximum over refit
        clusters, as ``fpc::clusterboot``) and the adjusted Rand index. ``resample_counts``
        (B, n_patterns) gives explicit resamples instead. Case weights: a drawn row carries its
        pattern's mean case weight."""
        check_is_fitted(self)
        state = self.fitted_
        if state.patterns is None:
            raise TypologyError(t("typology.stability_needs_data"))
        start = None
        if self.init == "reference":  # refit as the original: Lloyd from the reference centres
            reference = self._reference(state.goals)
            start = self._reference_start(reference, len(state.cluster_centers))[None]
        return bootstrap_stability(
            state,
            n_bootstrap=int(n_bootstrap if n_bootstrap is not None else self.n_bootstrap),
            rng=np.random.default_rng(self.random_state if random_state is None else random_state),
            restarts=int(self.n_bootstrap_restarts),
            start=start,
            max_iter=int(self.max_iter),
            threshold=float(self.stability_threshold),
            resample_counts=resample_counts,
        )

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as a JSON-serialisable dict (centres, type ids, names, scales, the
        goal ids and columns it reads, version, data hash, parameters without the codebook)."""
        check_is_fitted(self)
        return _persistence.to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        try:
            path.write_text(self.to_json() + "\n", encoding="utf-8")
        except OSError as exc:
            raise TypologyError(t("typology.model_unwritable", path=str(path), error=exc)) from exc
        return path

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], origin: str = "model", codebook: Codebook | None = None
    ) -> Typology:
        """Rebuild a fitted (apply-only) model from :meth:`to_dict` output. ``codebook``: the
        codebook to read data frames with (its goal ids must be the model's); None: the goal
        ids, columns and id column stored in the model are used."""
        return _persistence.from_dict(cls, data, origin, codebook)

    @classmethod
    def load(cls, path: str | Path, codebook: Codebook | None = None) -> Typology:
        """Load a model saved with :meth:`save` (``codebook`` as in :meth:`from_dict`)."""
        return _persistence.load(cls, path, codebook)

    @classmethod
    def from_reference(
        cls,
        reference: str | Path = "study",
        sizes: Sequence[float] | None = None,
        codebook: Codebook | None = None,
        **params: Any,
    ) -> Typology:
        """A fitted model made directly from reference centres (default: the study's Table 1),
        for classifying without data. ``codebook`` (required): gives the goal order of the
        centres. ``sizes`` default to the study's type sizes.

        The pooled variance follows from the centres alone: every complete ranking has the
        same squared norm ``s = 3² + 2² + 1²``, so a type's mean squared distance to its centre
        is ``s - ||c||²``; ``sigma2_`` is the size-weighted mean of that over the types,
        divided by the number of goals."""
        return _persistence.from_reference(cls, reference, sizes, codebook, params)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
