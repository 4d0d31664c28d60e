"""``kommunaltypen validate FILE``: read, map and validate a survey file."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from kommunaltypen.cli.progress import stage_progress
from kommunaltypen.i18n import t
from kommunaltypen.io import READERS

# share of the progress bar per validation stage: (start, share)
_SPANS = {"read": (0.0, 0.1), "parse": (0.1, 0.7), "check": (0.8, 0.2), "done": (1.0, 0.0)}


def register(app: typer.Typer) -> None:
    formats = ", ".join(sorted(READERS))

    @app.command("validate", help=t("validate.cli_help"))
    def validate_cmd(
        file: Path = typer.Argument(..., help=t("validate.cli_file"), show_default=False),
        mapping: Path | None = typer.Option(
            None, "--mapping", "-m", help=t("validate.cli_mapping"), show_default=False
        ),
        format: str | None = typer.Option(
            None, "--format", "-f", help=t("validate.cli_format", formats=formats)
        ),
        rejected: Path | None = typer.Option(
            None, "--rejected", help=t("validate.cli_rejected"), show_default=False
        ),
        as_json: bool = typer.Option(False, "--json", help=t("validate.cli_json")),
        strict: bool = typer.Option(False, "--strict", help=t("validate.cli_strict")),
        max_issues: int = typer.Option(30, "--max-issues", help=t("validate.cli_max_issues")),
    ) -> None:
        from kommunaltypen.validate import validate_file

        out = Console()
        with stage_progress(_SPANS, "validate.stage_", enabled=not as_json) as progress:
            _, report = validate_file(file, mapping=mapping, format=format, progress=progress)
        if rejected is not None:
            report.write_rejected_csv(rejected)
        if as_json:
            sys.stdout.write(report.to_json() + "\n")
        else:
            out.print(report.to_rich(max_issues=max_issues))
            if rejected is not None:
                out.print(t("validate.rejected_written", file=rejected, count=report.rows_rejected))
        if strict and report.rows_rejected:
            raise typer.Exit(1)
