"""The rendered report: structure (HTML, charts, profiles, recommendations), English, publication
mode, XLSX cells, snapshots of the rendered tables, the headless browser and the PDF pages."""

from __future__ import annotations

import csv
import html as html_text
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kommunaltypen.cli import main
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.report import ReportError, render_report
from kommunaltypen.report.model import TYPE_IDS, load_output_dir
from kommunaltypen.report.recommendations import load_rules
from kommunaltypen.report.renderers import html as html_tables
from kommunaltypen.report.renderers import pdf as pdf_tables
from kommunaltypen.report.renderers.common import CellView, RowView, TableView, table_view
from pdf_words import outside_text_area, overlapping, pdf_words
from report_outdir import build_output_dir, build_synthetic

SNAPSHOTS = Path(__file__).parent / "snapshots"
CHART_IDS = ["zielprofil", "typenanteile", "tabelle_03", "handlungsfelder"] + [
    f"tabelle_{n:02d}" for n in range(5, 17)
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The bundled data through the real pipeline when it is there, rendered in German."""
    out = tmp_path_factory.mktemp("report_de")
    out, result = build_output_dir(out)
    paths = render_report(result, out, lang="de")  # from memory
    return out, paths


@pytest.fixture(scope="module")
def rendered_en(rendered, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_en")
    shutil.copytree(rendered[0], out, dirs_exist_ok=True)
    for name in ("report.html", "report.pdf", "report.xlsx"):
        (out / name).unlink()
    shutil.rmtree(out / "charts")
    return out, render_report(out, lang="en", formats=("html", "xlsx"))


def test_all_outputs_written(rendered):
    out, paths = rendered
    for kind in ("html", "pdf", "xlsx"):
        assert paths[kind].exists() and paths[kind].stat().st_size > 1000
    for chart in CHART_IDS:
        for ext in ("png", "svg"):
            path = out / "charts" / f"{chart}.{ext}"
            assert path.stat().st_size > 1000, path
            assert paths[f"chart:{chart}.{ext}"] == path


def test_html_structure(rendered):
    out, _ = rendered
    html = (out / "report.html").read_text(encoding="utf-8")
    tables = set(re.findall(r'<table class="data screen" data-table="(\d+)"', html))
    assert tables == {str(n) for n in range(1, 17)}
    for chart in CHART_IDS:
        block = re.search(rf'data-chart="{chart}">\s*<svg[^>]*>', html)
        assert block, chart
    for type_id in TYPE_IDS:
        assert f'id="steckbrief-{type_id}"' in html
        assert f'id="empfehlungen-{type_id}"' in html
    assert 'id="d-team"' in html
    rules = {r.id for r in load_rules().rules}
    assert set(re.findall(r'data-rule="([a-z_]+)"', html)) == rules
    for section in ("daten", "typologie", "k-wahl", "stabilitaet", "abgelehnt", "methode"):
        assert f'id="{section}"' in html
    assert "kommunaltypen analyze" in html  # how to reproduce


def test_every_profile_figure_resolves(rendered):
    """The data behind the report yield the four study types and every figure the profiles
    cite (fails while the bundled data do not reproduce the study's types)."""
    out, _ = rendered
    data = load_output_dir(out)
    assert set(TYPE_IDS) <= {c.key for c in data.tables[7].type_columns}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Folgende Kennzahlen fehlen" not in html


def test_html_is_self_contained(rendered):
    html = (rendered[0] / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href)\s*=\s*"(?:https?:)?//', html)
    assert not re.search(r"url\((?!#)", html)  # no external fonts or images in CSS/SVG
    assert "<script" not in html
    assert "<link" not in html


def test_table_values_come_from_the_output_directory(rendered):
    out, _ = rendered
    data = load_output_dir(out)
    html = (out / "report.html").read_text(encoding="utf-8")
    row = data.tables[7].rows[0]
    cell = row.cells[data.tables[7].type_columns[0].key]
    expected = f"{cell.value:.{row.precision}f}".replace(".", ",")
    pattern = rf'data-row="{row.key}">.*?{re.escape(expected)}'
    assert re.search(pattern, html, re.S)


def test_english_report(rendered_en):
    out, _ = rendered_en
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    for text in ("Table appendix", "Profiles of the four types", "Table 16", "Optimisers"):
        assert text in html
    for german in ("Tabellenanhang", "Steckbriefe der vier Typen", "Kennzeichen"):
        assert german not in html
    wb = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    assert "Table 01" in wb.sheetnames and "Codebook" in wb.sheetnames


def _listed_gaps() -> list[dict[str, str]]:
    data = Path(__file__).parents[1] / "src" / "kommunaltypen" / "data"
    path = data / "study_inconsistencies.csv"
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_reconstruction_gaps_are_listed_for_the_bundled_data(rendered, rendered_en):
    """The report lists the study cells the bundled reconstruction cannot reproduce, with
    the reason in the report's language and numbers in its notation."""
    listed = _listed_gaps()
    assert listed
    html = (rendered[0] / "report.html").read_text(encoding="utf-8")
    block = re.search(r'<table class="data small recon">(.*?)</table>', html, re.S)
    assert block and block.group(1).count("<tr>") == len(listed) + 1  # + heading row
    for rec in listed:
        assert rec["reason_de"] in block.group(1)
        assert rec["published"].replace(".", ",") in block.group(1)
    english = html_text.unescape((rendered_en[0] / "report.html").read_text(encoding="utf-8"))
    assert "What the bundled reconstruction cannot reproduce" in english
    assert all(rec["reason"] in english for rec in listed)


def test_reconstruction_gaps_only_for_the_bundled_data(rendered, tmp_path):
    out = tmp_path / "other"
    shutil.copytree(rendered[0], out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["input"]["bundled"] is True
    manifest["input"]["bundled"] = False
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    render_report(out, lang="de", formats=("html",))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="data small recon"' not in html
    assert "Rekonstruktion nicht wiedergeben" not in html


def test_counts_per_kommunenart_also_from_the_output_directory(rendered, tmp_path):
    """``report --from DIR`` (no AnalysisResult) shows the accepted and typed municipalities
    per Kommunenart, as the report rendered inside ``analyze`` does."""
    manifest = json.loads((rendered[0] / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["rows"]["by_kommunenart"]
    assert sum(v["accepted"] for v in counts.values()) == manifest["rows"]["accepted"]
    assert sum(v["typed"] for v in counts.values()) == manifest["rows"]["typed"]
    out = tmp_path / "from_dir"
    shutil.copytree(rendered[0], out)
    render_report(out, lang="de", formats=("html",))
    html = (out / "report.html").read_text(encoding="utf-8")
    block = re.search(r'<table class="data small per-kind">(.*?)</table>', html, re.S)
    assert block
    kreis = counts["1"]
    assert re.search(
        rf"<td>Kreis</td><td>{kreis['accepted']}</td><td>{kreis['typed']}</td>", block.group(1)
    )


def test_xlsx_sheets_and_numbers(rendered):
    out, _ = rendered
    data = load_output_dir(out)
    wb = openpyxl.load_workbook(out / "report.xlsx")
    names = wb.sheetnames
    assert [f"Tabelle {n:02d}" for n in range(1, 17)] == names[:16]
    assert {"Zuordnungen", "Codebuch", "Empfehlungen", "Abgelehnt"} <= set(names)
    ws = wb["Tabelle 07"]
    first = data.tables[7].rows[0]
    assert ws.cell(4, 1).value == first.label_de
    value = ws.cell(4, 2)
    assert value.data_type == "n" and value.value == pytest.approx(
        first.cells[data.tables[7].columns[0].key].value
    )
    assert value.number_format == "#,##0.0"
    assert wb["Zuordnungen"].max_row == len(data.assignments) + 1


def test_xlsx_neutralises_formula_injection(tmp_path):
    import xlsxwriter

    from kommunaltypen.report.renderers.xlsx import SafeSheet

    path = tmp_path / "inj.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    sheet = SafeSheet(wb, wb.add_worksheet("x"))
    attacks = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]
    for i, text in enumerate([*attacks, "harmless"]):
        sheet.write(i, 0, text)
    sheet.write(10, 0, -2.5)  # a negative number stays a number
    wb.close()
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
    ws = openpyxl.load_workbook(path)["x"]
    for i, text in enumerate(attacks, start=1):
        cell = ws.cell(i, 1)
        assert cell.value == text and cell.data_type == "s" and cell.quotePrefix
    assert not ws.cell(6, 1).quotePrefix
    assert ws.cell(11, 1).value == -2.5


def test_publication_mode_suppresses_everywhere(tmp_path):
    out = build_synthetic(tmp_path / "pub")
    data = load_output_dir(out)
    min_n = 50  # the synthetic Bedächtige (45) fall below it
    small = [tid for tid in TYPE_IDS if data.tables[7].rows[0].cells[tid].n < min_n]
    assert small == ["bedaechtige"]
    paths = render_report(out, lang="de", publication=True, min_n=min_n, formats=("html", "xlsx"))
    html = paths["html"].read_text(encoding="utf-8")
    row7 = re.search(r'data-row="hvb">(.*?)</tr>', html, re.S).group(1)
    assert row7.count(f"&lt;{min_n}") == 1
    profile = re.search(r'id="steckbrief-bedaechtige">(.*?)</article>', html, re.S).group(1)
    assert f"&lt;{min_n}" in profile and "Bedächtige" in profile
    recs = re.search(r'id="empfehlungen-bedaechtige">.*?</h3>\s*(<p|<ul)', html, re.S).group(1)
    assert recs == "<p"  # a suppressed type is never the strongest one
    svg = (out / "charts" / "tabelle_07.svg").read_text(encoding="utf-8")
    assert svg.count("#e69f00") <= 2  # only the legend patch of the suppressed type, no bars
    ws = openpyxl.load_workbook(paths["xlsx"])["Tabelle 07"]
    assert ws.cell(4, 2).value == f"<{min_n}" and ws.cell(4, 2).data_type == "s"


def test_rendered_tables_snapshot(tmp_path):
    """The HTML of every rendered table (synthetic data, fixed seed) against the stored snapshot.

    Rewrite with ``KOMMUNALTYPEN_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_report.py``."""
    out = build_synthetic(tmp_path / "snap")
    data = load_output_dir(out)
    for lang in ("de", "en"):
        rendered = "\n".join(
            html_tables.render_table(table_view(tm, data, lang, False, 5), lang)
            for tm in data.tables.values()
        )
        path = SNAPSHOTS / f"report_tables_{lang}.html"
        if os.environ.get("KOMMUNALTYPEN_UPDATE_SNAPSHOTS") == "1":
            path.write_text(rendered, encoding="utf-8")
        assert path.exists(), f"{path} missing; run with KOMMUNALTYPEN_UPDATE_SNAPSHOTS=1"
        assert rendered == path.read_text(encoding="utf-8")


def test_errors_are_clear(tmp_path):
    with pytest.raises(ReportError, match="existiert nicht"):
        render_report(tmp_path / "missing")
    out = build_synthetic(tmp_path / "bad")
    with pytest.raises(ReportError, match="Sprache"):
        render_report(out, lang="fr")
    with pytest.raises(ReportError, match="min_n"):
        render_report(out, min_n=0)
    (out / "tables" / "table_05.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(KommunaltypenError, match=r"table_05\.csv"):
        render_report(out, formats=("html",))


def test_report_command(tmp_path, capsys):
    out = build_synthetic(tmp_path / "cli")
    with pytest.raises(SystemExit) as exc:
        main(["--lang", "en", "report", "--from", str(out), "--formats", "html,xlsx"])
    assert exc.value.code == 0
    assert '<html lang="en">' in (out / "report.html").read_text(encoding="utf-8")
    assert "Report written" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["report", "--from", str(tmp_path / "nope")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "existiert nicht" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["report", "--from", str(out), "--formats", "docx"])
    assert exc.value.code == 2 and "docx" in capsys.readouterr().err


@pytest.mark.browser
def test_html_in_headless_chromium(rendered, tmp_path):
    """Opened from file://: no console errors, no request except the file itself."""
    from playwright.sync_api import sync_playwright

    path = (rendered[0] / "report.html").resolve()
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri(), wait_until="load")
        n_svg = page.locator("figure.chart svg").count()
        page.click("label[for='tabelle-07-details']")
        shown = page.locator("#tabelle-07 .d").first.is_visible()
        page.screenshot(path=str(tmp_path / "shot.png"), full_page=False)
        browser.close()
    assert errors == []
    assert requests == [path.as_uri()]
    assert n_svg == len(CHART_IDS)
    assert shown  # the CSS-only details switch works


@pytest.mark.slow
def test_pdf_pages(rendered, tmp_path):
    """pdftoppm turns the PDF into pages: plausible page count, a TOC with page numbers, no
    blank page."""
    import numpy as np
    from PIL import Image

    pdf = rendered[0] / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))
    assert 15 <= pages <= 80
    assert "A4" in info.stdout or "595.28 x 841.89" in info.stdout
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(pdf), str(tmp_path / "p")], check=True)
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == pages
    for image in images:
        pixels = np.asarray(Image.open(image).convert("L"), dtype=float)
        assert pixels.std() > 2.0, f"{image.name} looks blank"
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "2", "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"Tabellenanhang[\s.]+\d+\n", text)  # TOC entries carry page numbers


