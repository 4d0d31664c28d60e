"""``kommunaltypen classify``: the type of one municipality from its three most important goals."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kommunaltypen import i18n
from kommunaltypen.codebook import default_codebook
from kommunaltypen.typology import Typology, ranking_points, type_label


def default_model() -> tuple[Typology, str]:
    """The bundled model (``data/model.json``) if shipped, else the study's Table 1 centres."""
    bundled = resources.files("kommunaltypen") / "data" / "model.json"
    if bundled.is_file():
        return Typology.load(Path(str(bundled))), "model.json"
    return Typology.from_reference("study"), i18n.t("typology.classify_model_reference")


def classify(goals: list[str], model_path: Path | None = None) -> dict:
    """Classify one ranking; returns a JSON-serialisable result dict."""
    if model_path is None:
        model, model_name = default_model()
    else:
        model, model_name = Typology.load(model_path), str(model_path)
    points = ranking_points(goals)
    question = default_codebook().typology_question
    order = sorted(
        (i for i in range(points.shape[1]) if points[0, i] > 0), key=lambda i: -points[0, i]
    )
    proba = model.predict_proba(points)[0]
    dist = model.transform(points)[0]
    best = int(model.predict(points)[0])
    type_id = model.type_ids_[best]
    return {
        "goals": [question.options[i].id for i in order],
        "type": type_id,
        "label": type_label(type_id),
        "mischform": bool(proba.max() < model.mischform_threshold),
        "mischform_threshold": model.mischform_threshold,
        "probabilities": {tid: float(p) for tid, p in zip(model.type_ids_, proba, strict=True)},
        "distances": {tid: float(d) for tid, d in zip(model.type_ids_, dist, strict=True)},
        "model": model_name,
        "data_hash": model.data_hash_,
    }


def register(app: typer.Typer) -> None:
    t = i18n.t

    @app.command("classify", help=t("typology.classify_help"))
    def classify_cmd(
        goals: str = typer.Option(..., "--goals", help=t("typology.classify_opt_goals")),
        model: Path | None = typer.Option(None, "--model", help=t("typology.classify_opt_model")),
        as_json: bool = typer.Option(False, "--json", help=t("typology.classify_opt_json")),
    ) -> None:
        result = classify(goals.split(","), model)
        console = Console()
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        question = default_codebook().typology_question
        labels = [i18n.label(question.option(g)) for g in result["goals"]]
        console.print(
            t("typology.classify_result", label=result["label"]), style="bold", highlight=False
        )
        console.print(t("typology.classify_goals_line", goals="; ".join(labels)), highlight=False)
        if result["mischform"]:
            console.print(
                t(
                    "typology.classify_mischform",
                    threshold=round(100 * result["mischform_threshold"]),
                ),
                style="yellow",
                highlight=False,
            )
        table = Table()
        table.add_column(t("typology.classify_col_type"))
        table.add_column(t("typology.classify_col_probability"), justify="right")
        table.add_column(t("typology.classify_col_distance"), justify="right")
        for tid, p in result["probabilities"].items():
            mark = "▶ " if tid == result["type"] else "  "
            table.add_row(
                mark + type_label(tid),
                i18n_percent(p),
                i18n_decimal(result["distances"][tid]),
            )
        console.print(table)
        console.print(
            t("typology.classify_model_line", model=result["model"]), style="dim", highlight=False
        )


def _locale() -> str:
    return "en_GB" if i18n.get_lang() == "en" else "de_DE"


def i18n_decimal(x: float) -> str:
    """A number with two decimals in the current language's number format."""
    from babel.numbers import format_decimal

    return format_decimal(x, format="#,##0.00", locale=_locale())


def i18n_percent(p: float) -> str:
    """A probability as a percentage in the current language's number format."""
    from babel.numbers import format_percent

    return format_percent(p, format="#,##0.0 %", locale=_locale())
