"""The public Typ-Check end to end in headless Chromium against a real server: fill the
questionnaire (with JavaScript/htmx, without JavaScript, and with the keyboard alone), get the
type, download the PDF, resume by the private link in a fresh browser; axe-core finds no WCAG
2.0/2.1 A/AA violation on any page state in German and English; the layout holds at 200 % zoom
and 360 px width (screenshots in ``KOMMUNALTYPEN_SCREENSHOTS`` or a temporary folder)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e_support import axe_violations

pytestmark = pytest.mark.browser

OPTIMIERER = ("effizienz", "leistungsangebot", "buergernaehe")
BEDAECHTIGE = ("rechtliche_vorgaben", "foerdermittel", "effizienz")
TIMEOUT = 90_000  # generous: the machine running the tests may be shared and loaded
RESULT_TIMEOUT = 240_000  # the result page and the PDF are the slow ones


def _progress(page: Any, number: int) -> None:
    page.wait_for_selector(f".progress-text:text-is('Abschnitt {number} von 9')", timeout=TIMEOUT)


def _next(page: Any, number: int) -> None:
    """Select "Speichern und weiter" on section ``number`` and wait for the next one."""
    page.click("button[value=weiter]")
    if number < 9:
        _progress(page, number + 1)
    else:
        page.wait_for_selector("h1:has-text('Typ')", timeout=RESULT_TIMEOUT)


def _tick_follow_up(page: Any, number: int, trigger: str, follow_up: str) -> None:
    """Tick ``trigger``; the follow-up question appears in place (htmx) or, without
    JavaScript, after saving (the page stays on the section and says so)."""
    page.check(trigger)
    if page.evaluate("typeof window.htmx !== 'undefined'"):
        page.wait_for_selector(follow_up, timeout=TIMEOUT)
    else:
        page.click("button[value=weiter]")
        page.wait_for_selector(".notice", timeout=TIMEOUT)
        _progress(page, number)
    page.check(follow_up)


def pick_muenchen(page: Any, server: str, js: bool) -> None:
    page.goto(f"{server}/")
    page.click("a.button")  # "Typ-Check starten"
    _progress(page, 1)
    if js:
        page.fill("#suche", "münch")  # search as you type
        page.wait_for_selector("#kommunen-ergebnis a", timeout=TIMEOUT)
    else:
        page.fill("#suche", "münchen")
        page.click("form.search button[type=submit]")
    page.locator("#kommunen-ergebnis a", has_text=re.compile(r"^München")).first.click()
    assert page.input_value("#f-einwohner").isdigit()
    assert page.locator("#f-bundesland").input_value() == "9"
    page.click("form button[type=submit]")
    _progress(page, 2)


def fill_questionnaire(page: Any, goals: tuple[str, str, str]) -> None:
    for rank, goal in enumerate(goals, start=1):
        page.select_option("#f-ziele" if rank == 1 else f"#f-ziele-rang{rank}", goal)
    _next(page, 2)
    _tick_follow_up(page, 3, "#f-strategie", "#f-strategiebeteiligte")
    _next(page, 3)
    page.check("#f-verantwortung_verwaltung")
    _next(page, 4)
    _tick_follow_up(page, 5, "#f-basiskomponenten-dms", "#f-betreiber_dms")
    _next(page, 5)
    page.check("#f-datenbestandsaufnahme-2")
    _next(page, 6)
    page.fill("#f-anteil_fortbildung_digital", "25")
    _next(page, 7)
    page.check("#f-unterstuetzung-wlan")
    _next(page, 8)
    page.check("#f-digitalisierungsgrad-4")
    _next(page, 9)


def check_resumed(page: Any, link: str) -> None:
    """Every answer of :func:`fill_questionnaire` is back (a fresh browser, the link only)."""
    page.goto(f"{link}/abschnitt/1")
    assert page.input_value("#f-einwohner").isdigit()
    page.goto(f"{link}/abschnitt/2")
    assert page.input_value("#f-ziele") in OPTIMIERER + BEDAECHTIGE
    page.goto(f"{link}/abschnitt/3")
    assert page.is_checked("#f-strategie") and page.is_checked("#f-strategiebeteiligte")
    page.goto(f"{link}/abschnitt/4")
    assert page.is_checked("#f-verantwortung_verwaltung")
    page.goto(f"{link}/abschnitt/5")
    assert page.is_checked("#f-basiskomponenten-dms") and page.is_checked("#f-betreiber_dms")
    page.goto(f"{link}/abschnitt/6")
    assert page.is_checked("#f-datenbestandsaufnahme-2")
    page.goto(f"{link}/abschnitt/7")
    assert page.input_value("#f-anteil_fortbildung_digital") == "25"
    page.goto(f"{link}/abschnitt/8")
    assert page.is_checked("#f-unterstuetzung-wlan")
    page.goto(f"{link}/abschnitt/9")
    assert page.is_checked("#f-digitalisierungsgrad-4")


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize(
    ("js", "goals", "label"),
    [(True, OPTIMIERER, "Optimierer"), (False, BEDAECHTIGE, "Bedächtige")],
    ids=["javascript", "no-javascript"],
)
def test_fill_get_the_type_download_the_pdf_and_resume(
    server: str, browser: Any, tmp_path: Path, js: bool, goals: tuple[str, str, str], label: str
) -> None:
    context = browser.new_context(locale="de-DE", java_script_enabled=js, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    pick_muenchen(page, server, js)
    fill_questionnaire(page, goals)
    assert label in page.inner_text("h1")
    assert page.locator(".probabilities svg.bar").count() == 4
    with page.expect_download(timeout=RESULT_TIMEOUT) as download:
        page.click("a[href*='profil.pdf']")
    target = tmp_path / "profil.pdf"
    download.value.save_as(target)
    text = pdf_text(target)
    assert label in text and "München" in text
    link = page.input_value("#private-link")
    assert link.startswith(server + "/check/")
    context.close()

    fresh = browser.new_context(locale="de-DE", java_script_enabled=js)
    page = fresh.new_page()
    page.set_default_timeout(TIMEOUT)
    check_resumed(page, link)
    page.goto(f"{link}/ergebnis")
    assert label in page.inner_text("h1")
    fresh.close()


def _focused(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => { const e = document.activeElement;
        return {tag: e.tagName, type: e.type || "", name: e.name || "", id: e.id || "",
                value: e.value || "", checked: String(!!e.checked)}; }"""
    )