def test_pdf_text_stays_inside_its_columns_and_the_page(rendered):
    """The data tables have a fixed layout (print.css) with the column widths of
    ``renderers.pdf.column_widths``: no word runs into another (a header like
    "Serviceorientierte" into the next column, a long row label into the values), and none
    into the side margins (the automatic layout once made Tables 5 and 9 wider than the text
    area)."""
    words = pdf_words(rendered[0] / "report.pdf")
    assert sum(w.text == "Serviceorientierte" for w in words) >= 14  # the tables' headers
    assert not overlapping(words), overlapping(words)[:5]
    assert not outside_text_area(words), outside_text_area(words)[:5]


def _table_view(columns: list[str], labels: list[str], tests: bool = True) -> TableView:
    """A table of typical print strings: value, n and interval in every cell, a test per row."""
    cell = CellView("82,9 / 5,7", "115", "[60,9; 91,1]", False, False, 82.9, 5.7, 115, 60.9, 91.1)
    rows = [
        RowView(f"r{i}", label, [cell] * len(columns), "", None, "", "", 1, True)
        for i, label in enumerate(labels)
    ]
    for row in rows if tests else []:
        row.test, row.p_value, row.effect = "Chi² (Monte Carlo)", "< 0,001", "V 0,26"
    return TableView(1, "tabelle-01", "Tabelle 1", "", columns, rows, tests)


