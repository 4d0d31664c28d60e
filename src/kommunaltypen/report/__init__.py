"""The report: HTML (self-contained), PDF and XLSX with charts, type profiles and recommendations.

Entry point::

    from kommunaltypen.report import render_report
    paths = render_report("out/", lang="de", publication=False, min_n=5)

It renders from an analysis output directory (the contract in ``docs/architecture.md``), so a
report can be re-rendered at any time (``kommunaltypen report --from DIR``).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from kommunaltypen.i18n import LANGUAGES, t
from kommunaltypen.report.model import ReportData, ReportError, load_output_dir

FORMATS = ("html", "pdf", "xlsx")
#: worker processes for charts and the PDF (0 or 1: everything in this process)
WORKERS_ENV = "KOMMUNALTYPEN_REPORT_WORKERS"


@contextmanager
def _pool(data: ReportData, charts_dir: Path, lang: str, publication: bool, min_n: int):
    """A fork-based process pool (Linux) with up to 2 workers; None where fork is missing,
    on a single CPU, or when ``KOMMUNALTYPEN_REPORT_WORKERS`` is 0 or 1."""
    from kommunaltypen.report.charts import prepare_pool

    try:
        workers = int(os.environ.get(WORKERS_ENV, "2"))
    except ValueError:
        workers = 2
    workers = min(workers, os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield None
        return
    prepare_pool(data, charts_dir, lang, publication, min_n)
    # imported once here and inherited by the forked workers; a missing WeasyPrint is
    # reported as a ReportError by pdf.write_pdf when the PDF is written
    with suppress(ImportError, OSError):
        import weasyprint  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            yield pool


__all__ = ["FORMATS", "ReportData", "ReportError", "load_output_dir", "render_report"]


def render_report(
    out_dir: str | Path,
    result: Any = None,
    lang: str = "de",
    publication: bool = False,
    min_n: int | None = None,
    formats: tuple[str, ...] | list[str] = FORMATS,
) -> dict[str, Path]:
    """Render ``report.html``, ``report.pdf``, ``report.xlsx`` and ``charts/`` into ``out_dir``.

    ``result`` (an ``AnalysisResult``) is optional; everything is read from ``out_dir``.
    ``publication`` suppresses every cell with n < ``min_n`` in tables, charts, profiles and
    recommendations (``min_n=None``, the default: ``result.min_n`` when a result is given,
    else 5). Returns the written
    paths by kind (``html``, ``pdf``, ``xlsx``, ``chart:<id>.png`` / ``chart:<id>.svg``).
    """
    from kommunaltypen.report.charts import build_charts
    from kommunaltypen.report.html import context, render_html
    from kommunaltypen.report.pdf import write_pdf
    from kommunaltypen.report.xlsx import write_xlsx

    if lang not in LANGUAGES:
        raise ReportError(t("report.err.lang", value=lang, expected=", ".join(LANGUAGES)))
    if min_n is None:
        min_n = int(getattr(result, "min_n", 5) or 5)
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise ReportError(t("report.err.min_n", value=min_n))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ReportError(t("report.bad_format", value=unknown[0], expected=", ".join(FORMATS)))
    out = Path(out_dir)
    data = load_output_dir(out)
    written: dict[str, Path] = {}
    with _pool(data, out / "charts", lang, publication, min_n) as pool:
        charts = build_charts(data, out / "charts", lang, publication, min_n, pool)
        for chart in charts:
            written[f"chart:{chart.id}.png"] = chart.png_path
            written[f"chart:{chart.id}.svg"] = chart.svg_path
        pdf_job = None
        if "pdf" in formats:
            html = render_html(context(data, charts, lang, publication, min_n, "print"))
            if pool is None:
                written["pdf"] = write_pdf(html, out, out / "report.pdf")
            else:  # the PDF is rendered in a worker while this process writes HTML and XLSX
                pdf_job = pool.submit(write_pdf, html, out, out / "report.pdf")
        if "html" in formats:
            html = render_html(context(data, charts, lang, publication, min_n, "screen"))
            (out / "report.html").write_text(html, encoding="utf-8")
            written["html"] = out / "report.html"
        if "xlsx" in formats:
            written["xlsx"] = write_xlsx(data, out / "report.xlsx", lang, publication, min_n)
        if pdf_job is not None:
            written["pdf"] = pdf_job.result()
    return written
