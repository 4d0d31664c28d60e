"""``kommunaltypen classify``: the type of one municipality from its three most important goals.

A thin adapter over :func:`kommunaltypen.service.classify`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kommunaltypen import i18n, service
from kommunaltypen.codebook import default_codebook
from kommunaltypen.vocabulary import format_number, format_percent, type_label


def register(app: typer.Typer) -> None:
    t = i18n.t

    @app.command("classify", help=t("typology.classify_help"))
    def classify_cmd(
        goals: str = typer.Option(..., "--goals", help=t("typology.classify_opt_goals")),
        model: Path | None = typer.Option(None, "--model", help=t("typology.classify_opt_model")),
        as_json: bool = typer.Option(False, "--json", help=t("typology.classify_opt_json")),
    ) -> None:
        info = service.load_model(model) if model is not None else service.default_model()
        result = service.classify(goals.split(","), info)
        if as_json:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
            return
        console = Console()
        question = default_codebook().typology_question
        labels = [i18n.label(question.option(g)) for g in result.goals]
        console.print(
            t("typology.classify_result", label=result.label()), style="bold", highlight=False
        )
        console.print(t("typology.classify_goals_line", goals="; ".join(labels)), highlight=False)
        if result.mischform:
            console.print(
                t(
                    "typology.classify_mischform",
                    threshold=round(100 * result.mischform_threshold),
                ),
                style="yellow",
                highlight=False,
            )
        table = Table()
        table.add_column(t("typology.classify_col_type"))
        table.add_column(t("typology.classify_col_probability"), justify="right")
        table.add_column(t("typology.classify_col_distance"), justify="right")
        for tid, p in result.probabilities.items():
            mark = "▶ " if tid == result.type_id else "  "
            table.add_row(
                mark + type_label(tid),
                format_percent(p),
                format_number(result.distances[tid], 2),
            )
        console.print(table)
        console.print(
            t("typology.classify_model_line", model=result.model_name), style="dim", highlight=False
        )
