"""The table engine on small hand-made canonical frames: every measure, base rule, layout."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats as st

from kommunaltypen.codebook import default_codebook
from kommunaltypen.errors import TableSpecError
from kommunaltypen.io.synthetic import random_canonical
from kommunaltypen.tables import compute_tables, load_tables, parse_tables, tables_frame
from kommunaltypen.validate import canonical_schema

CB = default_codebook()
B, OPT, S, C = "bedaechtige", "optimierer", "serviceorientierte", "community_manager"


SCHEMA = canonical_schema(CB)  # narrow integers (Int8 for option columns), as validated


def _dtype(column: str) -> pl.DataType:
    return SCHEMA[column]


def canonical(records: list[dict[str, Any]]) -> pl.DataFrame:
    """A canonical frame (all codebook columns, canonical dtypes) holding ``records``."""
    data = {
        col: pl.Series(col, [r.get(col) for r in records], dtype=_dtype(col)) for col in CB.columns
    }
    return pl.DataFrame(data)


def table(layout: str, *rows: dict[str, Any], number: int = 90) -> dict[str, Any]:
    return {
        "number": number,
        "caption_de": f"Testtabelle {number}",
        "columns": layout,
        "rows": list(rows),
    }


def run(records, types, *tables, **kw):
    specs = parse_tables({"tables": list(tables)}, "test.yaml")
    return compute_tables(canonical(records), types, specs, **kw)


def cell(result, row_label: str, column_label: str):
    row = next(r for r in result.rows if r.spec.label_de == row_label)
    return row.cell(column_label)


# ----------------------------------------------------------------------------- measures
def test_share_with_where_and_item_nonresponse() -> None:
    records = [
        {"strategie": 1, "fim": 1},
        {"strategie": 2, "fim": 0},
        {"strategie": 3, "fim": 1},  # excluded by where
        {"strategie": 1, "fim": None},  # item non-response: not in base
        {"strategie": 2, "fim": 1},  # untyped: only in Gesamt
    ]
    types = [B, B, B, OPT, None]
    (res,) = run(
        records,
        types,
        table(
            "types_total",
            {
                "label_de": "FIM",
                "measure": "share",
                "column": "fim",
                "values": [1],
                "where": [{"column": "strategie", "in": [1, 2]}],
            },
        ),
    )
    b = cell(res, "FIM", "Bedächtige")
    assert (b.value, b.n, b.successes) == (50.0, 2, 1.0)
    o = cell(res, "FIM", "Optimierer")
    assert (o.value, o.n) == (None, 0)
    g = cell(res, "FIM", "Gesamt")
    assert g.n == 3 and g.value == pytest.approx(200 / 3)
    lo, hi = st.binomtest(1, 2).proportion_ci(method="wilson")
    assert (b.ci_low, b.ci_high) == (pytest.approx(lo * 100), pytest.approx(hi * 100))


def test_where_not_null() -> None:
    records = [
        {"fim": 1, "strategie": 1},
        {"fim": 0, "strategie": None},
        {"fim": 0, "strategie": 3},
    ]
    (res,) = run(
        records,
        [B, B, B],
        table(
            "types",
            {
                "label_de": "x",
                "measure": "share",
                "column": "fim",
                "values": [1],
                "where": [{"column": "strategie", "not_null": True}],
            },
        ),
    )
    assert cell(res, "x", "Bedächtige").n == 2
    assert cell(res, "x", "Bedächtige").value == 50.0


def test_share_none_with_and_without_base_column() -> None:
    cols = ["glasfaser_eigenregie", "glasfaser_lokale_akteure"]
    records = [
        {"glasfaser_eigenregie": 0, "glasfaser_lokale_akteure": 0, "strategie": 1},  # none
        {"glasfaser_eigenregie": 1, "glasfaser_lokale_akteure": 0, "strategie": 1},
        {"glasfaser_eigenregie": None, "glasfaser_lokale_akteure": None, "strategie": 2},
        {"glasfaser_eigenregie": None, "glasfaser_lokale_akteure": None, "strategie": None},
    ]
    types = [S] * 4
    (res,) = run(
        records,
        types,
        table(
            "types",
            {"label_de": "keins", "measure": "share_none", "columns": cols},
            {
                "label_de": "keins (alle mit Strategieangabe)",
                "measure": "share_none",
                "columns": cols,
                "base_column": "strategie",
            },
        ),
    )
    a = cell(res, "keins", "Serviceorientierte")
    assert (a.n, a.value) == (2, 50.0)
    # with base_column: the unanswered row 3 counts as "none ticked"; row 4 is not in the base
    b = cell(res, "keins (alle mit Strategieangabe)", "Serviceorientierte")
    assert b.n == 3 and b.value == pytest.approx(200 / 3)


def test_mean_and_mean_count() -> None:
    cols = ["basiskomponenten_chatbots", "basiskomponenten_dms", "basiskomponenten_de_mail"]
    records = [
        {cols[0]: 1, cols[1]: 1, cols[2]: 0, "datenbestandsaufnahme": 3},
        {cols[0]: 0, cols[1]: 1, cols[2]: None, "datenbestandsaufnahme": 0},
        {cols[0]: None, cols[1]: None, cols[2]: None, "datenbestandsaufnahme": None},
    ]
    (res,) = run(
        records,
        [C, C, C],
        table(
            "types",
            {"label_de": "Anzahl", "measure": "mean_count", "columns": cols, "precision": 2},
            {
                "label_de": "Grad",
                "measure": "mean",
                "column": "datenbestandsaufnahme",
                "precision": 2,
            },
        ),
    )
    a = cell(res, "Anzahl", "Community Manager")
    assert (a.n, a.value) == (2, 1.5)
    g = cell(res, "Grad", "Community Manager")
    assert (g.n, g.value) == (2, 1.5)
    # t interval of the mean, clipped to the scale the codebook declares (0..3): with n = 2
    # the raw interval reaches far past both ends
    half = st.t.ppf(0.975, 1) * np.std([3, 0], ddof=1) / np.sqrt(2)
    assert 1.5 - half < 0 and 1.5 + half > 3
    assert (g.ci_low, g.ci_high) == (0.0, 3.0)
    # the mean number of ticked options is bounded by 0..len(cols)
    assert (a.ci_low, a.ci_high) == (0.0, float(len(cols)))


def test_mean_interval_inside_the_scale_is_the_plain_t_interval() -> None:
    values = [1, 2, 2, 1, 2, 1, 2, 2]
    records = [{"datenbestandsaufnahme": v} for v in values]
    (res,) = run(
        records,
        [C] * len(values),
        table("types", {"label_de": "Grad", "measure": "mean", "column": "datenbestandsaufnahme"}),
    )
    g = cell(res, "Grad", "Community Manager")
    half = st.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
    assert g.ci_low == pytest.approx(np.mean(values) - half)
    assert g.ci_high == pytest.approx(np.mean(values) + half)


def test_mean_count_with_values() -> None:
    cols = ["handlungsfelder_verwaltung", "handlungsfelder_infrastruktur"]
    records = [{cols[0]: 1, cols[1]: 3}, {cols[0]: 0, cols[1]: 2}]
    (res,) = run(
        records,
        [OPT, OPT],
        table(
            "types",
            {"label_de": "Top2", "measure": "mean_count", "columns": cols, "values": [1, 2]},
        ),
    )
    assert cell(res, "Top2", "Optimierer").value == 1.0


def test_share_sum_gives_each_option_its_own_base() -> None:
    """The study's "Summe der Anknüpfungspunkte" is the sum of per-option shares: an option
    left unanswered (null) leaves that option's base only, unlike mean_count."""
    cols = ["anknuepfung_gesamtstrategie", "anknuepfung_it_strategie"]
    records = [
        {cols[0]: 1, cols[1]: 1},
        {cols[0]: 1, cols[1]: None},  # it_strategie unanswered
        {cols[0]: 0, cols[1]: 0},
        {cols[0]: None, cols[1]: None},  # question unanswered
    ]
    (res,) = run(
        records,
        [S] * 4,
        table(
            "types_total",
            {"label_de": "Summe", "measure": "share_sum", "columns": cols, "precision": 2},
            {"label_de": "Anzahl", "measure": "mean_count", "columns": cols, "precision": 2},
        ),
    )
    summe = cell(res, "Summe", "Serviceorientierte")
    assert summe.n == 3
    assert summe.value == pytest.approx(2 / 3 + 1 / 2)  # shares over 3 and over 2 answers
    assert cell(res, "Summe", "Gesamt").value == pytest.approx(2 / 3 + 1 / 2)
    assert cell(res, "Anzahl", "Serviceorientierte").value == pytest.approx(3 / 3)
    assert summe.ci_low is None and cell(res, "Summe", "Bedächtige").n == 0
    assert next(r for r in res.rows if r.spec.label_de == "Summe").test is None


