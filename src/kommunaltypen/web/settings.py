"""Settings of the web application: one pydantic-settings class.

Every field can be set by an environment variable with the prefix ``KOMMUNALTYPEN_`` (e.g.
``KOMMUNALTYPEN_DATABASE_URL``). The table in ``docs/web.md`` lists them; a test checks that
table against this class.

Values left unset are resolved by :meth:`Settings.resolved` when the application starts:
the data directory is the platformdirs user data directory, the database a SQLite file in it,
and the secret key is read from ``<data_dir>/secret_key`` (generated there with
:mod:`secrets` on first start). The secret key is a :class:`pydantic.SecretStr`: it is never
shown in ``repr``, logs or output.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "KOMMUNALTYPEN_"
SECRET_KEY_FILE = "secret_key"
SQLITE_FILE = "kommunaltypen.sqlite3"


def default_data_dir() -> Path:
    """The platform's user data directory for kommunaltypen."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("kommunaltypen", appauthor=False))


class Settings(BaseSettings):
    """Configuration of ``kommunaltypen serve`` / :func:`kommunaltypen.web.create_app`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset: SQLite file in the data directory. "
        "postgresql://… uses psycopg 3.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Server secret (derives idempotent submission tokens); unset: read from "
        "or generated into <data_dir>/secret_key on first start. Never logged.",
    )
    data_dir: Path | None = Field(
        default=None, description="Directory for the SQLite database and the secret key file."
    )
    default_lang: Literal["de", "en"] = Field(
        default="de", description="Language of responses without ?lang= or Accept-Language."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest accepted request body (bytes); 413 above."
    )
    upload_max_bytes: int = Field(
        default=52_428_800,
        ge=1024,
        description="Largest data file uploaded into a workspace wave (bytes).",
    )
    job_worker: bool = Field(
        default=True, description="Run the analysis job worker thread in this server process."
    )
    import_pending_hours: int = Field(
        default=24,
        ge=1,
        description="An unconfirmed workspace import is deleted after this many hours.",
    )
    workers: int = Field(default=1, ge=1, description="Worker processes of `kommunaltypen serve`.")
    access_log: bool = Field(
        default=True,
        description="uvicorn's access log of `kommunaltypen serve` (one line per request).",
    )
    host: str = Field(default="127.0.0.1", description="Address `kommunaltypen serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `kommunaltypen serve` binds.")
    # operator details of the public pages (imprint, privacy notice, accessibility statement)
    operator_name: str = Field(
        default="Betreiber des Typ-Checks", description="Operator named in imprint and privacy."
    )
    operator_address: str = Field(
        default="Anschrift bitte in KOMMUNALTYPEN_OPERATOR_ADDRESS eintragen",
        description="Postal address of the operator (lines separated by \\n).",
    )
    operator_email: str = Field(
        default="kontakt@example.org", description="Contact e-mail (imprint, accessibility)."
    )
    privacy_contact: str = Field(
        default="", description="Data protection officer's contact; empty: not shown."
    )
    accessibility_statement_date: str = Field(
        default="2026-12-01", description="Date of the accessibility statement."
    )
    # analyst workspace: sessions and login protection (docs/workspace.md)
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A workspace session ends after this many idle minutes."
    )
    session_absolute_hours: int = Field(
        default=8, ge=1, description="A workspace session ends this many hours after login."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Secure flag of the session cookie; unset: set when the request is https.",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins of one e-mail before it is locked."
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="Minutes an e-mail stays locked (and the failure window)."
    )
    login_address_max_failures: int = Field(
        default=20, ge=1, description="Failed logins from one address per lockout window."
    )

    # ------------------------------------------------------------------ resolution
    def resolved(self) -> Settings:
        """A copy with data_dir, database_url and secret_key filled in (creating the data
        directory and the secret key file when needed)."""
        data_dir = self.data_dir or default_data_dir()
        database_url = self.database_url
        if not database_url:
            data_dir.mkdir(parents=True, exist_ok=True)
            database_url = f"sqlite:///{data_dir / SQLITE_FILE}"
        secret = self.secret_key
        if secret is None or not secret.get_secret_value():
            secret = SecretStr(load_or_create_secret(data_dir))
        return self.model_copy(
            update={"data_dir": data_dir, "database_url": database_url, "secret_key": secret}
        )

    def database_display(self) -> str:
        """The database for people: the file path of a SQLite database, else the URL with any
        password hidden."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url or "")
        if url.get_backend_name() == "sqlite":
            return url.database or ":memory:"
        return url.render_as_string(hide_password=True)


def load_or_create_secret(data_dir: Path) -> str:
    """The secret key stored in ``data_dir``; created (mode 0600) when missing. Safe when
    several processes start at once: the file is created exclusively, a loser re-reads it."""
    path = data_dir / SECRET_KEY_FILE
    try:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = data_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    try:
        os.link(tmp, path)  # atomic, fails if another process won the race
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
    finally:
        tmp.unlink(missing_ok=True)
    return value
