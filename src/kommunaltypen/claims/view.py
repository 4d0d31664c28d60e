"""The Thesen-Check for readers: ``claims.csv``, the report section's view data and its HTML
partial (``report/templates/claims.html.j2``), and the terminal table."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from kommunaltypen.claims.evaluate import ClaimResult, ClaimsResult
from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.vocabulary import format_number

#: colour of each verdict in the terminal (rich styles) and its CSS class in the report
VERDICT_STYLES = {
    "supported": "bold green",
    "holds_not_significant": "green",
    "not_supported": "yellow",
    "contradicted": "bold red",
    "not_testable": "dim",
    "no_data": "dim",
}


def write_claims_csv(result: ClaimsResult, path: str | Path) -> Path:
    """Write ``claims.csv`` (one line per claim, columns ``CSV_COLUMNS``)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        result.to_frame().write_csv(target)
    except OSError as exc:
        raise InputFileError(t("claims.csv_unwritable", file=str(target), error=str(exc))) from exc
    return target


def read_claims_csv(path: str | Path) -> ClaimsResult:
    """A ``claims.csv`` written by :func:`write_claims_csv`, as a :class:`ClaimsResult` (for
    re-rendering a report from an analysis directory)."""
    import polars as pl

    target = Path(path)
    try:
        frame = pl.read_csv(target, infer_schema_length=0)  # all text; cast by the schema
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputFileError(t("claims.csv_unreadable", file=str(target), error=str(exc))) from exc
    bools = [c for c in ("holds", "bundled") if c in frame.columns]
    frame = frame.with_columns(
        pl.col(c).str.to_lowercase().replace_strict({"true": True, "false": False}, default=None)
        for c in bools
    )
    return ClaimsResult.from_frame(frame, source=str(target))


def is_bundled_input(manifest: dict[str, Any]) -> bool:
    """Whether an analysis ran on the bundled reconstruction: the manifest says so, or the
    input file has the bundled file's SHA-256 (the same data passed as a path)."""
    info = manifest.get("input") or {}
    if info.get("bundled"):
        return True
    digest = info.get("sha256")
    return bool(digest) and digest == _bundled_sha256()


