"""The public Typ-Check pages (issue 12): every page with and without ``HX-Request``, the
directory picker, the questionnaire (filters, "keine Angabe", rankings, errors next to the field
and in a summary), save and resume by the private link, CSRF, privacy headers, the result page
and the PDF profile."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kommunaltypen.web import Settings, create_app

MUENCHEN = "091620000000"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("public")
    settings = Settings(
        database_url=f"sqlite:///{data / 'db.sqlite3'}",
        data_dir=data,
        operator_name="Musteramt für Digitales",
        operator_email="typcheck@musteramt.example",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def csrf(client: TestClient, url: str = "/check") -> str:
    page = client.get(url)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', page.text
    )
    assert match, page.text[:500]
    return match.group(1)


def start_submission(client: TestClient, **fields: str) -> str:
    """Creates a submission through the picker form; returns its base URL (private link)."""
    token = csrf(client)
    data = {"csrf_token": token, **fields}
    response = client.post("/check", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    location = response.headers["location"]
    assert re.fullmatch(r"/check/[0-9a-f-]{36}/[A-Za-z0-9_-]{43}/abschnitt/2\?neu=1", location)
    return location.split("/abschnitt/")[0]


def post_section(client: TestClient, base: str, number: int, **fields: object) -> object:
    data: dict[str, object] = {"csrf_token": csrf(client, f"{base}/abschnitt/{number}")}
    data.update(fields)
    return client.post(f"{base}/abschnitt/{number}", data=data, follow_redirects=False)


def error_links(html: str) -> list[str]:
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return re.findall(r'href="#([^"]+)"', summary.group(0)) if summary else []


# ---------------------------------------------------------------------------- static pages
@pytest.mark.parametrize("path", ["/", "/barrierefreiheit", "/impressum", "/check"])
def test_pages_render_in_german_and_english_with_and_without_htmx(
    client: TestClient, path: str
) -> None:
    full = client.get(path)
    assert full.status_code == 200
    assert full.headers["content-type"].startswith("text/html")
    assert full.text.startswith("<!doctype html>")
    assert '<html lang="de">' in full.text and '<main id="main"' in full.text
    english = client.get(path, params={"lang": "en"})
    assert '<html lang="en">' in english.text
    assert english.text != full.text
    fragment = client.get(path, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.startswith("<title>") and "<html" not in fragment.text
    assert '<main id="main"' in fragment.text and "site-footer" not in fragment.text
    boosted = client.get(path, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert boosted.text.startswith("<!doctype html>")


def test_start_page_explains_time_privacy_and_links_the_legal_pages(client: TestClient) -> None:
    page = client.get("/").text
    assert "Welcher Digitalisierungstyp" in page and "15 Minuten" in page
    assert "privaten Link" in page and "keine Rangfolge" in page
    for href in ("/impressum", "/barrierefreiheit", "/check"):
        assert f'href="{href}?lang=de' in page


def test_imprint_and_accessibility_statement_show_the_operator_from_the_settings(
    client: TestClient,
) -> None:
    imprint = client.get("/impressum").text
    assert "Musteramt für Digitales" in imprint and "typcheck@musteramt.example" in imprint
    assert 'id="datenschutz"' in imprint and "kt_csrf" in imprint
    statement = client.get("/barrierefreiheit").text
    assert "BITV 2.0" in statement and "Musteramt für Digitales" in statement


def test_no_page_refers_to_another_origin(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="4", bundesland="3", groesse="1")
    for path in ["/", "/impressum", "/barrierefreiheit", "/check", f"{base}/abschnitt/2"]:
        html = client.get(path).text
        for attr, url in re.findall(r'\b(src|href|action|hx-get|hx-post)="([^"]*)"', html):
            assert url.startswith(("/", "#", "mailto:", "data:")), (path, attr, url)
        assert "<script>" not in html and " style=" not in html and "<style" not in html


# ---------------------------------------------------------------------------- CSRF
def test_forms_without_or_with_a_wrong_csrf_token_are_refused(client: TestClient) -> None:
    csrf(client)
    data = {"anonym": "1", "kommunenart": "4", "bundesland": "3", "groesse": "1"}
    missing = client.post("/check", data=data)
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = client.post("/check", data={**data, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    english = client.post("/check?lang=en", data=data)
    assert english.status_code == 403 and "security token" in english.text


def test_csrf_token_in_the_htmx_header_is_accepted(client: TestClient) -> None:
    token = csrf(client)
    data = {"anonym": "1", "kommunenart": "4", "bundesland": "3", "groesse": "1"}
    response = client.post(
        "/check", data=data, headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert response.status_code == 200 and "/abschnitt/2" in response.headers["HX-Redirect"]


def test_csrf_field_in_a_multipart_form_is_accepted(client: TestClient) -> None:
    token = csrf(client)
    fields = {"csrf_token": token, "anonym": "1", "kommunenart": "4", "bundesland": "3"}
    files = {k: (None, v) for k, v in {**fields, "groesse": "1"}.items()}
    accepted = client.post("/check", files=files, follow_redirects=False)
    assert accepted.status_code == 303
    files["csrf_token"] = (None, "y" * 43)
    assert client.post("/check", files=files).status_code == 403


def test_a_foreign_browser_cannot_use_a_token_of_another(client: TestClient) -> None:
    token = csrf(client)
    data = {"anonym": "1", "kommunenart": "4", "bundesland": "3", "groesse": "1"}
    other = TestClient(client.app)  # no cookie: another browser
    assert other.post("/check", data={**data, "csrf_token": token}).status_code == 403


def test_csrf_cookie_is_set_once_and_the_json_api_is_exempt(client: TestClient) -> None:
    fresh = TestClient(client.app)
    first = fresh.get("/")
    cookie = first.headers.get("set-cookie", "")
    assert cookie.startswith("kt_csrf=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "set-cookie" not in fresh.get("/").headers
    api = fresh.get("/api/v1/health")
    assert api.status_code == 200 and "set-cookie" not in api.headers
    # the token-authenticated JSON API takes POSTs without any CSRF token
    refused = fresh.post("/api/v1/classify", content=b"{}", headers={"content-type": "text/plain"})
    assert refused.status_code == 415


# ---------------------------------------------------------------------------- who you are
def test_directory_search_without_javascript_lists_results(client: TestClient) -> None:
    page = client.get("/check", params={"q": "münchen"}).text
    assert f'href="/check?ars={MUENCHEN}&amp;lang=de"' in page
    assert "Treffer" in page
    none = client.get("/check", params={"q": "xyzxyz"}).text
    assert "Keine Kommune gefunden" in none


def test_search_as_you_type_returns_the_result_list_only(client: TestClient) -> None:
    fragment = client.get("/check/kommunen", params={"q": "münch"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<main" not in fragment.text
    assert f"/check?ars={MUENCHEN}" in fragment.text
    plain = client.get("/check/kommunen", params={"q": "münch"}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/check?q=m%C3%BCnch"


def test_chosen_municipality_prefills_kind_land_and_population(client: TestClient) -> None:
    page = client.get("/check", params={"ars": MUENCHEN}).text
    assert "München" in page
    assert re.search(r'<option value="2" selected>Kreisfreie Stadt', page)
    assert re.search(r'<option value="9" selected>Bayern', page)
    assert re.search(r'name="einwohner" id="f-einwohner" value="1\d{6}"', page)


def test_picker_errors_are_shown_next_to_the_field_and_in_the_summary(client: TestClient) -> None:
    token = csrf(client)
    data = {"csrf_token": token, "ars": MUENCHEN, "kommunenart": "2", "bundesland": "9"}
    response = client.post("/check", data={**data, "einwohner": "viele"})
    assert response.status_code == 422
    assert error_links(response.text) == ["f-einwohner"]
    assert 'id="f-einwohner"' in response.text and 'aria-invalid="true"' in response.text
    assert "viele" in response.text and "ganze Zahl" in response.text


def test_anonymous_submission_needs_a_size_class(client: TestClient) -> None:
    token = csrf(client)
    data = {"csrf_token": token, "anonym": "1", "kommunenart": "4", "bundesland": "3"}
    response = client.post("/check", data=data)
    assert response.status_code == 422 and error_links(response.text) == ["f-groesse"]


# ---------------------------------------------------------------------------- questionnaire
def test_private_pages_are_noindex_and_not_cached(client: TestClient) -> None:
    base = start_submission(
        client, ars=MUENCHEN, kommunenart="2", bundesland="9", einwohner="1500000"
    )
    for path in (base, f"{base}/abschnitt/2", f"{base}/drucken"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["x-robots-tag"].startswith("noindex")
        assert response.headers["cache-control"] == "no-store"
        assert '<meta name="robots" content="noindex, nofollow">' in response.text
    assert "x-robots-tag" not in client.get("/").headers


def test_section_pages_show_progress_and_the_private_link_after_the_first_page(
    client: TestClient,
) -> None:
    base = start_submission(client, anonym="1", kommunenart="4", bundesland="3", groesse="2")
    page = client.get(f"{base}/abschnitt/2?neu=1").text
    assert "Abschnitt 2 von 9" in page
    assert f'value="http://testserver{base}"' in page  # the private link, for copying
    assert 'data-copy="#private-link"' in page and f"{base}/drucken" in page
    for rank in (1, 2, 3):
        assert f"{rank}. Platz" in page
    assert client.get(f"{base}/abschnitt/9").status_code == 200
    assert client.get(f"{base}/abschnitt/10").status_code == 404


def test_private_pages_with_and_without_htmx(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="4", bundesland="3", groesse="2")
    for path in (base, f"{base}/abschnitt/4", f"{base}/drucken", f"{base}/ergebnis"):
        full = client.get(path)
        assert full.status_code == 200 and full.text.startswith("<!doctype html>"), path
        fragment = client.get(path, headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and fragment.text.startswith("<title>"), path
        assert "<html" not in fragment.text and '<main id="main"' in fragment.text
        assert fragment.headers["x-robots-tag"].startswith("noindex")


def test_wrong_token_or_unknown_id_give_the_same_not_found_page(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="4", bundesland="3", groesse="2")
    _, _, sid, token = base.split("/")
    wrong = client.get(f"/check/{sid}/{token[:-1]}A/abschnitt/2")
    unknown = client.get(f"/check/00000000-0000-4000-8000-000000000000/{token}/abschnitt/2")
    assert wrong.status_code == unknown.status_code == 404

    def same(html: str) -> str:  # the language switch links back to the address asked for
        return re.sub(r'href="/check/[^"]*"', "", html)

    assert same(wrong.text) == same(unknown.text) and "private Link" in wrong.text


def test_answers_are_saved_and_restored_in_a_fresh_browser(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    response = post_section(
        client, base, 2, ziele__rang1="effizienz", ziele__rang2="innovation", aktion="weiter"
    )
    assert response.status_code == 303 and response.headers["location"] == f"{base}/abschnitt/3"
    response = post_section(
        client,
        base,
        3,
        handlungsfelder__rang1="verwaltung",
        strategie="-9",
        anknuepfung=["it_strategie", "schulkonzept"],
        aktion="weiter",
    )
    assert response.status_code == 303
    response = post_section(
        client,
        base,
        7,
        anteil_fortbildung_digital__keine_angabe="1",
        mitarbeitendenbeteiligung="3",
        aktion="speichern",
    )
    assert response.headers["location"] == f"{base}/abschnitt/7"

    fresh = TestClient(client.app)  # another browser: no cookies, only the link
    goals = fresh.get(f"{base}/abschnitt/2").text
    assert re.search(r'<option value="effizienz" selected>', goals)
    assert re.search(r'<option value="innovation" selected>', goals)
    strategy = fresh.get(f"{base}/abschnitt/3").text
    assert re.search(r'value="-9" id="f-strategie-keine-angabe" checked', strategy)
    assert re.search(r'value="it_strategie" id="f-anknuepfung-it_strategie" checked', strategy)
    assert re.search(r'value="schulkonzept" id="f-anknuepfung-schulkonzept" checked', strategy)
    assert not re.search(r'value="gesamtstrategie" id="f-anknuepfung" checked', strategy)
    staff = fresh.get(f"{base}/abschnitt/7").text
    assert re.search(r'id="f-anteil_fortbildung_digital-keine-angabe" checked', staff)
    assert re.search(r'value="3" id="f-mitarbeitendenbeteiligung-3" checked', staff)
    printed = fresh.get(f"{base}/drucken").text
    assert "Effizienz und Effektivität der Verwaltung erhöhen" in printed
    assert "20.000 bis 24.999" in printed  # anonymous: the size class, not a number
    assert "IT-Strategie; Schul- und Medienentwicklungskonzept" in printed


def test_filters_are_evaluated_on_the_server(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    page = client.get(f"{base}/abschnitt/3").text
    assert "strategiebeteiligte" not in page
    # a strategy in place: the follow-up question appears; the page stays to ask it
    shown = post_section(client, base, 3, strategie="1", aktion="weiter")
    assert shown.status_code == 200 and 'name="strategiebeteiligte"' in shown.text
    assert "weitere Fragen" in shown.text
    answered = post_section(
        client, base, 3, strategie="1", strategiebeteiligte=["berater"], aktion="weiter"
    )
    assert answered.status_code == 303
    # no strategy: the follow-up disappears and its answer is dropped
    dropped = post_section(
        client, base, 3, strategie="3", strategiebeteiligte=["berater"], aktion="speichern"
    )
    assert dropped.status_code == 303
    page = client.get(f"{base}/abschnitt/3").text
    assert "strategiebeteiligte" not in page
    printed = client.get(f"{base}/drucken").text
    assert "externen Beratern" not in printed


def test_htmx_refresh_shows_follow_up_questions_without_saving(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    token = csrf(client, f"{base}/abschnitt/5")
    response = client.post(
        f"{base}/abschnitt/5",
        data={"basiskomponenten": ["dms"], "aktion": "aktualisieren"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 200 and response.text.startswith("<title>")
    assert 'name="betreiber_dms"' in response.text
    assert 'name="betreiber_chatbots"' not in response.text
    assert 'name="betreiber_dms"' not in client.get(f"{base}/abschnitt/5").text  # not saved


def test_htmx_next_renders_the_next_section_in_place(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    token = csrf(client, f"{base}/abschnitt/8")
    response = client.post(
        f"{base}/abschnitt/8",
        data={"unterstuetzung": ["wlan"], "aktion": "weiter"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == f"{base}/abschnitt/9"
    assert "Abschnitt 9 von 9" in response.text and "<html" not in response.text


def test_validation_errors_stay_on_the_page_with_a_summary_linking_each_field(
    client: TestClient,
) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    response = post_section(
        client,
        base,
        7,
        anteil_fortbildung_digital="150",
        mitarbeitendenbeteiligung="7",
        aktion="weiter",
    )
    assert response.status_code == 422
    links = error_links(response.text)
    assert links == ["f-anteil_fortbildung_digital", "f-mitarbeitendenbeteiligung"]
    for target in links:
        assert f'id="{target}"' in response.text
    assert 'id="e-anteil_fortbildung_digital"' in response.text
    assert 'value="150"' in response.text  # the entry is kept for correcting
    assert "<title>Fehler: " in response.text
    english = client.post(
        f"{base}/abschnitt/7?lang=en",
        data={"csrf_token": csrf(client), "anteil_fortbildung_digital": "150"},
    )
    assert "Please correct" in english.text
    assert 'name="anteil_fortbildung_digital"' in client.get(f"{base}/abschnitt/7").text


def test_staff_section_asks_the_qualification_question_of_the_codebook(
    client: TestClient,
) -> None:
    """The question added to the codebook for claim A08 appears in its section (7, staff),
    in German and English, is saved, and an out-of-range value is refused by the import rule."""
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    page = client.get(f"{base}/abschnitt/7").text
    legend = re.search(r"<legend>([^<]*Qualifizierung der Mitarbeitenden[^<]*)</legend>", page)
    assert legend, page[:2000]
    assert 'id="f-qualifizierung_mitarbeitende"' in page
    for code, text in ((1, "sehr niedrig"), (3, "mittel"), (5, "sehr hoch")):
        assert re.search(rf'value="{code}" id="f-qualifizierung_mitarbeitende[^"]*"', page)
        assert f"{code} – {text}" in page
    assert 'id="f-qualifizierung_mitarbeitende-keine-angabe"' in page
    english = client.get(f"{base}/abschnitt/7?lang=en").text
    assert "Self-assessed qualification of staff" in english and "5 – very high" in english
    response = post_section(client, base, 7, qualifizierung_mitarbeitende="6", aktion="weiter")
    assert response.status_code == 422
    assert error_links(response.text) == ["f-qualifizierung_mitarbeitende"]
    assert re.search(r"Qualifizierung der Mitarbeitenden[^<]*: Wert 6 [^<]*1 bis 5", response.text)
    response = post_section(client, base, 7, qualifizierung_mitarbeitende="4", aktion="speichern")
    assert response.status_code == 303
    again = client.get(f"{base}/abschnitt/7").text
    assert re.search(r'value="4" id="f-qualifizierung_mitarbeitende-4" checked', again)


def test_a_goal_ranked_twice_is_an_error_of_the_ranking(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    response = post_section(
        client, base, 2, ziele__rang1="effizienz", ziele__rang2="effizienz", aktion="weiter"
    )
    assert response.status_code == 422
    assert error_links(response.text) == ["f-ziele"]
    assert "mehrfach gewählt" in response.text
    # the entry is shown as made, for correcting
    assert len(re.findall(r'<option value="effizienz" selected>', response.text)) == 2


def test_exclusive_option_with_others_is_refused_by_the_import_rule(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    response = post_section(client, base, 6, datennutzung=["keine", "automatisierung"])
    assert response.status_code == 422 and error_links(response.text) == ["f-datennutzung"]


def test_final_answers_cannot_be_changed(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="3", bundesland="5", groesse="4")
    token = csrf(client, base)
    consent = client.post(
        f"{base}/einwilligung",
        data={"csrf_token": token, "einwilligung": "1"},
        follow_redirects=False,
    )
    assert consent.status_code == 303
    assert re.search(
        r'id="f-einwilligung" name="einwilligung" value="1" checked',
        client.get(f"{base}/ergebnis").text,
    )
    done = client.post(f"{base}/abschliessen", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{base}/ergebnis"
    refused = post_section(client, base, 9, digitalisierungsgrad="3")
    assert refused.status_code == 409 and "abgeschlossen" in refused.text
    page = client.get(f"{base}/abschnitt/9").text
    assert "disabled" in page and 'value="weiter"' not in page


# ---------------------------------------------------------------------------- result
def _typed(client: TestClient, goals: tuple[str, str, str]) -> str:
    base = start_submission(
        client, ars=MUENCHEN, kommunenart="2", bundesland="9", einwohner="1510378"
    )
    ranks = {f"ziele__rang{i}": goal for i, goal in enumerate(goals, start=1)}
    assert post_section(client, base, 2, aktion="weiter", **ranks).status_code == 303
    return base


@pytest.mark.parametrize(
    ("goals", "label"),
    [
        (("effizienz", "leistungsangebot", "buergernaehe"), "Optimierer"),
        (("rechtliche_vorgaben", "foerdermittel", "effizienz"), "Bedächtige"),
    ],
)
def test_result_page_shows_the_type_of_the_ranking(
    client: TestClient, goals: tuple[str, str, str], label: str
) -> None:
    base = _typed(client, goals)
    page = client.get(f"{base}/ergebnis")
    assert page.status_code == 200 and page.headers["x-robots-tag"].startswith("noindex")
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page.text, re.S).group(1)
    assert label in heading
    assert page.text.count('class="bar"') == 4
    assert "Warum dieser Typ?" in page.text and "<svg" in page.text
    assert "Typologie" in page.text and "Rekonstruktion" in page.text
    fragment = client.get(f"{base}/ergebnis", headers={"HX-Request": "true"})
    assert fragment.text.startswith("<title>") and label in fragment.text


def test_result_page_peer_group_and_english(client: TestClient) -> None:
    base = _typed(client, ("effizienz", "leistungsangebot", "buergernaehe"))
    assert post_section(client, base, 3, strategie="1", aktion="speichern").status_code == 303
    for gruppe in ("keine", "kommunenart", "groessenklasse", "bundesland"):
        page = client.get(f"{base}/ergebnis", params={"gruppe": gruppe})
        assert page.status_code == 200, gruppe
        assert re.search(rf'<option value="{gruppe}" selected>', page.text)
    english = client.get(f"{base}/ergebnis", params={"lang": "en"}).text
    assert "Your municipality belongs to the type" in english


def test_result_without_goals_says_why_and_links_to_them(client: TestClient) -> None:
    base = start_submission(client, anonym="1", kommunenart="4", bundesland="3", groesse="1")
    page = client.get(f"{base}/ergebnis").text
    assert "Noch kein Typ" in page and f"{base}/abschnitt/2" in page


def test_pdf_profile_download(client: TestClient, tmp_path: Path) -> None:
    base = _typed(client, ("effizienz", "leistungsangebot", "buergernaehe"))
    response = client.get(f"{base}/profil.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-robots-tag"].startswith("noindex")
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Optimierer" in text