def test_print_column_widths(tmp_path):
    """One width per column (row labels, values, test), in percent, summing to 100: a long
    header word widens its column (a header wraps at spaces), long row labels widen theirs,
    no test column no test width; any number of columns; the print table (not the screen
    table) carries them."""
    types = ["Bedächtige", "Optimierer", "Serviceorientierte", "Community Manager", "Gesamt"]
    labels = ["Verwaltung (als wichtigstes Handlungsfeld)", "Sicherheit", "Energie und Umwelt"]
    widths = pdf_tables.column_widths(_table_view(types, labels))
    assert len(widths) == 7 and sum(widths) == pytest.approx(100)
    assert widths[3] > max(widths[1], widths[2], widths[4], widths[5])
    assert widths[4] < widths[3]  # "Community Manager" in two lines
    short = pdf_tables.column_widths(_table_view(types, ["A", "B", "C"]))
    assert short[0] < widths[0]
    no_tests = pdf_tables.column_widths(_table_view(types, labels, tests=False))
    assert len(no_tests) == 6 and sum(no_tests) == pytest.approx(100)
    kinds = [f"... Kommunen der Art {k}" for k in range(9)]  # more columns than fit
    many = pdf_tables.column_widths(_table_view(kinds, labels))
    assert len(many) == 11 and sum(many) == pytest.approx(100) and min(many) > 0
    out = build_synthetic(tmp_path / "widths")
    data = load_output_dir(out)
    for lang in ("de", "en"):
        for tm in data.tables.values():
            view = table_view(tm, data, lang, False, 5)
            widths = pdf_tables.column_widths(view)
            assert len(widths) == 1 + len(view.columns) + view.has_tests
            assert sum(widths) == pytest.approx(100) and min(widths) > 0
            printed = pdf_tables.render_table(view, lang)
            assert printed.count("<col ") == len(widths) == printed.count('scope="col"')
            assert "<colgroup>" not in html_tables.render_table(view, lang)


