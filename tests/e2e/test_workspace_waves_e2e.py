"""The analyst workspace end to end in headless Chromium against a real server: log in, create
a wave, import a file and read its validation report, confirm, run the analysis and watch the
progress, open the report, download the PDF and the ``.sav``, publish the model and see the
public Typ-Check use it, compare two waves, delete one municipality and find it gone; axe-core
finds no WCAG 2.1 A/AA violation on the workspace pages (screenshots in
``KOMMUNALTYPEN_SCREENSHOTS`` or a temporary folder)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from e2e_support import axe_violations, running_server

from kommunaltypen.analysis import bundled_data_path
from kommunaltypen.web import Settings

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
PASSWORD = "korrekt-pferd-batterie-heftklammer"
ANALYST = "analyst@example.org"


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server (uvicorn in a thread, SQLite) with an analyst account."""
    data = tmp_path_factory.mktemp("ws-waves-e2e")
    url = f"sqlite:///{data / 'db.sqlite3'}"
    settings = Settings(database_url=url, data_dir=data, login_address_max_failures=1000)
    with running_server(settings, [(ANALYST, PASSWORD, "analyst")]) as (base, _):
        yield base


def _files(tmp: Path) -> tuple[Path, Path]:
    """The bundled data (wave 2023) and, for wave 2024, the same municipalities with the
    goal ranking of the first 40 rows reversed (so some change type)."""
    raw = Path(bundled_data_path()).read_bytes()
    a = tmp / "welle-2023.csv"
    a.write_bytes(raw)
    frame = pl.read_csv(io.BytesIO(raw), infer_schema_length=0)
    goals = [c for c in frame.columns if c.startswith("ziele_")]
    swapped = frame.with_columns(
        [
            pl.when(pl.int_range(pl.len()) < 40)
            .then(pl.col(goals[(i + 3) % len(goals)]))
            .otherwise(pl.col(g))
            .alias(g)
            for i, g in enumerate(goals)
        ]
    )
    b = tmp / "welle-2024.csv"
    b.write_bytes(swapped.write_csv().encode())
    return a, b


