"""Golden samples: every format, generated from one expected data set by
``tests/golden/make_golden.py``, reads back to exactly that data."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kommunaltypen.validate import canonical_schema, validate_file

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def expected() -> pl.DataFrame:
    rows = json.loads((GOLDEN / "expected.json").read_text("utf-8"))
    return pl.DataFrame(rows, schema=canonical_schema())


@pytest.mark.parametrize(
    ("name", "mapping", "fmt", "encoding", "delimiter"),
    [
        ("golden_utf8.csv", None, "csv", "utf-8", ","),
        ("golden_bom_semicolon.csv", None, "csv", "utf-8", ";"),
        ("golden_cp1252.csv", None, "csv", "cp1252", ";"),
        ("golden.xlsx", None, "xlsx", None, None),
        ("golden.sav", None, "sav", "UTF-8", None),
        ("golden_limesurvey.csv", "golden_limesurvey_mapping.yaml", "limesurvey", "utf-8", ","),
    ],
)
def test_golden_file_reads_to_expected_data(expected, name, mapping, fmt, encoding, delimiter):
    data, report = validate_file(GOLDEN / name, mapping=GOLDEN / mapping if mapping else None)
    assert report.errors == []
    assert (report.rows_in, report.rows_accepted, report.rows_rejected) == (16, 16, 0)
    assert (report.meta.format, report.meta.encoding, report.meta.delimiter) == (
        fmt,
        encoding,
        delimiter,
    )
    assert_frame_equal(data, expected)


def test_golden_data_exercises_the_interesting_cases(expected):
    """The expected data must contain what the formats have to carry."""
    assert expected.get_column("name").str.contains("[äöüß]").any()  # umlauts / cp1252
    assert (expected.get_column("anteil_fortbildung_digital") % 1 != 0).any()  # decimals
    assert expected.get_column("innovationsfreude").null_count() > 0  # SPSS user-missing 99
    assert expected.get_column("betreiber_dms").null_count() > 0  # filtered -> -8
    unanswered = expected.select(pl.all_horizontal(pl.col("^ziele_.*$").is_null())).to_series()
    ranks = expected.select(pl.sum_horizontal(pl.col("^ziele_.*$") > 0)).to_series()
    assert unanswered.any() and 3 in ranks.to_list()


def test_golden_sav_uses_user_missing_codes():
    import pyreadstat

    raw, meta = pyreadstat.read_sav(str(GOLDEN / "golden.sav"), user_missing=True)
    assert (raw["innovationsfreude"] == 99).any()
    assert (raw["betreiber_dms"] == -8).any()
    assert meta.variable_value_labels["kommunenart"][1.0] == "Kreis"


def test_limesurvey_system_columns_are_reported_not_silently_dropped():
    _, report = validate_file(
        GOLDEN / "golden_limesurvey.csv", mapping=GOLDEN / "golden_limesurvey_mapping.yaml"
    )
    warned = " ".join(w.message for w in report.warnings)
    for name in ("submitdate", "lastpage", "startlanguage"):
        assert name in warned


def test_bundled_sample_has_accepted_and_rejected_rows():
    from importlib import resources

    path = resources.files("kommunaltypen") / "data" / "sample" / "beispiel_klein.csv"
    data, report = validate_file(Path(str(path)))
    assert report.rows_in == 30
    assert report.rows_rejected == 5 and data.height == 25
    rules = {i.rule for i in report.errors}
    assert {"unknown_code", "ranking_repeated", "not_a_number", "duplicate_id"} <= rules
    assert "exclusive_with_others" in rules
    assert data.get_column("kommune_id").str.starts_with("K").all()
