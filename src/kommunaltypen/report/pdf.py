"""The PDF report: WeasyPrint renders the print variant of the same HTML and CSS (A4, page
numbers, table of contents with page numbers, rows never split, headers repeated).

:func:`write_pdf` takes only picklable arguments (text and paths), so it can run in a worker
process (see :func:`kommunaltypen.report.render_report`). The charts are embedded as the PNG
files of ``charts/``, each inside an SVG of its planned size, so WeasyPrint fetches the file
only when it paints the chart's page; with ``wait_for_charts`` the PDF starts before the charts
exist, is laid out while they are drawn and waits for each file when it is fetched (the charts
are written atomically by the process drawing them). Only ``file:`` and ``data:`` URLs are
fetched.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from pathlib import Path
from urllib.parse import unquote, urlparse

#: written into ``charts/`` when drawing the charts failed: a waiting PDF gives up at once
ABORT_MARKER = ".abort"
#: longest wait for one chart file (seconds)
CHART_TIMEOUT = 600.0


def _fetcher(charts_dir: Path | None):
    from weasyprint import URLFetcher

    class _WaitingFetcher(URLFetcher):
        """Fetches local files only; waits for chart files that are still being drawn."""

        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            if charts_dir is not None and parsed.scheme == "file":
                path = Path(unquote(parsed.path))
                if path.parent == charts_dir:
                    _wait(path, charts_dir)
            return super().fetch(url, headers)

    return _WaitingFetcher(allowed_protocols=("file", "data"))


def _wait(path: Path, charts_dir: Path) -> None:
    from weasyprint.urls import FatalURLFetchingError

    from kommunaltypen.i18n import t

    deadline = time.monotonic() + CHART_TIMEOUT
    while not path.exists():
        if (charts_dir / ABORT_MARKER).exists() or time.monotonic() > deadline:
            # fatal: WeasyPrint would otherwise leave the image out and go on
            raise FatalURLFetchingError(t("report.pdf_failed", error=f"{path.name}: -"))
        time.sleep(0.01)


def write_pdf(html: str, out_dir: Path, path: Path, wait_for_charts: bool = False) -> Path:
    """Render ``html`` (print variant; charts referenced relative to ``out_dir``) to ``path``."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import FatalURLFetchingError
    except (ImportError, OSError) as exc:  # missing Pango/cairo system libraries
        from kommunaltypen.i18n import t
        from kommunaltypen.report.model import ReportError

        raise ReportError(t("report.pdf_failed", error=exc)) from exc
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    base = out_dir.resolve()
    charts_dir = (base / "charts") if wait_for_charts else None
    try:
        HTML(string=html, base_url=str(base) + "/", url_fetcher=_fetcher(charts_dir)).write_pdf(
            str(path)
        )
    except FatalURLFetchingError as exc:
        from kommunaltypen.report.model import ReportError

        raise ReportError(str(exc)) from None
    return path


def warm_up() -> None:
    """Import WeasyPrint (run first in a fresh worker process, while the main process works)."""
    with suppress(ImportError, OSError):  # reported by write_pdf
        import weasyprint  # noqa: F401
