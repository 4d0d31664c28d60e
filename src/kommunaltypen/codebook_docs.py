"""Human-readable documentation of the codebook: one row per data column (what it holds, the
allowed values, missing codes, filter, tables), as CSV or Markdown, and the empty data template.

Core code (no front end): the CLI's ``codebook``/``template`` commands and the web application
call these functions.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from kommunaltypen.codebook import MULTI_COLUMN_KINDS, Codebook, default_codebook
from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import get_lang, t


def column_docs(codebook: Codebook, lang: str | None = None) -> list[dict[str, str]]:
    """One row per data column: what it holds and which values are allowed."""
    lang = lang or get_lang()
    missing = ", ".join(f"{m.code}={getattr(m, f'label_{lang}')}" for m in codebook.missing_codes)
    rows = []
    for q in codebook:
        for col in q.columns:
            opt = None
            if q.kind in MULTI_COLUMN_KINDS:
                _, opt = codebook.column_owner(col)
            if q.kind == "single":
                allowed = "; ".join(f"{o.code}={getattr(o, f'label_{lang}')}" for o in q.options)
            elif q.kind == "ordinal":
                labels = {s.code: getattr(s, f"label_{lang}") for s in q.scale_labels}
                allowed = "; ".join(
                    f"{v}={labels[v]}" if v in labels else str(v)
                    for v in range(int(q.min or 0), int(q.max or 0) + 1)
                )
            elif q.kind == "multiple":
                allowed = t("validate.doc_multiple", lang=lang)
            elif q.kind == "ranking":
                allowed = t("validate.doc_ranking", lang=lang, max=q.max_rank)
            elif q.kind in ("number", "percentage"):
                lo = q.min if q.min is not None else (0 if q.kind == "percentage" else "")
                hi = q.max if q.max is not None else (100 if q.kind == "percentage" else "")
                allowed = t("validate.doc_number", lang=lang, lo=_fmt(lo), hi=_fmt(hi))
            else:
                allowed = t("validate.doc_text", lang=lang)
            label = getattr(q, f"label_{lang}")
            if opt is not None:
                label = f"{label}: {getattr(opt, f'label_{lang}')}"
            flt = ""
            if q.filter is not None:
                flt = f"{q.filter.column(codebook)} in {list(q.filter.in_)}"
            rows.append(
                {
                    "column": col,
                    "question": q.id,
                    "kind": q.kind,
                    "label": label,
                    "allowed": allowed,
                    "missing": missing if q.kind != "text" else "",
                    "required": "x" if q.required else "",
                    "filter": flt,
                    "tables": ", ".join(str(x) for x in q.tables),
                }
            )
    return rows


def _fmt(v: object) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def to_csv(codebook: Codebook) -> str:
    buf = io.StringIO()
    rows = column_docs(codebook)
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def to_markdown(codebook: Codebook) -> str:
    lang = get_lang()
    head = [t(f"validate.doc_col_{k}") for k in ("column", "kind", "label", "allowed", "filter")]
    lines = [f"# {codebook.title(lang)}", "", codebook.source, ""]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for r in column_docs(codebook, lang):
        cells = [f"`{r['column']}`", r["kind"], r["label"], r["allowed"], r["filter"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    missing = ", ".join(f"{m.code} = {getattr(m, f'label_{lang}')}" for m in codebook.missing_codes)
    lines += ["", t("validate.doc_missing_codes", codes=missing), ""]
    return "\n".join(lines)


def write_template(path: str | Path, codebook: Codebook | None = None) -> Path:
    """An empty data file (header only) with exactly ``Codebook.columns``; XLSX files get a
    second sheet explaining every column and its codes."""
    from kommunaltypen.io import write_data
    from kommunaltypen.io.writers import write_xlsx
    from kommunaltypen.validate import empty_frame

    cb = codebook or default_codebook()
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return write_data(empty_frame(cb), p, "csv", cb)
    if suffix == ".xlsx":
        rows = column_docs(cb)
        keys = list(rows[0])
        sheet = [[t(f"validate.doc_col_{k}") for k in keys]] + [[r[k] for k in keys] for r in rows]
        try:
            write_xlsx(
                empty_frame(cb),
                p,
                cb,
                sheet=t("validate.sheet_data"),
                extra_sheets={t("validate.sheet_explain"): sheet},
            )
        except OSError as exc:
            raise InputFileError(t("validate.file_unwritable", file=p, error=exc)) from exc
        return p
    raise InputFileError(t("validate.template_suffix", file=p, value=suffix or "–"))
