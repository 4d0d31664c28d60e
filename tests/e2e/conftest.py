"""Fixtures of the end-to-end tests: a real server (uvicorn in a thread on a free loopback port,
SQLite in a temporary directory) and headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import running_server

from kommunaltypen.web import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
AXE = REPO / ".npm-test" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running server."""
    from kommunaltypen.web import typcheck

    data = tmp_path_factory.mktemp("e2e")
    settings = Settings(database_url=f"sqlite:///{data / 'db.sqlite3'}", data_dir=data)
    with running_server(settings) as (url, app):
        state = app.state.kommunaltypen  # the comparison basis: not inside a timed page load
        typcheck.comparison_for(state, state.model)
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per test module: Playwright's sync API keeps an event loop running in this
    thread while it is open, which later tests' ``asyncio.run`` must not find."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script (installed by scripts/test.sh into the git-ignored .npm-test; the
    fixture installs it with npm when it is missing)."""
    import subprocess

    if not AXE.is_file():
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(REPO / ".npm-test"),
                "axe-core@4.14.1",
            ],
            check=True,
            timeout=300,
        )
    return AXE.read_text(encoding="utf-8")