def test_mean_ratio() -> None:
    comps = ["betreiber_dms", "betreiber_de_mail", "betreiber_chatbots"]
    records = [
        {comps[0]: 2, comps[1]: 3, comps[2]: None},  # 1 of 2 municipal
        {comps[0]: 2, comps[1]: 2, comps[2]: 2},  # 3 of 3
        {comps[0]: None, comps[1]: None, comps[2]: None},  # uses none: not in base
    ]
    (res,) = run(
        records,
        [OPT, OPT, OPT],
        table(
            "types",
            {
                "label_de": "kommunal",
                "measure": "mean_ratio",
                "numerator": {"columns": comps, "values": [2]},
                "denominator": {"columns": comps, "values": [1, 2, 3]},
            },
        ),
    )
    c = cell(res, "kommunal", "Optimierer")
    assert c.n == 2 and c.value == pytest.approx(75.0)


def test_centre_and_type_share() -> None:
    records = [
        {"ziele_effizienz": 1},
        {"ziele_effizienz": 2},
        {"ziele_effizienz": 0},
        {"ziele_effizienz": 3},
        {"ziele_effizienz": 1},
    ]
    types = [OPT, OPT, OPT, B, None]
    (res,) = run(
        records,
        types,
        table(
            "types",
            {
                "label_de": "Effizienz",
                "measure": "centre",
                "column": "ziele_effizienz",
                "precision": 2,
            },
        ),
    )
    assert cell(res, "Effizienz", "Optimierer").value == pytest.approx((3 + 2 + 0) / 3)
    assert cell(res, "Effizienz", "Bedächtige").value == 1.0
    (res2,) = run(
        records,
        types,
        table("types_total", {"label_de": "Anteil OPT", "measure": "type_share", "type": OPT}),
    )
    assert cell(res2, "Anteil OPT", "Optimierer").value == 100.0
    assert cell(res2, "Anteil OPT", "Bedächtige").value == 0.0
    g = cell(res2, "Anteil OPT", "Gesamt")
    assert (g.n, g.value) == (4, 75.0)  # untyped municipalities have no type to share