def _keyboard_section(page: Any, goals: tuple[str, str, str]) -> None:
    """Answers the current section with the keyboard only: Tab through the fields, Space on
    the first choice of each group, type-ahead in the ranking, Enter on "weiter"."""
    seen: set[str] = set()
    for _ in range(400):
        page.keyboard.press("Tab")
        el = _focused(page)
        if el["tag"] == "BUTTON" and el["value"] == "weiter":
            page.keyboard.press("Enter")
            return
        group = el["name"]
        if el["tag"] == "SELECT" and "__rang" in group and group not in seen:
            rank = int(group.rsplit("__rang", 1)[1])
            wanted = goals[rank - 1] if group.startswith("ziele") else ""
            if wanted:
                label = page.evaluate(
                    f"() => document.activeElement.querySelector('option[value={wanted}]').text"
                )
                page.keyboard.type(label[:6])
                assert _focused(page)["value"] == wanted
            seen.add(group)
        elif el["tag"] == "INPUT" and el["type"] in ("radio", "checkbox") and group not in seen:
            if not group.endswith("__keine_angabe") and el["checked"] == "false":
                page.keyboard.press("Space")
            seen.add(group)
        elif el["tag"] == "INPUT" and el["type"] == "text" and el["id"].startswith("f-anteil"):
            page.keyboard.type("30")
    raise AssertionError("the 'weiter' button was never reached with Tab")


