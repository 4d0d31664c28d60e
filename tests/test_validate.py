"""Validation rules: every rule rejects what it should, names file/row/column/value/expected,
and row counts always balance."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from kommunaltypen import i18n
from kommunaltypen.codebook import Option, Question, default_codebook
from kommunaltypen.errors import InputFileError
from kommunaltypen.io import write_data
from kommunaltypen.io.synthetic import random_canonical
from kommunaltypen.validate import (
    RULES,
    canonical_schema,
    dtype_of,
    empty_frame,
    validate_file,
    validate_frame,
)

CB = default_codebook()


@pytest.fixture(autouse=True)
def _german():
    i18n.set_lang("de")
    yield
    i18n.set_lang("de")


def base(n: int = 6, seed: int = 1) -> pl.DataFrame:
    """Valid canonical rows without any missing answers (so that edits are the only errors)."""
    return random_canonical(n, seed=seed, missing_share=0.0)


def as_text(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(pl.all().cast(pl.String))


def put(df: pl.DataFrame, row: int, **cells: object) -> pl.DataFrame:
    out = as_text(df)
    for col, value in cells.items():
        s = out.get_column(col)
        out = out.with_columns(s.scatter(row, None if value is None else str(value)))
    return out


def errors_of(report, rule: str):
    return [i for i in report.errors if i.rule == rule]


def check_balance(report, data):
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    assert data.height == report.rows_accepted
    assert report.row_status.height == report.rows_in
    assert report.rejected_rows.height == report.rows_rejected


def test_valid_rows_are_all_accepted_in_canonical_form():
    df = base(20, seed=3)
    data, report = validate_frame(as_text(df), source="x.csv")
    check_balance(report, data)
    assert report.rows_rejected == 0 and report.errors == []
    assert data.columns == list(CB.columns)
    assert dict(data.schema) == canonical_schema()
    assert data.equals(df)


@pytest.mark.parametrize(
    ("cells", "rule", "column", "value"),
    [
        ({"kommunenart": 9}, "unknown_code", "kommunenart", "9"),
        ({"bundesland": 17}, "unknown_code", "bundesland", "17"),
        ({"datenbestandsaufnahme": 4}, "out_of_range", "datenbestandsaufnahme", "4"),
        ({"anteil_fortbildung_digital": 120}, "out_of_range", "anteil_fortbildung_digital", "120"),
        ({"einwohner": 0}, "out_of_range", "einwohner", "0"),
        ({"einwohner": "viele"}, "not_a_number", "einwohner", "viele"),
        ({"digitalisierungsgrad": "hoch"}, "not_a_number", "digitalisierungsgrad", "hoch"),
        ({"einwohner": "2,5"}, "not_integer", "einwohner", "2,5"),
        ({"kommunenart": "1.5"}, "not_integer", "kommunenart", "1.5"),
        ({"fim": 2}, "unknown_code", "fim", "2"),
        ({"beteiligung_befragungen": 2}, "multiple_not_binary", "beteiligung_befragungen", "2"),
        ({"ziele_effizienz": 4}, "rank_out_of_range", "ziele_effizienz", "4"),
        ({"kommunenart": None}, "missing_required", "kommunenart", None),
        ({"einwohner": ""}, "missing_required", "einwohner", None),
        ({"kommune_id": "  "}, "missing_required", "kommune_id", None),
    ],
)
def test_cell_rules(cells, rule, column, value):
    frame = put(base(), 2, **cells)
    data, report = validate_frame(frame, source="daten.csv")
    check_balance(report, data)
    found = errors_of(report, rule)
    assert len(found) == 1, report.errors
    issue = found[0]
    assert (issue.row, issue.column, issue.value, issue.file) == (4, column, value, "daten.csv")
    assert issue.severity == "error" and issue.expected
    assert "daten.csv" in issue.message and "Zeile 4" in issue.message
    assert column in issue.message
    assert report.rows_rejected == 1
    assert report.row_status.filter(pl.col("row") == 4).get_column("status").item() == "rejected"
    assert 4 in report.rejected_rows.get_column("row").to_list()


def test_decimal_comma_accepted_where_a_number_is_expected():
    frame = put(base(), 0, anteil_fortbildung_digital="12,5")
    data, report = validate_frame(frame)
    assert report.errors == []
    assert data.get_column("anteil_fortbildung_digital")[0] == 12.5


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"einwohner": "1.234,0"}, ("einwohner", 1234)),
        ({"einwohner": "12.345"}, ("einwohner", 12345)),
        ({"einwohner": "1.234.567"}, ("einwohner", 1234567)),
        ({"einwohner": "12345"}, ("einwohner", 12345)),
    ],
)
def test_german_thousands_points_are_read(cells, expected):
    data, report = validate_frame(put(base(), 0, **cells))
    assert report.errors == []
    column, value = expected
    assert data.get_column(column)[0] == value


def test_german_grouped_decimal_text():
    from kommunaltypen.validate import parse_number_text

    assert parse_number_text("1.234,5", False, frozenset()) == (1234.5, 0)
    assert parse_number_text("-12.345,25", False, frozenset()) == (-12345.25, 0)
    assert parse_number_text("12.345", False, frozenset()) == (12.345, 0)  # a decimal point


@pytest.mark.parametrize("text", ["1.23,4", "12.34", "1,234.5"])
def test_malformed_grouping_is_still_an_error(text):
    _, report = validate_frame(put(base(), 0, einwohner=text))
    assert [i.rule for i in report.errors] in (["not_a_number"], ["not_integer"])
    assert report.errors[0].value == text


@pytest.mark.parametrize("code", ["-1", "-8", "-9", "", " "])
def test_missing_codes_and_empty_cells_become_null(code):
    frame = put(base(), 1, digitalisierungsgrad=code, anteil_fortbildung_digital=code)
    data, report = validate_frame(frame)
    assert report.errors == []
    assert data.get_column("digitalisierungsgrad")[1] is None
    assert data.get_column("anteil_fortbildung_digital")[1] is None


def _ranking_frame(ranks: dict[str, object]) -> pl.DataFrame:
    cells = {f"ziele_{o.id}": 0 for o in CB.question("ziele").options}
    cells.update({f"ziele_{k}": v for k, v in ranks.items()})
    return put(base(), 3, **cells)


@pytest.mark.parametrize(
    ("ranks", "rule"),
    [
        ({"effizienz": 1, "innovation": 1, "wirtschaft": 2}, "ranking_repeated"),
        ({"effizienz": 2, "innovation": 3}, "ranking_gap"),
        ({"effizienz": 1, "innovation": 3}, "ranking_gap"),
        (
            {"effizienz": 1, "innovation": 2, "wirtschaft": 3, "foerdermittel": 3},
            "ranking_too_many",
        ),
    ],
)
def test_inconsistent_rankings_are_rejected(ranks, rule):
    data, report = validate_frame(_ranking_frame(ranks), source="r.csv")
    check_balance(report, data)
    found = errors_of(report, rule)
    assert found and found[0].row == 5 and found[0].column == "ziele"
    for option in ranks:
        assert option in found[0].value
    assert report.rows_rejected == 1


@pytest.mark.parametrize(
    "ranks",
    [
        {"effizienz": 1},
        {"effizienz": 1, "innovation": 2},
        {"effizienz": 1, "innovation": 2, "wirtschaft": 3},
    ],
)
def test_incomplete_rankings_are_not_errors(ranks):
    data, report = validate_frame(_ranking_frame(ranks))
    assert report.errors == [] and report.rows_accepted == data.height == 6
    assert data.get_column("ziele_effizienz")[3] == 1


def test_missing_ranking_is_not_an_error_and_stays_null():
    cells = {f"ziele_{o.id}": None for o in CB.question("ziele").options}
    data, report = validate_frame(put(base(), 3, **cells))
    assert report.errors == []
    assert data.row(3, named=True)["ziele_effizienz"] is None


def test_empty_option_cells_of_an_answered_question_mean_zero():
    cells = {f"ziele_{o.id}": None for o in CB.question("ziele").options}
    cells["ziele_effizienz"] = 1
    cells["glasfaser_eigenregie"] = None  # other glasfaser options keep their answers
    data, report = validate_frame(put(base(), 3, **cells))
    assert report.errors == []
    row = data.row(3, named=True)
    assert row["ziele_innovation"] == 0 and row["ziele_effizienz"] == 1
    assert row["glasfaser_eigenregie"] == 0


def test_exclusive_none_option_with_others_is_rejected():
    frame = put(base(), 0, datennutzung_keine=1, datennutzung_automatisierung=1)
    _data, report = validate_frame(frame)
    found = errors_of(report, "exclusive_with_others")
    assert len(found) == 1 and found[0].column == "datennutzung_keine" and found[0].row == 2
    assert "datennutzung_automatisierung" in found[0].value
    frame = put(base(), 0, **{c: 0 for c in CB.question("datennutzung").columns})
    frame = frame.with_columns(pl.Series("datennutzung_keine", ["1"] + ["0"] * 5))
    _, report = validate_frame(frame)
    assert errors_of(report, "exclusive_with_others") == []


def test_answer_to_a_question_the_filter_excluded_is_rejected():
    cells = {"strategie": 3, "strategiebeteiligte_berater": 1}
    data, report = validate_frame(put(base(), 1, **cells), source="f.csv")
    found = errors_of(report, "filter_not_asked")
    assert len(found) == 1 and found[0].column == "strategiebeteiligte" and found[0].row == 3
    assert "strategie=3" in found[0].value
    check_balance(report, data)


def test_filter_with_null_filter_value_counts_as_not_asked():
    cells: dict[str, object] = {c: None for c in CB.question("basiskomponenten").columns}
    cells.update({q.id: None for q in CB if q.id.startswith("betreiber_")})
    cells["betreiber_dms"] = 2
    _, report = validate_frame(put(base(), 0, **cells))
    assert [i.column for i in errors_of(report, "filter_not_asked")] == ["betreiber_dms"]


def test_filtered_out_respondents_may_leave_empty_or_code_minus_8():
    cells = {"strategie": 3}
    cells.update({c: "-8" for c in CB.question("strategiebeteiligte").columns})
    data, report = validate_frame(put(base(), 1, **cells))
    assert report.errors == []
    assert data.row(1, named=True)["strategiebeteiligte_berater"] is None


def test_duplicate_ids_after_the_first_are_rejected_naming_the_first_row():
    frame = put(base(), 3, kommune_id="K001")
    frame = put(frame.with_columns(pl.all().cast(pl.String)), 5, kommune_id="K001")
    data, report = validate_frame(frame, source="d.csv")
    found = errors_of(report, "duplicate_id")
    assert [i.row for i in found] == [5, 7]
    assert all("Zeile 2" in i.message for i in found)
    assert data.get_column("kommune_id").to_list().count("K001") == 1
    check_balance(report, data)


@pytest.mark.parametrize("empty_ids", [0, 1, 3])
@pytest.mark.parametrize("repeated", [False, True])
def test_repeated_ids_are_found_beside_empty_ids(empty_ids, repeated):
    """The cheap whole-column test that rules a repetition out (as many distinct id hashes as
    ids) neither counts empty ids as repeated nor hides a repeated one among them."""
    frame = as_text(base(8))
    for row in range(empty_ids):
        frame = put(frame, row, kommune_id=None)
    if repeated:
        frame = put(frame, 6, kommune_id=frame["kommune_id"][5])
    _data, report = validate_frame(frame)
    assert [i.row for i in errors_of(report, "duplicate_id")] == ([8] if repeated else [])
    assert len(errors_of(report, "missing_required")) == empty_ids


def test_row_with_several_errors_lists_every_reason_once_rejected():
    frame = put(base(), 0, kommunenart=9, digitalisierungsgrad=7, einwohner="x")
    _data, report = validate_frame(frame)
    assert report.rows_rejected == 1
    assert {i.rule for i in report.errors} == {"unknown_code", "out_of_range", "not_a_number"}
    reasons = report.rejected_rows.get_column("reasons")[0]
    assert "unknown_code" in reasons and "out_of_range" in reasons and "not_a_number" in reasons


def test_unknown_columns_are_a_warning_and_absent_columns_null():
    frame = as_text(base()).drop("welle").with_columns(pl.lit("x").alias("bemerkung"))
    data, report = validate_frame(frame)
    assert report.rows_rejected == 0
    unknown = [w for w in report.warnings if w.rule == "unknown_columns"]
    assert unknown and "bemerkung" in unknown[0].message
    absent = [w for w in report.warnings if w.rule == "missing_columns"]
    assert absent and "welle" in absent[0].message
    assert data.get_column("welle").null_count() == data.height


def test_no_id_column_is_fatal():
    with pytest.raises(InputFileError, match="kommune_id"):
        validate_frame(as_text(base()).drop("kommune_id"), source="ohne.csv")


def test_no_rows_is_fatal():
    with pytest.raises(InputFileError, match="keine Datenzeilen"):
        validate_frame(empty_frame(), source="leer.csv")


def test_messages_follow_the_language():
    frame = put(base(), 0, kommunenart=9)
    i18n.set_lang("en")
    _, report = validate_frame(frame, source="d.csv")
    msg = errors_of(report, "unknown_code")[0].message
    assert "row 2" in msg and "unknown code 9" in msg


def test_every_rule_has_messages_in_both_languages():
    for rule in RULES:
        for lang in ("de", "en"):
            assert i18n.catalog()[f"validate.rule.{rule}"][lang]


def test_numeric_input_frame_is_validated_like_text():
    df = base()
    df = df.with_columns(pl.col("einwohner").cast(pl.Float64))
    df = df.with_columns(pl.Series("einwohner", [1000.5, 2000, 3000, 4000, 5000, -9.0]))
    data, report = validate_frame(df)
    assert [(i.rule, i.row) for i in report.errors] == [
        ("not_integer", 2),
        ("missing_required", 7),  # -9 is "no answer", and einwohner is required
    ]
    assert data.height == 4


def test_pandas_frames_are_accepted():
    import pandas as pd

    pdf = pd.DataFrame({"kommune_id": ["K1"], "kommunenart": ["1"], "bundesland": ["2"]})
    pdf["einwohner"] = ["1000"]
    data, report = validate_frame(pdf)
    assert report.rows_accepted == 1 and data.get_column("einwohner")[0] == 1000


def test_report_json_and_rejected_csv(tmp_path: Path):
    frame = put(base(), 0, kommunenart=9)
    _, report = validate_frame(frame, source="d.csv")
    import json

    js = json.loads(report.to_json())
    assert js["rows_in"] == 6 and js["rows_rejected"] == 1
    assert js["issues"][0]["rule"] in RULES
    out = report.write_rejected_csv(tmp_path / "rejected.csv")
    back = pl.read_csv(out, infer_schema=False)
    assert back.height == 1 and back.get_column("row").item() == "2"
    assert "unknown_code" in back.get_column("reasons").item()
    report.write_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text("utf-8"))["rows_accepted"] == 5


def test_rich_rendering_mentions_counts():
    from rich.console import Console

    frame = put(base(), 0, kommunenart=9)
    _, report = validate_frame(frame, source="d.csv")
    console = Console(record=True, width=200)
    console.print(report.to_rich(max_issues=1))
    text = console.export_text()
    assert "Zeilen gelesen" in text and "unknown_code" in text


def test_validate_file_rows_are_counted_like_a_spreadsheet(tmp_path: Path):
    frame = put(base(), 4, kommunenart=9)
    path = tmp_path / "d.csv"
    frame.write_csv(path)
    _, report = validate_file(path)
    assert errors_of(report, "unknown_code")[0].row == 6
    assert report.errors[0].file == str(path)


def test_validate_file_fast_path_reports_text_in_late_rows(tmp_path: Path):
    """Text in a number column far beyond the reader's sample must still be reported."""
    df = random_canonical(12_000, seed=5, missing_share=0.0)
    einwohner = df.get_column("einwohner").cast(pl.String).scatter(11_500, "unbekannt")
    art = df.get_column("kommunenart").cast(pl.String).scatter(11_900, "2,0")
    df = df.with_columns(einwohner, art)
    path = tmp_path / "gross.csv"
    write_data(df, path)
    data, report = validate_file(path)
    assert [(i.rule, i.row) for i in report.errors] == [("not_a_number", 11_502)]
    assert data.height == 11_999
    assert data.get_column("kommunenart")[11_899] == 2  # one row before it was rejected


