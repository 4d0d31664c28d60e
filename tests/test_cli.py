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

    monkeypatch.setattr(cli, "build_app", lambda *_: _app_with(boom))
    with pytest.raises(SystemExit) as exc:
        cli.main(["boom"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Datei x.csv ist leer" in err
    assert "Traceback" not in err


def test_internal_error_hides_traceback_unless_debug(monkeypatch, capsys):
    def boom():
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(cli, "build_app", lambda *_: _app_with(boom))
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

    monkeypatch.setattr(cli, "build_app", lambda *_: _app_with(boom))
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


def test_command_modules_declare_the_commands_they_register():
    """``COMMAND_MODULES`` names each module's commands (a call imports only the module of
    the command it names): the declaration matches what each module registers."""
    import importlib

    for module, declared in cli.COMMAND_MODULES.items():
        app = typer.Typer()
        importlib.import_module(module).register(app)
        names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
        assert sorted(names) == sorted(declared), module


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["analyze", "x.csv", "--out", "o"], "analyze"),
        (["--lang", "en", "report", "--from", "d"], "report"),
        (["--lang=en", "--debug", "user", "add"], "user"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_found_in_the_arguments(argv, command):
    assert cli._command_from_argv(argv) == command


def test_a_named_command_imports_only_its_module():
    """``analyze`` does not pull in the web server or the account store; the overall help
    still lists every command."""
    code = (
        "import sys; from kommunaltypen import cli; "
        "app = cli.build_app('analyze'); "
        "print(sorted(c.name for c in app.registered_commands)); "
        "print(*(f'kommunaltypen.cli.{m}' in sys.modules for m in ('serve_cmd', 'user_cmd')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["['analyze']", "False False"]
    every = cli.build_app(None)
    names = {c.name for c in every.registered_commands} | {g.name for g in every.registered_groups}
    assert names == {n for names in cli.COMMAND_MODULES.values() for n in names}


_RUN = """
import atexit, sys
from kommunaltypen import cli

class Noisy:  # freed in a teardown, which prints
    def __del__(self):
        print("teardown", flush=True)

kept = Noisy()

def main():
    atexit.register(lambda: print("aufgeräumt", flush=True))  # a clean-up of the command
    print("x" * 200_000)  # more than a pipe holds: all of it must arrive
    if sys.argv[1] == "exit":
        sys.exit(int(sys.argv[2]))
    if sys.argv[1] == "raise":
        raise RuntimeError("kaputt")

cli.main = main
cli.run()
"""


@pytest.mark.parametrize(
    ("args", "code"), [(["ok"], 0), (["exit", "3"], 3), (["exit", "0"], 0), (["raise"], 1)]
)
def test_the_process_entry_ends_without_teardown_but_keeps_code_output_and_cleanups(args, code):
    """``cli.run`` (the ``kommunaltypen`` script, ``python -m kommunaltypen``) ends the process
    without the interpreter's teardown (a module's objects are not freed one by one), but
    the exit code is the command's, everything printed arrives, and exit handlers the
    command registered still run."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.startswith("x" * 200_000 + "\n")
    assert proc.stdout.endswith("aufgeräumt\n")  # and no "teardown" after it
    assert ("RuntimeError: kaputt" in proc.stderr) == (args == ["raise"])


def test_the_script_and_python_m_use_the_process_entry():
    import tomllib
    from pathlib import Path

    import kommunaltypen.__main__ as entry

    root = Path(__file__).resolve().parent.parent
    scripts = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert scripts["kommunaltypen"] == "kommunaltypen.cli:run"
    assert entry.run is cli.run
