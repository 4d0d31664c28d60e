"""The workspace accounts in headless Chromium against a real server: log in and out with and
without JavaScript, an admin adds an account on the users page; axe-core finds no WCAG 2.0/2.1
A/AA violation on the login and users pages (every state, German and English); the layout holds
at 200 % zoom and 360 px (screenshots in ``KOMMUNALTYPEN_SCREENSHOTS`` or a temporary folder)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import axe_violations, running_server

from kommunaltypen.web import Settings

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
PASSWORD = "korrekt-pferd-batterie-heftklammer"
ADMIN = "admin@example.org"
ANALYST = "analyst@example.org"


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server (uvicorn in a thread, SQLite) with an admin and an analyst account."""
    data = tmp_path_factory.mktemp("ws-e2e")
    url = f"sqlite:///{data / 'db.sqlite3'}"
    settings = Settings(database_url=url, data_dir=data, login_address_max_failures=1000)
    users = [(ADMIN, PASSWORD, "admin"), (ANALYST, PASSWORD, "analyst")]
    with running_server(settings, users) as (base, _):
        yield base


def _login(page: Any, server: str, email: str, password: str = PASSWORD, lang: str = "de") -> None:
    page.goto(f"{server}/workspace/login?next=/workspace/users&lang={lang}")
    page.fill("#login-email", email)
    page.fill("#login-password", password)
    page.click("form.login-form button[type=submit]")


def _states(browser: Any, server: str, lang: str, **context_args: Any) -> Iterator[tuple[str, Any]]:
    """(name, page) for every state of the login and users pages."""
    context = browser.new_context(locale="de-DE", **context_args)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    q = f"lang={lang}"
    page.goto(f"{server}/workspace/login?{q}")
    yield "login", page
    page.goto(f"{server}/workspace/users?{q}")  # → the login page with next= and a hint
    page.wait_for_selector("#login-email")
    yield "login-next", page
    _login(page, server, "niemand@example.org", "falsches-passwort", lang)
    page.wait_for_selector(".error-summary")
    yield "login-failed", page
    _login(page, server, ANALYST, PASSWORD, lang)
    page.wait_for_selector("main h1")
    yield "forbidden", page
    page.click("header form button[type=submit]")  # log out
    page.wait_for_selector(".notice")
    yield "logged-out", page
    _login(page, server, ADMIN, PASSWORD, lang)
    page.wait_for_selector("table.users")
    yield "users", page
    page.click("details.user-actions summary >> nth=0")
    yield "users-reset-open", page
    page.fill("#new-email", "kein-at")
    page.fill("#new-password", "kurz")
    page.fill("#new-password2", "kurz")
    page.evaluate(
        "document.querySelectorAll('form input').forEach(i => i.removeAttribute('minlength'))"
    )
    page.evaluate("document.getElementById('new-email').setAttribute('type', 'text')")
    page.click("form[aria-labelledby=add-user] button[type=submit]")
    page.wait_for_selector(".error-summary")
    yield "users-error", page
    email = f"neu-{lang}-{int(time.time() * 1000)}@example.org"
    page.fill("#new-email", email)
    page.fill("#new-password", PASSWORD)
    page.fill("#new-password2", PASSWORD)
    page.click("form[aria-labelledby=add-user] button[type=submit]")
    page.wait_for_selector(".notice")
    assert email in page.inner_text("table.users")
    yield "users-added", page
    page.click("header form button[type=submit]")
    page.wait_for_selector(".notice")
    context.close()


@pytest.mark.parametrize("lang", ["de", "en"])
def test_axe_finds_no_wcag_violation_on_login_and_users_pages(
    ws_server: str, browser: Any, axe_source: str, lang: str
) -> None:
    problems = {}
    names = []
    for name, page in _states(browser, ws_server, lang, bypass_csp=True):
        names.append(name)
        assert page.evaluate("document.documentElement.lang") == lang, name
        violations = axe_violations(page, axe_source)
        if violations:
            problems[name] = violations
    assert len(names) == 9
    assert problems == {}


def test_login_add_user_and_logout_without_javascript(ws_server: str, browser: Any) -> None:
    context = browser.new_context(locale="de-DE", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    _login(page, ws_server, ADMIN)
    page.wait_for_selector("table.users")
    assert page.url.startswith(f"{ws_server}/workspace/users")
    email = f"nojs-{int(time.time() * 1000)}@example.org"
    page.fill("#new-email", email)
    page.check("#role-admin")
    page.fill("#new-password", PASSWORD)
    page.fill("#new-password2", PASSWORD)
    page.click("form[aria-labelledby=add-user] button[type=submit]")
    page.wait_for_selector(".notice")
    assert f"Konto {email} angelegt." in page.inner_text(".notice")
    page.click("header form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "abgemeldet" in page.inner_text(".notice")
    page.goto(f"{ws_server}/workspace/users")
    assert "/workspace/login" in page.url  # the session has ended
    context.close()


def test_htmx_page_redirects_to_login_when_the_session_ended(ws_server: str, browser: Any) -> None:
    """With JavaScript: logged in, the session cookie is removed; the next action leads to the
    login page (a full redirect, not a swapped fragment)."""
    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    _login(page, ws_server, ADMIN)
    page.wait_for_selector("table.users")
    context.clear_cookies(name="kt_session")
    page.goto(f"{ws_server}/workspace/users")
    page.wait_for_selector("#login-email")
    assert "next=" in page.url
    context.close()


@pytest.mark.parametrize(
    ("name", "viewport", "scale"),
    [
        ("desktop", {"width": 1280, "height": 900}, 1),
        ("zoom200", {"width": 640, "height": 400}, 2),
        ("w360", {"width": 360, "height": 740}, 2),
    ],
)
def test_layout_and_screenshots(
    ws_server: str,
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    viewport: dict[str, int],
    scale: int,
) -> None:
    folder = os.environ.get("KOMMUNALTYPEN_SCREENSHOTS")
    shots = Path(folder) if folder else tmp_path_factory.mktemp("ws-screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    overflowing = []
    for state, page in _states(
        browser, ws_server, "de", viewport=viewport, device_scale_factor=scale
    ):
        page.screenshot(path=str(shots / f"workspace-{name}-{state}.png"), full_page=True)
        width = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if width > 0:
            overflowing.append((state, width))
    assert overflowing == []
