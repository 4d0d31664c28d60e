"""Why this type, and what would change it.

For one ranking of the digitalisation goals (goal ids, most important first) and a model
(:class:`kommunaltypen.service.ModelInfo`):

* :func:`explain` — the nearest other type (by distance to its centre) and the *smallest change
  of the ranking* that would move the municipality there, with the suggested ranking, the edit
  in words and the new probabilities; the same for every other type (``alternatives``).
* :func:`goal_profile` — the municipality's points per goal beside each type's centre (data for
  a chart); :func:`profile_svg` draws it as an accessible SVG (no JavaScript).

The search is exhaustive: every ranking of the same length as the municipality's (and, when it
ranked fewer goals than allowed, every longer one) is classified at once (720 top-3 rankings of
10 goals), and a breadth-first search over elementary edits finds the cheapest path to each.
Elementary edits, each costing 1: swap two ranked goals; move one ranked goal to another rank
(the goals in between shift); replace a ranked goal by an unranked one; add an unranked goal
(only while fewer than ``max_rank`` goals are ranked). Among rankings with the fewest edits the
one whose rank points change least (L1 distance of the points vectors) wins, then the one the
target type claims most clearly (highest probability), then the first in goal order.
"""

from __future__ import annotations

import html
import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.vocabulary import format_percent, type_colour, type_label

if TYPE_CHECKING:
    from kommunaltypen.service import Classification, ModelInfo


# ------------------------------------------------------------------------------ edits
@dataclass(frozen=True)
class Edit:
    """One elementary change of a ranking. ``kind``: ``swap`` (goals at ranks ``rank`` and
    ``other_rank`` change places), ``move`` (``goal`` goes from ``rank`` to ``other_rank``),
    ``replace`` (``new_goal`` takes the place of ``goal`` at ``rank``), ``add`` (``new_goal``
    is added at ``rank``). Ranks count from 1."""

    kind: str
    rank: int
    goal: str | None = None
    other_rank: int | None = None
    other_goal: str | None = None
    new_goal: str | None = None

    def describe(self, lang: str | None = None) -> str:
        """The edit as a clause ("»Bürgernähe« statt »Effizienz« an erster Stelle stünde")."""
        lang = lang or get_lang()
        if self.kind == "replace":
            return t(
                "selfcheck.edit.replace",
                lang=lang,
                new=goal_name(self.new_goal or "", lang),
                old=goal_name(self.goal or "", lang),
                rank=rank_word(self.rank, lang),
            )
        if self.kind == "add":
            return t(
                "selfcheck.edit.add",
                lang=lang,
                goal=goal_name(self.new_goal or "", lang),
                rank=rank_word(self.rank, lang),
            )
        if self.kind == "swap":
            return t(
                "selfcheck.edit.swap",
                lang=lang,
                first=goal_name(self.other_goal or "", lang),
                second=goal_name(self.goal or "", lang),
                rank_first=rank_word(self.rank, lang),
                rank_second=rank_word(self.other_rank or 0, lang),
            )
        return t(
            "selfcheck.edit.move",
            lang=lang,
            goal=goal_name(self.goal or "", lang),
            to=rank_word(self.other_rank or 0, lang),
            origin=rank_word(self.rank, lang),
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def goal_name(goal_id: str, lang: str | None = None) -> str:
    """The short name of a goal (``selfcheck.goal.<id>``), else its codebook label."""
    key = f"selfcheck.goal.{goal_id}"
    try:
        return t(key, lang=lang)
    except KeyError:
        question = default_codebook().typology_question
        for option in question.options:
            if option.id == goal_id:
                return option.label_en if (lang or get_lang()) == "en" else option.label_de
        return goal_id


def rank_word(rank: int, lang: str | None = None) -> str:
    """The ordinal of a rank as the edit texts use it ("erster"/"first")."""
    try:
        return t(f"selfcheck.rank.{rank}", lang=lang)
    except KeyError:
        return t("selfcheck.rank.n", lang=lang, n=rank)


def apply_edit(ranking: tuple[str, ...], edit: Edit) -> tuple[str, ...]:
    """The ranking after ``edit``."""
    goals = list(ranking)
    i = edit.rank - 1
    if edit.kind == "swap":
        j = (edit.other_rank or 0) - 1
        goals[i], goals[j] = goals[j], goals[i]
    elif edit.kind == "move":
        goal = goals.pop(i)
        goals.insert((edit.other_rank or 0) - 1, goal)
    elif edit.kind == "replace":
        goals[i] = edit.new_goal or ""
    elif edit.kind == "add":
        goals.insert(i, edit.new_goal or "")
    else:  # pragma: no cover - Edit is built only here
        raise ValueError(edit.kind)
    return tuple(goals)


def neighbours(
    ranking: tuple[str, ...], options: Sequence[str], max_rank: int
) -> list[tuple[Edit, tuple[str, ...]]]:
    """Every ranking one elementary edit away, with that edit (a ranking reached by two edits
    of different kinds is listed once, by the first: swap, move, replace, add)."""
    out: list[tuple[Edit, tuple[str, ...]]] = []
    seen: set[tuple[str, ...]] = {ranking}
    m = len(ranking)

    def emit(edit: Edit) -> None:
        new = apply_edit(ranking, edit)
        if new not in seen:
            seen.add(new)
            out.append((edit, new))

    for i, j in itertools.combinations(range(m), 2):
        emit(Edit("swap", i + 1, ranking[i], j + 1, ranking[j]))
    for i in range(m):
        for j in range(m):
            if abs(i - j) >= 2:
                emit(Edit("move", i + 1, ranking[i], j + 1))
    unranked = [g for g in options if g not in ranking]
    for i in range(m):
        for g in unranked:
            emit(Edit("replace", i + 1, ranking[i], new_goal=g))
    if m < max_rank:
        for i in range(m + 1):
            for g in unranked:
                emit(Edit("add", i + 1, new_goal=g))
    return out


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Change:
    """The smallest change of a ranking that moves the municipality to ``type_id``."""

    type_id: str
    ranking: tuple[str, ...]
    edits: tuple[Edit, ...]
    points_change: int  # L1 distance of the rank points
    probabilities: dict[str, float]
    distances: dict[str, float]
    mischform: bool

    @property
    def n_edits(self) -> int:
        return len(self.edits)

    def label(self, lang: str | None = None) -> str:
        return type_label(self.type_id, lang)

    def sentence(self, lang: str | None = None) -> str:
        """The change in words: "Wenn …, wäre die Kommune vom Typ »…«."""
        lang = lang or get_lang()
        clauses = t("selfcheck.edit.join", lang=lang).join(e.describe(lang) for e in self.edits)
        return t(
            "selfcheck.edit.sentence",
            lang=lang,
            edits=clauses,
            type=type_label(self.type_id, lang),
            probability=format_percent(self.probabilities[self.type_id], lang, 0),
        )

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "type": self.type_id,
            "label": self.label(lang),
            "ranking": list(self.ranking),
            "edits": [e.to_dict() for e in self.edits],
            "n_edits": self.n_edits,
            "points_change": self.points_change,
            "sentence": self.sentence(lang),
            "probabilities": dict(self.probabilities),
            "distances": dict(self.distances),
            "mischform": self.mischform,
        }


