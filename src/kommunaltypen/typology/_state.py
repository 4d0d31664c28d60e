"""The fitted state of a :class:`~kommunaltypen.typology.Typology`, as one frozen object.

``fit``, ``from_dict`` (``load``) and ``from_reference`` each build one
:class:`FittedTypology`; the estimator stores it as ``fitted_`` and its public fitted
attributes (``cluster_centers_``, ``type_ids_``, ``labels_`` …) are read-only views of it
(:class:`FittedAttribute`). Nothing is set attribute by attribute, so the three ways to a
fitted model cannot drift apart, and a refit replaces the whole state at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kommunaltypen.typology._ranks import GoalSpec


@dataclass(frozen=True, eq=False)
class FittedTypology:
    """Everything a fitted typology knows. Fields marked "fit only" are None for models
    loaded from a file or made from reference centres."""

    #: the goal question the model reads (None: arrays of rank points only)
    goals: GoalSpec | None
    n_features_in: int
    #: centres (k, d) and type ids, named types in reference order, then new types
    cluster_centers: np.ndarray
    type_ids: list[str]
    #: type shares (k,) and summed weights per type (k,)
    weights: np.ndarray
    cluster_sizes: np.ndarray
    #: distance of each centre to its matched reference centre (NaN: no reference)
    reference_distance: np.ndarray
    #: pooled within-cluster variance of the Gaussian membership model
    sigma2: float
    #: "plackett-luce" or "gaussian"; worths (k, d) and max rank of the ranking model
    membership: str
    worths: np.ndarray | None
    pl_max_rank: int
    inertia: float
    n_best_restarts: int
    n_restarts: int
    n_patterns: int
    n_samples_fit: float
    data_hash: str
    # -- fit only: the training data as distinct patterns …
    n_iter: int | None = None
    patterns: np.ndarray | None = None
    pattern_counts: np.ndarray | None = None
    pattern_weights: np.ndarray | None = None
    pattern_labels: np.ndarray | None = None
    # … and per training row
    labels: np.ndarray | None = None
    typable: np.ndarray | None = None
    not_typed_reason: list[str | None] | None = None
    pattern_index: np.ndarray | None = None

    def feature_names(self) -> list[str]:
        """The goal option ids of the features, or ``x0``, ``x1`` … for arrays of another
        width or without a goal question."""
        goals = self.goals
        if goals is not None and len(goals.options) == self.n_features_in:
            return list(goals.options)
        return [f"x{i}" for i in range(self.n_features_in)]


class FittedAttribute:
    """A read-only fitted attribute ``<name>_`` of the estimator: the field ``<name>`` of its
    ``fitted_`` state. Missing (AttributeError, as scikit-learn expects) before fitting and
    where the field is None, unless ``optional`` (then None is a value, e.g. ``worths_`` of a
    Gaussian model)."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.field = name.removesuffix("_")

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        state = obj.__dict__.get("fitted_")
        value = None if state is None else getattr(state, self.field)
        if value is None and (state is None or not self.optional):
            raise AttributeError(
                f"{type(obj).__name__!r} object has no attribute {self.name!r} "
                "(not fitted, or not known for a model loaded from a file)"
            )
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(
            f"{self.name} is read-only: it is part of the fitted state ``fitted_``; fit the "
            "model, or build it with from_dict / from_reference"
        )
