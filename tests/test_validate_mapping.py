"""Mapping files: foreign column names and codes onto codebook ids."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from kommunaltypen.errors import MappingError
from kommunaltypen.mapping import Mapping, load_mapping
from kommunaltypen.validate import validate_file


def _files(tmp_path: Path, csv: str, mapping: str) -> tuple[Path, Path]:
    data = tmp_path / "fremd.csv"
    data.write_text(csv, encoding="utf-8")
    mp = tmp_path / "map.yaml"
    mp.write_text(mapping, encoding="utf-8")
    return data, mp


MAPPING = """
columns:
  Gemeindeschluessel: kommune_id
  Typ: kommunenart
  Land: bundesland
  EW: einwohner
  Glasfaser_eigen: glasfaser_eigenregie
  Glasfaser_keins: glasfaser_kein
values:
  kommunenart: {Kreis: 1, Stadt: 2, Gemeinde: 4, unbekannt: null}
  glasfaser: {ja: 1, nein: 0}
rankings:
  ziele: [Ziel1, Ziel2, Ziel3]
"""


def test_mapping_renames_recodes_and_unfolds_position_rankings(tmp_path):
    csv = (
        "Gemeindeschluessel,Typ,Land,EW,Glasfaser_eigen,Glasfaser_keins,Ziel1,Ziel2,Ziel3\n"
        "G1,Kreis,9,120000,ja,nein,3,5,\n"
        "G2,Gemeinde,9,3000,nein,ja,1,,\n"
        "G3,Stadt,5,50000,,,,,\n"
    )
    data, report = validate_file(*_files(tmp_path, csv, MAPPING))
    assert report.errors == [] and data.height == 3
    row = data.row(0, named=True)
    assert (row["kommune_id"], row["kommunenart"], row["einwohner"]) == ("G1", 1, 120000)
    assert (row["ziele_effizienz"], row["ziele_buergernaehe"], row["ziele_innovation"]) == (1, 2, 0)
    assert row["glasfaser_eigenregie"] == 1 and row["glasfaser_kein"] == 0
    assert data.row(1, named=True)["ziele_rechtliche_vorgaben"] == 1
    assert data.row(2, named=True)["ziele_effizienz"] is None  # no ranking given
    assert not [w for w in report.warnings if w.rule == "unknown_columns"]


def test_position_ranking_problems_are_reported(tmp_path):
    csv = (
        "Gemeindeschluessel,Typ,Land,EW,Ziel1,Ziel2,Ziel3\n"
        "G1,Kreis,9,1000,3,3,\n"  # same goal twice
        "G2,Kreis,9,1000,11,,\n"  # unknown goal code
        "G3,Kreis,9,1000,,4,\n"  # 2nd without a 1st
        "G4,Unsinn,9,1000,1,2,3\n"  # unknown value, not in the value map
    )
    data, report = validate_file(*_files(tmp_path, csv, MAPPING))
    found = {(i.row, i.rule, i.column) for i in report.errors}
    assert (2, "ranking_repeated", "ziele") in found
    assert (3, "unknown_code", "Ziel1") in found
    assert (4, "ranking_gap", "ziele") in found
    assert (5, "not_a_number", "kommunenart") in found
    assert data.height == 0 and report.rows_rejected == 4


def test_position_ranking_with_only_missing_codes_is_not_answered(tmp_path):
    """Positions holding "keine Angabe" (-9) are no answer: all -9 = ranking not answered."""
    csv = (
        "Gemeindeschluessel,Typ,Land,EW,Ziel1,Ziel2,Ziel3\n"
        "G1,Kreis,9,1000,-9,-9,-9\n"
        "G2,Kreis,9,1000,2,-9,\n"
    )
    data, report = validate_file(*_files(tmp_path, csv, MAPPING))
    assert report.errors == [] and data.height == 2
    assert data.row(0, named=True)["ziele_effizienz"] is None
    second = data.row(1, named=True)
    assert second["ziele_foerdermittel"] == 1 and second["ziele_effizienz"] == 0


def test_mapping_keys_may_be_spss_value_labels(tmp_path):
    """An SPSS file stores codes and labels; a mapping may name the answers by their labels
    (the file's own codes differ from the codebook's here)."""
    import pandas as pd
    import pyreadstat

    data = pd.DataFrame(
        {
            "Gemeindeschluessel": ["G1", "G2", "G3"],
            "Typ": [10.0, 40.0, 20.0],
            "Land": [9.0, 9.0, 5.0],
            "EW": [120000.0, 3000.0, 90000.0],
            "Ziel1": [7.0, 8.0, float("nan")],
        }
    )
    path = tmp_path / "fremd.sav"
    pyreadstat.write_sav(
        data,
        str(path),
        variable_value_labels={
            "Typ": {10.0: "Landkreis", 20.0: "Kreisfreie Stadt", 40.0: "Gemeinde"},
            "Ziel1": {7.0: "Effizienz", 8.0: "Bürgernähe"},
        },
    )
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        """
columns:
  Gemeindeschluessel: kommune_id
  Typ: kommunenart
  Land: bundesland
  EW: einwohner