# ------------------------------------------------------------ item non-response in options
DN = CB.question("datennutzung").columns  # multiple choice, last option "keine" (exclusive)
ZI = CB.question("ziele").columns  # ranking, max_rank 3


def _options(frame: pl.DataFrame, row: int, columns, values) -> pl.DataFrame:
    return put(frame, row, **dict(zip(columns, values, strict=True)))


@pytest.mark.parametrize("code", sorted(CB.missing_values))
def test_missing_code_in_one_option_is_item_nonresponse_others_not_ticked(code):
    # row 1: option 0 has a missing code, option 1 ticked, the rest empty
    frame = _options(base(), 1, DN, [code, 1, None, None, None, None])
    # row 2: only codes and empty cells: the question is not answered
    frame = _options(frame, 2, DN, [code, None, code, None, None, code])
    data, report = validate_frame(frame)
    assert report.errors == [] and data.height == 6
    assert [data.row(1, named=True)[c] for c in DN] == [None, 1, 0, 0, 0, 0]
    assert [data.row(2, named=True)[c] for c in DN] == [None] * len(DN)


@pytest.mark.parametrize("spelling", [" -9", "-9 ", "-9,0", "-9.0", "-8,0"])
def test_missing_code_spellings_in_option_cells(spelling):
    """Cells polars cannot read itself are parsed one by one: codes must survive that too."""
    frame = _options(base(), 1, DN, [spelling, 1, None, None, None, None])
    frame = _options(frame, 2, ZI, [spelling, 1, *([None] * 8)])
    data, report = validate_frame(frame)
    assert report.errors == []
    assert [data.row(1, named=True)[c] for c in DN] == [None, 1, 0, 0, 0, 0]
    assert [data.row(2, named=True)[c] for c in ZI] == [None, 1, *([0] * 8)]


