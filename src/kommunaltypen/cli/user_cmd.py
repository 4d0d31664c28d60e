"""``kommunaltypen user add|list|passwd|remove``: accounts of the analyst workspace.

The database is the one ``kommunaltypen serve`` uses: the same settings (``KOMMUNALTYPEN_*``
environment, default SQLite file in the data directory), or ``--database-url``. It is migrated
to the newest schema first. Passwords are asked for twice without echo, or read from the first
line of standard input with ``--password-stdin`` (for scripts); they are never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from kommunaltypen import i18n
from kommunaltypen.errors import KommunaltypenError


@contextmanager
def _database(database_url: str | None) -> Iterator[Any]:
    """A ``sessionmaker`` on the settings' database (migrated); disposed afterwards."""
    from kommunaltypen.cli.serve_cmd import load_settings, require_web_extra

    require_web_extra()
    from kommunaltypen import store

    settings = load_settings(database_url=database_url).resolved()
    engine = store.make_engine(settings.database_url or "")
    try:
        store.migrate(engine)
        yield store.session_factory(engine)
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    from kommunaltypen.web import auth

    t = i18n.t
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise KommunaltypenError(t("account.cli.no_stdin_password"))
        return auth.check_password(password)
    first = typer.prompt(
        t("account.cli.prompt_password", minimum=auth.MIN_PASSWORD_LENGTH), hide_input=True
    )
    auth.check_password(first)
    second = typer.prompt(t("account.cli.prompt_repeat"), hide_input=True)
    if first != second:
        raise auth.AccountError(t("account.password_mismatch"))
    return first


def register(app: typer.Typer) -> None:
    t = i18n.t
    user_app = typer.Typer(help=t("account.user_help"), no_args_is_help=True)
    app.add_typer(user_app, name="user")
    database_option = typer.Option(None, "--database-url", help=t("web.serve_opt_database_url"))
    stdin_option = typer.Option(False, "--password-stdin", help=t("account.cli.opt_password_stdin"))

    @user_app.command("add", help=t("account.cli.add_help"))
    def add(
        email: str = typer.Argument(..., help=t("account.cli.arg_email")),
        admin: bool = typer.Option(False, "--admin", help=t("account.cli.opt_admin")),
        password_stdin: bool = stdin_option,
        database_url: str | None = database_option,
    ) -> None:
        from kommunaltypen.web import auth

        address = auth.check_email(email)  # before asking for the password
        password = _read_password(password_stdin)
        role = "admin" if admin else "analyst"
        with _database(database_url) as sessions, sessions.begin() as db:
            user = auth.create_user(db, address, password, role)
            typer.echo(t("account.cli.added", email=user.email, role=role))

    @user_app.command("list", help=t("account.cli.list_help"))
    def list_(database_url: str | None = database_option) -> None:
        from rich.console import Console
        from rich.table import Table

        from kommunaltypen.web import auth

        with _database(database_url) as sessions, sessions() as db:
            users = auth.list_users(db)
        if not users:
            typer.echo(t("account.cli.none"))
            return
        table = Table(box=None, pad_edge=False)
        for key in ("col_email", "col_role", "col_created", "col_last_login"):
            table.add_column(t(f"account.cli.{key}"))
        for user in users:
            table.add_row(
                user.email,
                user.role,
                user.created_at.strftime("%Y-%m-%d %H:%M"),
                user.last_login_at.strftime("%Y-%m-%d %H:%M")
                if user.last_login_at
                else t("account.cli.never"),
            )
        Console(width=120, highlight=False).print(table)

    @user_app.command("passwd", help=t("account.cli.passwd_help"))
    def passwd(
        email: str = typer.Argument(..., help=t("account.cli.arg_email")),
        password_stdin: bool = stdin_option,
        database_url: str | None = database_option,
    ) -> None:
        from kommunaltypen.web import auth

        with _database(database_url) as sessions:
            with sessions() as db:
                auth.get_user(db, email)  # unknown account: say so before the prompt
            password = _read_password(password_stdin)
            with sessions.begin() as db:
                user = auth.set_password(db, email, password)
                typer.echo(t("account.cli.changed", email=user.email))

    @user_app.command("remove", help=t("account.cli.remove_help"))
    def remove(
        email: str = typer.Argument(..., help=t("account.cli.arg_email")),
        database_url: str | None = database_option,
    ) -> None:
        from kommunaltypen.web import auth

        with _database(database_url) as sessions, sessions.begin() as db:
            user = auth.remove_user(db, email)
            typer.echo(t("account.cli.removed", email=user.email))