def test_kommunengruppe_layout_typed_only() -> None:
    records = [
        {"kommunenart": 1},
        {"kommunenart": 1},
        {"kommunenart": 2},
        {"kommunenart": 3},
        {"kommunenart": 4},
        {"kommunenart": 4},
    ]
    types = [B, OPT, B, OPT, OPT, None]
    (res,) = run(
        records,
        types,
        table(
            "kommunengruppe_all", {"label_de": "Optimierer", "measure": "type_share", "type": OPT}
        ),
    )
    labels = [c.label_de for c in res.columns]
    assert labels == ["... Kreise", "... Städte", "... Gemeinden", "... Allen"]
    assert cell(res, "Optimierer", "... Kreise").value == 50.0
    assert cell(res, "Optimierer", "... Städte").value == 50.0
    assert cell(res, "Optimierer", "... Gemeinden").n == 1  # the untyped Gemeinde is left out
    assert cell(res, "Optimierer", "... Allen").n == 5
    assert cell(res, "Optimierer", "... Allen").value == 60.0


def test_grouped_median_kreis_vs_rest() -> None:
    # Kreise: 9 Bedächtige, populations chosen so that the grouped median is 135 000
    kreise = [80_000] + [120_000] * 5 + [170_000] * 3
    rest = [16_000] * 3 + [21_000]
    records = [{"kommunenart": 1, "einwohner": e} for e in kreise]
    records += [{"kommunenart": 4, "einwohner": e} for e in rest]
    types = [B] * len(records)
    (res,) = run(
        records,
        types,
        table(
            "kreis_vs_rest",
            {
                "label_de": "Bedächtige",
                "measure": "grouped_median",
                "column": "einwohner",
                "where": [{"column": "kommunenart", "in": [1, 2, 3, 4]}],
                "precision": 0,
            },
        ),
    )
    assert [c.label_de for c in res.columns] == ["In Kreisen", "In Städten und Gemeinden"]
    k = cell(res, "Bedächtige", "In Kreisen")
    assert (k.n, k.value) == (9, pytest.approx(135_000))
    # rest: N/2 = 2 in class 15 000–20 000 (f = 3): 15 000 + 2/3 · 5 000
    assert cell(res, "Bedächtige", "In Städten und Gemeinden").value == pytest.approx(
        18_333.33, abs=0.01
    )
    assert res.rows[0].test is not None and res.rows[0].test.test == "kruskal"


