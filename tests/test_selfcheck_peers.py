"""Peer groups and the small-group rule of the public Typ-Check: never fewer than 5 other
municipalities, never two nested figures whose bases differ by fewer than 5."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from kommunaltypen import service
from kommunaltypen.analysis import run_analysis
from kommunaltypen.selfcheck import peers

ROW = (5, "strategie_vorhanden")  # base: every municipality that answered `strategie`


@pytest.fixture(scope="module")
def analysis():
    return run_analysis(n_bootstrap=0, k_choice=False)


def _answers(row: dict, **changes) -> dict:
    answers = {k: v for k, v in row.items() if v is not None and not k.startswith("__")}
    answers.update(changes)
    return answers


def _variant(analysis, data: pl.DataFrame, types: pl.Series):
    """The analysis with other data (the tables' declarations stay)."""
    return dataclasses.replace(analysis, data=data, types=types)


def _with_index(analysis) -> pl.DataFrame:
    return analysis.data.with_columns(analysis.types.alias("__t")).with_row_index("__i")


def _compare(result, answers, kind, **kw):
    basis = service.comparison_basis(result)
    evaluation = service.evaluate(answers, basis)
    return peers.compare(peers.peer_basis(basis), evaluation, kind, **kw), evaluation


def _complete(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("strategie").is_not_null())


# ------------------------------------------------------------------------------ the rule alone
def test_rule_small_groups() -> None:
    for n, shown in ((4, False), (5, True), (1, False), (0, True)):
        reasons = peers.suppress({"all": 100, "type": 40, "peer": n, "type_peer": 0}, GROUPS3)
        assert (reasons["peer"] is None) is shown, n
    reason = peers.suppress({"all": 100, "type": 4, "peer": 50, "type_peer": 2}, GROUPS3)["type"]
    assert reason is not None and reason.message_id == "selfcheck.suppressed.small"
    assert "5" in reason.text("de") and "5" in reason.text("en")


GROUPS3 = ("all", "type", "peer")


def test_rule_nested_groups() -> None:
    # peer ⊂ all, 3 apart: suppressed; 5 apart: shown; identical: shown (nothing to subtract)
    for all_n, shown in ((23, False), (25, True), (20, True), (24, False)):
        reasons = peers.suppress({"all": all_n, "type": 0, "peer": 20, "type_peer": 0}, GROUPS3)
        assert (reasons["peer"] is None) is shown, all_n
    reason = peers.suppress({"all": 23, "type": 0, "peer": 20, "type_peer": 0}, GROUPS3)["peer"]
    assert reason.message_id == "selfcheck.suppressed.difference"
    assert "alle Kommunen" in reason.text("de") and "all municipalities" in reason.text("en")
    # type ∩ peer ⊂ type, 3 apart
    counts = {"all": 200, "type": 40, "peer": 80, "type_peer": 37}
    assert peers.suppress(counts, (*GROUPS3, "type_peer"))["type_peer"] is not None
    counts["type_peer"] = 35
    assert peers.suppress(counts, (*GROUPS3, "type_peer"))["type_peer"] is None
    # type and peer: not nested (intersection smaller than both) -> any difference is fine
    counts = {"all": 200, "type": 40, "peer": 42, "type_peer": 20}
    assert all(r is None for r in peers.suppress(counts, GROUPS3).values())
    # ... but nested by chance (every type member is in the peer group) and 2 apart: suppressed
    counts = {"all": 200, "type": 40, "peer": 42, "type_peer": 40}
    assert peers.suppress(counts, GROUPS3)["peer"] is not None


# ------------------------------------------------------------------------------ on data
@pytest.mark.parametrize("members, shown", [(4, False), (5, True)])
def test_peer_group_of_four_suppressed_five_shown(analysis, members, shown) -> None:
    frame = _with_index(analysis)
    template = _complete(frame.filter(pl.col("bundesland") != 10)).row(0, named=True)
    rest = frame.filter(pl.col("bundesland") != 10)
    copies = pl.concat(
        [
            frame.filter(pl.col("__i") == template["__i"]).with_columns(
                pl.lit(10, dtype=frame["bundesland"].dtype).alias("bundesland"),
                pl.lit(f"saar-{k}").alias("kommune_id"),
            )
            for k in range(members)
        ]
    )
    data = pl.concat([rest, copies])
    result = _variant(analysis, data.drop("__i", "__t"), data["__t"].alias("type"))
    viewer = _answers(template, kommune_id="viewer", bundesland=10)
    comparison, _ = _compare(result, viewer, "bundesland")
    figure = comparison.row(*ROW).figures["peer"]
    assert figure.suppressed is not shown
    if shown:
        assert figure.n == members and figure.value is not None
    else:
        assert figure.value is None and figure.n is None
        assert figure.reason.message_id == "selfcheck.suppressed.small"
    assert not comparison.own_in_data


def test_own_answers_in_the_data_do_not_count(analysis) -> None:
    """Five members, one of them the viewing municipality itself: four others -> suppressed
    (it would be shown if the viewer were counted)."""
    frame = _with_index(analysis)
    template = _complete(frame.filter(pl.col("bundesland") != 10)).row(0, named=True)
    rest = frame.filter((pl.col("bundesland") != 10) & (pl.col("__i") != template["__i"]))
    ids = ["viewer", "s1", "s2", "s3", "s4"]
    copies = pl.concat(
        [
            frame.filter(pl.col("__i") == template["__i"]).with_columns(
                pl.lit(10, dtype=frame["bundesland"].dtype).alias("bundesland"),
                pl.lit(i).alias("kommune_id"),
            )
            for i in ids
        ]
    )
    data = pl.concat([rest, copies])
    result = _variant(analysis, data.drop("__i", "__t"), data["__t"].alias("type"))
    comparison, _ = _compare(
        result, _answers(template, kommune_id="viewer", bundesland=10), "bundesland"
    )
    assert comparison.own_in_data
    figure = comparison.row(*ROW).figures["peer"]
    assert figure.suppressed and figure.reason.message_id == "selfcheck.suppressed.small"
    # the same group seen by an outsider (5 others) is shown
    comparison, _ = _compare(
        result, _answers(template, kommune_id="outsider", bundesland=10), "bundesland"
    )
    assert not comparison.row(*ROW).figures["peer"].suppressed
    assert comparison.row(*ROW).figures["peer"].n == 5


@pytest.mark.parametrize("outside, shown", [(3, False), (5, True)])
def test_nested_groups_differing_by_three_suppressed(analysis, outside, shown) -> None:
    """Peer group = everyone but ``outside`` municipalities: peer ⊂ all."""
    frame = _with_index(analysis)
    answered = _complete(frame)
    out_ids = answered["__i"].head(outside).to_list()
    kind_dtype = frame["kommunenart"].dtype
    data = frame.with_columns(
        pl.when(pl.col("__i").is_in(out_ids))
        .then(pl.lit(4, dtype=kind_dtype))
        .otherwise(pl.lit(3, dtype=kind_dtype))
        .alias("kommunenart")
    )
    result = _variant(analysis, data.drop("__i", "__t"), data["__t"].alias("type"))
    viewer = _answers(answered.row(outside + 1, named=True), kommune_id="viewer", kommunenart=3)
    comparison, _ = _compare(result, viewer, "kommunenart")
    row = comparison.row(*ROW)
    assert not row.figures["all"].suppressed
    assert row.figures["peer"].suppressed is not shown
    if not shown:
        assert row.figures["peer"].reason.message_id == "selfcheck.suppressed.difference"
        assert row.figures["peer"].value is None


def test_type_within_peer_nested_in_type_differing_by_three(analysis) -> None:
    frame = _with_index(analysis)
    answered = _complete(frame)
    viewer_row = answered.filter(pl.col("__t") == "optimierer").row(0, named=True)
    viewer = _answers(viewer_row, kommune_id="viewer", kommunenart=3)
    evaluation = service.evaluate(viewer, service.comparison_basis(analysis))
    type_id = evaluation.classification.type_id
    same_type = answered.filter(pl.col("__t") == type_id)["__i"].head(3).to_list()
    others = answered.filter(pl.col("__t") != type_id)["__i"].head(10).to_list()
    kind_dtype = frame["kommunenart"].dtype
    data = frame.with_columns(
        pl.when(pl.col("__i").is_in(same_type + others))
        .then(pl.lit(4, dtype=kind_dtype))
        .otherwise(pl.lit(3, dtype=kind_dtype))
        .alias("kommunenart")
    )
    result = _variant(analysis, data.drop("__i", "__t"), data["__t"].alias("type"))
    comparison, _ = _compare(result, viewer, "kommunenart", with_type_peer=True)
    row = comparison.row(*ROW)
    assert comparison.groups == ("all", "type", "peer", "type_peer")
    assert not row.figures["type"].suppressed and not row.figures["peer"].suppressed
    assert row.figures["type_peer"].suppressed
    assert row.figures["type_peer"].reason.message_id == "selfcheck.suppressed.difference"


def test_figures_match_the_tables(analysis) -> None:
    """All and type figures are the tables' own cells (no peer group: nothing suppressed in
    the bundled data's large groups)."""
    viewer = _answers(analysis.data.row(5, named=True), kommune_id="viewer")
    comparison, evaluation = _compare(analysis, viewer, "kommunenart")
    places = {(p.table, p.row_id): p for p in evaluation.places}
    checked = 0
    for row in comparison.rows:
        place = places[(row.table, row.row_id)]
        fig = row.figures["all"]
        if place.total_n is None:  # Table 1 has no total column
            continue
        checked += 1
        assert fig.n == place.total_n
        assert fig.value == pytest.approx(place.total_value)
        if place.type_n:
            assert row.figures["type"].n == place.type_n
            assert row.figures["type"].value == pytest.approx(place.type_value)
        if row.numeric and place.spread is not None:
            assert fig.median == pytest.approx(place.spread.median)
    assert checked > 50


def test_peer_groups_of_answers(analysis) -> None:
    row = analysis.data.row(0, named=True)
    group = peers.peer_group_of(row, "groessenklasse")
    assert group is not None and group.kind == "groessenklasse"
    assert "Einwohner" in group.label("de") and "inhabitants" in group.label("en")
    assert peers.peer_group_of({"einwohner": 4999}, "groessenklasse").code == 0
    assert peers.peer_group_of({"einwohner": 5000}, "groessenklasse").code == 1
    assert (
        peers.peer_group_of({"bundesland": 9}, "bundesland").label("de") == "Gleiches Land: Bayern"
    )
    assert peers.peer_group_of({}, "bundesland") is None
    with pytest.raises(peers.KommunaltypenError, match="kreis_gruppe"):
        peers.peer_group_of(row, "kreis_gruppe")