@dataclass(frozen=True)
class Explanation:
    """What would change a municipality's type: ``change`` leads to the nearest other type
    (None when no ranking reaches any other type); ``alternatives`` has one change per other
    reachable type, nearest type first."""

    ranking: tuple[str, ...]
    type_id: str
    probabilities: dict[str, float]
    distances: dict[str, float]
    nearest_type: str | None
    change: Change | None
    alternatives: tuple[Change, ...] = field(default_factory=tuple)
    model_id: str = ""

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "ranking": list(self.ranking),
            "type": self.type_id,
            "probabilities": dict(self.probabilities),
            "distances": dict(self.distances),
            "nearest_type": self.nearest_type,
            "change": None if self.change is None else self.change.to_dict(lang),
            "alternatives": [c.to_dict(lang) for c in self.alternatives],
            "model_id": self.model_id,
        }


# ------------------------------------------------------------------------------ search
@dataclass(frozen=True)
class _Graph:
    """Every ranking of the search and its one-edit neighbours (model-independent, so built
    once per question shape and cached: immutable)."""

    rankings: tuple[tuple[str, ...], ...]
    index: dict[tuple[str, ...], int]
    points: np.ndarray  # (r, d), read-only
    edges: tuple[tuple[tuple[Edit, int], ...], ...]