# ----------------------------------------------------------------------------- statistics
def _random_records(n: int, seed: int) -> tuple[list[dict[str, Any]], list[str | None]]:
    rng = np.random.default_rng(seed)
    records = [
        {
            "fim": int(rng.integers(0, 2)),
            "anteil_fortbildung_digital": float(rng.uniform(0, 60)),
            "open_data": int(rng.integers(0, 4)),
            "kommunenart": int(rng.integers(1, 5)),
        }
        for _ in range(n)
    ]
    types = rng.choice([B, OPT, S, C, "-"], n).tolist()
    return records, [None if x == "-" else x for x in types]


def test_row_tests_match_scipy_on_raw_data() -> None:
    records, types = _random_records(300, 5)
    (res,) = run(
        records,
        types,
        table(
            "types_total",
            {"label_de": "FIM", "measure": "share", "column": "fim", "values": [1]},
            {"label_de": "Anteil", "measure": "mean", "column": "anteil_fortbildung_digital"},
            {"label_de": "Open Data", "measure": "mean", "column": "open_data", "precision": 2},
        ),
    )
    groups = {
        t: [r for r, ty in zip(records, types, strict=True) if ty == t] for t in (B, OPT, S, C)
    }
    fim = res.rows[0].test
    tab = np.array(
        [[sum(r["fim"] for r in g), sum(1 - r["fim"] for r in g)] for g in groups.values()]
    ).T
    assert fim.test == "chi2"
    assert fim.p_value == pytest.approx(st.chi2_contingency(tab, correction=False)[1])
    anova = res.rows[1].test
    expected = st.f_oneway(*[[r["anteil_fortbildung_digital"] for r in g] for g in groups.values()])
    assert anova.test == "anova" and anova.p_value == pytest.approx(expected.pvalue)
    kw = res.rows[2].test
    expected = st.kruskal(*[[r["open_data"] for r in g] for g in groups.values()])
    assert kw.test == "kruskal" and kw.statistic == pytest.approx(expected.statistic)
    assert kw.p_value == pytest.approx(expected.pvalue)


def test_kruskal_on_counts_and_rank_points_matches_scipy() -> None:
    """Rows with few known values (mean_count, centre) count cases per value in the main
    aggregation; the test must equal scipy's on the raw values."""
    rng = np.random.default_rng(11)
    cols = ["basiskomponenten_chatbots", "basiskomponenten_dms", "basiskomponenten_de_mail"]
    records, types = [], []
    for _ in range(240):
        rec: dict[str, Any] = {c: int(rng.integers(0, 2)) for c in cols}
        rec["ziele_effizienz"] = int(rng.choice([0, 1, 2, 3]))
        records.append(rec)
        types.append(str(rng.choice([B, OPT, S, C])))
    (res,) = run(
        records,
        types,
        table(
            "types_total",
            {"label_de": "Anzahl", "measure": "mean_count", "columns": cols},
            {"label_de": "Effizienz", "measure": "centre", "column": "ziele_effizienz"},
        ),
    )
    groups = {
        t: [r for r, ty in zip(records, types, strict=True) if ty == t] for t in (B, OPT, S, C)
    }
    counts = [[sum(r[c] for c in cols) for r in g] for g in groups.values()]
    points = [
        [4 - r["ziele_effizienz"] if r["ziele_effizienz"] else 0 for r in g]
        for g in groups.values()
    ]
    for row, raw in zip(res.rows, (counts, points), strict=True):
        expected = st.kruskal(*raw)
        assert row.test.test == "kruskal"
        assert row.test.statistic == pytest.approx(expected.statistic)
        assert row.test.p_value == pytest.approx(expected.pvalue)


def test_explicit_test_choice_and_mismatch() -> None:
    records, types = _random_records(120, 8)
    (res,) = run(
        records,
        types,
        table(
            "types",
            {"label_de": "Open Data", "measure": "mean", "column": "open_data", "test": "anova"},
            {
                "label_de": "kein Test",
                "measure": "share",
                "column": "fim",
                "values": [1],
                "test": "none",
            },
        ),
    )
    assert res.rows[0].test.test == "anova"
    assert res.rows[1].test is None
    with pytest.raises(TableSpecError, match="chi2"):
        run(
            records,
            types,
            table(
                "types", {"label_de": "x", "measure": "mean", "column": "open_data", "test": "chi2"}
            ),
        )