def test_keyboard_only(server: str, browser: Any) -> None:
    context = browser.new_context(
        locale="de-DE",
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{server}/check")
    page.keyboard.press("Tab")  # skip link
    assert _focused(page)["tag"] == "A"
    page.focus("#suche")  # the search field is the first field of the page
    page.keyboard.type("münchen")
    page.keyboard.press("Enter")
    page.wait_for_selector("#kommunen-ergebnis a")
    for _ in range(60):
        page.keyboard.press("Tab")
        href = page.evaluate("() => document.activeElement.getAttribute('href') || ''")
        if href.startswith("/check?ars=0916200"):
            page.keyboard.press("Enter")
            break
    page.wait_for_selector("#f-einwohner")
    for _ in range(30):
        page.keyboard.press("Tab")
        if _focused(page)["tag"] == "BUTTON":
            page.keyboard.press("Enter")
            break
    _progress(page, 2)
    for number in range(2, 10):
        _progress(page, number)
        _keyboard_section(page, OPTIMIERER)
        if number == 9:
            page.wait_for_selector("h1:has-text('Typ')", timeout=RESULT_TIMEOUT)
        else:
            page.wait_for_function(
                f"() => document.querySelector('.progress-text')?.textContent.includes("
                f"'Abschnitt {number + 1} ') || document.querySelector('.notice')"
            )
            if page.locator(".notice").count():  # follow-up questions: answer them too
                _keyboard_section(page, OPTIMIERER)
    assert "Optimierer" in page.inner_text("h1")
    context.close()


# ---------------------------------------------------------------------------- axe, layout


def _page_states(page: Any, server: str, lang: str) -> Any:
    """Yields (name, page) for every page state: start, legal pages, picker (empty, results,
    chosen, anonymous, with errors), each section, a section with errors, overview, print view,
    result."""
    q = f"lang={lang}"
    for name, path in [
        ("start", "/"),
        ("barrierefreiheit", "/barrierefreiheit"),
        ("impressum", "/impressum"),
        ("picker", "/check"),
        ("picker-results", "/check?q=halle"),
        ("picker-chosen", "/check?ars=091620000000"),
        ("picker-anonymous", "/check?anonym=1"),
    ]:
        page.goto(f"{server}{path}{'&' if '?' in path else '?'}{q}")
        yield name, page
    page.goto(f"{server}/check?anonym=1&{q}")
    page.click("form button[type=submit]")  # nothing chosen: errors
    page.wait_for_selector(".error-summary")
    yield "picker-errors", page
    page.select_option("#f-kommunenart", "4")
    page.select_option("#f-bundesland", "3")
    page.select_option("#f-groesse", "2")
    page.click("form button[type=submit]")
    _ = page.wait_for_selector("#private-link")
    base = page.input_value("#private-link")
    for number in range(1, 10):
        page.goto(f"{base}/abschnitt/{number}?{q}")
        yield f"section-{number}", page
    page.goto(f"{base}/abschnitt/2?{q}")
    page.select_option("#f-ziele", "effizienz")
    page.select_option("#f-ziele-rang2", "effizienz")
    page.click("button[value=weiter]")
    page.wait_for_selector(".error-summary")
    yield "section-errors", page
    page.goto(f"{base}/abschnitt/7?{q}")
    page.fill("#f-anteil_fortbildung_digital", "500")
    page.click("button[value=weiter]")
    page.wait_for_selector(".error-summary")
    yield "section-7-errors", page
    page.goto(f"{base}/abschnitt/2?{q}")
    page.select_option("#f-ziele", "effizienz")
    page.select_option("#f-ziele-rang2", "leistungsangebot")
    page.select_option("#f-ziele-rang3", "buergernaehe")
    page.click("button[value=weiter]")
    _progress(page, 3) if lang == "de" else page.wait_for_selector("#f-strategie")
    page.goto(f"{base}?{q}")
    yield "overview", page
    page.goto(f"{base}/drucken?{q}")
    yield "print", page
    page.goto(f"{base}/ergebnis?{q}")
    yield "result", page
    page.goto(f"{base}/ergebnis?gruppe=bundesland&{q}")
    yield "result-peer", page


def _shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("KOMMUNALTYPEN_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("lang", ["de", "en"])
def test_axe_finds_no_wcag_a_or_aa_violation_on_any_page_state(
    server: str, browser: Any, axe_source: str, lang: str
) -> None:
    context = browser.new_context(locale="de-DE", bypass_csp=True)  # axe is evaluated into the page
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    problems = {}
    states = []
    for name, state in _page_states(page, server, lang):
        states.append(name)
        assert state.evaluate("document.documentElement.lang") == lang, name
        violations = axe_violations(state, axe_source)
        if violations:
            problems[name] = violations
    context.close()
    assert len(states) >= 20
    assert problems == {}


@pytest.mark.parametrize(
    ("name", "viewport", "scale"),
    [("zoom200", {"width": 640, "height": 400}, 2), ("w360", {"width": 360, "height": 740}, 2)],
)
def test_layout_holds_at_200_percent_zoom_and_360_px(
    server: str,
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    viewport: dict[str, int],
    scale: int,
) -> None:
    """A 1280 px window at 200 % zoom lays out 640 CSS px; a phone 360 CSS px. No page may
    scroll sideways (wide tables scroll inside their own region)."""
    shots = _shots_dir(tmp_path_factory)
    context = browser.new_context(locale="de-DE", viewport=viewport, device_scale_factor=scale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    overflowing = []
    for state, current in _page_states(page, server, "de"):
        current.screenshot(path=str(shots / f"{name}-{state}.png"), full_page=True)
        width = current.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if width > 0:
            overflowing.append((state, width))
    context.close()
    assert overflowing == []