values:
  kommunenart: {landkreis: 1, Kreisfreie Stadt: 2, Gemeinde: 4}
  ziele: {Effizienz: 3, Bürgernähe: 5}
rankings:
  ziele: [Ziel1]
""",
        encoding="utf-8",
    )
    frame, report = validate_file(path, mapping=mapping)
    assert report.errors == [] and frame.height == 3
    assert frame["kommunenart"].to_list() == [1, 4, 2]
    assert frame["ziele_effizienz"].to_list() == [1, 0, None]
    assert frame["ziele_buergernaehe"].to_list() == [0, 1, None]


def test_mapped_column_absent_from_file_is_a_warning(tmp_path):
    csv = "Gemeindeschluessel,Typ,Land,EW\nG1,Kreis,9,1000\n"
    data, report = validate_file(*_files(tmp_path, csv, MAPPING))
    absent = {w.column for w in report.warnings if w.rule == "mapping_column_absent"}
    assert {"Glasfaser_eigen", "Ziel1"} <= absent
    assert data.height == 1


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("columns: {A: gibtsnicht}", "gibtsnicht"),
        ("columns: {A: kommune_id, B: kommune_id}", "kommune_id"),
        ("values: {gibtsnicht: {a: 1}}", "gibtsnicht"),
        ("rankings: {kommunenart: [a, b]}", "kommunenart"),
        ("rankings: {ziele: []}", "ziele"),
        ("- a\n- b\n", "erwartet"),
        ("columns: [", "YAML"),
        ("spalten: {A: kommune_id}", "spalten"),
    ],
)
def test_bad_mapping_files(tmp_path, text, match):
    data, mp = _files(tmp_path, "A,B\n1,2\n", text)
    with pytest.raises(MappingError, match=match):
        validate_file(data, mapping=mp)


def test_missing_mapping_file(tmp_path):
    with pytest.raises(MappingError, match="nicht gefunden"):
        load_mapping(tmp_path / "fehlt.yaml")


def test_mapping_target_that_already_exists_is_an_error():
    frame = pl.DataFrame({"A": ["1"], "kommune_id": ["K"]})
    with pytest.raises(MappingError, match="kommune_id"):
        Mapping(columns={"A": "kommune_id"}).apply(frame)


def test_value_maps_apply_to_numeric_spss_columns():
    frame = pl.DataFrame({"kommune_id": ["K1", "K2"], "kommunenart": [11.0, 14.0]})
    mapped = Mapping(values={"kommunenart": {11: 1, 14: 4}}).apply(frame).frame
    assert mapped.get_column("kommunenart").to_list() == ["1", "4"]
