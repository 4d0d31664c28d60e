"""Settings: the documented table matches the class; the secret key is generated once, kept in
the data directory and never shown."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from kommunaltypen.web.settings import ENV_PREFIX, SECRET_KEY_FILE, Settings, load_or_create_secret

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def _settings_table() -> dict[str, tuple[str, str]]:
    """name → (environment variable, default cell) from the table in docs/web.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`(\w+)`", cells[0]) if cells else None
        if match and len(cells) >= 4:
            rows[match.group(1)] = (cells[1].strip("`"), cells[2])
    return rows


def _doc_default(value: object) -> str:
    """How the table writes a default: — for none, booleans as in an environment variable."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def test_docs_table_lists_every_setting_with_env_name_and_default() -> None:
    table = _settings_table()
    fields = Settings.model_fields
    assert set(table) == set(fields), "docs/web.md settings table and Settings differ"
    for name, info in fields.items():
        env, default = table[name]
        assert env == f"{ENV_PREFIX}{name.upper()}", name
        assert default.startswith(_doc_default(info.default)), (name, default, info.default)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("KOMMUNALTYPEN_DATABASE_URL", "sqlite:////x/y.sqlite3")
    monkeypatch.setenv("KOMMUNALTYPEN_DEFAULT_LANG", "en")
    monkeypatch.setenv("KOMMUNALTYPEN_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("KOMMUNALTYPEN_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.database_url == "sqlite:////x/y.sqlite3"
    assert settings.default_lang == "en" and settings.max_body_bytes == 2048
    assert settings.data_dir == tmp_path


def test_invalid_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("KOMMUNALTYPEN_DEFAULT_LANG", "fr")
    with pytest.raises(ValidationError):
        Settings()


def test_defaults_resolve_to_sqlite_in_the_data_dir_and_a_generated_secret(tmp_path) -> None:
    resolved = Settings(data_dir=tmp_path).resolved()
    assert resolved.database_url == f"sqlite:///{tmp_path / 'kommunaltypen.sqlite3'}"
    assert resolved.database_display() == str(tmp_path / "kommunaltypen.sqlite3")
    secret = resolved.secret_key.get_secret_value()
    assert len(secret) >= 43
    key_file = tmp_path / SECRET_KEY_FILE
    assert key_file.read_text().strip() == secret
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # the second start reads the same secret; it is never shown
    again = Settings(data_dir=tmp_path).resolved()
    assert again.secret_key.get_secret_value() == secret
    assert secret not in repr(again) and secret not in str(again.model_dump())


def test_given_secret_key_is_used_and_no_file_written(tmp_path) -> None:
    resolved = Settings(data_dir=tmp_path, secret_key="s" * 40).resolved()
    assert resolved.secret_key.get_secret_value() == "s" * 40
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_concurrent_secret_creation_agrees(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        values = set(pool.map(lambda _: load_or_create_secret(tmp_path), range(16)))
    assert len(values) == 1
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]


def test_postgres_url_is_shown_without_password() -> None:
    s = Settings(database_url="postgresql://kt:hunter2@db.example:5432/kt", secret_key="x" * 40)
    assert "hunter2" not in s.database_display()
    assert "db.example" in s.database_display()


def test_access_log_filter_leaves_the_private_links_token_out():
    """The filter the application installs on uvicorn's access logger (``web.logs``)."""
    import logging

    from kommunaltypen.web.logs import RedactPrivateLinks, redact

    assert redact("/check/abc/TOKEN/ergebnis?gruppe=land") == "/check/abc/…/ergebnis?gruppe=land"
    assert redact("/check/abc/TOKEN") == "/check/abc/…"
    assert redact("/check?anonym=1") == "/check?anonym=1"
    assert redact("/api/v1/submissions/abc") == "/api/v1/submissions/abc"
    args = ("127.0.0.1:5", "GET", "/check/abc/TOKEN/profil.pdf", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", 20, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert RedactPrivateLinks().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /check/abc/…/profil.pdf HTTP/1.1" 200'
