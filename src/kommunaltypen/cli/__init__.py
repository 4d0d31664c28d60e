"""The ``kommunaltypen`` command line (typer + rich).

Help texts are translated, so the language must be known before the commands are declared:
:func:`main` reads ``--lang`` (or ``KOMMUNALTYPEN_LANG``) from the raw arguments, then builds the
app. Each command lives in its own module with a ``register(app)`` function; add new command
modules and their command names to ``COMMAND_MODULES``. A call that names a command imports
only that command's module (``analyze`` does not import the web server, the account store or
the other commands: ~0.3 s less start-up); the overall help and an unknown command import all.

Errors: a :class:`~kommunaltypen.errors.KommunaltypenError` becomes one clear message and its
exit code; any other exception becomes a short "internal error" message (traceback only with
``--debug``). No traceback reaches a user by default.

The process entry (the ``kommunaltypen`` script, ``python -m kommunaltypen``) is :func:`run`:
:func:`main`, then the end of the process without the interpreter's teardown (see there).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
from contextlib import suppress

import typer
from rich.console import Console
from rich.markup import escape

from kommunaltypen import i18n
from kommunaltypen.errors import KommunaltypenError

COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    # each command module (with a register(app) function) and the commands it registers
    "kommunaltypen.cli.classify_cmd": ("classify",),
    "kommunaltypen.cli.validate_cmd": ("validate",),
    "kommunaltypen.cli.codebook_cmd": ("codebook", "template"),
    "kommunaltypen.cli.analyze_cmd": ("analyze",),
    "kommunaltypen.cli.report_cmd": ("report",),
    "kommunaltypen.cli.example_cmd": ("example-data",),
    "kommunaltypen.cli.claims_cmd": ("claims",),
    "kommunaltypen.cli.serve_cmd": ("serve",),
    "kommunaltypen.cli.user_cmd": ("user",),
}

err_console = Console(stderr=True)


def _lang_from_argv(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return os.environ.get("KOMMUNALTYPEN_LANG", i18n.DEFAULT_LANG)


def _command_from_argv(argv: list[str]) -> str | None:
    """The command named in ``argv`` (its first argument that is neither a root option nor
    the value of ``--lang``), or None."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--lang":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_app(command: str | None = None) -> typer.Typer:
    """Build the typer app in the current language: with only the module of ``command`` when
    it is a known command name, else with every command."""
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

    modules = [m for m, commands in COMMAND_MODULES.items() if command in commands]
    for name in modules or COMMAND_MODULES:
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
        app = build_app(_command_from_argv(argv))
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


def run() -> None:
    """The process entry point: :func:`main`, then the end of the process without the
    interpreter's teardown.

    Freeing every object of an analysis one by one when the interpreter shuts down took
    0.3–0.4 s after the last line was printed (10⁶ rows; ~0.3 s after a report). So the last
    exit handler ends the process at once (as Instagram's web workers do): thread pools are
    joined and the exit handlers registered after this start run before it (temporary
    files, caches), the logging handlers are flushed and closed, stdout and stderr flushed,
    and the exit code is the command's. :func:`main` itself (what tests call in-process)
    ends as any function does."""
    status = {"code": 0}

    def exit_now() -> None:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):  # a closed or broken pipe: nothing more to say
                stream.flush()
        os._exit(status["code"])

    atexit.register(exit_now)  # registered first: runs after every later exit handler
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        status["code"] = code if isinstance(code, int) else (0 if code is None else 1)
        raise
    except KeyboardInterrupt:
        status["code"] = 130
        raise
    except BaseException:
        status["code"] = 1
        raise
