"""The typology engine: goal rankings -> municipality types (Kommunentypen).

Pipeline (see ``docs/typology.md`` for the full description and the reasons behind each choice),
one module per step:

1. **Rank transform** (:mod:`._ranks`, :func:`goal_points`): the ranking question with
   ``role: typology`` (``ziele``) becomes rank points, 1st = 3, 2nd = 2, 3rd = 1, not ranked =
   0 (in general ``max_rank + 1 - rank``). Consistent top-m rankings are typable; the other
   rows are kept with a reason code. Rows are collapsed to distinct patterns once.
2. **Weighted k-means on unique patterns** (:mod:`._kmeans`, :mod:`._ward`): row counts (or
   summed case weights) as weights, so the cost of clustering does not grow with the number of
   rows. Many k-means++ restarts run as one vectorised batch (optionally plus one start from
   weighted Ward clustering).
3. **Naming** (:mod:`._naming`): fitted centres are matched to reference centres (the study's
   Table 1 by default) by an optimal assignment on Euclidean distance; a cluster farther than
   ``max_reference_distance`` from its match is a new type ``neu_1``, ``neu_2`` ...
4. **Mixed membership** (:mod:`._membership`): a latent-class model of one Plackett–Luce
   ranking model per type (default for rankings) or a spherical Gaussian mixture;
   ``mischform`` when no type reaches ``mischform_threshold`` (default 0.75).
5. **Choosing k** (:mod:`._kchoice`, :func:`choose_k`), **stability** (:mod:`._stability`,
   :meth:`Typology.stability`), **JSON persistence** (:mod:`._persistence`,
   :meth:`Typology.save` / :meth:`Typology.load` / :meth:`Typology.from_reference`).

The estimator itself (:mod:`._estimator`) keeps its fitted state in one frozen object
(:mod:`._state`) and declares its parameter constraints (:mod:`._params`).
"""

from kommunaltypen.errors import TypologyError
from kommunaltypen.typology._errors import TypologyDataError
from kommunaltypen.typology._estimator import Typology
from kommunaltypen.typology._kchoice import KChoice, choose_k
from kommunaltypen.typology._kmeans import weighted_kmeans
from kommunaltypen.typology._membership import plackett_luce_worths
from kommunaltypen.typology._naming import (
    NEW_TYPE_PREFIX,
    load_reference,
    study_centers,
    type_label,
)
from kommunaltypen.typology._persistence import MODEL_FORMAT, MODEL_FORMAT_VERSION
from kommunaltypen.typology._ranks import (
    REASONS,
    GoalSpec,
    count_patterns,
    goal_points,
    ranking_points,
    reason_label,
)
from kommunaltypen.typology._simulate import simulate_rankings
from kommunaltypen.typology._stability import StabilityResult, bootstrap_agreement
from kommunaltypen.typology._state import FittedTypology

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "NEW_TYPE_PREFIX",
    "REASONS",
    "FittedTypology",
    "GoalSpec",
    "KChoice",
    "StabilityResult",
    "Typology",
    "TypologyDataError",
    "TypologyError",
    "bootstrap_agreement",
    "choose_k",
    "count_patterns",
    "goal_points",
    "load_reference",
    "plackett_luce_worths",
    "ranking_points",
    "reason_label",
    "simulate_rankings",
    "study_centers",
    "type_label",
    "weighted_kmeans",
]
