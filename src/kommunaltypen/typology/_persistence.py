"""JSON persistence of a fitted typology and models made from reference centres.

``to_dict`` writes the fitted state (centres, type ids, names, membership model, scales,
version, data hash, parameters) and the goal question it reads (``features``, ``columns``,
``id_column``); ``from_dict`` and ``from_reference`` build the same
:class:`~kommunaltypen.typology._state.FittedTypology` that ``fit`` builds. The codebook is
never looked up implicitly: it is passed, or the goal ids stored in the model are used.
Files written before ``columns``/``id_column`` were stored still load (format version 1).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kommunaltypen.codebook import Codebook
from kommunaltypen.errors import TypologyError
from kommunaltypen.i18n import t
from kommunaltypen.typology._membership import membership_model
from kommunaltypen.typology._naming import read_reference, type_label
from kommunaltypen.typology._ranks import GoalSpec
from kommunaltypen.typology._state import FittedTypology
from kommunaltypen.vocabulary import study_types

if TYPE_CHECKING:
    from kommunaltypen.typology._estimator import Typology

MODEL_FORMAT = "kommunaltypen.typology"
MODEL_FORMAT_VERSION = 1
#: constructor parameters that are not written to the model file (objects, passed on load)
NOT_SAVED = ("codebook",)


def data_hash(patterns: np.ndarray, weights: np.ndarray) -> str:
    """SHA-256 of the (sorted) distinct patterns and their weights: independent of row order
    and of how the weights are split over identical rows."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.round(patterns, 12)).tobytes())
    h.update(np.ascontiguousarray(np.round(weights / weights.sum(), 12)).tobytes())
    return "sha256:" + h.hexdigest()[:32]


def to_dict(model: Typology) -> dict[str, Any]:
    """The fitted model as a JSON-serialisable dict."""
    from kommunaltypen import __version__

    state: FittedTypology = model.fitted_
    goals = state.goals
    params = {
        key: (str(val) if isinstance(val, Path) else val)
        for key, val in model.get_params(deep=False).items()
        if key not in NOT_SAVED
    }
    out: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "kommunaltypen_version": __version__,
        "features": state.feature_names(),
    }
    if goals is not None and len(goals.columns) == state.n_features_in:
        out["columns"] = list(goals.columns)
        out["id_column"] = goals.id_column
    max_rank = goals.max_rank if goals is not None else state.pl_max_rank
    if max_rank:
        out["scale"] = {
            "points_for_rank": {str(r): max_rank + 1 - r for r in range(1, max_rank + 1)},
            "not_ranked": 0,
        }
    out |= {
        "type_ids": list(state.type_ids),
        "names": {
            tid: {"de": type_label(tid, "de"), "en": type_label(tid, "en")}
            for tid in state.type_ids
        },
        "centers": np.round(state.cluster_centers, 10).tolist(),
        "weights": state.weights.tolist(),
        "cluster_sizes": state.cluster_sizes.tolist(),
        "sigma2": state.sigma2,
        "membership": {
            "model": state.membership,
            "max_rank": state.pl_max_rank,
            "worths": None if state.worths is None else np.round(state.worths, 12).tolist(),
            "mischform_threshold": model.mischform_threshold,
        },
        "reference_distance": [
            None if math.isnan(d) else d for d in state.reference_distance.tolist()
        ],
        "inertia": state.inertia,
        "n_best_restarts": state.n_best_restarts,
        "n_restarts": state.n_restarts,
        "n_patterns": state.n_patterns,
        "n_samples_fit": state.n_samples_fit,
        "data_hash": state.data_hash,
        "params": params,
    }
    return out


def _saved_goals(
    data: dict[str, Any], n_features: int, codebook: Codebook | None, origin: str
) -> GoalSpec | None:
    """The goal question of a saved model: the codebook's (checked against the saved goal
    ids), else the saved ``features``/``columns``/``scale``/``id_column``."""
    features = [str(f) for f in data.get("features", [])]
    if codebook is not None:
        goals = GoalSpec.from_codebook(codebook)
        if features and len(features) == n_features and list(goals.options) != features:
            raise TypologyError(
                t(
                    "typology.model_goals",
                    origin=origin,
                    received=", ".join(features),
                    expected=", ".join(goals.options),
                )
            )
        return goals
    if len(features) != n_features or features == [f"x{i}" for i in range(n_features)]:
        return None
    columns = [str(c) for c in data.get("columns", [])]
    points = data.get("scale", {}).get("points_for_rank", {})
    return GoalSpec(
        options=tuple(features),
        columns=tuple(columns) if len(columns) == n_features else (),
        max_rank=len(points) or int(data.get("membership", {}).get("max_rank", 0)),
        id_column=data.get("id_column"),
    )


