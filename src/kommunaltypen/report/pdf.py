"""The PDF report: WeasyPrint renders the print variant of the same HTML and CSS (A4, page
numbers, table of contents with page numbers, rows never split, headers repeated)."""

from __future__ import annotations

import logging
from pathlib import Path

from kommunaltypen.report.model import ReportError


def write_pdf(html: str, out_dir: Path, path: Path) -> Path:
    """Render ``html`` (print variant; charts referenced relative to ``out_dir``) to ``path``."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # missing Pango/cairo system libraries
        from kommunaltypen.i18n import t

        raise ReportError(t("report.pdf_failed", error=exc)) from exc
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    HTML(string=html, base_url=str(out_dir.resolve()) + "/").write_pdf(str(path))
    return path
