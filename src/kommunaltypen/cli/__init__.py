"""The ``kommunaltypen`` command line (typer + rich).

Help texts are translated, so the language must be known before the commands are declared:
:func:`main` reads ``--lang`` (or ``KOMMUNALTYPEN_LANG``) from the raw arguments, then builds the
app. Each command lives in its own module with a ``register(app)`` function; add new command
modules to ``COMMAND_MODULES``.

Errors: a :class:`~kommunaltypen.errors.KommunaltypenError` becomes one clear message and its
exit code; any other exception becomes a short "internal error" message (traceback only with
``--debug``). No traceback reaches a user by default.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from kommunaltypen import i18n
from kommunaltypen.errors import KommunaltypenError

COMMAND_MODULES: list[str] = [
    # one line per command module, each with a register(app) function
    "kommunaltypen.cli.classify_cmd",
    "kommunaltypen.cli.validate_cmd",
    "kommunaltypen.cli.codebook_cmd",
    "kommunaltypen.cli.analyze_cmd",
    "kommunaltypen.cli.report_cmd",
    "kommunaltypen.cli.example_cmd",
    "kommunaltypen.cli.claims_cmd",
    "kommunaltypen.cli.serve_cmd",
    "kommunaltypen.cli.user_cmd",
]

err_console = Console(stderr=True)


def _lang_from_argv(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return os.environ.get("KOMMUNALTYPEN_LANG", i18n.DEFAULT_LANG)


def build_app() -> typer.Typer:
    """Build the typer app in the current language."""
    t = i18n.t
    app = typer.Typer(
        help=t("cli.app_help"),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )

    @app.callback()
    def _root(
        lang: str = typer.Option(i18n.DEFAULT_LANG, "--lang", help=t("cli.opt_lang")),
        debug: bool = typer.Option(False, "--debug", help=t("cli.opt_debug")),
    ) -> None:
        # --lang was already applied before the app was built; --debug is read in main().
        pass

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``kommunaltypen`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        lang = i18n.check_lang(_lang_from_argv(argv))
    except KommunaltypenError as exc:
        err_console.print(
            f"[bold red]{i18n.t('cli.error_prefix')}:[/] {escape(str(exc))}", highlight=False
        )
        sys.exit(exc.exit_code)
    with i18n.use_lang(lang):  # the language of this command only (no process global)
        _run(argv, debug)


def _run(argv: list[str], debug: bool) -> None:
    try:
        app = build_app()
        app(args=argv, prog_name="kommunaltypen", standalone_mode=True)
    except KommunaltypenError as exc:
        if debug:
            err_console.print_exception()
        err_console.print(
            f"[bold red]{i18n.t('cli.error_prefix')}:[/] {escape(str(exc))}", highlight=False
        )
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print(i18n.t("cli.interrupted"))
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # last line of defence: no traceback for users
        if debug:
            err_console.print_exception()
        err_console.print(
            f"[bold red]{i18n.t('cli.internal_error', error=type(exc).__name__)}[/]",
            highlight=False,
        )
        sys.exit(70)
