"""``kommunaltypen claims [FILE] [--claims CLAIMS.yaml]``: the Thesen-Check in the terminal."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kommunaltypen.cli.progress import stage_progress
from kommunaltypen.i18n import get_lang, t

# share of the progress bar per stage of the analysis the check runs on (the check itself
# takes the rest)
_SPANS = {
    "read": (0.0, 0.05),
    "parse": (0.05, 0.35),
    "check": (0.40, 0.15),
    "done": (0.55, 0.0),
    "validate": (0.55, 0.0),
    "typology": (0.55, 0.15),
    "tables": (0.70, 0.20),
}


def register(app: typer.Typer) -> None:
    @app.command("claims", help=t("claims.cli_help"))
    def claims_cmd(
        file: Path | None = typer.Argument(None, help=t("claims.cli_file"), show_default=False),
        claims: Path | None = typer.Option(
            None, "--claims", "-c", help=t("claims.cli_claims"), show_default=False
        ),
        mapping: Path | None = typer.Option(
            None, "--mapping", "-m", help=t("claims.cli_mapping"), show_default=False
        ),
        csv: Path | None = typer.Option(
            None, "--csv", help=t("claims.cli_csv"), show_default=False
        ),
        seed: int = typer.Option(0, "--seed", help=t("claims.cli_seed")),
        details: bool = typer.Option(False, "--details", "-d", help=t("claims.cli_details")),
        correction: str | None = typer.Option(
            None, "--correction", help=t("claims.cli_correction"), show_default=False
        ),
    ) -> None:
        from kommunaltypen.analysis import run_analysis
        from kommunaltypen.claims import (
            ClaimsError,
            check_analysis,
            claims_rich_table,
            load_claims,
            write_claims_csv,
        )
        from kommunaltypen.claims.stats import CORRECTIONS

        lang = get_lang()
        # a bad claims file or correction fails before the analysis runs
        if correction is not None and correction not in CORRECTIONS:
            raise ClaimsError(
                t("claims.bad_correction", got=correction, expected=", ".join(CORRECTIONS))
            )
        spec = load_claims(claims)
        with stage_progress(_SPANS, "tables.stage_") as progress:
            result = run_analysis(
                file,
                mapping=mapping,
                n_bootstrap=0,
                seed=seed,
                k_choice=False,
                progress=progress,
            )
            checked = check_analysis(result, spec, correction=correction)
        out = Console()
        out.print(claims_rich_table(checked, lang, details=details))
        if csv is not None:
            write_claims_csv(checked, csv)
            out.print(t("claims.written", file=str(csv)))
