"""The report's data model, built from the analysis result's objects.

:class:`ReportData` is made from an :class:`~kommunaltypen.report.record.AnalysisRecord` — the
serialisable view of an ``AnalysisResult`` (``result.record()`` in memory, or
``AnalysisRecord.from_dir(DIR)`` from ``result.json`` and the files beside it) — so a report
rendered inside ``analyze`` and one rendered by ``report --from DIR`` see equal data.

One :class:`TableModel` per table feeds every renderer (HTML, PDF-HTML, XLSX), the charts, the
profiles and the recommendations. Rows and columns carry the stable ids of the table
declarations (``RowSpec.id``; type ids, ``gesamt``, the Kommunengruppe level ids …) and the
declared properties (measure, percent, precision, labels, test, the type of a row, Table 12's
offered/planned partner); nothing is guessed from labels.

Directories written before ``result.json`` existed (or assembled by hand) are read from their
long-format CSVs when those carry the id columns (``row_id``, ``column_id``, ``measure``,
``precision``); see :func:`load_output_dir`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from kommunaltypen import yamlio
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import catalog, t
from kommunaltypen.tables.engine import TableResult, pair_parts
from kommunaltypen.tables.spec import PERCENT_MEASURES
from kommunaltypen.vocabulary import TOTAL_ID, TYPE_IDS, is_new_type, is_type_id, type_label

if TYPE_CHECKING:
    from kommunaltypen.report.record import AnalysisRecord

__all__ = [
    "TOTAL_ID",
    "TYPE_IDS",
    "Cell",
    "Column",
    "ReportData",
    "ReportError",
    "TableModel",
    "TableRow",
    "is_type_key",
    "load_output_dir",
    "table_from_result",
]

#: columns a long-format table CSV must have to be read without ``result.json``
REQUIRED_TABLE_COLUMNS = (
    "table",
    "row_id",
    "row_label",
    "column_id",
    "column_label",
    "value",
    "n",
    "measure",
    "precision",
)


def is_type_key(key: str) -> bool:
    """A study type id or a new, unnamed type found by the typology (``neu_1`` …)."""
    return is_type_id(key)


class ReportError(KommunaltypenError):
    """The analysis output directory (or a report declaration) cannot be used for a report."""


@dataclass
class Cell:
    value: float | None
    n: int | None
    value2: float | None = None  # Table 12: the planned share of an offered/planned pair
    ci_low: float | None = None
    ci_high: float | None = None
    bold: bool = False
    suppressed: bool = False  # hidden by ``analyze --publication``


@dataclass
class Column:
    key: str  # column id: type id, "gesamt", Kommunengruppe level id, "alle" …
    label: str  # German label
    is_type: bool = False
    label_en: str | None = None
    total: bool = False

    def display(self, lang: str) -> str:
        """The column heading in ``lang`` (types: the vocabulary's label)."""
        if self.is_type:
            return type_label(self.key, lang)
        return (self.label_en or self.label) if lang == "en" else self.label


@dataclass
class TableRow:
    key: str  # row id (``RowSpec.id``); an offered/planned pair: the offered row's id
    label_de: str
    label_en: str | None
    cells: dict[str, Cell]
    p_value: float | None = None
    test: str | None = None
    effect_size: float | None = None
    effect_name: str | None = None
    precision: int = 1
    percent: bool = True
    measure: str | None = None
    type_id: str | None = None  # the type a row is about (Tables 2 and 3)
    part: str | None = None  # "angeboten" | "geplant" (Table 12)
    planned: str | None = None  # id of the planned partner of an offered row (shown merged)

    def label(self, lang: str) -> str:
        return (self.label_en or self.label_de) if lang == "en" else self.label_de


@dataclass
class TableModel:
    number: int
    caption_de: str
    caption_en: str
    columns: list[Column]
    rows: list[TableRow]  # as displayed: offered/planned pairs as one row
    #: every declared row by id, pairs not merged (figures, recommendations)
    index: dict[str, TableRow] = field(default_factory=dict)

    def caption(self, lang: str) -> str:
        return self.caption_en if lang == "en" else self.caption_de

    @property
    def type_columns(self) -> list[Column]:
        return [c for c in self.columns if c.is_type]

    def row(self, key: str) -> TableRow | None:
        """A declared row by id (the offered and the planned row of a pair separately)."""
        return self.index.get(key) or next((r for r in self.rows if r.key == key), None)


@dataclass
class ReportData:
    """Everything the report shows, from one analysis record."""

    tables: dict[int, TableModel]
    assignments: pl.DataFrame
    model: dict[str, Any]
    diagnostics: dict[str, Any]
    manifest: dict[str, Any]
    rejected: pl.DataFrame
    type_ids: list[str]  # the four study types, then new types of this analysis
    centers: pl.DataFrame | None = None
    publication: bool = False  # the analysis was run with --publication
    min_n: int = 5
    out_dir: Path | None = None
    claims: Any = None  # the Thesen-Check (kommunaltypen.claims.ClaimsResult), if any

    def type_label(self, type_id: str, lang: str) -> str:
        return type_label(type_id, lang)

    @classmethod
    def from_record(cls, record: AnalysisRecord, out_dir: Path | None = None) -> ReportData:
        new = sorted((tid for tid in record.type_ids if tid not in TYPE_IDS), key=_type_order)
        return cls(
            tables={tb.number: table_from_result(tb) for tb in sorted(record.tables, key=_number)},
            assignments=record.assignments,
            model=record.model,
            diagnostics=record.diagnostics,
            manifest=record.manifest,
            rejected=record.rejected,
            type_ids=[*TYPE_IDS, *new],
            centers=record.centers,
            publication=record.publication,
            min_n=record.min_n,
            out_dir=out_dir,
            claims=_claims(record, out_dir),
        )


def _claims(record: Any, out_dir: Path | None) -> Any:
    """The record's Thesen-Check, else the ``claims.csv`` of its directory, else None."""
    claims = getattr(record, "claims", None)
    if claims is None and out_dir is not None and (out_dir / "claims.csv").is_file():
        from kommunaltypen.claims import read_claims_csv

        claims = read_claims_csv(out_dir / "claims.csv")
    return claims


def _number(tb: TableResult) -> int:
    return tb.number


def _type_order(type_id: str) -> tuple[int, str]:
    match = re.fullmatch(r"neu_(\d+)", type_id)
    return (int(match.group(1)), type_id) if match else (10**6, type_id)


# -- from the engine's objects ---------------------------------------------------------------
def _caption(number: int, de: str | None, en: str | None) -> tuple[str, str]:
    own = catalog().get(f"report.caption.{number}")
    cap_de = de or (own["de"] if own else f"Tabelle {number}")
    cap_en = en or (own["en"] if own else cap_de)
    return cap_de, cap_en


def table_from_result(result: TableResult) -> TableModel:
    """The table model of one computed table (ids, declared properties, pairs merged)."""
    spec = result.spec
    columns = [
        Column(c.key, c.label_de, is_type_id(c.key) and not c.total, c.label_en, c.total)
        for c in result.columns
    ]
    index: dict[str, TableRow] = {}
    rows: list[TableRow] = []
    partners = {r.partner.spec.id for r in result.rows if r.partner is not None}
    for r in result.rows:
        index[r.spec.id] = _row(r, None)
        if r.spec.id in partners:
            continue  # shown inside its offered row
        rows.append(_row(r, r.partner) if r.partner is not None else index[r.spec.id])
    cap_de, cap_en = _caption(spec.number, spec.caption_de, spec.caption_en)
    return TableModel(spec.number, cap_de, cap_en, columns, rows, index)


def _row(row: Any, partner: Any | None) -> TableRow:
    rs = row.spec
    cells: dict[str, Cell] = {}
    planned = {c.column.key: c for c in partner.cells} if partner is not None else {}
    for c in row.cells:
        p = planned.get(c.column.key)
        cells[c.column.key] = Cell(
            value=c.value,
            n=c.n,
            value2=None if p is None or p.hidden else p.value,
            ci_low=c.ci_low,
            ci_high=c.ci_high,
            bold=c.bold,
            suppressed=c.hidden,
        )
    test = row.test
    p_value = None if test is None or math.isnan(test.p_value) else test.p_value
    effect = None if test is None or math.isnan(test.effect_size) else test.effect_size
    return TableRow(
        key=rs.id,
        label_de=rs.pair_label("de") if partner is not None else rs.label_de,
        label_en=rs.pair_label("en") if partner is not None else rs.label("en"),
        cells=cells,
        p_value=p_value,
        test=test.test if test is not None else None,
        effect_size=effect,
        effect_name=test.effect_name if test is not None else None,
        precision=rs.precision,
        percent=rs.percent,
        measure=rs.measure,
        type_id=rs.type,
        part=rs.part,
        planned=partner.spec.id if partner is not None else None,
    )


# -- reading an output directory -------------------------------------------------------------
def load_output_dir(out_dir: str | Path) -> ReportData:
    """Read an analysis output directory into a :class:`ReportData`: ``result.json`` and the
    files beside it (the faithful serialisation of the analysis result), or — for a
    directory without ``result.json`` — the long-format table CSVs with their id columns."""
    from kommunaltypen.report.record import AnalysisRecord

    out = Path(out_dir)
    if not out.is_dir():
        raise ReportError(t("report.err.no_dir", dir=str(out)))
    if (out / "result.json").is_file():
        try:
            record = AnalysisRecord.from_dir(out)
        except KommunaltypenError as exc:
            raise ReportError(str(exc)) from exc
        return ReportData.from_record(record, out)
    return _from_csv_dir(out)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(t("report.err.unreadable", file=str(path), error=exc)) from exc
    return data if isinstance(data, dict) else {"value": data}


def _read_csv(path: Path, required: bool) -> pl.DataFrame:
    if not path.exists():
        if required:
            raise ReportError(t("report.err.missing_file", file=str(path)))
        return pl.DataFrame()
    try:
        return pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        return pl.DataFrame()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ReportError(t("report.err.unreadable", file=str(path), error=exc)) from exc


def _num(value: Any) -> float | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.startswith("<"):
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0", "yes")


def _manifest_declarations(out: Path, manifest: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Captions of the user's table declarations named in the manifest (``--tables FILE``)."""
    source = (manifest.get("parameters") or {}).get("tables")
    if not isinstance(source, str) or source in ("study", "<python>"):
        return {}
    path = Path(source) if Path(source).is_absolute() else out / source
    if not path.is_file():
        return {}
    try:
        data = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yamlio.YAMLError):
        return {}
    return {
        int(tb["number"]): tb
        for tb in data.get("tables", []) or []
        if isinstance(tb, dict) and isinstance(tb.get("number"), int)
    }


@cache
def _study_captions() -> dict[int, tuple[str | None, str | None]]:
    from kommunaltypen.tables.spec import study_tables

    return {tb.number: (tb.caption_de, tb.caption_en) for tb in study_tables()}


def table_from_frame(number: int, frame: pl.DataFrame, caption: tuple[str, str]) -> TableModel:
    """The table model of one long-format table CSV (all columns read as text)."""
    missing = [c for c in REQUIRED_TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ReportError(
            t(
                "report.err.columns",
                file=f"table_{number:02d}.csv",
                missing=missing,
                expected=", ".join(REQUIRED_TABLE_COLUMNS),
            )
        )
    records = frame.to_dicts()
    columns: dict[str, Column] = {}
    for rec in records:
        cid = str(rec["column_id"])
        if cid not in columns:
            columns[cid] = Column(
                cid,
                str(rec["column_label"]),
                is_type_id(cid),
                rec.get("column_label_en") or None,
                cid in (TOTAL_ID, "alle"),
            )
    by_row: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_row.setdefault(str(rec["row_id"]), []).append(rec)
    firsts = {rid: recs[0] for rid, recs in by_row.items()}
    pairs = pair_parts(
        [(rid, f.get("part") or None, f.get("study_label") or None) for rid, f in firsts.items()]
    )
    planned_ids = set(pairs.values())
    index: dict[str, TableRow] = {}
    rows: list[TableRow] = []
    for rid, recs in by_row.items():
        first = recs[0]
        measure = str(first["measure"])
        cells = {
            str(rec["column_id"]): Cell(
                value=_num(rec.get("value")),
                n=None if _num(rec.get("n")) is None else int(_num(rec.get("n")) or 0),
                ci_low=_num(rec.get("ci_low")),
                ci_high=_num(rec.get("ci_high")),
                bold=_flag(rec.get("bold")),
                suppressed=_flag(rec.get("suppressed")),
            )
            for rec in recs
        }
        test = first.get("test") or None
        row = TableRow(
            key=rid,
            label_de=str(first["row_label"]),
            label_en=first.get("row_label_en") or None,
            cells=cells,
            p_value=_num(first.get("p_value")),
            test=test,
            effect_size=_num(first.get("effect_size")),
            effect_name=first.get("effect_name") or None,
            precision=int(_num(first.get("precision")) or 0),
            percent=measure in PERCENT_MEASURES,
            measure=measure,
            type_id=rid if is_type_id(rid) else None,  # CSV: a row whose id is a type id
            part=first.get("part") or None,
        )
        index[rid] = row
    for rid, row in index.items():
        if rid in planned_ids:
            continue
        partner = index.get(pairs.get(rid, ""))
        if partner is None:
            rows.append(row)
            continue
        study = firsts[rid].get("study_label") or row.label_de
        merged = TableRow(
            **{
                **row.__dict__,
                "label_de": study,
                "label_en": row.label_en,
                "planned": partner.key,
                "cells": {
                    k: Cell(**{**c.__dict__, "value2": partner.cells[k].value})
                    if k in partner.cells and not partner.cells[k].suppressed
                    else c
                    for k, c in row.cells.items()
                },
            }
        )
        rows.append(merged)
    return TableModel(number, caption[0], caption[1], list(columns.values()), rows, index)


def _from_csv_dir(out: Path) -> ReportData:
    manifest = _read_json(out / "manifest.json")
    declared = _manifest_declarations(out, manifest)
    assignments = _read_csv(out / "assignments.csv", required=True)
    casts = [pl.col(c).cast(pl.Float64, strict=False) for c in assignments.columns if c[:2] == "p_"]
    if "mischform" in assignments.columns:
        casts.append(pl.col("mischform").str.to_lowercase().is_in(["true", "1", "1.0"]))
    assignments = assignments.with_columns(casts)
    found = sorted(
        (int(m.group(1)), p)
        for p in (out / "tables").glob("table_*.csv")
        if (m := re.fullmatch(r"table_(\d+)\.csv", p.name))
    )
    if not found:
        raise ReportError(t("report.err.missing_file", file=str(out / "tables" / "table_01.csv")))
    tables: dict[int, TableModel] = {}
    for number, path in found:
        frame = _read_csv(path, required=True)
        if frame.is_empty():
            raise ReportError(t("report.err.empty", file=str(path)))
        decl = declared.get(number)
        de, en = (
            (decl.get("caption_de"), decl.get("caption_en"))
            if decl
            else _study_captions().get(number, (None, None))
        )
        tables[number] = table_from_frame(number, frame, _caption(number, de, en))
    found_types = (
        sorted(
            {str(v) for v in assignments["type"].drop_nulls().to_list() if is_new_type(str(v))},
            key=_type_order,
        )
        if "type" in assignments.columns
        else []
    )
    centers = _read_csv(out / "centers.csv", required=False)
    return ReportData(
        tables=tables,
        assignments=assignments,
        model=_read_json(out / "model.json"),
        diagnostics=_read_json(out / "diagnostics.json"),
        manifest=manifest,
        rejected=_read_csv(out / "rejected.csv", required=False),
        type_ids=[*TYPE_IDS, *found_types],
        centers=None if centers.is_empty() else centers,
        out_dir=out,
        claims=_claims(None, out),
    )