def test_all_options_missing_code_means_not_answered():
    frame = _options(base(), 0, DN, ["-9"] * len(DN))
    frame = _options(frame, 3, ZI, ["-9"] * len(ZI))
    data, report = validate_frame(frame)
    assert report.errors == []
    assert all(data.row(0, named=True)[c] is None for c in DN)
    assert all(data.row(3, named=True)[c] is None for c in ZI)


def test_ranking_missing_code_in_one_option_is_null_empty_ones_not_ranked():
    values = [1, "-9", 2, *([None] * (len(ZI) - 3))]
    data, report = validate_frame(_options(base(), 3, ZI, values))
    assert report.errors == []
    assert [data.row(3, named=True)[c] for c in ZI] == [1, None, 2, *([0] * (len(ZI) - 3))]


@pytest.mark.parametrize(
    ("columns", "values", "rule", "column", "value"),
    [
        (DN, ["-9", "-5", None, None, None, None], "multiple_not_binary", DN[1], "-5"),
        (DN, ["-5", None, None, None, None, None], "multiple_not_binary", DN[0], "-5"),
        (ZI, ["-9", 7, *([None] * 8)], "rank_out_of_range", ZI[1], "7"),
        (ZI, ["-9", "-2", 1, *([None] * 7)], "rank_out_of_range", ZI[1], "-2"),
    ],
)
def test_values_that_are_not_missing_codes_are_still_rejected(columns, values, rule, column, value):
    data, report = validate_frame(_options(base(), 2, columns, values), source="d.csv")
    check_balance(report, data)
    assert [(i.rule, i.row, i.column, i.value) for i in report.errors] == [(rule, 4, column, value)]
    assert report.rows_rejected == 1
    bad = report.rejected_rows.row(0, named=True)
    if values[0] == "-9":
        assert bad[columns[0]] is None  # the missing code is null in the rejected row too


