"""The transcription of the study's Tables 1–16 (``data/study_figures.csv``)."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest
import yaml

DATA = resources.files("kommunaltypen") / "data"
#: printed rows × columns per table in the study's Tabellenanhang
SHAPE = {
    1: (10, 4),
    2: (4, 4),
    3: (4, 2),
    4: (8, 5),
    5: (11, 5),
    6: (7, 5),
    7: (7, 5),
    8: (7, 5),
    9: (8, 5),
    10: (1, 5),
    11: (6, 5),
    12: (7, 5),
    13: (5, 5),
    14: (4, 5),
    15: (4, 5),
    16: (6, 5),
}


@pytest.fixture(scope="module")
def fig() -> pd.DataFrame:
    with (DATA / "study_figures.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={"value": str, "value2": str})


def test_columns_and_cell_count(fig: pd.DataFrame) -> None:
    assert list(fig.columns) == [
        "table",
        "caption",
        "row_label",
        "column_label",
        "value",
        "value2",
        "precision",
    ]
    assert len(fig) == sum(r * c for r, c in SHAPE.values()) == 469
    for table, (rows, cols) in SHAPE.items():
        sub = fig[fig.table == table]
        assert sub.row_label.nunique() == rows and sub.column_label.nunique() == cols, table
        assert sub.caption.nunique() == 1
        assert not sub.duplicated(["row_label", "column_label"]).any()


def test_precision_matches_printed_decimals(fig: pd.DataFrame) -> None:
    for r in fig.itertuples(index=False):
        decimals = len(r.value.split(".")[1]) if "." in r.value else 0
        assert decimals == r.precision, r
    assert set(fig[fig.table == 1].precision) == {2}
    assert set(fig[fig.table == 3].precision) == {0}


def test_only_table_12_has_two_values(fig: pd.DataFrame) -> None:
    two = fig[fig.value2.notna()]
    assert set(two.table) == {12} and len(two) == 25
    cell = fig[
        (fig.table == 12)
        & (fig.row_label == "Fachverfahren und Anwendungen")
        & (fig.column_label == "Gesamt")
    ].iloc[0]
    assert (cell.value, cell.value2) == ("74.9", "12.4")


def test_known_cells(fig: pd.DataFrame) -> None:
    def v(t, r, c):
        return fig[(fig.table == t) & (fig.row_label == r) & (fig.column_label == c)].value.iloc[0]

    assert v(1, "Rechtliche Vorgaben umsetzen", "Bedächtige") == "2.91"
    assert v(3, "Optimierer", "In Kreisen") == "178571"
    assert v(6, "IT-Unternehmen", "Service-orientierte") == "18.5"
    assert v(16, "Civic Tech", "Gesamt") == "2.1"


def test_shares_and_centres_in_range(fig: pd.DataFrame) -> None:
    values = fig.value.astype(float)
    assert ((values >= 0) & (values <= 100)).loc[~fig.table.isin([3])].all()
    centres = fig[fig.table == 1].value.astype(float)
    assert centres.between(0, 3).all()
    # each centre row sums to about 6 (1st = 3, 2nd = 2, 3rd = 1 points)
    sums = fig[fig.table == 1].assign(v=centres).groupby("column_label").v.sum()
    assert sums.between(5.9, 6.0).all()


def test_every_study_row_is_declared(fig: pd.DataFrame) -> None:
    with (DATA / "tables" / "study.yaml").open(encoding="utf-8") as fh:
        specs = {t["number"]: t for t in yaml.safe_load(fh)["tables"]}
    for table, sub in fig.groupby("table"):
        declared = {r.get("study_label", r["label_de"]) for r in specs[table]["rows"]}
        assert declared == set(sub.row_label), table