def test_bold_marks_are_computed_per_row() -> None:
    records = [{"fim": v} for v in (1, 1, 0, 0, 1, 0, 0, 0)]
    types = [B, B, OPT, OPT, S, S, C, C]
    (res,) = run(
        records,
        types,
        table(
            "types_total", {"label_de": "FIM", "measure": "share", "column": "fim", "values": [1]}
        ),
    )
    marks = {c.column.label_de: c.bold for c in res.rows[0].cells}
    assert marks == {
        "Bedächtige": True,
        "Optimierer": False,
        "Serviceorientierte": False,
        "Community Manager": False,
        "Gesamt": False,
    }


# ----------------------------------------------------------------------------- outputs
def _table12():
    records = [{"fortbildung_trends": v} for v in (1, 2, 0, 1, 1, 2, 1, 0, 2, 1)]
    types = [B, B, B, OPT, OPT, OPT, OPT, OPT, OPT, OPT]
    return run(
        records,
        types,
        table(
            "types_total",
            {
                "label_de": "Trends – angeboten",
                "measure": "share",
                "column": "fortbildung_trends",
                "values": [1],
                "study_label": "Trends",
                "part": "angeboten",
            },
            {
                "label_de": "Trends – geplant",
                "measure": "share",
                "column": "fortbildung_trends",
                "values": [2],
                "study_label": "Trends",
                "part": "geplant",
            },
            number=12,
        ),
    )


def test_table12_pairs_give_value2() -> None:
    frame = tables_frame(_table12())
    row = frame.filter(
        (pl.col("row_label") == "Trends – angeboten") & (pl.col("column_label") == "Optimierer")
    )
    assert row["value"][0] == pytest.approx(400 / 7)
    assert row["value2"][0] == pytest.approx(200 / 7)
    planned = frame.filter(pl.col("row_label") == "Trends – geplant")
    assert planned["value2"].null_count() == planned.height


def test_publication_suppresses_in_every_column() -> None:
    frame = tables_frame(_table12(), publication=True, min_n=5)
    b = frame.filter(pl.col("column_label") == "Bedächtige")  # n = 3 < 5
    assert b["suppressed"].all()
    assert b["value"].to_list() == ["<5", "<5"]
    assert b.filter(pl.col("part") == "angeboten")["value2"].to_list() == ["<5"]
    for col in ("n", "ci_low", "ci_high"):
        assert b[col].null_count() == b.height
    assert not b["bold"].any()
    o = frame.filter(pl.col("column_label") == "Optimierer")  # n = 7
    assert not o["suppressed"].any()
    assert o["value"].to_list() == ["57.1", "28.6"]
    assert o["n"].to_list() == [7, 7]
    # threshold is configurable
    strict = tables_frame(_table12(), publication=True, min_n=8)
    assert strict.filter(pl.col("column_label") == "Optimierer")["suppressed"].all()
    # not in publication mode: nothing suppressed, numeric values
    plain = tables_frame(_table12())
    assert not plain["suppressed"].any() and plain["value"].dtype == pl.Float64


# ----------------------------------------------------------------------------- errors & scale
def test_input_errors() -> None:
    spec = table("types", {"label_de": "x", "measure": "share", "column": "fim", "values": [1]})
    with pytest.raises(TableSpecError, match="2 Einträge"):
        run([{"fim": 1}], [B, B], spec)
    with pytest.raises(TableSpecError, match="Unbekannte Typen"):
        run([{"fim": 1}], ["tüftler"], spec)
    specs = parse_tables({"tables": [spec]}, "x.yaml")
    with pytest.raises(TableSpecError, match="fim"):
        compute_tables(canonical([{"fim": 1}]).drop("fim"), [B], specs)


