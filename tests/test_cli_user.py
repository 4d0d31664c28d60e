"""``kommunaltypen user add|list|passwd|remove`` on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import sys

import pytest

from cli_helpers import run_cli
from kommunaltypen.store import make_engine, session_factory
from kommunaltypen.web import auth

PASSWORD = "ein-langes-passwort-42"


@pytest.fixture
def db_url(fresh_database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KOMMUNALTYPEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KOMMUNALTYPEN_DATABASE_URL", raising=False)
    return fresh_database_url


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def _user(url: str, email: str):
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            return auth.find_user(db, email)
    finally:
        engine.dispose()


def test_add_list_passwd_remove(db_url, capsys, monkeypatch) -> None:
    _stdin(monkeypatch, PASSWORD + "\n")
    code, out, err = run_cli(
        capsys,
        "user",
        "add",
        " Chefin@Example.org ",
        "--admin",
        "--password-stdin",
        "--database-url",
        db_url,
    )
    assert code == 0, err
    assert "Konto chefin@example.org (admin) angelegt." in out
    assert PASSWORD not in out + err
    user = _user(db_url, "chefin@example.org")
    assert user.role == "admin" and user.password_hash.startswith("$argon2id$")
    assert auth.passwords().verify(PASSWORD, user.password_hash)

    _stdin(monkeypatch, PASSWORD + "\n")
    code, out, err = run_cli(
        capsys, "user", "add", "analyst@example.org", "--password-stdin", "--database-url", db_url
    )
    assert code == 0 and "(analyst)" in out

    code, out, err = run_cli(capsys, "--lang", "en", "user", "list", "--database-url", db_url)
    assert code == 0, err
    lines = [line.split() for line in out.strip().splitlines()]
    assert lines[0][:2] == ["E-mail", "Role"]
    assert [row[:2] for row in lines[1:]] == [
        ["analyst@example.org", "analyst"],
        ["chefin@example.org", "admin"],
    ]
    assert lines[1][-1] == "never"

    new_password = "noch-ein-passwort-43"
    _stdin(monkeypatch, new_password + "\n")
    code, out, err = run_cli(
        capsys,
        "user",
        "passwd",
        "analyst@example.org",
        "--password-stdin",
        "--database-url",
        db_url,
    )
    assert code == 0 and "Passwort von analyst@example.org geändert" in out
    user = _user(db_url, "analyst@example.org")
    assert auth.passwords().verify(new_password, user.password_hash)
    assert not auth.passwords().verify(PASSWORD, user.password_hash)

    code, out, err = run_cli(
        capsys, "user", "remove", "analyst@example.org", "--database-url", db_url
    )
    assert code == 0 and "Konto analyst@example.org entfernt." in out
    assert _user(db_url, "analyst@example.org") is None
    # the last admin stays
    code, out, err = run_cli(
        capsys, "user", "remove", "chefin@example.org", "--database-url", db_url
    )
    assert code == 2 and "letzte Administrationskonto" in err
    assert _user(db_url, "chefin@example.org") is not None


def test_prompted_password_twice(db_url, capsys, monkeypatch) -> None:
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("typer.prompt", lambda *a, **k: next(answers))
    code, _out, err = run_cli(capsys, "user", "add", "p@example.org", "--database-url", db_url)
    assert code == 0, err
    answers = iter([PASSWORD, PASSWORD + "x"])
    code, _out, err = run_cli(capsys, "user", "add", "q@example.org", "--database-url", db_url)
    assert code == 2 and "stimmen nicht überein" in err
    assert _user(db_url, "q@example.org") is None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "keine-adresse"], PASSWORD, "Ungültige E-Mail-Adresse »keine-adresse«; erwartet"),
        (["add", "a@b"], PASSWORD, "Ungültige E-Mail-Adresse »a@b«"),
        (
            ["add", "kurz@example.org"],
            "elf-zeichen",
            "zu kurz (11 Zeichen); erwartet: mindestens 12",
        ),
        (["add", "leer@example.org"], "", "kein Passwort an"),
        (
            ["passwd", "niemand@example.org"],
            PASSWORD,
            "kein Konto mit der E-Mail-Adresse niemand@example.org",
        ),
        (
            ["remove", "niemand@example.org"],
            "",
            "kein Konto mit der E-Mail-Adresse niemand@example.org",
        ),
    ],
)
def test_clear_messages(db_url, capsys, monkeypatch, args, stdin, message) -> None:
    _stdin(monkeypatch, stdin + "\n")
    extra = ["--password-stdin"] if args[0] in ("add", "passwd") else []
    code, out, err = run_cli(capsys, "user", *args, *extra, "--database-url", db_url)
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in err
    if stdin:
        assert stdin not in out + err  # a password is never echoed


def test_duplicate_user(db_url, capsys, monkeypatch) -> None:
    for expected in (0, 2):
        _stdin(monkeypatch, PASSWORD + "\n")
        code, _out, err = run_cli(
            capsys, "user", "add", "d@example.org", "--password-stdin", "--database-url", db_url
        )
        assert code == expected
    assert "gibt schon ein Konto mit der E-Mail-Adresse d@example.org" in err


def test_english_messages(db_url, capsys, monkeypatch) -> None:
    _stdin(monkeypatch, "short\n")
    code, _out, err = run_cli(
        capsys,
        "--lang",
        "en",
        "user",
        "add",
        "e@example.org",
        "--password-stdin",
        "--database-url",
        db_url,
    )
    assert code == 2
    assert "The password is too short (5 characters); expected at least 12 characters." in err