def test_cells_suppressed_by_analyze_stay_hidden(tmp_path):
    """An output directory written with ``analyze --publication`` (values "<5", n empty)."""
    import pandas as pd

    out = build_synthetic(tmp_path / "pubdir")
    path = out / "tables" / "table_07.csv"
    frame = pd.read_csv(path)
    hide = frame["column_label"] == "Bedächtige"
    frame["value"] = frame["value"].round(1).astype(str)
    frame.loc[hide, "value"] = "<5"
    frame.loc[hide, ["n", "ci_low", "ci_high"]] = None
    frame.loc[hide, "suppressed"] = True
    frame.to_csv(path, index=False)
    html = render_report(out, formats=("html",))["html"].read_text(encoding="utf-8")
    row = re.search(r'data-row="cio">(.*?)</tr>', html, re.S).group(1)
    assert row.count("&lt;5") == 1


def test_user_declared_tables_render(tmp_path):
    """Output of ``analyze --table-spec FILE`` with other table numbers still gives a report."""
    import pandas as pd
    import yaml

    out = build_synthetic(tmp_path / "custom")
    for path in (out / "tables").glob("table_*.csv"):
        if path.name not in ("table_07.csv", "table_11.csv"):
            path.unlink()
    frame = pd.read_csv(out / "tables" / "table_07.csv")
    frame["table"] = 21
    frame.to_csv(out / "tables" / "table_21.csv", index=False)
    decl = out / "meine_tabellen.yaml"
    decl.write_text(
        yaml.safe_dump({"tables": [{"number": 21, "caption_de": "Eigene Rollen-Tabelle"}]}),
        encoding="utf-8",
    )
    manifest = out / "manifest.json"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            '"parameters": {', f'"parameters": {{"tables": "{decl}", '
        ),
        encoding="utf-8",
    )
    paths = render_report(out, formats=("html", "xlsx"))
    html = paths["html"].read_text(encoding="utf-8")
    assert set(re.findall(r'data-table="(\d+)"', html)) == {"7", "11", "21"}
    assert "Eigene Rollen-Tabelle" in html
    assert (out / "charts" / "tabelle_21.svg").exists()
    assert "Folgende Kennzahlen fehlen" in html  # profile figures of absent tables are listed
    assert "Tabelle 21" in openpyxl.load_workbook(paths["xlsx"]).sheetnames