def test_large_frame_is_vectorised() -> None:
    import time

    n = 200_000
    rng = np.random.default_rng(0)
    df = (
        canonical([{}])
        .clear()
        .vstack(
            pl.DataFrame({"fim": rng.integers(0, 2, n), "open_data": rng.integers(0, 4, n)})
            .with_columns(
                [
                    pl.lit(None, dtype=_dtype(c)).alias(c)
                    for c in CB.columns
                    if c not in ("fim", "open_data")
                ]
            )
            .select(CB.columns)
            .cast({c: _dtype(c) for c in CB.columns})
        )
    )
    types = pl.Series(rng.choice([B, OPT, S, C], n))
    specs = parse_tables(
        {
            "tables": [
                table(
                    "types_total",
                    {"label_de": "FIM", "measure": "share", "column": "fim", "values": [1]},
                    {"label_de": "OD", "measure": "mean", "column": "open_data"},
                )
            ]
        },
        "x",
    )
    start = time.perf_counter()
    (res,) = compute_tables(df, types, specs)
    assert time.perf_counter() - start < 5
    assert cell(res, "FIM", "Gesamt").n == n


def test_new_types_become_columns() -> None:
    records = [{"fim": v} for v in (1, 0, 1, 1)]
    types = [B, "neu_1", "neu_1", None]
    specs = parse_tables(
        {
            "tables": [
                table(
                    "types_total",
                    {"label_de": "FIM", "measure": "share", "column": "fim", "values": [1]},
                )
            ]
        },
        "x.yaml",
    )
    (res,) = compute_tables(
        canonical(records),
        types,
        specs,
        type_ids=[B, "neu_1"],
        type_labels={"neu_1": ("Neuer Typ 1", "New type 1")},
    )
    assert [c.label_de for c in res.columns] == ["Bedächtige", "Neuer Typ 1", "Gesamt"]
    assert cell(res, "FIM", "Neuer Typ 1").value == 50.0
    assert cell(res, "FIM", "Gesamt").n == 4
    with pytest.raises(TableSpecError, match="neu_1"):
        compute_tables(canonical(records), types, specs)  # neu_1 is not a study type


def test_row_restricted_to_one_type() -> None:
    # Table 3 style: rows are types, columns Kreise vs rest, cells grouped medians
    records = [
        {"kommunenart": 1, "einwohner": 120_000},
        {"kommunenart": 1, "einwohner": 60_000},
        {"kommunenart": 4, "einwohner": 12_000},
        {"kommunenart": 1, "einwohner": 400_000},
    ]
    types = [B, B, B, OPT]
    (res,) = run(
        records,
        types,
        table(
            "kreis_vs_rest",
            *[
                {
                    "label_de": label,
                    "measure": "grouped_median",
                    "column": "einwohner",
                    "type": tid,
                    "precision": 0,
                }
                for label, tid in (("Bedächtige", B), ("Optimierer", OPT))
            ],
        ),
    )
    kreise_b = cell(res, "Bedächtige", "In Kreisen")
    assert kreise_b.n == 2  # the Optimierer Kreis is not in the Bedächtige row
    # classes 50–100k (1) and 100–150k (1): N/2 = 1 → upper bound of 50–100k
    assert kreise_b.value == pytest.approx(100_000)
    assert cell(res, "Optimierer", "In Kreisen").n == 1
    assert cell(res, "Optimierer", "In Städten und Gemeinden").n == 0
    # other measures accept the restriction too
    (res2,) = run(
        [{"fim": 1}, {"fim": 0}, {"fim": 0}],
        [B, OPT, None],
        table(
            "types_total",
            {
                "label_de": "FIM (nur B)",
                "measure": "share",
                "column": "fim",
                "values": [1],
                "type": B,
            },
        ),
    )
    assert cell(res2, "FIM (nur B)", "Gesamt").n == 1
    assert cell(res2, "FIM (nur B)", "Optimierer").n == 0


def test_declared_type_missing_from_the_typology() -> None:
    """A study row for a type the fitted typology did not find stays empty, no error."""
    records = [
        {"fim": 1, "kommunenart": 1, "einwohner": 5000},
        {"fim": 0, "kommunenart": 4, "einwohner": 7000},
    ]
    types = ["neu_1", None]
    specs = parse_tables(
        {
            "tables": [
                table(
                    "types_total",
                    {"label_de": "Anteil B", "measure": "type_share", "type": B},
                    {
                        "label_de": "FIM (nur B)",
                        "measure": "share",
                        "column": "fim",
                        "values": [1],
                        "type": B,
                    },
                ),
                table(
                    "kreis_vs_rest",
                    {
                        "label_de": "B",
                        "measure": "grouped_median",
                        "column": "einwohner",
                        "type": B,
                    },
                    number=91,
                ),
            ]
        },
        "x.yaml",
    )
    res, res3 = compute_tables(canonical(records), types, specs, type_ids=["neu_1"])
    assert cell(res, "Anteil B", "Gesamt").value == 0.0
    assert cell(res, "FIM (nur B)", "Gesamt").n == 0
    assert cell(res3, "B", "In Kreisen").n == 0