def test_numeric_frame_keeps_item_nonresponse():
    """Integer columns (SPSS, typed CSV) take another parse path than text."""
    df = base()
    rows = [[-9, 1, None, None, None, None], [-8, -1, None, None, None, -9]]
    for r, values in enumerate(rows):
        for c, v in zip(DN, values, strict=True):
            df = df.with_columns(df.get_column(c).scatter(r, v))
    for dtype in (pl.Int64, pl.Float64, pl.Int32):
        data, report = validate_frame(df.with_columns(pl.col(DN).cast(dtype)))
        assert report.errors == []
        assert [data.row(0, named=True)[c] for c in DN] == [None, 1, 0, 0, 0, 0]
        assert all(data.row(1, named=True)[c] is None for c in DN)
        assert data.slice(2).equals(base().slice(2))


@pytest.mark.parametrize("padding", ["", " "])
def test_csv_file_with_item_nonresponse(tmp_path: Path, padding):
    """Through the CSV reader (typed fast path, and text cells the fast path cannot read)."""
    frame = _options(base(), 1, DN, [f"{padding}-9", 1, None, None, None, None])
    frame = _options(frame, 2, DN, ["-9"] * len(DN))
    frame = _options(frame, 3, ZI, [1, f"{padding}-9", *([None] * 8)])
    frame = _options(frame, 4, DN, ["-9", "-5", None, None, None, None])
    path = tmp_path / "d.csv"
    frame.write_csv(path, null_value="")
    data, report = validate_file(path)
    assert [(i.rule, i.row, i.column, i.value) for i in report.errors] == [
        ("multiple_not_binary", 6, DN[1], "-5")
    ]
    assert [data.row(1, named=True)[c] for c in DN] == [None, 1, 0, 0, 0, 0]
    assert all(data.row(2, named=True)[c] is None for c in DN)
    assert [data.row(3, named=True)[c] for c in ZI] == [1, None, *([0] * 8)]
    assert data.select(DN).slice(0, 1).equals(base().select(DN).slice(0, 1))


