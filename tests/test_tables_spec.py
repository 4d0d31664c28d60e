"""Loading table declarations and the TableSpecError messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from kommunaltypen.errors import KommunaltypenError, TableSpecError
from kommunaltypen.tables import load_tables, parse_tables

GOOD = """
tables:
  - number: 7
    caption_de: "Meine Tabelle"
    columns: types_total
    rows:
      - label_de: "FIM bekannt"
        measure: share
        column: fim
        values: [1]
        where:
          - {column: strategie, in: [1, 2]}
      - label_de: "Anknüpfungspunkte"
        measure: mean_count
        columns: [anknuepfung_gesamtstrategie, anknuepfung_it_strategie]
        precision: 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tabellen.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_good_file(tmp_path: Path) -> None:
    (spec,) = load_tables(write(tmp_path, GOOD))
    assert spec.number == 7 and spec.file_name == "table_07.csv"
    assert [r.measure for r in spec.rows] == ["share", "mean_count"]
    assert spec.rows[0].where[0].in_ == (1, 2)
    assert spec.rows[0].percent and not spec.rows[1].percent
    assert spec.rows[1].count_values == (1,)
    assert spec.caption("en") == "Meine Tabelle"  # falls back to German


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(TableSpecError) as info:
        load_tables(write(tmp_path, text))
    assert isinstance(info.value, KommunaltypenError)
    return str(info.value)


def test_error_names_file_table_and_row(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("measure: share", "measure: quote"))
    assert "tabellen.yaml" in msg and "Tabelle 7" in msg and "'FIM bekannt'" in msg
    assert "quote" in msg


def test_unknown_column(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("column: fim", "column: fimm"))
    assert "'fimm'" in msg and "Tabelle 7" in msg and "FIM bekannt" in msg


def test_unknown_where_column(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("column: strategie", "column: strategy"))
    assert "'strategy'" in msg


def test_missing_field_for_measure(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("        values: [1]\n", "", 1))
    assert "values" in msg and "FIM bekannt" in msg


def test_field_not_used_by_measure(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("precision: 2", "precision: 2\n        column: fim"))
    assert "'column'" in msg and "Anknüpfungspunkte" in msg


def test_bad_where(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("in: [1, 2]", "in: [1, 2], not_null: true"))
    assert "not_null" in msg


def test_duplicates(tmp_path: Path) -> None:
    dup_row = GOOD.replace("Anknüpfungspunkte", "FIM bekannt")
    assert "FIM bekannt" in _error(tmp_path, dup_row)
    body = GOOD.split("tables:\n", 1)[1]
    msg = _error(tmp_path, "tables:\n" + body + body)
    assert "[7]" in msg


def test_layout_and_type(tmp_path: Path) -> None:
    assert "columns" in _error(tmp_path, GOOD.replace("types_total", "regions"))
    bad_type = GOOD.replace(
        "measure: share\n        column: fim\n        values: [1]",
        "measure: type_share\n        type: tueftler",
    )
    assert "tueftler" in _error(tmp_path, bad_type)


def test_part_needs_study_label(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("precision: 2", "precision: 2\n        part: geplant"))
    assert "study_label" in msg


def test_centre_needs_ranking(tmp_path: Path) -> None:
    text = GOOD.replace(
        "measure: share\n        column: fim\n        values: [1]",
        "measure: centre\n        column: fim",
    )
    assert "ranking" in _error(tmp_path, text).lower() or "Rangfolge" in _error(tmp_path, text)


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(TableSpecError, match="nicht lesbar"):
        load_tables(tmp_path / "nope.yaml")
    assert "YAML" in _error(tmp_path, "tables: [unclosed")
    assert "'tables'" in _error(tmp_path, "- 1\n- 2\n")
    assert "tables" in _error(tmp_path, "tables: []\n")


def test_parse_tables_from_dict() -> None:
    (spec,) = parse_tables(
        {
            "tables": [
                {
                    "number": 1,
                    "caption_de": "x",
                    "columns": "types",
                    "rows": [{"label_de": "a", "measure": "type_share", "type": "optimierer"}],
                }
            ]
        },
        "inline",
    )
    assert spec.rows[0].type == "optimierer"


def test_type_restriction_needs_known_type(tmp_path: Path) -> None:
    ok = GOOD.replace("column: fim\n", "column: fim\n        type: optimierer\n")
    (spec,) = load_tables(write(tmp_path, ok))
    assert spec.rows[0].type == "optimierer"
    bad = GOOD.replace("column: fim\n", "column: fim\n        type: tueftler\n")
    assert "tueftler" in _error(tmp_path, bad)
