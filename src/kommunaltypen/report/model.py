"""The report's view of an analysis output directory.

Everything the report shows is read from the directory that ``kommunaltypen analyze --out DIR``
writes (see ``docs/architecture.md``, "Analysis output directory"); an ``AnalysisResult``
passed to :func:`kommunaltypen.report.render_report` is only used for extra details the
directory does not hold. One :class:`TableModel` per appendix table feeds every renderer
(HTML, PDF-HTML, XLSX), the charts, the profiles and the recommendations.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from kommunaltypen import yamlio
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import t
from kommunaltypen.tables.spec import PERCENT_MEASURES, TYPE_IDS

TOTAL_ID = "gesamt"
REQUIRED_TABLE_COLUMNS = ("table", "row_label", "column_label", "value", "n")


NEW_TYPE = re.compile(r"neu_\d+")


def is_type_key(key: str) -> bool:
    """A study type id or a new, unnamed type found by the typology (``neu_1`` …)."""
    return key in TYPE_IDS or NEW_TYPE.fullmatch(key) is not None


class ReportError(KommunaltypenError):
    """The analysis output directory (or a report declaration) cannot be used for a report."""


def slug(text: str) -> str:
    """A stable ASCII key for a label: ``"Bedächtige"`` → ``"bedaechtige"``."""
    text = str(text).strip().lower()
    for src, dst in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(src, dst)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value or value.startswith("<"):
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "ja")
    number = _num(value)
    return bool(number) if number is not None else False


@dataclass
class Cell:
    value: float | None
    n: int | None
    value2: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    bold: bool = False
    suppressed: bool = False


@dataclass
class Column:
    key: str  # type id, "gesamt", or the slug of the study's column label
    label: str  # German label as written by analyze
    is_type: bool = False
    label_en: str | None = None


@dataclass
class TableRow:
    key: str
    label_de: str
    label_en: str | None
    cells: dict[str, Cell]
    p_value: float | None = None
    test: str | None = None
    effect_size: float | None = None
    effect_name: str | None = None
    precision: int = 1
    percent: bool = True

    def label(self, lang: str) -> str:
        return (self.label_en or self.label_de) if lang == "en" else self.label_de


@dataclass
class TableModel:
    number: int
    caption_de: str
    caption_en: str
    columns: list[Column]
    rows: list[TableRow]

    def caption(self, lang: str) -> str:
        return self.caption_en if lang == "en" else self.caption_de

    @property
    def type_columns(self) -> list[Column]:
        return [c for c in self.columns if c.is_type]

    def row(self, key: str) -> TableRow | None:
        return next((r for r in self.rows if r.key == key), None)


@dataclass
class ReportData:
    """Everything read from one analysis output directory."""

    out_dir: Path
    tables: dict[int, TableModel]
    assignments: pd.DataFrame
    centers: pd.DataFrame | None
    model: dict[str, Any]
    diagnostics: dict[str, Any]
    manifest: dict[str, Any]
    rejected: pd.DataFrame
    type_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def type_label(self, type_id: str, lang: str) -> str:
        labels = self.type_labels.get(type_id, {})
        return labels.get(lang) or labels.get("de") or type_id

    @property
    def type_ids(self) -> list[str]:
        """The four study types, then any new types of this analysis."""
        extra = sorted(k for k in self.type_labels if k not in TYPE_IDS)
        return [*TYPE_IDS, *extra]


# -- declarations (captions, English labels, precision) ------------------------------------
def _new_type_labels(assignments: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Labels of new, unnamed types (``neu_1`` …) present in the assignments."""
    if "type" not in assignments:
        return {}
    found = sorted({str(v) for v in assignments["type"].dropna() if NEW_TYPE.fullmatch(str(v))})
    labels: dict[str, dict[str, str]] = {}
    for type_id in found:
        number = type_id.split("_", 1)[1]
        labels[type_id] = {
            "de": t("report.new_type", lang="de", number=number),
            "en": t("report.new_type", lang="en", number=number),
        }
    return labels