def _opt(code: int) -> Option:
    return Option(code=code, id=f"o{code}".replace("-", "m"), label_de="o", label_en="o")


def _question(**fields) -> Question:
    return Question(id="q", label_de="q", label_en="q", section="s", **fields)


# -- canonical dtypes: narrow integers, checked before they are narrowed -------------------
def test_canonical_integer_columns_are_as_narrow_as_their_values_allow():
    schema = canonical_schema()
    for q in CB:
        if q.kind in ("multiple", "ranking", "single", "ordinal"):
            assert all(schema[c] == pl.Int8 for c in q.columns), q.id
    assert schema["einwohner"] == pl.Int32  # 1 .. 4,000,000
    assert schema["anteil_fortbildung_digital"] == pl.Float64


@pytest.mark.parametrize(
    ("fields", "missing", "dtype"),
    [
        ({"kind": "single", "options": [_opt(1), _opt(127)]}, [-9], pl.Int8),
        ({"kind": "single", "options": [_opt(1), _opt(128)]}, [-9], pl.Int16),
        ({"kind": "single", "options": [_opt(1), _opt(2)]}, [-999], pl.Int16),
        ({"kind": "single", "options": [_opt(1), _opt(2)]}, [-128], pl.Int8),
        ({"kind": "number", "integer": True, "min": 0, "max": 32767}, [], pl.Int16),
        ({"kind": "number", "integer": True, "min": -40000, "max": 1}, [], pl.Int32),
        ({"kind": "number", "integer": True, "min": 0, "max": 2**31}, [], pl.Int64),
        ({"kind": "number", "integer": True, "min": 0}, [], pl.Int64),  # unbounded
        ({"kind": "number", "min": 0, "max": 1}, [], pl.Float64),
        ({"kind": "ranking", "options": [_opt(1)], "max_rank": 3}, [-9], pl.Int8),
    ],
)
def test_dtype_of_picks_the_narrowest_integer(fields, missing, dtype):
    assert dtype_of(_question(**fields), missing) == dtype