def from_dict(
    cls: type[Typology], data: dict[str, Any], origin: str, codebook: Codebook | None
) -> Typology:
    """Rebuild a fitted (apply-only) model from :func:`to_dict` output."""
    required = ("format", "format_version", "type_ids", "centers", "sigma2", "params")
    missing = (
        [key for key in required if key not in data] if isinstance(data, dict) else list(required)
    )
    if missing or data.get("format") != MODEL_FORMAT:
        raise TypologyError(
            t("typology.model_invalid", origin=origin, missing=", ".join(missing) or "format")
        )
    if int(data["format_version"]) > MODEL_FORMAT_VERSION:
        raise TypologyError(
            t(
                "typology.model_version",
                origin=origin,
                received=data["format_version"],
                expected=MODEL_FORMAT_VERSION,
            )
        )
    valid = set(cls._param_names()) - set(NOT_SAVED)
    model = cls(**{k: v for k, v in data["params"].items() if k in valid}, codebook=codebook)
    model._validate_params()
    centers = np.asarray(data["centers"], dtype=float)
    if centers.ndim != 2 or len(centers) != len(data["type_ids"]):
        raise TypologyError(t("typology.model_invalid", origin=origin, missing="centers/type_ids"))
    k = len(centers)
    weights = np.asarray(data.get("weights", [1.0 / k] * k), dtype=float)
    membership = data.get("membership", {})
    worths = membership.get("worths")
    state = FittedTypology(
        goals=_saved_goals(data, centers.shape[1], codebook, origin),
        n_features_in=centers.shape[1],
        cluster_centers=centers,
        type_ids=list(data["type_ids"]),
        weights=weights,
        cluster_sizes=np.asarray(data.get("cluster_sizes", weights), dtype=float),
        reference_distance=np.array(
            [math.nan if d is None else d for d in data.get("reference_distance", [None] * k)],
            dtype=float,
        ),
        sigma2=float(data["sigma2"]),
        membership=membership.get("model", "gaussian"),
        worths=None if worths is None else np.asarray(worths, dtype=float),
        pl_max_rank=int(membership.get("max_rank", 0)),
        inertia=float(data.get("inertia", math.nan)),
        n_best_restarts=int(data.get("n_best_restarts", 0)),
        n_restarts=int(data.get("n_restarts", 0)),
        n_patterns=int(data.get("n_patterns", 0)),
        n_samples_fit=float(data.get("n_samples_fit", 0)),
        data_hash=str(data.get("data_hash", "")),
    )
    if state.membership == "plackett-luce" and (
        state.worths is None or state.worths.shape != centers.shape
    ):
        raise TypologyError(t("typology.model_invalid", origin=origin, missing="worths"))
    model._set_state(state)
    return model


def load(cls: type[Typology], path: str | Path, codebook: Codebook | None) -> Typology:
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TypologyError(t("typology.model_unreadable", path=str(path), error=exc)) from exc
    return from_dict(cls, data, str(path), codebook)


def from_reference(
    cls: type[Typology],
    reference: str | Path,
    sizes: Sequence[float] | None,
    codebook: Codebook | None,
    params: dict[str, Any],
) -> Typology:
    """A fitted model made directly from reference centres (see
    :meth:`Typology.from_reference`)."""
    if codebook is None:
        raise TypologyError(t("typology.codebook_needed_reference", reference=str(reference)))
    goals = GoalSpec.from_codebook(codebook)
    ref_ids, ref = read_reference(reference, goals.options)
    if sizes is None:
        study_n = {info.id: float(info.study_n) for info in study_types()}
        sizes = [study_n.get(tid, 1.0) for tid in ref_ids]
    sizes_arr = np.asarray(sizes, dtype=float)
    model = cls(n_clusters=len(ref_ids), reference=reference, codebook=codebook, **params)
    model._validate_params()
    norm2 = float(sum(r * r for r in range(1, goals.max_rank + 1)))
    within = np.clip(norm2 - (ref**2).sum(axis=1), 1e-6, None)
    membership, worths, pl_max_rank = membership_model(model.membership, ref, goals.max_rank)
    model._set_state(
        FittedTypology(
            goals=goals,
            n_features_in=ref.shape[1],
            cluster_centers=ref.copy(),
            type_ids=list(ref_ids),
            weights=sizes_arr / sizes_arr.sum(),
            cluster_sizes=sizes_arr,
            reference_distance=np.zeros(len(ref_ids)),
            sigma2=float((sizes_arr * within).sum() / sizes_arr.sum() / ref.shape[1]),
            membership=membership,
            worths=worths,
            pl_max_rank=pl_max_rank,
            inertia=float((sizes_arr * within).sum()),
            n_best_restarts=0,
            n_restarts=0,
            n_patterns=0,
            n_samples_fit=float(sizes_arr.sum()),
            data_hash="reference:" + hashlib.sha256(ref.tobytes()).hexdigest()[:16],
        )
    )
    return model