def _manifest_declarations(out: Path, manifest: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The user's table declarations named in the manifest (``analyze --tables FILE``)."""
    source = (manifest.get("parameters") or {}).get("tables")
    if not isinstance(source, str) or source in ("study", "<python>"):
        return {}
    path = Path(source) if Path(source).is_absolute() else out / source
    if not path.is_file():
        path = Path(source)
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
def _declarations() -> dict[int, dict[str, Any]]:
    """Study table declarations keyed by number (empty when the file is not there)."""
    folder = resources.files("kommunaltypen") / "data" / "tables"
    result: dict[int, dict[str, Any]] = {}
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except (FileNotFoundError, NotADirectoryError):
        return result
    for entry in entries:
        if not entry.name.endswith((".yaml", ".yml")):
            continue
        data = yamlio.safe_load(entry.read_text(encoding="utf-8")) or {}
        for table in data.get("tables", []) or []:
            if isinstance(table, dict) and "number" in table:
                result.setdefault(int(table["number"]), table)
    return result


@cache
def default_type_labels() -> dict[str, dict[str, str]]:
    """Type labels from ``data/types.yaml`` when present, else the architecture's names."""
    labels = {
        "bedaechtige": {"de": "Bedächtige", "en": "Cautious"},
        "optimierer": {"de": "Optimierer", "en": "Optimisers"},
        "serviceorientierte": {"de": "Serviceorientierte", "en": "Service-oriented"},
        "community_manager": {"de": "Community Manager", "en": "Community managers"},
    }
    path = resources.files("kommunaltypen") / "data" / "types.yaml"
    try:
        data = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
    except (FileNotFoundError, OSError):
        return labels
    entries = data.get("types", data) if isinstance(data, dict) else data
    if isinstance(entries, dict):
        entries = [{"id": k, **v} for k, v in entries.items() if isinstance(v, dict)]
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("id") in labels:
            tid = entry["id"]
            labels[tid] = {
                "de": entry.get("label_de") or labels[tid]["de"],
                "en": entry.get("label_en") or labels[tid]["en"],
            }
    return labels


_TYPE_BY_LABEL = {
    "bedaechtige": "bedaechtige",
    "optimierer": "optimierer",
    "serviceorientierte": "serviceorientierte",
    "service_orientierte": "serviceorientierte",
    "community_manager": "community_manager",
}

# Fallback precisions when no declaration is available (the study prints centres and scale
# means with two decimals, populations without decimals and shares with one).
_DEFAULT_PRECISION = {1: 2, 3: 0}


def _row_meta(
    number: int, label: str, decl: dict[str, Any] | None = None
) -> tuple[str | None, int | None, bool | None]:
    decl = decl or _declarations().get(number) or {}
    for row in decl.get("rows", []) or []:
        if isinstance(row, dict) and row.get("label_de") == label:
            measure = row.get("measure")
            percent = row.get("percent")
            if percent is None and measure is not None:
                percent = measure in PERCENT_MEASURES
            return row.get("label_en"), row.get("precision"), percent
    return None, None, None


def _fallback_precision(number: int, label: str) -> tuple[int, bool]:
    """Printed decimals and percent flag when neither the CSV nor a declaration says."""
    if number in _DEFAULT_PRECISION:
        return _DEFAULT_PRECISION[number], number == 2
    lowered = label.lower()
    if any(word in lowered for word in ("skala", "anzahl", "summe", "scale", "number of")):
        return 2, False
    return 1, True


def _table_caption(number: int, decl: dict[str, Any] | None = None) -> tuple[str, str]:
    """Caption from the table declaration; the report's own short caption otherwise."""
    decl = decl or _declarations().get(number) or {}
    key = f"report.caption.{number}"
    from kommunaltypen.i18n import catalog

    own = catalog().get(key)
    de = decl.get("caption_de") or (own["de"] if own else f"Tabelle {number}")
    en = decl.get("caption_en") or (own["en"] if own else f"Table {number}")
    return de, en


def _merge_offered_planned(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 12: the engine writes an "angeboten" row carrying the planned share as ``value2``
    plus the "geplant" row; the report prints one row "offered / planned" as the study does."""
    if not {"part", "study_label", "value2"} <= set(frame.columns):
        return frame
    offered = frame["part"] == "angeboten"
    if not (offered & frame["value2"].notna()).any():
        return frame
    merged = frame[frame["part"] != "geplant"].copy()
    mask = merged["part"] == "angeboten"
    merged.loc[mask, "row_label"] = merged.loc[mask, "study_label"]
    if "row_label_en" in merged:
        merged.loc[mask, "row_label_en"] = (
            merged.loc[mask, "row_label_en"].astype(str).str.rsplit(" – ", n=1).str[0]
        )
    return merged


def table_from_frame(
    number: int,
    frame: pd.DataFrame,
    decl: dict[str, Any] | None = None,
    extra_types: dict[str, str] | None = None,
) -> TableModel:
    """Build the table model from the long-format CSV rows of one table."""
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
    frame = _merge_offered_planned(frame)
    columns: list[Column] = []
    seen: set[str] = set()
    labels_en = (
        frame["column_label_en"].tolist() if "column_label_en" in frame else [None] * len(frame)
    )
    for label, label_en in zip(frame["column_label"].astype(str), labels_en, strict=True):
        if label in seen:
            continue
        seen.add(label)
        key = slug(label)
        type_id = _TYPE_BY_LABEL.get(key) or (extra_types or {}).get(key)
        columns.append(
            Column(
                key=type_id or key,
                label=label,
                is_type=type_id is not None,
                label_en=label_en if isinstance(label_en, str) and label_en else None,
            )
        )
    rows: list[TableRow] = []
    for label, part in frame.groupby("row_label", sort=False):
        label = str(label)
        cells: dict[str, Cell] = {}
        first = part.iloc[0]
        for _, rec in part.iterrows():
            key = next(c.key for c in columns if c.label == str(rec["column_label"]))
            n = _num(rec.get("n"))
            cells[key] = Cell(
                value=_num(rec.get("value")),
                n=int(n) if n is not None else None,
                value2=_num(rec.get("value2")),
                ci_low=_num(rec.get("ci_low")),
                ci_high=_num(rec.get("ci_high")),
                bold=_flag(rec.get("bold")),
                suppressed=_flag(rec.get("suppressed")),
            )
        label_en, precision, percent = _row_meta(number, label, decl)
        # columns written by the engine take precedence over the declaration lookup
        csv_en = first.get("row_label_en")
        if isinstance(csv_en, str) and csv_en:
            label_en = csv_en
        csv_precision = _num(first.get("precision"))
        if csv_precision is not None:
            precision = int(csv_precision)
        measure = first.get("measure")
        if isinstance(measure, str) and measure:
            percent = measure in PERCENT_MEASURES
        fb_precision, fb_percent = _fallback_precision(number, label)
        test = first.get("test")
        effect_name = first.get("effect_name")
        rows.append(
            TableRow(
                key=slug(label),
                label_de=label,
                label_en=label_en,
                cells=cells,
                p_value=_num(first.get("p_value")),
                test=str(test) if isinstance(test, str) and test else None,
                effect_size=_num(first.get("effect_size")),
                effect_name=str(effect_name) if isinstance(effect_name, str) else None,
                precision=int(precision) if precision is not None else fb_precision,
                percent=bool(percent) if percent is not None else fb_percent,
            )
        )
    caption_de, caption_en = _table_caption(number, decl)
    return TableModel(number, caption_de, caption_en, columns, rows)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(t("report.err.unreadable", file=str(path), error=exc)) from exc
    return data if isinstance(data, dict) else {"value": data}


def _read_csv(path: Path, required: bool) -> pd.DataFrame:
    if not path.exists():
        if required:
            raise ReportError(t("report.err.missing_file", file=str(path)))
        return pd.DataFrame()
    try:
        return pd.read_csv(path, keep_default_na=True)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReportError(t("report.err.unreadable", file=str(path), error=exc)) from exc


def load_output_dir(out_dir: str | Path) -> ReportData:
    """Read an analysis output directory into a :class:`ReportData`."""
    out = Path(out_dir)
    if not out.is_dir():
        raise ReportError(t("report.err.no_dir", dir=str(out)))
    manifest = _read_json(out / "manifest.json")
    declared = _manifest_declarations(out, manifest)
    assignments = _read_csv(out / "assignments.csv", required=True)
    type_labels = dict(default_type_labels())
    type_labels.update(_new_type_labels(assignments))
    extra_types = {slug(v["de"]): k for k, v in type_labels.items() if k not in TYPE_IDS}
    tables: dict[int, TableModel] = {}
    found = sorted(
        (int(m.group(1)), p)
        for p in (out / "tables").glob("table_*.csv")
        if (m := re.fullmatch(r"table_(\d+)\.csv", p.name))
    )
    if not found:
        raise ReportError(t("report.err.missing_file", file=str(out / "tables" / "table_01.csv")))
    for number, path in found:
        frame = _read_csv(path, required=True)
        if frame.empty:
            raise ReportError(t("report.err.empty", file=str(path)))
        tables[number] = table_from_frame(number, frame, declared.get(number), extra_types)
    centers = _read_csv(out / "centers.csv", required=False)
    return ReportData(
        out_dir=out,
        tables=tables,
        assignments=assignments,
        centers=None if centers.empty else centers,
        model=_read_json(out / "model.json"),
        diagnostics=_read_json(out / "diagnostics.json"),
        manifest=manifest,
        rejected=_read_csv(out / "rejected.csv", required=False),
        type_labels=type_labels,
    )
