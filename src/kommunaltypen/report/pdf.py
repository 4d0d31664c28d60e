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

import io
import logging
import struct
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


def _idat(data: bytes) -> bytes | None:
    """The joined IDAT chunks of an 8-bit RGB, non-interlaced PNG (what a PDF image with
    ``/FlateDecode`` and a PNG predictor holds); None for any other image and for a file that
    is cut short (WeasyPrint's own path then reports it)."""
    if (
        len(data) < 33
        or data[:8] != b"\x89PNG\r\n\x1a\n"
        or data[12:16] != b"IHDR"
        or data[24:26] != b"\x08\x02"  # bit depth 8, colour type 2 (RGB)
        or data[28] != 0  # not interlaced
    ):
        return None
    chunks = []
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack("!I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):
            return None
        if kind == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        elif kind == b"IEND":
            return b"".join(chunks) or None
        pos += 12 + length
    return None  # no IEND


def reuse_png_data() -> None:
    """Let WeasyPrint embed an RGB PNG's compressed pixel data as the file has it.

    WeasyPrint decodes every PNG and encodes it again with Pillow only to take the IDAT chunks
    of the result. For an 8-bit RGB, non-interlaced PNG the file's own IDAT chunks are already
    that data (the charts are written by Pillow with the same settings: the bytes are equal,
    the PDF the same). Called only in the PDF worker process (it changes a WeasyPrint class
    for the whole process); other images and other WeasyPrint versions take WeasyPrint's path.
    """
    try:
        from weasyprint.images import RasterImage
    except (ImportError, OSError):  # reported by write_pdf
        return
    original = RasterImage.__dict__.get("_get_png_data")
    if not isinstance(original, staticmethod) or getattr(original, "_reuses", False):
        return
    encode = original.__func__

    def get_png_data(pillow_image):
        fp = getattr(pillow_image, "fp", None)  # an opened, not yet decoded file
        if getattr(pillow_image, "format", None) == "PNG" and isinstance(fp, io.BytesIO):
            data = _idat(fp.getvalue())
            if data is not None:
                return data
        return encode(pillow_image)

    patched = staticmethod(get_png_data)
    patched._reuses = True  # type: ignore[attr-defined]
    RasterImage._get_png_data = patched


def warm_up() -> None:
    """Import WeasyPrint (run first in a fresh worker process, while the main process works)."""
    with suppress(ImportError, OSError):  # reported by write_pdf
        import weasyprint  # noqa: F401
