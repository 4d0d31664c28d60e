"""The HTML report: one self-contained file (CSS and charts inline, no requests, no script)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import polars as pl

from kommunaltypen import __version__
from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import catalog, t
from kommunaltypen.report import fmt
from kommunaltypen.report.chartplan import Chart, ChartPlan
from kommunaltypen.report.model import TYPE_IDS, ReportData, TableModel
from kommunaltypen.report.profiles import build_profiles, source_note
from kommunaltypen.report.recommendations import all_recommendations
from kommunaltypen.report.renderers import html as html_tables
from kommunaltypen.report.renderers import pdf as pdf_tables
from kommunaltypen.report.renderers.common import table_view
from kommunaltypen.report.templating import environment, static_text

#: mean Jaccard similarity below which a type counts as unstable (Hennig 2007: < 0.75 not
#: "stable"; < 0.6 "dissolved")
STABLE_JACCARD = 0.75


@dataclass
class KeyValue:
    key: str
    value: str


def type_share_table(data: ReportData) -> TableModel | None:
    """The table of type shares per column (the study's Table 2), by its declaration."""
    for number in sorted(data.tables):
        table = data.tables[number]
        if table.rows and all(r.measure == "type_share" for r in table.rows):
            return table
    return None


def summary(data: ReportData, lang: str) -> dict[str, Any]:
    """Counts of the data: read, accepted, rejected, typed, Mischformen, per Kommunenart."""
    rows = data.manifest.get("rows") or {}
    assignments = data.assignments
    types = (
        assignments["type"].cast(pl.String)
        if "type" in assignments.columns
        else pl.Series("type", [], dtype=pl.String)
    )
    typed_mask = types.is_not_null() & (types.str.len_chars() > 0)
    accepted = rows.get("accepted", assignments.height)
    rejected = rows.get("rejected", data.rejected.height)
    typed = int(typed_mask.sum())
    mischform = 0
    if "mischform" in assignments.columns:
        flags = assignments["mischform"].cast(pl.Boolean, strict=False).fill_null(False)
        mischform = int((flags & typed_mask).sum())
    counts = types.filter(typed_mask).value_counts()
    found = dict(zip(counts["type"].to_list(), counts["count"].to_list(), strict=True))
    per_type = {tid: int(found.get(tid, 0)) for tid in data.type_ids}
    table2 = type_share_table(data)
    groups = []
    if table2 is not None:
        for col in table2.columns:
            cell = table2.rows[0].cells.get(col.key)
            groups.append(
                KeyValue(
                    col.display(lang),
                    fmt.number(cell.n, 0, lang) if cell and cell.n is not None else "–",
                )
            )
    per_kind = _per_kind(rows.get("by_kommunenart") or {}, lang)
    return {
        "per_kind": per_kind,
        "read": fmt.number(rows.get("in", accepted + rejected), 0, lang),
        "accepted": fmt.number(accepted, 0, lang),
        "rejected": fmt.number(rejected, 0, lang),
        "typed": fmt.number(typed, 0, lang),
        "untyped": fmt.number(assignments.height - typed, 0, lang),
        "mischform": fmt.number(mischform, 0, lang),
        "mischform_share": fmt.number(100 * mischform / typed if typed else None, 1, lang),
        "per_type": [
            KeyValue(data.type_label(tid, lang), fmt.number(n, 0, lang))
            for tid, n in per_type.items()
        ],
        "groups": groups,
    }


def _per_kind(counts: dict[str, dict[str, int]], lang: str) -> list[list[str]]:
    """Accepted and typed municipalities per Kommunenart, from the manifest."""
    if not counts:
        return []
    rows = []
    for option in default_codebook().question("kommunenart").options:
        got = counts.get(str(option.code), {})
        rows.append(
            [
                getattr(option, f"label_{lang}"),
                fmt.number(got.get("accepted", 0), 0, lang),
                fmt.number(got.get("typed", 0), 0, lang),
            ]
        )
    return rows


def _records(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out.append({"k": key, **item} if isinstance(item, dict) else {"k": key, "value": item})
        return out
    return []


def _cell(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return t("report.yes" if value else "report.no", lang=lang)
    if isinstance(value, int):
        return fmt.number(value, 0, lang)
    if isinstance(value, float):
        return fmt.number(value, 3, lang)
    if value is None:
        return "–"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _k_rows(value: Any) -> tuple[list[dict[str, Any]], Any, str | None, str | None]:
    """(table rows, recommended k, reason de, reason en) of the k-choice diagnostics."""
    if isinstance(value, dict) and isinstance(value.get("table"), list):
        return (
            _records(value["table"]),
            value.get("recommended_k", value.get("recommended")),
            value.get("reason_de"),
            value.get("reason_en"),
        )
    return _records(value), None, None, None


def _k_header(column: str, lang: str) -> str:
    key = f"report.kcol.{column}"
    return t(key, lang=lang) if key in catalog() else column


#: k-choice criteria whose highest value favours a k (the gap rule is the analysis' own)
_K_MAX_CRITERIA = ("silhouette", "calinski_harabasz")


def k_criteria(rows: list[dict[str, Any]], recommended: Any, lang: str) -> list[str]:
    """Which k each criterion favours, as sentences (gap rule; highest silhouette and
    Calinski–Harabasz index within the k tested)."""
    ks = [r.get("k") for r in rows if isinstance(r.get("k"), int)]
    if not ks:
        return []
    span = {"lo": min(ks), "hi": max(ks)}
    out = []
    if isinstance(recommended, int):
        out.append(t("report.k_criterion.gap", lang=lang, k=recommended))
    for name in _K_MAX_CRITERIA:
        scored = [(r[name], r["k"]) for r in rows if isinstance(r.get(name), int | float)]
        scored = [(v, k) for v, k in scored if v == v]  # without NaN
        if scored:
            best = max(scored)[1]
            out.append(t(f"report.k_criterion.{name}", lang=lang, k=best, **span))
    return out


def notes(diag: dict[str, Any], threshold: str, lang: str) -> list[str]:
    """The analysis' notes as sentences (from ``diagnostics["notes"]``; older directories:
    the ``flags`` ids ``unstable:<type>``, ``k_choice:<k>``, ``new_type:<type>``)."""
    items = diag.get("notes")
    if not isinstance(items, list):
        items = []
        for flag in diag.get("flags") or []:
            code, _, arg = str(flag).partition(":")
            if code in ("unstable", "new_type"):
                items.append({"code": code, "type": arg})
            elif code == "k_choice" and arg.isdigit():
                items.append({"code": code, "k": int(arg), "kept": diag.get("n_clusters")})
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        code = item.get("code")
        if code in ("unstable", "new_type"):
            label = t("report.type_quoted", lang=lang, type=_type_name(item.get("type"), lang))
            out.append(t(f"report.note.{code}", lang=lang, type=label, threshold=threshold))
        elif code == "k_choice":
            kept = item.get("kept")
            out.append(
                t(
                    "report.note.k_choice",
                    lang=lang,
                    k=item.get("k"),
                    kept=kept if kept is not None else "–",
                )
            )
    return out


def _type_name(type_id: Any, lang: str) -> str:
    from kommunaltypen.vocabulary import type_label

    return type_label(str(type_id), lang) if type_id else "–"


def diagnostics(data: ReportData, lang: str) -> dict[str, Any]:
    """k-choice table and stability per type (with warnings) from the diagnostics."""
    diag = data.diagnostics
    k_rows, recommended, reason_de, reason_en = _k_rows(diag.get("k_choice"))
    if recommended is None:
        recommended = diag.get("recommended_k")
    k_columns = list(dict.fromkeys(c for r in k_rows for c in r))
    if "k" in k_columns:
        k_columns.remove("k")
        k_columns.insert(0, "k")
    k_table = {
        "columns": [_k_header(c, lang) for c in k_columns],
        "rows": [[_cell(r.get(c), lang) for c in k_columns] for r in k_rows],
    }
    kept = diag.get("n_clusters") or data.model.get("n_clusters")
    stab = diag.get("stability") or {}
    threshold = STABLE_JACCARD
    if isinstance(stab, dict) and isinstance(stab.get("types"), list):
        threshold = float(stab.get("threshold", threshold))
        stab_records = _records(stab["types"])
    else:
        stab_records = _records(stab)
    stability = []
    for rec in stab_records:
        type_id = str(rec.get("type", rec.get("k", "")))
        jaccard = rec.get("jaccard_mean")
        unstable = rec.get("unstable")
        if unstable is None and isinstance(jaccard, int | float):
            unstable = jaccard < threshold
        stability.append(
            {
                "type": data.type_label(type_id, lang),
                "jaccard": fmt.number(jaccard, 2, lang)
                if isinstance(jaccard, int | float)
                else "–",
                "unstable": bool(unstable),
            }
        )
    threshold_text = fmt.number(threshold, 2, lang)
    differs = isinstance(recommended, int) and isinstance(kept, int) and recommended != kept
    return {
        "k_table": k_table,
        "recommended_k": recommended,
        "k_reason": reason_en if lang == "en" else reason_de,
        "k_kept": kept,
        "k_explain": t("report.k_kept", lang=lang, kept=kept, k=recommended) if differs else "",
        "k_criteria": k_criteria(k_rows, recommended, lang),
        "stability": stability,
        "threshold": threshold_text,
        "notes": notes(diag, threshold_text, lang),
    }


def _flatten(prefix: str, value: Any, out: list[KeyValue], lang: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out, lang)
    else:
        out.append(KeyValue(prefix, _cell(value, lang)))


def method(data: ReportData, lang: str, publication: bool, min_n: int) -> dict[str, Any]:
    manifest: list[KeyValue] = []
    # file checksums stay in manifest.json (too long to print)
    shown = {k: v for k, v in data.manifest.items() if k not in ("outputs", "tables")}
    _flatten("", shown, manifest, lang)
    model: list[KeyValue] = []
    scalars = {
        k: v for k, v in data.model.items() if not isinstance(v, list | dict) and len(str(v)) < 80
    }
    _flatten("", scalars, model, lang)
    params = data.manifest.get("parameters") or {}
    command = ["kommunaltypen", "analyze"]
    source = data.manifest.get("input_path") or data.manifest.get("input")
    if isinstance(source, dict):
        source = None if source.get("bundled") else source.get("path") or source.get("file")
    if isinstance(source, str) and source and source != "synthetic":
        command.append(source)
    command += ["--out", "DIR"]
    seed = data.manifest.get("seed", params.get("seed"))
    if seed is not None:
        command += ["--seed", str(seed)]
    if params.get("n_bootstrap") is not None:
        command += ["--bootstrap", str(params["n_bootstrap"])]
    if publication:
        command += ["--publication", "--min-n", str(min_n)]
    if lang != "de":
        command = [command[0], "--lang", lang, *command[1:]]
    return {"manifest": manifest, "model": model, "command": " ".join(command)}


def reconstruction_gaps(data: ReportData, lang: str) -> dict[str, Any] | None:
    """For the bundled reconstruction: the published cells it cannot reproduce because the
    study's own figures contradict each other (``data/study_inconsistencies.csv``), with
    the reason; None for other data."""
    source = data.manifest.get("input")
    if not (isinstance(source, dict) and source.get("bundled")):
        return None
    path = resources.files("kommunaltypen") / "data" / "study_inconsistencies.csv"
    with path.open(encoding="utf-8") as fh:
        listed = list(csv.DictReader(fh))
    reason = "reason_de" if lang == "de" else "reason"
    keys = ("table", "row_label", "column_label", "published", "reconstructed", reason)

    def value(text: str) -> str:  # as printed, in the language's notation
        decimals = len(text.partition(".")[2])
        return fmt.number(float(text), decimals, lang)

    return {
        "columns": [t(f"report.recon.col.{k.removesuffix('_de')}", lang=lang) for k in keys],
        "rows": [
            [
                *(rec["table"], rec["row_label"], rec["column_label"]),
                *(value(rec["published"]), value(rec["reconstructed"]), rec[reason]),
            ]
            for rec in listed
        ],
    }


REJECTED_COLUMNS = ("row", "kommune_id", "name", "reasons", "reason", "errors")


def rejected_rows(data: ReportData, limit: int = 500) -> dict[str, Any]:
    """The rejected rows with their reasons (identifying columns only; all are in the XLSX)."""
    frame = data.rejected
    keep = [c for c in frame.columns if c in REJECTED_COLUMNS] or frame.columns[:4]
    frame = frame.select(keep).cast(pl.String).fill_null("") if keep else frame
    return {
        "columns": list(frame.columns),
        "rows": [list(rec) for rec in frame.head(limit).iter_rows()],
        "total": frame.height,
        "shown": min(limit, frame.height),
    }


#: the report's main sections in order: (anchor, message key of the title). A new section
#: adds an entry here and a block with the same anchor in ``templates/report.html.j2``.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("daten", "report.sec.data"),
    ("typologie", "report.sec.typology"),
    ("verteilung", "report.sec.distribution"),
    ("steckbriefe", "report.sec.profiles"),
    ("d-team", ""),  # title: the D-Team page's own title
    ("empfehlungen", "report.sec.recommendations"),
    ("thesen", "claims.title"),  # only when the analysis has a Thesen-Check
    ("anhang", "report.sec.appendix"),
    ("abgelehnt", "report.sec.rejected"),
    ("methode", "report.sec.method"),
)


def shared_context(data: ReportData, lang: str, publication: bool, min_n: int) -> dict[str, Any]:
    """The part of the report's context that is the same for the screen and the print
    variant (the table views, profiles, recommendations, counts, method …): built once per
    render and given to :func:`context` for each variant. ``views`` are the tables' display
    strings (:func:`~kommunaltypen.report.renderers.common.table_view`), for the XLSX too."""
    views = {n: table_view(tm, data, lang, publication, min_n) for n, tm in data.tables.items()}
    profiles, dteam, resolver = build_profiles(data, lang, publication, min_n)
    recs = all_recommendations(data, lang, publication, min_n)
    by_type = {tid: [r for r in recs if r.type_id == tid] for tid in data.type_ids}
    cb = default_codebook()
    return {
        "views": views,
        "sections": [
            (anchor, t(key, lang=lang) if key else dteam.title)
            for anchor, key in SECTIONS
            if anchor != "thesen" or data.claims is not None
        ],
        "claims": _claims_view(data, lang),
        "lang": lang,
        "title": t("report.title", lang=lang),
        "subtitle": cb.title(lang),
        "version": __version__,
        "publication": publication,
        "min_n": min_n,
        "summary": summary(data, lang),
        "diag": diagnostics(data, lang),
        "captions": {n: data.tables[n].caption(lang) for n in sorted(data.tables)},
        "appendix": [n for n in sorted(data.tables) if n not in (1, 2, 3)],
        "profiles": profiles,
        "dteam": dteam,
        "profile_source": source_note(lang),
        "unresolved": sorted(set(resolver.missing)),
        "recs_by_type": [
            (tid, data.type_label(tid, lang), by_type[tid])
            for tid in data.type_ids
            if tid in TYPE_IDS or by_type[tid]
        ],
        "new_types": [data.type_label(tid, lang) for tid in data.type_ids if tid not in TYPE_IDS],
        "recs_untyped": [r for r in recs if r.type_id is None],
        "rejected": rejected_rows(data),
        "method": method(data, lang, publication, min_n),
        "reconstruction": reconstruction_gaps(data, lang),
        "study": cb.source,
    }


def context(
    data: ReportData,
    charts: list[Chart] | list[ChartPlan],
    lang: str,
    publication: bool,
    min_n: int,
    mode: str,
    shared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the report template needs (``mode``: "screen" with the drawn charts'
    SVG inline, or "print" where the planned charts are referenced as files). ``shared``:
    :func:`shared_context` of the same data, language and suppression, if already built."""
    if shared is None:
        shared = shared_context(data, lang, publication, min_n)
    renderer = html_tables if mode == "screen" else pdf_tables
    extra = "print.css" if mode == "print" else "screen.css"  # screen rules cost the PDF time
    return {
        **{k: v for k, v in shared.items() if k != "views"},
        "mode": mode,
        "css": static_text("report.css") + "\n" + static_text(extra),
        "tables": {n: renderer.render_table(v, lang) for n, v in shared["views"].items()},
        "charts": {c.table: c for c in charts},
        "all_charts": charts,
    }


def _claims_view(data: ReportData, lang: str) -> dict[str, Any] | None:
    """View data of the "Thesen-Check" section (``templates/claims.html.j2``), if any."""
    if data.claims is None:
        return None
    from kommunaltypen.claims import claims_section

    return claims_section(data.claims, lang)


def render_html(ctx: dict[str, Any]) -> str:
    return environment().get_template("report.html.j2").render(**ctx)