@pytest.mark.parametrize("shape", ["text", "Int64", "Float64", "csv"])
@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("kommunenart", 300, "unknown_code"),
        ("kommunenart", -200, "unknown_code"),
        (ZI[0], 1000, "rank_out_of_range"),
        (DN[0], 128, "multiple_not_binary"),
        ("datenbestandsaufnahme", 70000, "out_of_range"),
    ],
)
def test_values_beyond_the_narrow_type_are_reported_not_cut_off(
    tmp_path: Path, shape, column, value, rule
):
    """Validation checks on wide types; only accepted rows are narrowed (Int8 here)."""
    df = base()
    if shape == "text":
        data, report = validate_frame(put(df, 2, **{column: value}))
    elif shape == "csv":
        path = tmp_path / "d.csv"
        put(df, 2, **{column: value}).write_csv(path, null_value="")
        data, report = validate_file(path)
    else:
        wide = df.with_columns(pl.col(column).cast(getattr(pl, shape)))
        wide = wide.with_columns(wide.get_column(column).scatter(2, value))
        data, report = validate_frame(wide)
    check_balance(report, data)
    assert (rule, column, str(value)) in [(i.rule, i.column, i.value) for i in report.errors]
    assert {i.row for i in report.errors} == {4}  # the third data row (header = row 1)
    assert data.height == df.height - 1
    assert dict(data.schema) == canonical_schema()
    assert report.rejected_rows[column].to_list() == [value]


@pytest.mark.parametrize("shape", ["text", "Float64", "csv"])
def test_whole_number_beyond_int64_is_reported(tmp_path: Path, shape):
    """1e20 is whole but fits no integer column: reported as out of range with the
    column's bounds, never turned into null silently."""
    df = base()
    if shape == "text":
        data, report = validate_frame(put(df, 1, einwohner="1e20"))
    elif shape == "csv":
        path = tmp_path / "d.csv"
        put(df, 1, einwohner="1e20").write_csv(path, null_value="")
        data, report = validate_file(path)
    else:
        wide = df.with_columns(pl.col("einwohner").cast(pl.Float64))
        data, report = validate_frame(wide.with_columns(wide["einwohner"].scatter(1, 1e20)))
    check_balance(report, data)
    shown = "1e+20" if shape == "Float64" else "1e20"
    assert [(i.rule, i.row, i.column, i.value) for i in report.errors] == [
        ("out_of_range", 3, "einwohner", shown)
    ]
    assert report.errors[0].expected == "eine Zahl von 1 bis 4000000"
