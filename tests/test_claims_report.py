"""The "Thesen-Check" section of the report (HTML, XLSX), from memory and from a directory."""

import dataclasses

import openpyxl
import pytest

from kommunaltypen.analysis import run_analysis
from kommunaltypen.claims import check_analysis, write_claims_csv
from kommunaltypen.report import render_report
from kommunaltypen.report.model import ReportData, load_output_dir


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    out = tmp_path_factory.mktemp("analyse")
    result = run_analysis(n_bootstrap=0, k_choice=False, out_dir=out)
    return result, check_analysis(result), out


def test_report_has_the_section_when_the_analysis_has_a_check(analysed, tmp_path):
    result, check, _ = analysed
    data = dataclasses.replace(ReportData.from_record(result.record()), claims=check)
    paths = render_report(data, tmp_path, lang="de", formats=("html", "xlsx"))
    html = paths["html"].read_text("utf-8")
    assert 'id="thesen"' in html and 'href="#thesen"' in html  # section and table of contents
    for r in check:
        assert f'data-claim="{r.id}"' in html
    assert "nicht prüfbar" in html and "Holm" in html
    # the section sits between the recommendations and the appendix
    assert html.index('id="empfehlungen"') < html.index('id="thesen"') < html.index('id="anhang"')
    book = openpyxl.load_workbook(paths["xlsx"])
    assert "Thesen-Check" in book.sheetnames
    sheet = book["Thesen-Check"]
    ids = [row[0] for row in sheet.iter_rows(min_row=6, values_only=True)]
    assert ids == [r.id for r in check]


def test_report_in_english(analysed, tmp_path):
    result, check, _ = analysed
    data = dataclasses.replace(ReportData.from_record(result.record()), claims=check)
    html = render_report(data, tmp_path, lang="en", formats=("html",))["html"].read_text("utf-8")
    assert "Claims check" in html and "not testable with this data" in html


def test_report_from_a_directory_reads_claims_csv(analysed, tmp_path):
    _, check, out = analysed
    assert load_output_dir(out).claims is None  # no claims.csv: no section
    html = render_report(out, tmp_path / "ohne", formats=("html",))["html"].read_text("utf-8")
    assert 'id="thesen"' not in html and 'href="#thesen"' not in html
    write_claims_csv(check, out / "claims.csv")
    data = load_output_dir(out)
    assert data.claims is not None and data.claims.to_frame().equals(check.to_frame())
    html = render_report(out, tmp_path / "mit", formats=("html",))["html"].read_text("utf-8")
    assert 'id="thesen"' in html
    (out / "claims.csv").unlink()


def test_analyze_writes_the_check_and_the_report_shows_it_the_same_from_disk(tmp_path):
    """``analyze`` (claims on) writes claims.csv and result.json with the check; the report
    rendered from the directory equals the one rendered from memory."""
    from kommunaltypen.analysis import run_analysis
    from kommunaltypen.claims import read_claims_csv
    from kommunaltypen.report import render_report

    out = tmp_path / "out"
    result = run_analysis(out_dir=out, n_bootstrap=0, k_choice=False, claims=True)
    assert result.claims is not None and (out / "claims.csv").is_file()
    assert read_claims_csv(out / "claims.csv").to_frame().equals(result.claims.to_frame())
    memory = render_report(result, tmp_path / "a", lang="de", formats=("html",))["html"]
    disk = render_report(out, tmp_path / "b", lang="de", formats=("html",))["html"]
    html = memory.read_text(encoding="utf-8")
    assert "Thesen-Check" in html
    assert html == disk.read_text(encoding="utf-8")