def _shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("KOMMUNALTYPEN_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("ws-shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wave(page: Any, server: str, name: str, year: int, data: Path, shots: Path, tag: str) -> str:
    page.goto(f"{server}/workspace/")
    page.fill("#wave-name", name)
    page.fill("#wave-year", str(year))
    page.click("form[aria-labelledby=new-wave] button[type=submit]")
    page.wait_for_selector(f"h1:has-text('{name}')")
    wave_url = page.url.split("?")[0]
    page.set_input_files("#import-file", str(data))
    page.click("form[aria-labelledby=import] button[type=submit]")
    page.wait_for_selector("table.validation-summary")
    summary = page.inner_text("table.validation-summary")
    assert "412" in summary, summary  # rows in = accepted + rejected, as the CLI reports
    page.screenshot(path=str(shots / f"{tag}-import-report.png"), full_page=True)
    if page.locator("#same-file").count():
        page.check("#same-file")
    page.click("form[aria-labelledby=confirm] button[type=submit]")
    page.wait_for_selector(".notice")
    assert "gespeichert" in page.inner_text(".notice")
    page.click("form[aria-labelledby=analyse] button[type=submit]")
    page.wait_for_selector("#job-progress")
    page.screenshot(path=str(shots / f"{tag}-job-running.png"), full_page=True)
    page.wait_for_selector("a[href$='/download/pdf']", timeout=400_000)  # htmx polling
    page.screenshot(path=str(shots / f"{tag}-job-done.png"), full_page=True)
    return wave_url


def test_workspace_end_to_end(
    ws_server: str,
    browser: Any,
    axe_source: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from test_selfcheck_e2e import OPTIMIERER, fill_questionnaire, pick_muenchen

    server = ws_server
    shots = _shots(tmp_path_factory)
    file_a, file_b = _files(tmp_path)
    context = browser.new_context(locale="de-DE", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    violations: dict[str, Any] = {}
    page.goto(f"{server}/workspace/login")
    page.fill("#login-email", ANALYST)
    page.fill("#login-password", PASSWORD)
    page.click("form.login-form button[type=submit]")
    page.wait_for_selector("#wave-name")
    violations["index"] = axe_violations(page, axe_source)

    wave_a = _wave(page, server, "Welle 2023", 2023, file_a, shots, "a")
    violations["job"] = axe_violations(page, axe_source)
    job_url = page.url.split("?")[0]
    # the report in the browser
    page.click("a[href$='/report?lang=de']")
    page.wait_for_load_state()
    assert "Kommunentyp" in page.content() or "Typ" in page.content()
    page.go_back()
    page.wait_for_selector("a[href$='/download/pdf']")
    with page.expect_download(timeout=60_000) as pdf:
        page.click("a[href$='/download/pdf']")
    pdf_path = tmp_path / "bericht.pdf"
    pdf.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    page.goto(wave_a)
    violations["wave"] = axe_violations(page, axe_source)
    page.screenshot(path=str(shots / "wave.png"), full_page=True)
    with page.expect_download(timeout=60_000) as sav:
        page.click("a[href$='/data/sav']")
    sav_path = tmp_path / "welle.sav"
    sav.value.save_as(sav_path)
    import pyreadstat

    frame, meta = pyreadstat.read_sav(str(sav_path))
    assert len(frame) == 412 - 0 or len(frame) > 300
    assert meta.variable_value_labels.get("kommunenart")

    # publish the model; the public Typ-Check uses it at once
    page.goto(job_url)
    page.click("a[href*='/publish']")
    page.wait_for_selector("#shares-caption")
    violations["publish"] = axe_violations(page, axe_source)
    page.screenshot(path=str(shots / "publish.png"), full_page=True)
    page.click("main form button[type=submit]")
    page.wait_for_selector(".notice")
    notice = page.inner_text(".notice")
    model_id = notice.rsplit(" ", 1)[-1].rstrip(".")
    assert model_id.startswith("model:"), notice
    public = browser.new_context(locale="de-DE")
    check = public.new_page()
    check.set_default_timeout(TIMEOUT)
    pick_muenchen(check, server, True)
    fill_questionnaire(check, OPTIMIERER)
    assert model_id in check.inner_text("main")
    public.close()

    # second wave, compare
    _wave(page, server, "Welle 2024", 2024, file_b, shots, "b")
    page.goto(f"{server}/workspace/compare")
    page.select_option("#cmp-a", label="Welle 2023")
    page.select_option("#cmp-b", label="Welle 2024")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#cmp-trans-caption")
    text = page.inner_text("main")
    assert "χ²" in text and "in beiden Wellen" in text
    violations["compare"] = axe_violations(page, axe_source)
    page.screenshot(path=str(shots / "compare.png"), full_page=True)

    # DSGVO: find K001, delete it, find it gone
    page.goto(f"{server}/workspace/dsgvo?q=K001")
    page.wait_for_selector(".dsgvo-hit")
    violations["dsgvo"] = axe_violations(page, axe_source)
    page.fill("#reason-1", "Antrag auf Löschung vom 1.12.2026")
    page.click(".dsgvo-hit form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "gelöscht" in page.inner_text(".notice")
    page.screenshot(path=str(shots / "dsgvo-deleted.png"), full_page=True)
    page.goto(f"{server}/workspace/dsgvo?q=K001")
    assert page.locator(".dsgvo-hit").count() == 0
    assert "Antrag auf Löschung" in page.inner_text("table")
    page.goto(wave_a)
    assert "neu rechnen" in page.inner_text("main")
    page.goto(f"{server}/workspace/?lang=en")
    violations["index-en"] = axe_violations(page, axe_source)
    context.close()
    assert not any(violations.values()), violations