def test_new_unnamed_types_are_reported(tmp_path):
    """A typology that finds a type matching none of the study's (``neu_1``)."""
    import pandas as pd

    out = build_synthetic(tmp_path / "newtype")
    for path in (out / "tables").glob("table_*.csv"):
        frame = pd.read_csv(path)
        frame["column_label"] = frame["column_label"].replace("Community Manager", "Neuer Typ 1")
        frame["column_id"] = frame["column_id"].replace("community_manager", "neu_1")
        frame.to_csv(path, index=False)
    assign = pd.read_csv(out / "assignments.csv")
    assign["type"] = assign["type"].replace("community_manager", "neu_1")
    assign.to_csv(out / "assignments.csv", index=False)
    data = load_output_dir(out)
    assert "neu_1" in [c.key for c in data.tables[7].type_columns]
    html = render_report(out, formats=("html",))["html"].read_text(encoding="utf-8")
    assert "keinem der vier Typen der Studie entsprechen (Neuer Typ 1)" in html
    summary = re.search(r"Kommunen je Typ</caption>(.*?)</table>", html, re.S).group(1)
    assert "Neuer Typ 1" in summary
    svg = (out / "charts" / "tabelle_07.svg").read_text(encoding="utf-8")
    assert "Neuer Typ 1" in svg and "#56b4e9" in svg.lower()


