"""``kommunaltypen serve``: the web application (JSON API) under uvicorn.

The web dependencies are an optional extra; without them the command says how to install
them. Before the workers start, the database is migrated and the directory loaded once (so
several workers do not race for it) and the secret key file is created; the workers then get
the database URL and data directory through the ``KOMMUNALTYPEN_*`` environment (uvicorn's
``factory=True`` calls :func:`kommunaltypen.web.app.create_app` in each worker). The secret key
is never printed, logged or put into the environment.
"""

from __future__ import annotations

import importlib
import os

import typer

from kommunaltypen import i18n
from kommunaltypen.errors import KommunaltypenError

#: modules of the ``web`` extra the server needs
WEB_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "pydantic_settings", "platformdirs")


def require_web_extra() -> None:
    """A clear error naming the missing modules when the ``web`` extra is not installed."""
    missing = []
    for name in WEB_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise KommunaltypenError(i18n.t("web.missing_extra", missing=", ".join(missing)))


def load_settings(**overrides: object):  # -> kommunaltypen.web.settings.Settings
    """Settings from the environment with the given command-line values on top; invalid
    values become a :class:`KommunaltypenError` naming the setting."""
    from pydantic import ValidationError

    from kommunaltypen.web.settings import ENV_PREFIX, Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err.get("loc") else "?"
        raise KommunaltypenError(
            i18n.t(
                "web.bad_setting",
                name=f"{ENV_PREFIX}{name.upper()}",
                value=err.get("input"),
                expected=err.get("msg", ""),
            )
        ) from exc


def register(app: typer.Typer) -> None:
    t = i18n.t

    @app.command("serve", help=t("web.serve_help"))
    def serve(
        host: str | None = typer.Option(None, "--host", help=t("web.serve_opt_host")),
        port: int | None = typer.Option(None, "--port", help=t("web.serve_opt_port")),
        database_url: str | None = typer.Option(
            None, "--database-url", help=t("web.serve_opt_database_url")
        ),
        workers: int | None = typer.Option(None, "--workers", help=t("web.serve_opt_workers")),
        access_log: bool | None = typer.Option(
            None,
            "--access-log/--no-access-log",
            help=t("web.serve_opt_access_log"),
            show_default=False,
        ),
    ) -> None:
        require_web_extra()
        import uvicorn

        from kommunaltypen.web.app import fail_interrupted_jobs, prepare_database

        settings = load_settings(
            host=host, port=port, database_url=database_url, workers=workers, access_log=access_log
        ).resolved()
        # the workers build their settings from the environment: the same database and data
        # directory (where they read the secret key file); never the secret itself
        os.environ["KOMMUNALTYPEN_DATABASE_URL"] = settings.database_url or ""
        os.environ["KOMMUNALTYPEN_DATA_DIR"] = str(settings.data_dir)
        # (and how many there are: a single worker fails interrupted jobs itself at start)
        os.environ["KOMMUNALTYPEN_WORKERS"] = str(settings.workers)
        typer.echo(t("web.serve_database", database=settings.database_display()))
        prepare_database(settings)
        fail_interrupted_jobs(settings)  # before any worker runs a job
        typer.echo(
            t(
                "web.serve_listening",
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
            )
        )
        uvicorn.run(
            "kommunaltypen.web.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            server_header=False,
            log_level="info",
            access_log=settings.access_log,  # private links are redacted in it (web.logs)
        )
