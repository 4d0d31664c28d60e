"""Recommendations as data: answer pattern → advice, strongest type and the figure behind it.

Rules live in ``data/recommendations.yaml`` (a declaration file, not code). The same rules serve
the report (listed per strongest type) and a per-municipality self-check::

    from kommunaltypen.report.recommendations import recommend
    recommend({"datennutzung_keine": 1, ...}, result.tables)   # computed tables

``tables`` may be the engine's ``TableResult`` list (or ``{number: TableResult}``), an
``AnalysisResult`` / ``AnalysisRecord``, a ``ReportData``, ``{number: TableModel}`` or an
output directory. Nothing here keeps state between calls (safe per web request).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kommunaltypen import yamlio
from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import t
from kommunaltypen.report import fmt
from kommunaltypen.report.figures import Resolver, find_row, strongest
from kommunaltypen.report.model import (
    ReportData,
    ReportError,
    TableModel,
    load_output_dir,
    table_from_result,
)
from kommunaltypen.tables.engine import TableResult
from kommunaltypen.vocabulary import type_label


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Model):
    column: str | None = None
    in_: tuple[float, ...] | None = Field(default=None, alias="in")
    is_null: bool | None = None
    columns: tuple[str, ...] | None = None
    values: tuple[float, ...] = (1,)
    at_most: int | None = None
    at_least: int | None = None

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        single = self.column is not None and (self.in_ is not None) != bool(self.is_null)
        multi = (
            self.columns is not None
            and self.column is None
            and (self.at_most is not None or self.at_least is not None)
        )
        if single == multi:
            raise ValueError(
                "a condition is {column, in} or {column, is_null: true} or "
                "{columns, values, at_most|at_least}"
            )
        return self

    def referenced(self) -> tuple[str, ...]:
        return (self.column,) if self.column else tuple(self.columns or ())

    def holds(self, answers: dict[str, Any]) -> bool:
        if self.column is not None:
            value = answers.get(self.column)
            if self.is_null:
                return value is None
            return value is not None and float(value) in self.in_  # type: ignore[operator]
        given = [answers.get(c) for c in self.columns or ()]
        if all(v is None for v in given):
            return False  # question not answered: no advice
        hits = sum(1 for v in given if v is not None and float(v) in self.values)
        if self.at_most is not None and hits > self.at_most:
            return False
        return not (self.at_least is not None and hits < self.at_least)


class FigureRef(_Model):
    table: int = Field(ge=1)
    row: str
    direction: str = Field(default="max", pattern="^(max|min)$")


class Text(_Model):
    de: str
    en: str


class Rule(_Model):
    id: str
    topic: str
    when: tuple[Condition, ...] = Field(min_length=1)
    figure: FigureRef
    advice: Text


class RulesFile(_Model):
    rules: tuple[Rule, ...] = Field(min_length=1)


@dataclass
class Recommendation:
    rule_id: str
    topic: str
    advice: str
    type_id: str | None  # the type that is strongest on the figure's row
    type_label: str
    table: int
    row_label: str
    value: float | None
    value_text: str
    total_text: str


def _parse(text: str, origin: str) -> RulesFile:
    try:
        parsed = RulesFile.model_validate(yamlio.safe_load(text))
    except (yamlio.YAMLError, ValidationError) as exc:
        raise ReportError(t("report.err.declaration", file=origin, error=exc)) from exc
    known = set(default_codebook().columns)
    for rule in parsed.rules:
        for cond in rule.when:
            unknown = [c for c in cond.referenced() if c not in known]
            if unknown:
                raise ReportError(
                    t(
                        "report.err.declaration",
                        file=origin,
                        error=f"rule {rule.id!r}: unknown codebook columns {unknown}",
                    )
                )
    return parsed


@cache
def _shipped() -> RulesFile:
    file = resources.files("kommunaltypen") / "data" / "recommendations.yaml"
    return _parse(file.read_text(encoding="utf-8"), "recommendations.yaml")


def load_rules(path: str | Path | None = None) -> RulesFile:
    """The rules (shipped ``data/recommendations.yaml`` by default)."""
    if path is None:
        return _shipped()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(t("report.err.unreadable", file=str(path), error=exc)) from exc
    return _parse(text, str(path))


Tables = Any  # see the module docstring


def as_table_models(tables: Tables) -> dict[int, TableModel]:
    """The report's table models of any of the accepted forms of ``tables``."""
    if isinstance(tables, ReportData):
        return tables.tables
    if isinstance(tables, str | Path):
        return load_output_dir(tables).tables
    if hasattr(tables, "record") and callable(tables.record):  # AnalysisResult
        tables = tables.record()
    if hasattr(tables, "tables") and not isinstance(tables, dict):  # AnalysisRecord
        tables = tables.tables
    items = list(tables.values()) if isinstance(tables, dict) else list(tables)
    models: dict[int, TableModel] = {}
    for item in items:
        if isinstance(item, TableResult):
            models[item.number] = table_from_result(item)
        elif isinstance(item, TableModel):
            models[item.number] = item
        else:
            raise ReportError(
                t(
                    "report.err.tables_type",
                    got=type(item).__name__,
                    expected="TableResult, TableModel",
                )
            )
    return models


def evaluate(
    rule: Rule,
    tables: Tables,
    lang: str,
    publication: bool = False,
    min_n: int = 5,
) -> Recommendation:
    """The advice of ``rule`` with its strongest type and figure from the current tables."""
    if not isinstance(tables, dict) or any(not isinstance(v, TableModel) for v in tables.values()):
        tables = as_table_models(tables)
    table = tables.get(rule.figure.table)
    row = find_row(table, rule.figure.row) if table else None
    resolver = Resolver(tables, lang, publication, min_n)
    type_id = None
    value = None
    value_text = total_text = "–"
    row_label = rule.figure.row
    if row is not None:
        row_label = row.label(lang)
        best = strongest(row, publication, min_n, rule.figure.direction)
        if best is not None:
            type_id, value = best
            value_text = fmt.cell_text(row.cells[type_id], row, lang, publication, min_n)
        total = row.cells.get("gesamt")
        if total is not None:
            total_text = fmt.cell_text(total, row, lang, publication, min_n)
    label = type_label(type_id, lang) if type_id else "–"
    text = getattr(rule.advice, lang if lang in ("de", "en") else "de")
    text = text.replace("{type}", label).replace("{value}", value_text)
    text = resolver.fill(text.replace("{total}", total_text))
    return Recommendation(
        rule_id=rule.id,
        topic=rule.topic,
        advice=text,
        type_id=type_id,
        type_label=label,
        table=rule.figure.table,
        row_label=row_label,
        value=value,
        value_text=value_text,
        total_text=total_text,
    )


def recommend(
    answers: dict[str, Any],
    tables: Tables,
    lang: str = "de",
    publication: bool = False,
    min_n: int = 5,
    rules: RulesFile | None = None,
) -> list[Recommendation]:
    """Recommendations for one municipality's ``answers`` (codebook column → value), with
    the figures of ``tables`` (see the module docstring for the accepted forms)."""
    models = as_table_models(tables)
    chosen = rules or load_rules()
    return [
        evaluate(rule, models, lang, publication, min_n)
        for rule in chosen.rules
        if all(cond.holds(answers) for cond in rule.when)
    ]


def all_recommendations(
    data: ReportData, lang: str, publication: bool = False, min_n: int = 5
) -> list[Recommendation]:
    """Every rule evaluated against the current tables (for the report's per-type list)."""
    return [evaluate(rule, data.tables, lang, publication, min_n) for rule in load_rules().rules]