def test_planned_chart_sizes_are_the_png_sizes(rendered):
    """The print HTML refers to each chart by its planned pixel size before it is drawn (so the
    PDF is laid out while the charts are drawn): the plans must match the PNGs, which are RGB
    (no alpha channel for WeasyPrint to split off)."""
    from PIL import Image

    from kommunaltypen.report.chartplan import plan_charts
    from kommunaltypen.report.html import context, render_html

    out, _ = rendered
    data = load_output_dir(out)
    plans = plan_charts(data, "de")
    assert [p.id for p in plans] == CHART_IDS
    for plan in plans:
        with Image.open(out / "charts" / f"{plan.id}.png") as image:
            assert (plan.width, plan.height) == image.size, plan.id
            assert image.mode == "RGB", plan.id
    html = render_html(context(data, plans, "de", False, 5, "print"))
    sizes = re.findall(
        r'<svg class="png"[^>]* width="(\d+)" height="(\d+)"[^>]*><image href="charts/([a-z0-9_]+)'
        r'\.png" width="(\d+)" height="(\d+)"',
        html,
    )
    assert [(s[2], int(s[0]), int(s[1])) for s in sizes] == [
        (p.id, p.width, p.height) for p in plans
    ]
    assert all(s[0:2] == s[3:5] for s in sizes)
    assert "<br>" not in "".join(re.findall(r'<table class="data print".*?</table>', html, re.S))


def test_pdf_embeds_every_chart(rendered):
    """Each chart is fetched only when WeasyPrint paints its page; every one must be in the
    PDF (an image WeasyPrint cannot load would be left out silently), without a soft mask."""
    out, _ = rendered
    listing = subprocess.run(
        ["pdfimages", "-list", str(out / "report.pdf")], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    kinds = [line.split()[2] for line in listing]
    assert kinds.count("image") == len(CHART_IDS)
    assert "smask" not in kinds


def test_pdf_in_one_process_equals_the_worker_pdf(rendered, tmp_path, monkeypatch):
    """Without the worker process (``KOMMUNALTYPEN_REPORT_WORKERS=1``) the same PDF pages."""
    out = tmp_path / "one"
    shutil.copytree(rendered[0], out)
    for name in ("report.pdf", "report.html", "report.xlsx"):
        (out / name).unlink()
    shutil.rmtree(out / "charts")
    monkeypatch.setenv("KOMMUNALTYPEN_REPORT_WORKERS", "1")
    pdf = render_report(out, lang="de", formats=("pdf",))["pdf"]
    texts = [
        subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True)
        for p in (pdf, rendered[0] / "report.pdf")
    ]
    assert texts[0].stdout == texts[1].stdout and "Tabellenanhang" in texts[0].stdout
    assert not (out / "report.html").exists()


def _fail_chart(plan_id: str):
    """A patch of ``charts._figure_of`` that cannot draw the chart ``plan_id``."""
    from kommunaltypen.report import charts

    draw = charts._figure_of

    def failing(data, plan, *args):
        if plan.id == plan_id:
            raise RuntimeError("chart kaputt")
        return draw(data, plan, *args)

    return "_figure_of", failing


def _fail_png_write(name: str):
    """A patch of ``charts._write_png`` (run by the background thread) failing for ``name``."""
    from kommunaltypen.report import charts

    write = charts._write_png

    def failing(image, png, tmp):
        if png.name == name:
            raise OSError("Platte voll")
        return write(image, png, tmp)

    return "_write_png", failing


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        (lambda: _fail_chart("tabelle_05"), (RuntimeError, "chart kaputt")),
        (lambda: _fail_png_write("tabelle_07.png"), (OSError, "Platte voll")),
    ],
    ids=["chart-not-drawn", "png-not-written"],
)
def test_a_failing_chart_stops_the_pdf_worker(rendered, tmp_path, monkeypatch, patch, error):
    """A chart that cannot be drawn, or whose PNG (written by a background thread) cannot be
    written: the error reaches the caller at once (the waiting PDF worker gives up and is
    ended), no PDF is written."""
    import time

    from kommunaltypen.report import charts

    out = tmp_path / "fail"
    shutil.copytree(rendered[0], out)
    (out / "report.pdf").unlink()
    name, failing = patch()
    monkeypatch.setenv("KOMMUNALTYPEN_REPORT_WORKERS", "2")
    monkeypatch.setattr(charts, name, failing)
    started = time.monotonic()
    with pytest.raises(error[0], match=error[1]):
        render_report(out, lang="de")
    assert time.monotonic() - started < 120  # not the worker's 600 s chart timeout
    assert not (out / "report.pdf").exists()


