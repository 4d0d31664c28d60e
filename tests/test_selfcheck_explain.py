"""The Typ-Check's explanation: the smallest change of a ranking that leads to another type,
checked over all 720 top-3 rankings against an independent edit distance, and the goal
profile chart."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from kommunaltypen import service
from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import use_lang
from kommunaltypen.selfcheck import explain as ex

OPTIONS = [o.id for o in default_codebook().typology_question.options]
ALL_TOP3 = list(itertools.permutations(OPTIONS, 3))


def _distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """Fewest elementary edits between two top-3 rankings, in closed form: reordering the same
    three goals is one swap or one move; each goal that leaves the ranking costs one
    replacement, and replacements keep positions, so the shared goals must already stand where
    they should or one more reordering is needed."""
    if a == b:
        return 0
    shared = set(a) & set(b)
    replaced = 3 - len(shared)
    if replaced == 0:
        return 1
    in_place = all(a.index(g) == b.index(g) for g in shared)
    return replaced if in_place else replaced + 1


def _points(ranking: tuple[str, ...]) -> np.ndarray:
    p = np.zeros(len(OPTIONS))
    for rank, goal in enumerate(ranking):
        p[OPTIONS.index(goal)] = 3 - rank
    return p


@pytest.fixture(scope="module")
def model() -> service.ModelInfo:
    return service.default_model()


@pytest.fixture(scope="module")
def classified(model) -> dict[tuple[str, ...], str]:
    """Every top-3 ranking's type, straight from the model (independent of the search)."""
    points = np.vstack([_points(r) for r in ALL_TOP3])
    labels = model.typology.predict(points)
    return {r: model.typology.type_ids_[i] for r, i in zip(ALL_TOP3, labels, strict=True)}


def test_closed_form_distance_matches_the_elementary_edits() -> None:
    """The test's own distance agrees with the module's one-edit neighbourhood (sanity check of
    the oracle on a sample)."""
    for start in ALL_TOP3[::37]:
        one = {new for _, new in ex.neighbours(start, OPTIONS, 3)}
        assert {r for r in ALL_TOP3 if _distance(start, r) == 1} == one


def test_every_suggestion_classifies_as_named_and_no_cheaper_edit_does(model, classified) -> None:
    space = ex.ranking_space(model)
    checked = 0
    for start in ALL_TOP3:
        e = ex.explain(start, model, space=space)
        assert e.type_id == classified[start]
        assert e.alternatives, start
        others = {tid for tid in model.typology.type_ids_ if tid != e.type_id}
        assert {c.type_id for c in e.alternatives} == others  # every type is reachable
        # the nearest other type by distance is the one explained first
        nearest = min(others, key=lambda tid: e.distances[tid])
        assert e.nearest_type == nearest and e.change is not None
        assert e.change.type_id == nearest
        for change in e.alternatives:
            target = change.ranking
            # the suggested ranking really is of the named type
            assert classified[target] == change.type_id, (start, change)
            # the edits lead there, one after the other
            ranking = start
            for edit in change.edits:
                ranking = ex.apply_edit(ranking, edit)
            assert ranking == target
            cost = _distance(start, target)
            assert change.n_edits == cost
            l1 = np.abs(_points(target) - _points(start)).sum()
            assert change.points_change == int(l1)
            # no cheaper edit reaches the type, and no edit as cheap changes fewer points
            for other in ALL_TOP3:
                if classified[other] != change.type_id:
                    continue
                d = _distance(start, other)
                assert d >= cost, (start, change.type_id, other)
                if d == cost:
                    assert np.abs(_points(other) - _points(start)).sum() >= l1
            checked += 1
    assert checked == 720 * 3


def test_sentences_name_goals_ranks_and_type(model) -> None:
    e = ex.explain(["effizienz", "leistungsangebot", "buergernaehe"], model)
    assert e.type_id == "optimierer"
    by_type = {c.type_id: c for c in e.alternatives}
    bed = by_type["bedaechtige"]
    assert bed.edits[0].kind == "replace" and bed.edits[0].rank == 1
    assert bed.sentence("de").startswith(
        "Wenn »Rechtliche Vorgaben« statt »Effizienz« an erster Stelle stünde, "
        "wäre die Kommune vom Typ »Bedächtige«"
    )
    assert bed.sentence("en").startswith(
        "If “Legal requirements” were ranked first instead of “Efficiency”, "
        "the municipality would be of the type “Cautious”"
    )
    with use_lang("en"):
        assert "Cautious" in bed.to_dict()["sentence"]


def test_shorter_rankings_may_add_a_goal(model) -> None:
    e = ex.explain(["buergernaehe"], model)
    assert e.type_id == "serviceorientierte"
    assert e.change is not None and e.change.n_edits == 1
    assert e.change.edits[0].kind in {"add", "replace"}
    assert service.classify(list(e.change.ranking), model).type_id == e.change.type_id


def test_invalid_ranking_is_refused(model) -> None:
    with pytest.raises(service.InvalidInput):
        ex.explain(["effizienz", "effizienz"], model)


def test_goal_profile_and_accessible_svg(model) -> None:
    profile = ex.goal_profile(["effizienz", "leistungsangebot", "buergernaehe"], model)
    own = {g.goal_id: g.own for g in profile.goals}
    assert own["effizienz"] == 3 and own["leistungsangebot"] == 2 and own["buergernaehe"] == 1
    assert sum(own.values()) == 6
    centres = np.asarray(model.typology.cluster_centers_)
    assert profile.goals[0].centres[profile.type_ids[0]] == pytest.approx(centres[0, 0])
    for lang, label in (("de", "Effizienz"), ("en", "Efficiency")):
        svg = ex.profile_svg(profile, lang, id_prefix="x")
        root = ET.fromstring(svg)  # well-formed
        ns = "{http://www.w3.org/2000/svg}"
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == "x-title x-desc"
        assert root.find(f"{ns}title").text and root.find(f"{ns}desc").text
        texts = [el.text for el in root.iter(f"{ns}text")]
        assert label in texts
        assert "<script" not in svg
        assert len([tx for tx in texts if tx in {g.label(lang) for g in profile.goals}]) == 10