def _points(rankings: Sequence[tuple[str, ...]], options: Sequence[str], max_rank: int):
    col = {g: i for i, g in enumerate(options)}
    points = np.zeros((len(rankings), len(options)))
    for r, ranking in enumerate(rankings):
        for rank, goal in enumerate(ranking, start=1):
            points[r, col[goal]] = max_rank + 1 - rank
    return points


@cache
def _graph(options: tuple[str, ...], max_rank: int, min_len: int) -> _Graph:
    rankings: list[tuple[str, ...]] = []
    for length in range(min_len, max_rank + 1):
        rankings.extend(itertools.permutations(options, length))
    index = {r: i for i, r in enumerate(rankings)}
    points = _points(rankings, options, max_rank)
    points.setflags(write=False)
    edges = tuple(
        tuple((edit, index[new]) for edit, new in neighbours(r, options, max_rank))
        for r in rankings
    )
    return _Graph(tuple(rankings), index, points, edges)


def _bfs(graph: _Graph, start: int) -> tuple[np.ndarray, np.ndarray, list[Edit | None]]:
    """Fewest elementary edits from ``start`` to every ranking: (depth, parent, edit from the
    parent) per ranking index; depth -1 = unreachable."""
    n = len(graph.rankings)
    depth = np.full(n, -1, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    via: list[Edit | None] = [None] * n
    depth[start] = 0
    queue = deque([start])
    while queue:
        node = queue.popleft()
        d = depth[node] + 1
        for edit, j in graph.edges[node]:
            if depth[j] < 0:
                depth[j], parent[j], via[j] = d, node, edit
                queue.append(j)
    return depth, parent, via


def _path(parent: np.ndarray, via: list[Edit | None], node: int) -> tuple[Edit, ...]:
    edits: list[Edit] = []
    while parent[node] >= 0:
        edit = via[node]
        assert edit is not None
        edits.append(edit)
        node = int(parent[node])
    return tuple(reversed(edits))


@dataclass(frozen=True)
class RankingSpace:
    """Every ranking of the search classified by one model (:func:`ranking_space`); pass it to
    :func:`explain` to explain many rankings under the same model without classifying the
    rankings again."""

    graph: _Graph
    model_id: str
    labels: np.ndarray  # (r,) index into type_ids
    proba: np.ndarray  # (r, k)
    dist: np.ndarray  # (r, k)
    type_ids: tuple[str, ...]
    mischform_threshold: float


def ranking_space(
    model: ModelInfo | None = None, codebook: Codebook | None = None, min_len: int | None = None
) -> RankingSpace:
    """Classify every ranking of ``min_len`` (default: ``max_rank``) up to ``max_rank`` goals."""
    from kommunaltypen import service

    cb = codebook or default_codebook()
    info = model or service.default_model()
    question = cb.typology_question
    max_rank = int(question.max_rank or 3)
    graph = _graph(tuple(o.id for o in question.options), max_rank, min_len or max_rank)
    typology = info.typology
    return RankingSpace(
        graph=graph,
        model_id=info.model_id,
        labels=np.asarray(typology.predict(graph.points)),
        proba=np.asarray(typology.predict_proba(graph.points)),
        dist=np.asarray(typology.transform(graph.points)),
        type_ids=tuple(typology.type_ids_),
        mischform_threshold=float(typology.mischform_threshold),
    )


def explain(
    goals: Sequence[str],
    model: ModelInfo | None = None,
    codebook: Codebook | None = None,
    *,
    space: RankingSpace | None = None,
) -> Explanation:
    """The nearest other type of a ranking and the smallest change that leads there.

    ``goals``: goal ids, codes or labels, most important first (as :func:`service.classify`
    takes them). ``space``: a :func:`ranking_space` of the same model, to explain many
    rankings at the cost of one classification of the search space. Raises
    :class:`kommunaltypen.service.InvalidInput` for an invalid ranking."""
    from kommunaltypen import service

    cb = codebook or default_codebook()
    info = model or service.default_model()
    current = _classify(goals, info, cb)
    start = tuple(current.goals)
    if space is None or space.model_id != info.model_id or start not in space.graph.index:
        space = ranking_space(info, cb, min_len=len(start))
    graph = space.graph
    own = graph.index[start]
    own_type = int(space.labels[own])
    depth, parent, via = _bfs(graph, own)

    reachable = (depth >= 0) & (space.labels >= 0) & (space.labels != own_type)
    l1 = np.abs(graph.points - graph.points[own]).sum(axis=1)
    best: dict[int, int] = {}
    for label in np.unique(space.labels[reachable]):
        candidates = np.flatnonzero(reachable & (space.labels == label))
        # fewest edits, then least change of points, then the clearest claim, then goal order
        order = np.lexsort(
            (candidates, -space.proba[candidates, label], l1[candidates], depth[candidates])
        )
        best[int(label)] = int(candidates[order[0]])

    def change(label: int) -> Change:
        r = best[label]
        proba = space.proba[r]
        return Change(
            type_id=space.type_ids[label],
            ranking=graph.rankings[r],
            edits=_path(parent, via, r),
            points_change=round(float(l1[r])),
            probabilities={tid: float(p) for tid, p in zip(space.type_ids, proba, strict=True)},
            distances={tid: float(d) for tid, d in zip(space.type_ids, space.dist[r], strict=True)},
            mischform=bool(proba.max() < space.mischform_threshold),
        )

    # other types, nearest centre first
    by_distance = [int(j) for j in np.argsort(space.dist[own], kind="stable") if int(j) != own_type]
    alternatives = tuple(change(j) for j in by_distance if j in best)
    return Explanation(
        ranking=start,
        type_id=current.type_id,
        probabilities=dict(current.probabilities),
        distances=dict(current.distances),
        nearest_type=space.type_ids[by_distance[0]] if by_distance else None,
        change=alternatives[0] if alternatives else None,
        alternatives=alternatives,
        model_id=info.model_id,
    )


def _classify(goals: Sequence[str], info: ModelInfo, cb: Codebook) -> Classification:
    from kommunaltypen import service

    return service.classify(goals, info, cb)


# ------------------------------------------------------------------------------ profile
@dataclass(frozen=True)
class GoalPoint:
    goal_id: str
    own: float
    centres: dict[str, float]  # type id -> centre's points for this goal

    def label(self, lang: str | None = None) -> str:
        return goal_name(self.goal_id, lang)


@dataclass(frozen=True)
class GoalProfile:
    """The municipality's rank points per goal and each type's centre (data for a chart)."""

    type_ids: tuple[str, ...]
    goals: tuple[GoalPoint, ...]
    max_points: int
    own_type: str | None = None

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "type_ids": list(self.type_ids),
            "type_labels": {tid: type_label(tid, lang) for tid in self.type_ids},
            "own_type": self.own_type,
            "max_points": self.max_points,
            "goals": [
                {"goal": g.goal_id, "label": g.label(lang), "own": g.own, "centres": g.centres}
                for g in self.goals
            ],
        }


