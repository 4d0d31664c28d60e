"""Naming clusters after reference types (the study's Table 1 by default).

Fitted centres are matched to the reference centres by an optimal assignment on Euclidean
distance; a match farther than the limit is not forced onto the name but becomes a new type
``neu_1``, ``neu_2`` … (docs/typology.md, "Naming").
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import TypologyError
from kommunaltypen.i18n import t
from kommunaltypen.typology._ranks import GoalSpec

# the type vocabulary is declared once, in kommunaltypen.vocabulary (data/types.yaml)
from kommunaltypen.vocabulary import NEW_TYPE_PREFIX, type_label  # noqa: F401


# ------------------------------------------------------------------------------- reference centres
def _read_centers_csv(
    text: str, origin: str, features: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = list(csv.reader(rows))
    if not reader or reader[0][:2] != ["option_id", "row_label"] or len(reader[0]) < 3:
        raise TypologyError(
            t("typology.reference_bad_header", origin=origin, received=",".join(reader[0][:4]))
        )
    type_ids = reader[0][2:]
    by_option: dict[str, list[float]] = {}
    for line in reader[1:]:
        try:
            by_option[line[0]] = [float(v.replace(",", ".")) for v in line[2:]]
        except (ValueError, IndexError) as exc:
            raise TypologyError(
                t("typology.reference_bad_row", origin=origin, received=",".join(line))
            ) from exc
        if len(by_option[line[0]]) != len(type_ids):
            raise TypologyError(
                t("typology.reference_bad_row", origin=origin, received=",".join(line))
            )
    if sorted(by_option) != sorted(features):
        raise TypologyError(
            t(
                "typology.reference_bad_options",
                origin=origin,
                received=", ".join(sorted(by_option)),
                expected=", ".join(features),
            )
        )
    matrix = np.array([by_option[f] for f in features], dtype=float).T  # (types, features)
    return type_ids, matrix


def read_reference(reference: str | Path, features: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Reference centres in the order of ``features`` (goal option ids): ``"study"`` (Table 1,
    shipped) or a CSV path (``option_id,row_label,<type id>...``)."""
    if isinstance(reference, str) and reference == "study":
        res = resources.files("kommunaltypen") / "data" / "study_centers.csv"
        return _read_centers_csv(res.read_text("utf-8"), "study_centers.csv", features)
    path = Path(reference)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TypologyError(t("typology.reference_unreadable", path=str(path), error=exc)) from exc
    return _read_centers_csv(text, str(path), features)


def load_reference(
    reference: str | Path, codebook: Codebook | None = None
) -> tuple[list[str], np.ndarray]:
    """Reference centres: ``"study"`` (Table 1, shipped) or a CSV path in the same format
    (``option_id,row_label,<type id>...``), in the goal order of ``codebook`` (None: the
    shipped codebook). Returns (type ids, centres (n_types, n_goals))."""
    goals = GoalSpec.from_codebook(codebook or default_codebook())
    return read_reference(reference, goals.options)


def study_centers(codebook: Codebook | None = None) -> tuple[list[str], np.ndarray]:
    """Table 1 of the study: (type ids, centres (4, 10)) in the codebook's goal order."""
    return load_reference("study", codebook)


# ------------------------------------------------------------------------------- matching
def optimal_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (rows, cols) of minimal total cost, as ``scipy.optimize.linear_sum_assignment``.

    Naming matches a handful of clusters to a handful of reference types: up to 8 on the
    shorter side and 10,000 candidate pairings all of them are compared in one step (exact;
    importing scipy.optimize would cost more than that); larger problems go to scipy."""
    n_rows, n_cols = cost.shape
    short = min(n_rows, n_cols)
    if short <= 8 and math.perm(max(n_rows, n_cols), short) <= 10_000:
        tall = cost if n_rows >= n_cols else cost.T  # pick a distinct row for every column
        perms = np.array(list(itertools.permutations(range(len(tall)), short)), dtype=np.int64)
        best = perms[tall[perms, np.arange(short)].sum(axis=1).argmin()]
        rows, cols = (best, np.arange(short)) if n_rows >= n_cols else (np.arange(short), best)
        order = np.argsort(rows)
        return rows[order], cols[order]
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)


def reference_limit(ref: np.ndarray, max_reference_distance: float | None) -> float:
    """Largest distance at which a centre takes a reference name: the given value, or half
    the smallest distance between two reference centres."""
    if max_reference_distance is not None:
        return float(max_reference_distance)
    if len(ref) < 2:
        return math.inf
    d = np.sqrt(((ref[:, None] - ref[None]) ** 2).sum(axis=2))
    return float(d[np.triu_indices(len(ref), 1)].min() / 2)


def name_clusters(
    centers: np.ndarray,
    reference: tuple[list[str], np.ndarray] | None,
    max_reference_distance: float | None,
) -> tuple[list[str | None], list[float]]:
    """Reference name of each cluster (None: none within the limit) and its distance to the
    matched reference centre (NaN without reference)."""
    k = len(centers)
    names: list[str | None] = [None] * k
    dist = [math.nan] * k
    if reference is not None:
        ref_ids, ref = reference
        cost = np.sqrt(((centers[:, None] - ref[None]) ** 2).sum(axis=2))
        rows, cols = optimal_assignment(cost)
        limit = reference_limit(ref, max_reference_distance)
        for r, c in zip(rows, cols, strict=True):
            dist[r] = float(cost[r, c])
            if cost[r, c] <= limit:
                names[r] = ref_ids[c]
        for r in range(k):
            if math.isnan(dist[r]):
                dist[r] = float(cost[r].min())
    return names, dist


def canonical_order(
    names: list[str | None],
    centers: np.ndarray,
    weights: np.ndarray,
    labels: np.ndarray,
    ref_order: Sequence[str],
) -> tuple[list[int], list[str]]:
    """Named clusters in reference order, then new types by size (desc), then centre.
    Returns the cluster order and the type id of every cluster (new types ``neu_<i>``)."""
    k = len(centers)
    mass = np.bincount(labels, weights=weights, minlength=k)
    ref_order = list(ref_order)
    named = sorted((i for i in range(k) if names[i]), key=lambda i: ref_order.index(names[i]))
    new = sorted(
        (i for i in range(k) if not names[i]), key=lambda i: (-mass[i], tuple(-centers[i]))
    )
    ids = [n or "" for n in names]
    for n, i in enumerate(new, start=1):
        ids[i] = f"{NEW_TYPE_PREFIX}{n}"
    return named + new, ids