def test_pdf_worker_embeds_the_chart_png_data_unchanged(rendered):
    """The PDF worker takes each chart's compressed pixels straight from its PNG
    (``reuse_png_data``): the same bytes WeasyPrint would have produced by decoding and
    encoding the file again, so the PDF does not change. Other PNGs (alpha, 16 bit,
    interlaced) keep WeasyPrint's own path. Checked in a fresh process: the patch is
    process-wide."""
    import io

    from PIL import Image
    from weasyprint.images import RasterImage

    from kommunaltypen.report.pdf import _idat

    out, _ = rendered
    png = (out / "charts" / "zielprofil.png").read_bytes()
    assert _idat(png) == RasterImage._get_png_data(Image.open(io.BytesIO(png)))
    for mode in ("RGBA", "I;16", "L"):
        other = io.BytesIO()
        Image.new(mode, (4, 3)).save(other, format="png")
        assert _idat(other.getvalue()) is None, mode
    interlaced = io.BytesIO()
    Image.new("RGB", (4, 3)).save(interlaced, format="png")
    raw = bytearray(interlaced.getvalue())
    raw[28] = 1  # the IHDR's interlace flag
    assert _idat(bytes(raw)) is None
    assert _idat(png[:-20]) is None  # cut short: no IEND
    assert _idat(png[:20]) is None
    code = (
        "import io, sys\n"
        "from PIL import Image\n"
        "from weasyprint.images import RasterImage\n"
        "from kommunaltypen.report.pdf import _idat, reuse_png_data\n"
        "original = RasterImage._get_png_data\n"
        "reuse_png_data(); reuse_png_data()\n"
        "assert RasterImage._get_png_data is not original\n"
        "png = open(sys.argv[1], 'rb').read()\n"
        "assert RasterImage._get_png_data(Image.open(io.BytesIO(png))) == _idat(png)\n"
        "rgba = io.BytesIO(); Image.new('RGBA', (4, 3)).save(rgba, format='png')\n"
        "image = Image.open(io.BytesIO(rgba.getvalue())).convert('RGB')\n"
        "assert RasterImage._get_png_data(image) == original(image)\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out / "charts" / "zielprofil.png")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_pdf_worker_starts_before_the_report_model_is_imported(rendered, tmp_path):
    """From a directory, the PDF worker is started before the report's data model (polars,
    the table engine, the codebook) is imported, so it imports WeasyPrint meanwhile."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: no PDF worker")
    out = tmp_path / "early"
    shutil.copytree(rendered[0], out)
    (out / "report.pdf").unlink()
    code = (
        "import sys\n"
        "import kommunaltypen.report as report\n"
        "seen = []\n"
        "start = report._PdfWorker.__init__\n"
        "def init(self, *args):\n"
        "    seen.append('kommunaltypen.report.model' in sys.modules)\n"
        "    start(self, *args)\n"
        "report._PdfWorker.__init__ = init\n"
        "report.render_report(sys.argv[1], lang='de', formats=('pdf',))\n"
        "print(seen)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "KOMMUNALTYPEN_REPORT_WORKERS": "2"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[False]"
    assert (out / "report.pdf").stat().st_size > 1000


def test_png_written_in_the_background_equals_the_direct_write(rendered, tmp_path):
    """``draw_chart`` with a pool: the same PNG bytes and SVG as without one."""
    from concurrent.futures import ThreadPoolExecutor

    from kommunaltypen.report.charts import draw_chart, plan_charts

    data = load_output_dir(rendered[0])
    plan = plan_charts(data, "de")[0]
    direct, pooled = tmp_path / "direct", tmp_path / "pooled"
    direct.mkdir()
    pooled.mkdir()
    one = draw_chart(data, plan, direct, "de", False, 5)
    with ThreadPoolExecutor(max_workers=1) as pool:
        two = draw_chart(data, plan, pooled, "de", False, 5, pool)
        assert two.png_written is not None
        two.png_written.result()
    assert one.png_written is None
    assert one.png_path.read_bytes() == two.png_path.read_bytes()
    assert one.svg == two.svg


def test_number_formatting_is_memoised_exactly():
    """The memoised number formatting gives babel's text for every key: -0.0 and 0.0 apart."""
    from babel.numbers import format_decimal

    from kommunaltypen.report import fmt
    from kommunaltypen.vocabulary import LOCALES

    for value, precision in [(0.0, 1), (-0.0, 1), (-0.04, 1), (5, 1), (5.0, 0), (1234.5, 2)]:
        for lang, locale in LOCALES.items():
            pattern = "#,##0" + ("." + "0" * precision if precision else "")
            expected = format_decimal(value, format=pattern, locale=locale)
            assert fmt.number(value, precision, lang) == expected
            assert fmt.number(value, precision, lang) == expected  # from the cache
    assert fmt.number(-0.0, 1, "de") != fmt.number(0.0, 1, "de")


@pytest.mark.parametrize(
    "left, style",
    [
        (0.0, {"edgecolor": "white", "linewidth": 0.3}),
        ([1.0, 2.5, 0.0], {"edgecolor": "white", "linewidth": 0.3, "alpha": 0.35, "hatch": "///"}),
        ([0.0, 10.0, 40.0], {"edgecolor": "white", "linewidth": 1.0}),
    ],
)
def test_bars_as_one_collection_draw_what_barh_draws(left, style):
    """``charts._hbars`` (one collection per series) draws what ``ax.barh`` draws: the same
    rectangles, colours, edges, hatch, axis limits and legend entry. (The limits may differ
    in the last bit – barh computes its corners through an affine transform – which can move
    the anti-aliasing of a few edge pixels, never a bar.)"""
    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from kommunaltypen.report import charts

    ys, widths = [2.1, 1.0, -0.2], [30.0, 12.5, 55.0]

    def draw(use_collection: bool):
        with matplotlib.rc_context({k: v for k, v in charts.RC.items() if k != "metadata"}):
            fig = Figure(figsize=(4, 3), dpi=60, layout="constrained")
            ax = fig.add_subplot()
            if use_collection:
                charts._hbars(ax, ys, widths, 0.4, left=left, facecolor="#E69F00", **style)
            else:
                ax.barh(ys, widths, height=0.4, left=left, color="#E69F00", **style)
            ax.set_yticks([0, 1, 2])
            fig.legend(["Serie"], loc="outside upper center")
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            pixels = np.asarray(canvas.buffer_rgba()).astype(int)
            return pixels, (*ax.get_xlim(), *ax.get_ylim())

    (ours, our_limits), (theirs, their_limits) = draw(True), draw(False)
    assert our_limits == pytest.approx(their_limits, abs=1e-12)
    assert ours.shape == theirs.shape
    differing = (ours != theirs).any(axis=2)
    assert differing.sum() <= 0.001 * differing.size  # a few anti-aliased edge pixels at most
    assert np.abs(ours - theirs).max() <= 64


def test_sending_the_print_html_does_not_wait_for_the_worker(tmp_path):
    """The print HTML is larger than a pipe's buffer and the worker reads it only once
    WeasyPrint is imported: ``send`` returns at once (a thread writes), and ``stop`` ends a
    worker that never read it."""
    import time

    from kommunaltypen import report

    worker = report._PdfWorker.__new__(report._PdfWorker)
    worker.path = tmp_path / "report.pdf"
    worker._sender = None
    worker.proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    start = time.perf_counter()
    worker.send({"html": "x" * 4_000_000})
    sent = time.perf_counter() - start
    assert worker._sender is not None and worker._sender.is_alive()  # still writing
    worker.stop()
    assert sent < 1.0
    assert worker.proc.returncode is not None
    assert not worker._sender.is_alive()


@pytest.mark.parametrize(
    ("bold", "file"), [(False, "DejaVuSans.ttf"), (True, "DejaVuSans-Bold.ttf")]
)
def test_print_column_widths_use_the_fonts_own_advance_widths(bold, file):
    """The advance widths the print table layout sums (renderers/pdf.py) are those of the
    report's font, read here from the DejaVu files matplotlib ships (fontTools, 1/2048 em)."""
    import matplotlib
    from fontTools.ttLib import TTFont

    from kommunaltypen.report.renderers import pdf

    font = TTFont(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / file)
    cmap, metrics = font.getBestCmap(), font["hmtx"].metrics
    assert font["head"].unitsPerEm == 2048
    for char, advance in pdf._ADVANCE[bold].items():
        assert metrics[cmap[ord(char)]][0] == advance, char
