"""The result view data and the PDF profile (WeasyPrint, A4, tagged) in German and English."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from kommunaltypen import service
from kommunaltypen.analysis import run_analysis
from kommunaltypen.selfcheck import peers, view
from kommunaltypen.selfcheck.pdf import render_profile_html, render_profile_pdf
from pdf_words import outside_text_area, pdf_words

DAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def analysis():
    return run_analysis(n_bootstrap=0, k_choice=False)


@pytest.fixture(scope="module")
def basis(analysis):
    return peers.peer_basis(analysis)


def _answers(analysis, i: int, **changes) -> dict:
    row = analysis.data.row(i, named=True)
    answers = {k: v for k, v in row.items() if v is not None}
    answers.update(changes)
    return answers


def _small_land_row(analysis) -> int:
    """A municipality of a Land with few municipalities in the data (Saarland: 5)."""
    return analysis.data["bundesland"].to_list().index(10)


def _pdftotext(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "profile.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return out.stdout


def _pdfinfo(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout


def test_view_has_everything_the_result_shows(analysis, basis) -> None:
    answers = _answers(analysis, _small_land_row(analysis), kommune_id="viewer")
    evaluation = service.evaluate(answers, basis.comparison)
    v = view.profile_view(evaluation, basis, kind="bundesland", lang="de", today=DAY)
    assert v.typed and v.type_id == evaluation.classification.type_id
    assert v.type_label and v.model_id == evaluation.classification.model_id
    assert [b.type_id for b in v.bars] == list(analysis.model.type_ids_)
    assert sum(b.probability for b in v.bars) == pytest.approx(1)
    assert v.explanation is not None and v.explanation_text.startswith("Wenn ")
    assert v.profile_svg.startswith("<svg")
    assert v.date == "2026-12-01" and v.date_text == "1. Dezember 2026"
    assert v.peer_label == "Gleiches Land: Saarland"
    assert [g for g, _ in v.groups] == ["all", "type", "peer"]
    assert 1 not in {topic.table for topic in v.topics}  # the centres are the chart
    assert "Rekonstruktion der Studie 2019" in v.source_text
    assert any("keine Rangliste" in note for note in v.notes)
    # Saarland has 5 municipalities, the viewer is not one of them: 5 or fewer -> every peer
    # cell with fewer than 5 answers is suppressed, with the reason
    cells = [c for topic in v.topics for row in topic.rows for c in row.cells if c.group == "peer"]
    suppressed = [c for c in cells if c.suppressed]
    assert suppressed, "expected suppressed peer cells for a Land of 5"
    assert all(c.text == "–" and c.reason and c.reason_id for c in suppressed)
    for rec in v.recommendations:
        assert rec.learn_from.startswith("Lernen von: ") and "Tabelle" in rec.figure


@pytest.mark.parametrize(
    "lang, date_text, words",
    [
        ("de", "1. Dezember 2026", ["Ihr Typ", "Was den Typ ändern würde", "keine Rangliste"]),
        ("en", "1 December 2026", ["Your type", "What would change the type", "not a ranking"]),
    ],
)
def test_pdf_text_has_type_date_and_model(analysis, basis, tmp_path, lang, date_text, words):
    answers = _answers(analysis, _small_land_row(analysis), kommune_id="viewer")
    evaluation = service.evaluate(answers, basis.comparison)
    v = view.profile_view(evaluation, basis, kind="bundesland", lang=lang, today=DAY)
    pdf = render_profile_pdf(v)
    assert pdf.startswith(b"%PDF")
    text = _pdftotext(pdf, tmp_path)
    flat = " ".join(text.split())
    assert v.type_label in flat
    assert date_text in flat
    assert v.model_id in flat
    for word in words:
        assert word in flat, word
    info = _pdfinfo(pdf, tmp_path)
    assert "Tagged:          yes" in info
    assert "595.276 x 841.89" in info  # A4
    assert v.type_label in info  # document title


def test_untyped_answers_still_render(analysis, basis, tmp_path) -> None:
    answers = {
        k: v
        for k, v in _answers(analysis, 0, kommune_id="viewer").items()
        if not k.startswith("ziele_")
    }
    evaluation = service.evaluate(answers, basis.comparison)
    assert evaluation.classification is None
    v = view.profile_view(evaluation, basis, kind=None, lang="de", today=DAY)
    assert not v.typed and v.explanation is None and v.groups == (("all", "Alle Kommunen"),)
    html = render_profile_html(v)
    assert "Kein Typ bestimmt" in html
    text = " ".join(_pdftotext(render_profile_pdf(v), tmp_path).split())
    assert "Kein Typ bestimmt" in text


def test_html_has_no_external_resource(analysis, basis) -> None:
    evaluation = service.evaluate(_answers(analysis, 3, kommune_id="viewer"), basis.comparison)
    html = render_profile_html(view.profile_view(evaluation, basis, lang="en", today=DAY))
    assert '<html lang="en">' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<script" not in html


def test_pdf_pages_render_as_images(analysis, basis, tmp_path) -> None:
    evaluation = service.evaluate(_answers(analysis, 3, kommune_id="viewer"), basis.comparison)
    pdf = render_profile_pdf(view.profile_view(evaluation, basis, lang="de", today=DAY))
    (tmp_path / "p.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "20",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "p.pdf"),
            str(tmp_path / "pg"),
        ],
        check=True,
    )
    assert list(tmp_path.glob("pg*.png"))


def test_views_in_threads_keep_their_own_language(analysis, basis) -> None:
    """One shared peer basis, many threads, two languages: no text leaks between calls."""
    from concurrent.futures import ThreadPoolExecutor

    def build(i: int):
        lang = "de" if i % 2 == 0 else "en"
        evaluation = service.evaluate(_answers(analysis, i, kommune_id=f"t{i}"), basis.comparison)
        return lang, view.profile_view(evaluation, basis, kind="groessenklasse", lang=lang)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(build, range(8)))
    for lang, v in results:
        assert v.lang == lang
        assert v.source_text.startswith("Vergleichszahlen" if lang == "de" else "Comparison")
        if v.explanation_text:
            assert v.explanation_text.startswith("Wenn " if lang == "de" else "If ")
        assert v.groups[0][1] == ("Alle Kommunen" if lang == "de" else "All municipalities")


def test_print_stylesheet_is_parsed_once_per_process(analysis, basis, monkeypatch) -> None:
    import weasyprint

    from kommunaltypen.selfcheck import pdf as pdf_module

    parsed: list[int] = []
    real = weasyprint.CSS

    def counting(*args, **kwargs):
        parsed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(weasyprint, "CSS", counting)
    pdf_module.stylesheet.cache_clear()
    try:
        evaluation = service.evaluate(_answers(analysis, 3, kommune_id="viewer"), basis.comparison)
        for lang in ("de", "en"):
            v = view.profile_view(evaluation, basis, lang=lang, today=DAY)
            html = render_profile_html(v)
            assert "<style" not in html  # the stylesheet is not in every document
            assert render_profile_pdf(v).startswith(b"%PDF")
        assert len(parsed) == 1
    finally:
        pdf_module.stylesheet.cache_clear()


def test_benchmark_tables_stay_inside_the_page(analysis, basis, tmp_path) -> None:
    """Cells with median and quartiles (Tables 9, 11, 12 …) once widened their tables beyond
    the right page edge, cutting off the last column: every word now lies inside the text
    area (A4 595.3 pt wide, 15 mm = 42.5 pt right margin), and every cell's spread text is
    there in full."""
    evaluation = service.evaluate(_answers(analysis, 3, kommune_id="viewer"), basis.comparison)
    v = view.profile_view(evaluation, basis, kind="kommunenart", lang="de", today=DAY)
    spreads = [c.spread_text for t in v.topics for r in t.rows for c in r.cells if c.spread_text]
    assert len(spreads) > 20 and {9, 11} <= {t.table for t in v.topics}
    words = pdf_words(render_profile_pdf(v), tmp_path)
    outside = outside_text_area(words)
    assert not outside, outside[:5]
    assert sum(w.text == "(mittlere" for w in words) == len(spreads)
    assert sum(w.text == "Hälfte" for w in words) == len(spreads)
