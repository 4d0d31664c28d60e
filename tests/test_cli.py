"""The CLI frame: language switch, error handling, no tracebacks for users."""

import subprocess
import sys

import pytest
import typer

from kommunaltypen import cli
from kommunaltypen.errors import InputFileError


def _app_with(fn):
    app = typer.Typer()

    @app.callback()
    def _root(lang: str = typer.Option("de", "--lang"), debug: bool = typer.Option(False)):
        pass

    app.command("boom")(fn)
    return app


def test_user_error_is_one_message_and_exit_code_2(monkeypatch, capsys):
    def boom():
        raise InputFileError("Datei x.csv ist leer; erwartet: eine Kopfzeile und Daten")

    monkeypatch.setattr(cli, "build_app", lambda: _app_with(boom))
    with pytest.raises(SystemExit) as exc:
        cli.main(["boom"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Datei x.csv ist leer" in err
    assert "Traceback" not in err


def test_internal_error_hides_traceback_unless_debug(monkeypatch, capsys):
    def boom():
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(cli, "build_app", lambda: _app_with(boom))
    with pytest.raises(SystemExit) as exc:
        cli.main(["boom"])
    assert exc.value.code == 70
    err = capsys.readouterr().err
    assert "Interner Fehler" in err and "ZeroDivisionError" in err
    assert "Traceback" not in err

    with pytest.raises(SystemExit):
        cli.main(["--debug", "boom"])
    assert "Traceback" in capsys.readouterr().err


def test_lang_en_switches_messages(monkeypatch, capsys):
    def boom():
        raise ZeroDivisionError

    monkeypatch.setattr(cli, "build_app", lambda: _app_with(boom))
    with pytest.raises(SystemExit):
        cli.main(["--lang", "en", "boom"])
    assert "Internal error" in capsys.readouterr().err


def test_unknown_language_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--lang", "fr", "--help"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "fr" in err and "de, en" in err


def test_help_is_german_by_default_and_english_on_request():
    run = [sys.executable, "-m", "kommunaltypen"]
    de = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True).stdout
    en = subprocess.run(
        [*run, "--lang", "en", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Kommunen nach ihren Digitalisierungszielen" in de
    assert "type municipalities by their digitalisation goals" in en
