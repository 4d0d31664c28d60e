"""``kommunaltypen codebook`` (print the codebook) and ``kommunaltypen template`` (empty file)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from kommunaltypen.codebook import default_codebook
from kommunaltypen.codebook_docs import to_csv, to_markdown, write_template
from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t


class CodebookFormat(StrEnum):
    json = "json"
    csv = "csv"
    md = "md"


def register(app: typer.Typer) -> None:
    @app.command("codebook", help=t("validate.cli_codebook_help"))
    def codebook_cmd(
        format: CodebookFormat = typer.Option(
            CodebookFormat.json, "--format", "-f", help=t("validate.cli_codebook_format")
        ),
        out: Path | None = typer.Option(
            None, "--out", "-o", help=t("validate.cli_codebook_out"), show_default=False
        ),
    ) -> None:
        cb = default_codebook()
        text = {
            CodebookFormat.json: cb.to_json,
            CodebookFormat.csv: lambda: to_csv(cb),
            CodebookFormat.md: lambda: to_markdown(cb),
        }[format]()
        if out is None:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputFileError(t("validate.file_unwritable", file=out, error=exc)) from exc

    @app.command("template", help=t("validate.cli_template_help"))
    def template_cmd(
        out: Path = typer.Option(..., "--out", "-o", help=t("validate.cli_template_out")),
    ) -> None:
        path = write_template(out)
        typer.echo(t("validate.template_written", file=path, count=len(default_codebook().columns)))
