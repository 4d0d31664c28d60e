"""The report from memory: stable ids from the declarations, the output directory as a faithful
serialisation of the analysis result (``report --from DIR`` renders the same bytes), the
recommendations from computed tables, notes and the k-choice section as sentences."""

from __future__ import annotations

import html as html_text
import json
import re
import shutil
import threading
from pathlib import Path

import openpyxl
import pytest

from kommunaltypen.analysis import AnalysisRecord, run_analysis
from kommunaltypen.cli import main
from kommunaltypen.codebook import default_codebook
from kommunaltypen.errors import TableSpecError
from kommunaltypen.i18n import t
from kommunaltypen.report import render_report
from kommunaltypen.report.figures import PLACEHOLDER
from kommunaltypen.report.model import load_output_dir
from kommunaltypen.report.profiles import load_profiles
from kommunaltypen.report.recommendations import load_rules, recommend
from kommunaltypen.tables import TableResult, parse_tables, study_tables
from kommunaltypen.tables.engine import layout_columns

REPORT_FILES = ("report.html", "report.pdf", "report.xlsx")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The bundled data through the real pipeline, written, and rendered from memory."""
    out = tmp_path_factory.mktemp("memory") / "out"
    result = run_analysis(out_dir=out, n_bootstrap=20, seed=1, report=False)
    render_report(result, out, lang="de", formats=("html", "xlsx"))
    return out, result


def _copy_without_report(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for name in REPORT_FILES:
        (dst / name).unlink(missing_ok=True)
    shutil.rmtree(dst / "charts", ignore_errors=True)
    return dst


def _xlsx_values(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in wb}


def test_report_from_directory_renders_the_same_bytes(analysed, tmp_path, capsys):
    out, _ = analysed
    again = _copy_without_report(out, tmp_path / "again")
    with pytest.raises(SystemExit) as exc:
        main(["report", "--from", str(again), "--formats", "html,xlsx"])
    assert exc.value.code == 0, capsys.readouterr().err
    assert (again / "report.html").read_bytes() == (out / "report.html").read_bytes()
    assert _xlsx_values(again / "report.xlsx") == _xlsx_values(out / "report.xlsx")
    for svg in (out / "charts").glob("*.svg"):
        assert (again / "charts" / svg.name).read_bytes() == svg.read_bytes(), svg.name


def test_record_read_back_equals_the_record_in_memory(analysed):
    out, result = analysed
    mem, disk = result.record(), AnalysisRecord.from_dir(out)
    assert [tb.to_dict() for tb in mem.tables] == [tb.to_dict() for tb in disk.tables]
    assert mem.diagnostics == disk.diagnostics and mem.manifest == disk.manifest
    assert mem.model == disk.model and mem.type_ids == disk.type_ids
    assert mem.assignments.equals(disk.assignments)
    assert mem.rejected.equals(disk.rejected)


def test_rendering_from_memory_reads_nothing_from_the_directory(analysed, tmp_path):
    """A result that was never written renders into an empty folder."""
    _, result = analysed
    empty = tmp_path / "leer"
    paths = render_report(result, empty, lang="en", formats=("html",))
    assert sorted(p.name for p in empty.iterdir()) == ["charts", "report.html"]
    assert '<html lang="en">' in paths["html"].read_text(encoding="utf-8")


def test_output_csv_and_result_json_carry_the_ids(analysed):
    out, result = analysed
    import polars as pl

    frame = pl.read_csv(out / "tables" / "table_12.csv")
    assert {"row_id", "column_id"} <= set(frame.columns)
    assert set(frame["row_id"]) == {r.spec.id for r in result.table(12).rows}
    assert set(frame["column_id"]) == {c.key for c in result.table(12).columns}
    raw = json.loads((out / "result.json").read_text(encoding="utf-8"))
    t12 = next(tb for tb in raw["tables"] if tb["spec"]["number"] == 12)
    assert [r["id"] for r in t12["rows"]][:2] == [
        "fachverfahren_und_anwendungen_angeboten",
        "fachverfahren_und_anwendungen_geplant",
    ]
    offered = TableResult.from_dict(t12).row("fachverfahren_und_anwendungen_angeboten")
    assert offered.partner is not None and offered.partner.spec.part == "geplant"


def test_publication_result_json_hides_small_cells(analysed):
    _, result = analysed
    table = result.table(7)
    min_n = min(c.n for r in table.rows for c in r.cells) + 1
    raw = json.loads(json.dumps(table.to_dict(publication=True, min_n=min_n)))
    hidden = [c for r in raw["rows"] for c in r["cells"] if c.get("hidden")]
    assert hidden and all(set(c) == {"column", "hidden"} for c in hidden)
    back = TableResult.from_dict(raw)
    assert all(c.value is None and c.n is None for r in back.rows for c in r.cells if c.hidden)
    csv = back.to_frame(publication=True, min_n=min_n)
    assert (csv.filter(csv["suppressed"])["value"] == f"<{min_n}").all()


def test_notes_of_the_analysis_are_sentences(analysed, tmp_path):
    out, result = analysed
    diag = json.loads((out / "diagnostics.json").read_text(encoding="utf-8"))
    assert any(f.startswith("k_choice:") for f in diag["flags"])  # the data recommend k = 2
    for lang in ("de", "en"):
        page = render_report(result, tmp_path / lang, lang=lang, formats=("html",))["html"]
        text = html_text.unescape(page.read_text(encoding="utf-8"))
        block = re.search(r'<ul class="notes">(.*?)</ul>', text, re.S)
        assert block, lang
        assert not re.search(r"\b(unstable|k_choice|new_type):", text)
        kept = result.model.n_clusters
        sentence = t("report.note.k_choice", lang=lang, k=result.k_choice.recommended_k, kept=kept)
        assert sentence in block.group(1)
        for type_id in result.stability.unstable:
            assert type_id not in block.group(1)  # the type's label, not its id


def test_k_choice_section_explains_why_four_types_are_kept(analysed):
    out, result = analysed
    text = html_text.unescape((out / "report.html").read_text(encoding="utf-8"))
    k = result.k_choice.recommended_k
    assert k != result.model.n_clusters
    assert t("report.k_kept", lang="de", kept=result.model.n_clusters, k=k) in text
    rows = result.k_choice.table.to_dicts()
    best_silhouette = max(rows, key=lambda r: r["silhouette"])["k"]
    best_ch = max(rows, key=lambda r: r["calinski_harabasz"])["k"]
    span = {"lo": min(r["k"] for r in rows), "hi": max(r["k"] for r in rows)}
    criteria = re.search(r'<ul class="k-criteria">(.*?)</ul>', text, re.S).group(1)
    assert t("report.k_criterion.gap", lang="de", k=k) in criteria
    assert t("report.k_criterion.silhouette", lang="de", k=best_silhouette, **span) in criteria
    assert t("report.k_criterion.calinski_harabasz", lang="de", k=best_ch, **span) in criteria


def test_recommend_works_from_the_computed_tables(analysed):
    out, result = analysed
    answers = {"fim": 0, "datennutzung_keine": 1, "verantwortung_verwaltung_cio": 0}
    answers["verantwortung_verwaltung_cdo"] = 0
    from_tables = recommend(answers, result.tables, lang="en")
    assert from_tables == recommend(answers, out, lang="en")
    assert from_tables == recommend(answers, {tb.number: tb for tb in result.tables}, lang="en")
    assert {r.rule_id for r in from_tables} >= {"fim_unbekannt", "rollen_cio_cdo"}
    assert all(r.type_id is not None for r in from_tables)


def test_rendering_in_threads_shares_no_state(analysed, tmp_path):
    _, result = analysed
    pages: dict[str, str] = {}

    def job(name: str) -> None:
        path = render_report(result, tmp_path / name, lang="de", formats=("html",))["html"]
        pages[name] = path.read_text(encoding="utf-8")

    threads = [threading.Thread(target=job, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert pages["a"] == pages["b"]


def test_two_threads_render_in_their_own_language(analysed, tmp_path):
    """Two reports rendered at once, one German and one English (the language of each call,
    not a process global), each in its own words."""
    from kommunaltypen.i18n import use_lang

    _, result = analysed
    pages: dict[str, str] = {}
    start = threading.Barrier(2)

    def job(lang: str) -> None:
        with use_lang(lang):
            start.wait(timeout=60)
            path = render_report(result, tmp_path / lang, formats=("html",))["html"]
            pages[lang] = path.read_text(encoding="utf-8")

    threads = [threading.Thread(target=job, args=(lang,)) for lang in ("de", "en")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert '<html lang="de"' in pages["de"] and '<html lang="en"' in pages["en"]
    assert "Tabelle 1" in pages["de"] and "Table 1" not in pages["de"]
    assert "Table 1" in pages["en"] and "Tabelle 1" not in pages["en"]
    assert "Bedächtige" in pages["de"] and "Cautious" in pages["en"]


# -- ids in the declarations -------------------------------------------------------------------
def _table(rows: list[dict]) -> dict:
    return {"tables": [{"number": 1, "caption_de": "T", "columns": "types", "rows": rows}]}


ROW = {"measure": "share", "column": "fim", "values": [1]}


def test_row_ids_are_derived_or_declared_and_unique():
    tb = parse_tables(_table([{**ROW, "label_de": "Bekanntheit FIM (%)"}]), "x.yaml")[0]
    assert tb.rows[0].id == "bekanntheit_fim"
    tb = parse_tables(_table([{**ROW, "label_de": "A", "id": "fim_bekannt"}]), "x.yaml")[0]
    assert tb.rows[0].id == "fim_bekannt"
    with pytest.raises(TableSpecError, match=r"duplicate row ids \['fim'\]"):
        parse_tables(
            _table([{**ROW, "label_de": "A", "id": "fim"}, {**ROW, "label_de": "B", "id": "fim"}]),
            "x.yaml",
        )
    with pytest.raises(TableSpecError, match="row id 'Fim!'"):
        parse_tables(_table([{**ROW, "label_de": "A", "id": "Fim!"}]), "x.yaml")


def test_every_figure_reference_names_a_declared_row_and_column():
    """Profiles and recommendations refer to rows and columns by the declarations' ids."""
    cb = default_codebook()
    tables = {tb.number: tb for tb in study_tables()}
    columns = {
        n: {c.key for c in layout_columns(tb.columns, cb)[0]} | {"top", "low"}
        for n, tb in tables.items()
    }
    decl = load_profiles()
    texts = [x.de for entry in decl.types.values() for x in entry.values()]
    texts += [x.en for entry in decl.types.values() for x in entry.values()]
    texts += [decl.dteam.intro.de, *(r.de for r in decl.dteam.roles.values())]
    refs = [m.groups()[:3] for text in texts for m in PLACEHOLDER.finditer(text) if m.group(1)]
    assert len(refs) > 40
    for number, row_id, column in refs:
        table = tables[int(number)]
        assert row_id in {r.id for r in table.rows}, (number, row_id)
        assert column in columns[int(number)], (number, column)
    for rule in load_rules().rules:
        assert rule.figure.row in {r.id for r in tables[rule.figure.table].rows}, rule.id


def test_directory_without_ids_is_refused_with_a_clear_message(analysed, tmp_path):
    out, _ = analysed
    old = _copy_without_report(out, tmp_path / "alt")
    (old / "result.json").unlink()
    import polars as pl

    for path in (old / "tables").glob("table_*.csv"):
        pl.read_csv(path).drop("row_id", "column_id").write_csv(path)
    with pytest.raises(Exception, match=r"row_id.*column_id|Spalten"):
        load_output_dir(old)