@pytest.mark.parametrize("dtype", [pl.Int64, pl.Float64])
def test_study_tables_do_not_depend_on_the_integer_width(dtype) -> None:
    """The engine compares codes in the column's own type: canonical narrow integers, wide
    integers and floats holding the same values give the same cells and tests."""
    data = random_canonical(400, seed=7)
    rng = np.random.default_rng(7)
    types = [None if r < 0.2 else [B, OPT, S][int(r * 10) % 3] for r in rng.random(400)]
    specs = load_tables(None, CB)
    ints = [c for c, d in SCHEMA.items() if d.is_integer()]
    narrow = tables_frame(compute_tables(data, types, specs))
    wide = tables_frame(compute_tables(data.with_columns(pl.col(ints).cast(dtype)), types, specs))
    assert narrow.drop("value", "ci_low", "ci_high", "p_value", "effect_size").equals(
        wide.drop("value", "ci_low", "ci_high", "p_value", "effect_size")
    )
    for col in ("value", "ci_low", "ci_high", "p_value", "effect_size"):
        a, b = narrow[col].to_numpy(), wide[col].to_numpy()
        assert np.allclose(a, b, rtol=1e-12, equal_nan=True), col
    # the type without members (Community Manager) has empty cells, n = 0
    empty = narrow.filter(pl.col("column_label") == "Community Manager")
    assert empty.height > 0 and (empty["n"] == 0).all() and empty["value"].is_null().all()


def test_layouts_share_keys_and_masks() -> None:
    """The engine computes each column key once per distinct key expression and each
    distinct mask once: the type columns of ``types`` and ``types_total`` read the same
    masks, and every mask is its own column key compared with one column id."""
    from kommunaltypen.codebook import default_codebook
    from kommunaltypen.tables.engine import _layouts, type_column_defs
    from kommunaltypen.tables.spec import study_tables

    specs = study_tables()
    layouts, keys, masks = _layouts(specs, default_codebook(), type_column_defs())
    assert {"types", "types_total"} <= set(layouts)
    types, total = layouts["types"], layouts["types_total"]
    assert all(types.masks[k] == total.masks[k] for k in types.masks)
    assert total.masks["gesamt"] not in types.masks.values()
    names = [str(m.meta.output_name()) for m in masks]
    assert len(names) == len(set(names))
    used = {name for layout in layouts.values() for name in layout.masks.values()}
    assert used == set(names)
    assert len(keys) < len(layouts)  # types and types_total: one key


def test_ratio_rows_do_not_depend_on_the_order_of_the_rows() -> None:
    """A ``mean_ratio`` row (Table 9's shares of components run by IT providers) is summed
    as whole numbers (``ratio_scale``), so its means are the same however the rows are
    ordered and chunked; summing the float ratios made them differ in the last bit (seen
    between two runs on 10⁶ rows, where polars adds parallel pieces in varying order)."""
    from kommunaltypen.tables.engine import ratio_scale
    from kommunaltypen.tables.spec import study_tables
    from kommunaltypen.vocabulary import TYPE_IDS

    table9 = [tb for tb in study_tables() if tb.number == 9]
    ratio_rows = [r for r in table9[0].rows if r.measure == "mean_ratio"]
    assert ratio_rows and ratio_scale(ratio_rows[0], 10**6) == 2520  # lcm(1, …, 10)
    data = random_canonical(30_000, seed=11)
    rng = np.random.default_rng(5)
    types = rng.choice([*TYPE_IDS, None], data.height)
    order = rng.permutation(data.height)
    shuffled = pl.concat(  # other order, many chunks
        [data[order[i : i + 1000]] for i in range(0, data.height, 1000)], rechunk=False
    )

    def ratio_cells(frame: pl.DataFrame, type_ids) -> list[float | None]:
        (result,) = compute_tables(frame, list(type_ids), table9)
        return [
            c.value for row in result.rows if row.spec.measure == "mean_ratio" for c in row.cells
        ]

    one = ratio_cells(data, types)
    two = ratio_cells(shuffled, types[order])
    assert len(one) == 2 * 5 and all(v is not None for v in one)
    assert one == two  # exactly
