"""The codebook as users see it: `kommunaltypen codebook` and `kommunaltypen template`."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import polars as pl
import pytest

from cli_helpers import run_cli
from kommunaltypen.codebook import default_codebook
from kommunaltypen.codebook_docs import column_docs, write_template
from kommunaltypen.errors import InputFileError

CB = default_codebook()


run = run_cli


def test_codebook_covers_what_the_study_reports():
    kinds = {q.kind for q in CB}
    assert kinds == {"text", "number", "percentage", "single", "ordinal", "multiple", "ranking"}
    tables = {t for q in CB for t in q.tables}
    assert set(range(1, 17)) <= tables
    assert CB.typology_question.id == "ziele" and len(CB.typology_question.options) == 10
    assert CB.typology_question.max_rank == 3
    betreiber = [q for q in CB if q.id.startswith("betreiber_")]
    assert len(betreiber) == 10 and all(q.filter for q in betreiber)


def test_codebook_json_is_complete(capsys):
    code, out, _ = run(capsys, "codebook", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [q["id"] for q in data["questions"]] == [q.id for q in CB]
    assert [c for q in data["questions"] for c in q["columns"]] == list(CB.columns)
    art = next(q for q in data["questions"] if q["id"] == "kommunenart")
    assert art["kind"] == "single"
    assert {(o["code"], o["label_de"]) for o in art["options"]} >= {(1, "Kreis"), (4, "Gemeinde")}
    assert all(o["label_en"] for q in data["questions"] for o in q.get("options", []))
    strat = next(q for q in data["questions"] if q["id"] == "strategiebeteiligte")
    assert strat["filter"] == {"question": "strategie", "in": [1, 2]}
    assert {m["code"] for m in data["missing_codes"]} == {-1, -8, -9}


def test_codebook_csv_has_one_line_per_column(capsys):
    code, out, _ = run(capsys, "codebook", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["column"] for r in rows] == list(CB.columns)
    fim = next(r for r in rows if r["column"] == "fim")
    assert "1=Ja" in fim["allowed"] and "0=Nein" in fim["allowed"]


def test_codebook_markdown_in_english(capsys):
    code, out, _ = run(capsys, "--lang", "en", "codebook", "--format", "md")
    assert code == 0
    assert out.startswith("# Survey")
    for column in CB.columns:
        assert f"`{column}`" in out
    assert "most important" in out


def test_codebook_to_file(tmp_path, capsys):
    target = tmp_path / "cb.json"
    code, _, _ = run(capsys, "codebook", "--out", str(target))
    assert code == 0 and json.loads(target.read_text("utf-8"))["id"] == CB.id


def test_codebook_unknown_format_is_a_clean_error(capsys):
    code, _, err = run(capsys, "codebook", "--format", "pdf")
    assert code != 0 and "Traceback" not in err


def test_template_csv_has_exactly_the_columns(tmp_path, capsys):
    target = tmp_path / "vorlage.csv"
    code, out, _ = run(capsys, "template", "--out", str(target))
    assert code == 0 and str(len(CB.columns)) in out
    lines = target.read_text("utf-8").splitlines()
    assert lines == [",".join(CB.columns)]


def test_template_xlsx_has_columns_and_an_explanation_sheet(tmp_path):
    target = write_template(tmp_path / "vorlage.xlsx")
    wb = openpyxl.load_workbook(target, read_only=True)
    data, explain = wb.worksheets[0], wb.worksheets[1]
    assert [c.value for c in next(data.iter_rows(max_row=1))] == list(CB.columns)
    assert data.max_row == 1
    rows = list(explain.iter_rows(values_only=True))
    assert len(rows) == len(CB.columns) + 1
    assert rows[1][0] == CB.columns[0]
    assert wb.sheetnames == ["Daten", "Erläuterung"]


def test_template_unsupported_suffix(tmp_path):
    with pytest.raises(InputFileError, match=r"\.ods"):
        write_template(tmp_path / "vorlage.ods")


def test_column_docs_describe_filters_and_ranges():
    docs = {d["column"]: d for d in column_docs(CB, "de")}
    assert docs["betreiber_dms"]["filter"] == "basiskomponenten_dms in [1]"
    assert "0 bis 100" in docs["anteil_fortbildung_digital"]["allowed"]
    assert docs["kommunenart"]["required"] == "x"


# ------------------------------------------------------------------ the question added for A08
QUALIFICATION = "qualifizierung_mitarbeitende"


def test_qualification_question_added_for_claim_a08():
    """The staff-qualification self-assessment (study chapter 5.4, claim A08): an ordinal 1–5
    scale like the other self-assessments, labelled in German and English, in the staff
    section, appended as the last column (the 2019 column order is kept), in no table."""
    q = CB.question(QUALIFICATION)
    assert (q.kind, q.section, q.min, q.max, q.tables) == ("ordinal", "personal", 1, 5, ())
    assert "Qualifizierung der Mitarbeitenden" in q.label_de
    assert "qualification of staff" in q.label_en
    assert [s.code for s in q.scale_labels] == [1, 2, 3, 4, 5]
    assert q.scale_labels == CB.question("innovationsfreude").scale_labels
    assert all(s.label_de and s.label_en and s.label_de != s.label_en for s in q.scale_labels)
    assert CB.columns[-1] == QUALIFICATION and not q.required and q.filter is None
    for lang, first, last in (
        ("de", "1=sehr niedrig", "5=sehr hoch"),
        ("en", "1=very low", "5=very high"),
    ):
        doc = next(d for d in column_docs(CB, lang) if d["column"] == QUALIFICATION)
        assert doc["label"] == q.label(lang)
        assert doc["allowed"].startswith(first) and doc["allowed"].endswith(last)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_qualification_answers_follow_the_codebook_rules(lang):
    """Values outside 1..5 are refused with the value and the expected range named; the
    missing codes and empty cells become null."""
    from kommunaltypen import i18n
    from kommunaltypen.io.synthetic import random_canonical
    from kommunaltypen.validate import validate_frame

    cells = ["6", "0", "2,5", "gut", "-9", "-1", "", "3"]
    frame = random_canonical(len(cells), seed=3, missing_share=0.0).select(pl.all().cast(pl.String))
    frame = frame.with_columns(pl.Series(QUALIFICATION, cells))
    with i18n.use_lang(lang):
        data, report = validate_frame(frame, source="welle.csv")
    by_row = {i.row: i for i in report.errors}
    assert {r: (i.rule, i.value) for r, i in by_row.items()} == {
        2: ("out_of_range", "6"),
        3: ("out_of_range", "0"),
        4: ("not_integer", "2,5"),
        5: ("not_a_number", "gut"),
    }
    assert all(i.column == QUALIFICATION for i in report.errors)
    expected = "1 bis 5" if lang == "de" else "1 to 5"
    for row in (2, 3):
        assert expected in by_row[row].expected and expected in by_row[row].message
        assert by_row[row].value in by_row[row].message and QUALIFICATION in by_row[row].message
    assert report.rows_rejected == 4
    assert data.get_column(QUALIFICATION).to_list() == [None, None, None, 3]


def test_qualification_in_spss_xlsx_and_csv_round_trips(tmp_path):
    import pyreadstat
    from polars.testing import assert_frame_equal

    from kommunaltypen.io import write_data
    from kommunaltypen.io.synthetic import random_canonical
    from kommunaltypen.validate import validate_file

    df = random_canonical(40, seed=12, missing_share=0.1)
    assert df.get_column(QUALIFICATION).null_count() > 0
    assert df.get_column(QUALIFICATION).drop_nulls().is_between(1, 5).all()
    for name in ("d.sav", "d.xlsx", "d.csv"):
        data, report = validate_file(write_data(df, tmp_path / name))
        assert report.errors == [] and report.warnings == [], name
        assert_frame_equal(data, df)
    _, meta = pyreadstat.read_sav(str(tmp_path / "d.sav"), metadataonly=True)
    assert meta.column_names_to_labels[QUALIFICATION] == CB.question(QUALIFICATION).label_de
    assert meta.variable_value_labels[QUALIFICATION][5.0] == "sehr hoch"
    assert meta.variable_measure[QUALIFICATION] == "ordinal"
