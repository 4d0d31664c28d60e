"""``kommunaltypen report --from DIR``: re-render the report from an analysis output directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import get_lang, t


def register(app: typer.Typer) -> None:
    @app.command("report", help=t("report.cmd_help"))
    def report(
        from_dir: Path = typer.Option(..., "--from", help=t("report.opt_from")),
        publication: bool = typer.Option(False, "--publication", help=t("report.opt_publication")),
        min_n: int = typer.Option(5, "--min-n", help=t("report.opt_min_n")),
        formats: str = typer.Option("html,pdf,xlsx", "--formats", help=t("report.opt_formats")),
    ) -> None:
        from kommunaltypen.report import FORMATS, render_report

        chosen = [f.strip() for f in formats.split(",") if f.strip()]
        for fmt in chosen:
            if fmt not in FORMATS:
                raise KommunaltypenError(
                    t("report.bad_format", value=fmt, expected=", ".join(FORMATS))
                )
        if min_n < 1:
            raise KommunaltypenError(t("report.bad_min_n", value=min_n))
        written = render_report(  # reads DIR back into the analysis record (result.json)
            from_dir,
            lang=get_lang(),
            publication=publication,
            min_n=min_n,
            formats=tuple(chosen),
        )
        console = Console()
        console.print(f"[bold]{t('report.written')}[/]")
        for key in ("html", "pdf", "xlsx"):
            if key in written:
                console.print(f"  {written[key]}", highlight=False)
        charts = sorted({p.parent for k, p in written.items() if k.startswith("chart:")})
        for folder in charts:
            console.print(f"  {folder}/ (PNG, SVG)", highlight=False)