@cache
def _bundled_sha256() -> str:
    from kommunaltypen.analysis import bundled_data_path

    return hashlib.sha256(bundled_data_path().read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- view data
#: short, language-neutral symbols of the effects (tables); readings name them in full
EFFECT_SYMBOLS = {"tau_b": "τb", "rho": "ρ", "r_rb": "r", "phi": "φ", "difference": "Δ"}


def effect_parts(r: ClaimResult, lang: str) -> tuple[str, str]:
    """``("τb 0,21", "[0,12; 0,30]")``; type claims: the difference in the row's unit."""
    if r.effect is None:
        return "–", ""
    prec = 2 if r.kind == "association" else (r.precision or 0)
    unit = t("claims.unit_pp", lang=lang) if r.unit == "pp" else ""
    symbol = EFFECT_SYMBOLS.get(r.effect_name or "", r.effect_name or "")
    value = format_number(r.effect, prec, lang)
    low = format_number(r.ci_low, prec, lang)
    high = format_number(r.ci_high, prec, lang)
    return f"{symbol} {value}{unit}", f"[{low}; {high}]"


def effect_text(r: ClaimResult, lang: str) -> str:
    """``τb 0,21 [0,12; 0,30]``."""
    value, interval = effect_parts(r, lang)
    return f"{value} {interval}".strip()


def p_text(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    if value < 0.001:
        return "< " + format_number(0.001, 3, lang)
    return format_number(value, 3, lang)


def claims_section(result: ClaimsResult, lang: str | None = None) -> dict[str, Any]:
    """View data of the report's "Thesen-Check" section in ``lang``.

    ``{"title", "intro", "correction", "bundled", "bundled_note", "summary", "columns",
    "groups": [{"kind", "title", "rows": [row, …]}]}``; each row holds ``id, claim, place,
    verdict (key), verdict_label, holds, effect, p, n, reading`` as display strings (numbers
    in the language's notation) – the same rows serve the HTML/PDF section and an XLSX
    sheet.
    """
    lang = lang or get_lang()
    counts = result.counts()
    groups = []
    for kind in ("association", "type"):
        rows = [_row(r, lang) for r in result.results if r.kind == kind]
        if rows:
            groups.append(
                {"kind": kind, "title": t(f"claims.kind_{kind}", lang=lang), "rows": rows}
            )
    return {
        "title": t("claims.title", lang=lang),
        "intro": t("claims.intro", lang=lang),
        "correction": result.correction_text(lang),
        "bundled": result.bundled,
        "bundled_note": t("claims.bundled_note", lang=lang) if result.bundled else "",
        "summary": t(
            "claims.summary",
            lang=lang,
            supported=counts["supported"],
            holds=counts["holds_not_significant"],
            not_supported=counts["not_supported"],
            contradicted=counts["contradicted"],
            not_testable=counts["not_testable"],
            no_data=counts["no_data"],
        ),
        "columns": {
            key: t(f"claims.col_{key}", lang=lang)
            for key in ("id", "claim", "place", "verdict", "effect", "p", "n", "reading")
        },
        "groups": groups,
    }


def _row(r: ClaimResult, lang: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "claim": r.text(lang),
        "place": r.place(lang),
        "verdict": r.verdict,
        "verdict_label": r.verdict_label(lang),
        "holds": r.holds,
        "effect": effect_text(r, lang),
        "p": p_text(r.p_adjusted, lang),
        "n": "–" if r.n is None else str(r.n),
        "reading": r.reading(lang),
    }


def write_claims_sheet(
    workbook: Any, result: ClaimsResult, lang: str | None = None, name: str | None = None
) -> None:
    """The "Thesen-Check" worksheet of the XLSX report (an ``xlsxwriter`` workbook): one row
    per claim; effect, interval, p-values and n as numbers; texts never become formulas (the
    report's ``SafeSheet``)."""
    from kommunaltypen.report.renderers.xlsx import SafeSheet

    lang = lang or get_lang()
    view = claims_section(result, lang)
    ws = workbook.add_worksheet(name or view["title"])
    sheet = SafeSheet(workbook, ws)
    bold = sheet.fmt(bold=True)
    head = sheet.fmt(bold=True, bottom=1, text_wrap=True, valign="top")
    wrap = sheet.fmt(text_wrap=True, valign="top")
    sheet.write(0, 0, view["title"], bold)
    sheet.write(1, 0, view["correction"])
    if view["bundled"]:
        sheet.write(2, 0, view["bundled_note"])
    cols = view["columns"]
    header = [
        cols["id"],
        cols["claim"],
        cols["place"],
        cols["verdict"],
        t("claims.xlsx_effect_name", lang=lang),
        t("claims.xlsx_effect", lang=lang),
        t("claims.xlsx_ci_low", lang=lang),
        t("claims.xlsx_ci_high", lang=lang),
        t("claims.xlsx_p", lang=lang),
        cols["p"],
        cols["n"],
        cols["reading"],
    ]
    top = 4
    for c, label in enumerate(header):
        sheet.write(top, c, label, head)
    number = sheet.fmt(num_format="0.000")
    for r, claim in enumerate(result.results, start=top + 1):
        effect_name = (
            t(f"claims.effect_{claim.effect_name}", lang=lang) if claim.effect_name else None
        )
        values = [
            claim.id,
            claim.text(lang),
            claim.place(lang),
            claim.verdict_label(lang),
            effect_name,
            claim.effect,
            claim.ci_low,
            claim.ci_high,
            claim.p_value,
            claim.p_adjusted,
            claim.n,
            claim.reading(lang),
        ]
        for c, value in enumerate(values):
            fmt = number if isinstance(value, float) else (wrap if c in (1, 11) else None)
            sheet.write(r, c, value, fmt)
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 50)
    ws.set_column(2, 3, 18)
    ws.set_column(4, 10, 11)
    ws.set_column(11, 11, 80)
    ws.freeze_panes(top + 1, 1)


def sheet_rows(result: ClaimsResult, lang: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of an XLSX sheet "Thesen-Check" (same content as the report section)."""
    view = claims_section(result, lang)
    cols = view["columns"]
    header = [cols[k] for k in ("id", "claim", "place", "verdict", "effect", "p", "n", "reading")]
    rows = [
        [row[k] for k in ("id", "claim", "place", "verdict_label", "effect", "p", "n", "reading")]
        for group in view["groups"]
        for row in group["rows"]
    ]
    return header, rows


def _environment():  # type: ignore[no-untyped-def]
    """The report's environment (the partial lives with the report's templates)."""
    from kommunaltypen.report.templating import environment

    return environment()


def render_claims_html(
    result: ClaimsResult, lang: str | None = None, anchor: str = "thesen"
) -> str:
    """The section as an HTML fragment (the partial ``claims.html.j2``)."""
    lang = lang or get_lang()
    template = _environment().from_string(
        '{% from "claims.html.j2" import claims_section %}{{ claims_section(view, lang, anchor) }}'
    )
    return template.render(view=claims_section(result, lang), lang=lang, anchor=anchor)


# ----------------------------------------------------------------------------- terminal
def claims_rich_table(result: ClaimsResult, lang: str | None = None, *, details: bool = False):  # type: ignore[no-untyped-def]
    """The check as rich renderables (one table per kind of claim), readable at 80 columns.
    Groups in which no claim was tested show no effect, p and n columns."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    lang = lang or get_lang()
    view = claims_section(result, lang)
    by_id = {r.id: r for r in result.results}
    cols = view["columns"]
    parts: list[Any] = [Text(view["title"], style="bold")]
    if view["bundled"]:
        parts.append(Text(view["bundled_note"], style="yellow"))
    for group in view["groups"]:
        tested = any(by_id[row["id"]].tested for row in group["rows"])
        table = Table(title=group["title"], title_justify="left", show_lines=details)
        table.add_column(cols["id"], no_wrap=True)
        table.add_column(cols["claim"], ratio=1, overflow="fold")
        table.add_column(cols["verdict"], max_width=16)
        if tested:
            table.add_column(cols["effect"], no_wrap=True)
            table.add_column(cols["p"], justify="right", no_wrap=True)
            table.add_column(cols["n"], justify="right", no_wrap=True)
        for row in group["rows"]:
            r = by_id[row["id"]]
            claim = Text(row["claim"])
            if details:
                claim.append("\n" + row["reading"], style="dim")
            cells: list[Any] = [
                row["id"],
                claim,
                Text(row["verdict_label"], style=VERDICT_STYLES[row["verdict"]]),
            ]
            if tested:
                value, interval = effect_parts(r, lang)
                cells += [
                    f"{value}\n{interval}" if r.tested else "",
                    row["p"] if r.tested else "",
                    row["n"] if r.n is not None else "",
                ]
            table.add_row(*cells)
        parts.append(table)
    parts.append(Text(view["summary"]))
    parts.append(Text(view["correction"], style="dim"))
    return Group(*parts)