def goal_profile(
    goals: Sequence[str],
    model: ModelInfo | None = None,
    codebook: Codebook | None = None,
) -> GoalProfile:
    """Own points per goal (1st = ``max_rank`` … not ranked = 0) beside every type centre."""
    from kommunaltypen import service

    cb = codebook or default_codebook()
    info = model or service.default_model()
    current = _classify(goals, info, cb)
    question = cb.typology_question
    max_rank = int(question.max_rank or 3)
    options = [o.id for o in question.options]
    own = _points([tuple(current.goals)], options, max_rank)[0]
    centres = np.asarray(info.typology.cluster_centers_)
    type_ids = tuple(info.typology.type_ids_)
    return GoalProfile(
        type_ids=type_ids,
        goals=tuple(
            GoalPoint(
                goal_id=g,
                own=float(own[i]),
                centres={tid: float(centres[k, i]) for k, tid in enumerate(type_ids)},
            )
            for i, g in enumerate(options)
        ),
        max_points=max_rank,
        own_type=current.type_id,
    )


#: one marker shape per type (order of the model's types), so colour is not the only cue
_SHAPES = ("circle", "square", "triangle", "diamond", "cross", "circle")


def _marker(shape: str, x: float, y: float, colour: str, r: float = 5.5) -> str:
    common = f'fill="{colour}" stroke="#1b1f24" stroke-width="0.8"'
    if shape == "square":
        size = f'width="{2 * r:.1f}" height="{2 * r:.1f}"'
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" {size} {common}/>'
    if shape == "triangle":
        pts = f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y + r:.1f} {x - r - 1:.1f},{y + r:.1f}"
        return f'<polygon points="{pts}" {common}/>'
    if shape == "diamond":
        pts = (
            f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} "
            f"{x:.1f},{y + r + 1:.1f} {x - r - 1:.1f},{y:.1f}"
        )
        return f'<polygon points="{pts}" {common}/>'
    if shape == "cross":
        return (
            f'<path d="M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}'
            f'L{x + r:.1f},{y - r:.1f}" stroke="{colour}" stroke-width="2.5"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {common}/>'


def profile_svg(profile: GoalProfile, lang: str | None = None, id_prefix: str = "gp") -> str:
    """The goal profile as an SVG dot chart: one line per goal, a grey bar for the
    municipality's own points and one marker per type centre (colour and shape), with a
    legend, axis labels, ``<title>`` and ``<desc>``; plain SVG, no script, fixed viewBox so it
    scales in a web page and in the PDF."""
    lang = lang or get_lang()
    esc = html.escape
    label_w, plot_w, right, row_h = 190.0, 380.0, 24.0, 22.0
    width = label_w + plot_w + right
    n = len(profile.goals)
    scale = plot_w / max(profile.max_points, 1)

    # legend first (it decides where the plot starts): own points, then one entry per type
    legend: list[str] = []
    lx, ly = 10.0, 16.0
    own_label = t("selfcheck.chart.own", lang=lang)
    legend.append(
        f'<rect x="{lx:.1f}" y="{ly - 6:.1f}" width="22" height="12" fill="#b9c0c8" '
        f'stroke="#5b6470" stroke-width="0.6"/>'
        f'<text x="{lx + 28:.1f}" y="{ly + 4:.1f}">{esc(own_label)}</text>'
    )
    lx += 44 + 6.8 * len(own_label)
    for k, tid in enumerate(profile.type_ids):
        name = t("selfcheck.chart.centre", lang=lang, type=type_label(tid, lang))
        if lx + 24 + 6.8 * len(name) > width:
            lx, ly = 10.0, ly + 20
        legend.append(_marker(_SHAPES[k % len(_SHAPES)], lx + 6, ly, type_colour(tid)))
        legend.append(f'<text x="{lx + 16:.1f}" y="{ly + 4:.1f}">{esc(name)}</text>')
        lx += 34 + 6.8 * len(name)
    top = ly + 26.0
    bottom = top + n * row_h
    height = bottom + 40.0

    title = t("selfcheck.chart.title", lang=lang)
    own_points = ", ".join(f"{g.label(lang)} {g.own:.0f}" for g in profile.goals if g.own > 0)
    desc = t(
        "selfcheck.chart.desc",
        lang=lang,
        own=own_points or t("selfcheck.chart.none", lang=lang),
        type=type_label(profile.own_type, lang) if profile.own_type else "–",
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" class="goal-profile" '
        f'aria-labelledby="{id_prefix}-title {id_prefix}-desc" '
        f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12" fill="#1b1f24">',
        f'<title id="{id_prefix}-title">{esc(title)}</title>',
        f'<desc id="{id_prefix}-desc">{esc(desc)}</desc>',
        *legend,
    ]
    for i in range(n):  # zebra rows behind the grid
        if i % 2 == 0:
            parts.append(
                f'<rect x="0" y="{top + i * row_h:.1f}" width="{width:.0f}" '
                f'height="{row_h:.1f}" fill="#f5f7fa"/>'
            )
    x0 = label_w
    for p in range(profile.max_points + 1):
        x = x0 + p * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
            f'stroke="#c3c9d0" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{bottom + 15:.1f}" text-anchor="middle">{p}</text>'
        )
    axis = t("selfcheck.chart.axis", lang=lang)
    parts.append(
        f'<text x="{x0 + plot_w / 2:.1f}" y="{bottom + 33:.1f}" text-anchor="middle" '
        f'fill="#5b6470">{esc(axis)}</text>'
    )
    for i, g in enumerate(profile.goals):
        y = top + i * row_h + row_h / 2
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(g.label(lang))}</text>"
        )
        if g.own > 0:
            parts.append(
                f'<rect x="{x0:.1f}" y="{y - 7:.1f}" width="{g.own * scale:.1f}" height="14" '
                f'fill="#b9c0c8" stroke="#5b6470" stroke-width="0.6"/>'
            )
        for k, tid in enumerate(profile.type_ids):
            x = x0 + g.centres[tid] * scale
            parts.append(_marker(_SHAPES[k % len(_SHAPES)], x, y, type_colour(tid), 4.5))
    parts.append("</svg>")
    return "".join(parts)
