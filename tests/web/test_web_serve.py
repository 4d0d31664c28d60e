"""``kommunaltypen serve``: help texts, a clear message without the web extra, invalid settings,
and a real start that prints the database path but never the secret key."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from cli_helpers import run_cli
from live_server import free_port, wait_for_health


@pytest.mark.parametrize(
    ("lang", "needle"), [("de", "Startet den Webserver"), ("en", "Starts the web server")]
)
def test_serve_help_in_both_languages(capsys, lang: str, needle: str) -> None:
    code, out, _ = run_cli(capsys, "--lang", lang, "serve", "--help")
    assert code == 0
    folded = " ".join(out.split())
    assert needle in folded
    for option in ("--host", "--port", "--database-url", "--workers"):
        assert option in folded


def test_serve_without_the_web_extra_says_how_to_install(monkeypatch, capsys) -> None:
    real_import = importlib.import_module

    def fake_import(name: str, *args, **kwargs):
        if name in ("fastapi", "uvicorn"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    code, _, err = run_cli(capsys, "serve")
    assert code == 2
    assert "pip install 'kommunaltypen[web]'" in err
    assert "fastapi" in err and "uvicorn" in err
    assert "Traceback" not in err
    code, _, err = run_cli(capsys, "--lang", "en", "serve")
    assert "Install them with" in err


def test_invalid_setting_is_one_clear_message(monkeypatch, capsys) -> None:
    monkeypatch.setenv("KOMMUNALTYPEN_DEFAULT_LANG", "fr")
    code, _, err = run_cli(capsys, "serve")
    assert code == 2
    assert "KOMMUNALTYPEN_DEFAULT_LANG" in err and "'fr'" in err
    assert "Traceback" not in err
    monkeypatch.delenv("KOMMUNALTYPEN_DEFAULT_LANG")
    code, _, err = run_cli(capsys, "serve", "--workers", "0")
    assert code == 2 and "KOMMUNALTYPEN_WORKERS" in err


def _serve(args: list[str], env: dict[str, str], visit) -> str:
    """Start ``kommunaltypen serve`` with ``args`` on a free port, call ``visit(port)`` once
    it answers, stop it (SIGTERM) and return everything it printed."""
    port = free_port()
    command = [sys.executable, "-m", "kommunaltypen", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_health(proc, port)
        visit(port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode(errors="replace")
    return output


def _search_berlin(port: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/kommunen?q=berlin") as r:
        assert b"Berlin" in r.read()


def test_serve_prints_the_database_path_never_the_secret(tmp_path) -> None:
    """The output names the database, never the secret key, and its access log never holds
    a private link's token (whoever reads the log could open the answers)."""
    secret = "S3cr3t-" + "x" * 40
    token = "Tok3n" + "y" * 30
    db = tmp_path / "sub" / "kt.sqlite3"
    env = {"KOMMUNALTYPEN_DATA_DIR": str(tmp_path / "data"), "KOMMUNALTYPEN_SECRET_KEY": secret}

    def visit(port: int) -> None:
        _search_berlin(port)
        link = f"http://127.0.0.1:{port}/check/4f1c/{token}/ergebnis?gruppe=land"
        with pytest.raises(urllib.error.HTTPError):  # no such submission: 404, still logged
            urllib.request.urlopen(link)

    output = _serve(["--database-url", f"sqlite:///{db}"], env, visit)
    assert f"Datenbank: {db}" in output
    assert secret not in output
    assert token not in output and '"GET /check/4f1c/…/ergebnis?gruppe=land HTTP/1.1" 404' in output
    assert "/api/v1/kommunen?q=berlin" in output  # the access log is on
    assert db.is_file()  # created and migrated
    assert not (tmp_path / "data" / "secret_key").exists()  # the given key is used, not stored


@pytest.mark.parametrize(
    ("option", "env", "logged"),
    [("--no-access-log", None, False), (None, "false", False), ("--access-log", "false", True)],
)
def test_the_access_log_can_be_turned_off(tmp_path, option, env, logged) -> None:
    """``--no-access-log`` or ``KOMMUNALTYPEN_ACCESS_LOG=false``: no line per request (the
    option wins over the environment); the server's own lines are still printed."""
    environ = {"KOMMUNALTYPEN_DATA_DIR": str(tmp_path / "data")}
    if env is not None:
        environ["KOMMUNALTYPEN_ACCESS_LOG"] = env
    args = ["--database-url", f"sqlite:///{tmp_path / 'kt.sqlite3'}", *([option] if option else [])]
    output = _serve(args, environ, _search_berlin)
    assert "Server: http://127.0.0.1:" in output  # the server's own lines
    assert ("/api/v1/kommunen?q=berlin" in output) == logged
