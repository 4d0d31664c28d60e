"""The codebook as users see it: `kommunaltypen codebook` and `kommunaltypen template`."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
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
