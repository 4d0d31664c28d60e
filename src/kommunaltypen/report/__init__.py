"""The report: HTML (self-contained), PDF and XLSX with charts, type profiles and recommendations.

Entry point::

    from kommunaltypen.report import render_report
    paths = render_report(result, "out/", lang="de")      # from memory (an AnalysisResult)
    paths = render_report("out/", lang="de")              # from an output directory

With a result nothing is read from the directory: the report's data model is built from the
result's objects (``result.record()``). From a directory it is read back from ``result.json``
and the files beside it, which give the same record, so both render the same bytes.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from kommunaltypen.i18n import LANGUAGES, get_lang, t

FORMATS = ("html", "pdf", "xlsx")
#: worker processes for the PDF (0 or 1: everything in this process)
WORKERS_ENV = "KOMMUNALTYPEN_REPORT_WORKERS"

__all__ = ["FORMATS", "ReportData", "ReportError", "load_output_dir", "render_report"]


def __getattr__(name: str) -> Any:
    """``ReportData``, ``ReportError``, ``load_output_dir`` from :mod:`.model`, imported on
    first use (the PDF worker process imports this package without them)."""
    if name in ("ReportData", "ReportError", "load_output_dir"):
        from kommunaltypen.report import model

        return getattr(model, name)
    raise AttributeError(name)


def _workers() -> int:
    try:
        workers = int(os.environ.get(WORKERS_ENV, "2"))
    except ValueError:
        workers = 2
    return min(workers, os.cpu_count() or 1)


class _PdfWorker:
    """The PDF rendered by a separate Python process (``report._pdf_worker``): a fresh
    interpreter started with ``subprocess`` — nothing of this process (threads, locks, a
    server's state, the caller's ``__main__``) is inherited or re-imported. It is started
    first, imports WeasyPrint while this process prepares the report, receives the print HTML
    on stdin, lays the PDF out while the charts are drawn here and waits for each chart file
    when it paints the chart's page."""

    def __init__(self, out: Path, lang: str) -> None:
        self.path = out / "report.pdf"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kommunaltypen.report._pdf_worker",
                str(out),
                str(self.path),
                lang,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._sender: threading.Thread | None = None

    def send(self, job: dict[str, Any]) -> None:
        """Hand the job to the worker without waiting for it: the print HTML is larger than a
        pipe's buffer, and the worker reads it only once WeasyPrint is imported, so a thread
        writes it while this process goes on (joined by :meth:`result` and :meth:`stop`)."""
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self._sender = threading.Thread(
            target=self._write, args=(payload,), name="report-pdf-send", daemon=True
        )
        self._sender.start()

    def _write(self, payload: bytes) -> None:
        assert self.proc.stdin is not None
        with suppress(BrokenPipeError, ValueError, OSError):  # the worker failed or was
            self.proc.stdin.write(payload)  # stopped: reported by result()
            self.proc.stdin.close()

    def _join_sender(self) -> None:
        if self._sender is not None:
            self._sender.join()

    def running(self) -> bool:
        return self.proc.poll() is None

    def result(self) -> Path:
        from kommunaltypen.report.model import ReportError

        assert self.proc.stderr is not None
        err = self.proc.stderr.read()  # until the worker ends
        self._join_sender()
        self.proc.wait()
        if self.proc.returncode != 0:
            message = err.decode("utf-8", "replace").strip().splitlines()
            raise ReportError(
                t("report.pdf_failed", error=message[-1] if message else self.proc.returncode)
            )
        return self.path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # a blocked write of the sender ends with the process
        self._join_sender()
        with suppress(OSError):
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        self.proc.wait()


def _pdf_worker(stack: ExitStack, out: Path, lang: str) -> _PdfWorker | None:
    """The PDF worker process; None on one CPU or with ``KOMMUNALTYPEN_REPORT_WORKERS`` 0 or
    1 (then the PDF is rendered in this process after the charts)."""
    if _workers() < 2:
        return None
    worker = _PdfWorker(out, lang)
    stack.callback(worker.stop)
    return worker


def _data(source: Any) -> tuple[Any, Path | None]:
    """The report data of an ``AnalysisResult``, an ``AnalysisRecord``, a ``ReportData`` or an
    output directory, and the directory the source came from (if any)."""
    from kommunaltypen.report.model import ReportData, ReportError, load_output_dir

    if isinstance(source, ReportData):
        return source, source.out_dir
    if isinstance(source, str | Path):
        data = load_output_dir(source)
        return data, Path(source)
    if hasattr(source, "record") and callable(source.record):  # AnalysisResult
        return ReportData.from_record(source.record()), getattr(source, "out_dir", None)
    if hasattr(source, "tables") and hasattr(source, "diagnostics"):  # AnalysisRecord
        return ReportData.from_record(source), None
    raise ReportError(
        t(
            "report.err.source",
            got=type(source).__name__,
            expected="AnalysisResult, AnalysisRecord, ReportData, Pfad/path",
        )
    )


def _error(message: str) -> Exception:
    """A :class:`~kommunaltypen.report.model.ReportError` (its module imported only when one is
    raised: see :func:`render_report`)."""
    from kommunaltypen.report.model import ReportError

    return ReportError(message)


def render_report(
    source: Any,
    out_dir: Any = None,
    lang: str | None = None,
    publication: bool = False,
    min_n: int | None = None,
    formats: tuple[str, ...] | list[str] = FORMATS,
) -> dict[str, Path]:
    """Render ``report.html``, ``report.pdf``, ``report.xlsx`` and ``charts/`` into ``out_dir``.

    ``source``: an ``AnalysisResult`` (rendered from memory), an ``AnalysisRecord``, a
    ``ReportData`` or an analysis output directory (read back; ``out_dir`` may then be
    omitted and defaults to it). For compatibility ``render_report(DIR, result)`` is accepted
    too. ``publication`` suppresses every cell with n < ``min_n`` in tables, charts, profiles
    and recommendations (``min_n=None``: the analysis' ``min_n``, else 5); cells the analysis
    already suppressed stay hidden. Returns the written paths by kind (``html``, ``pdf``,
    ``xlsx``, ``chart:<id>.png`` / ``chart:<id>.svg``). ``lang=None``: the current call's
    language (:func:`kommunaltypen.i18n.use_lang`).

    The PDF worker is started before the report's data model (polars, the table engine, the
    codebook) is imported here, so it imports WeasyPrint meanwhile.
    """
    if (
        isinstance(source, str | Path)
        and out_dir is not None
        and not isinstance(out_dir, str | Path)
    ):
        source, out_dir = out_dir, source  # render_report(DIR, result)
    if lang is None:
        lang = get_lang()  # the current call's language
    if lang not in LANGUAGES:
        raise _error(t("report.err.lang", value=lang, expected=", ".join(LANGUAGES)))
    if min_n is not None and (isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1):
        raise _error(t("report.err.min_n", value=min_n))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise _error(t("report.bad_format", value=unknown[0], expected=", ".join(FORMATS)))
    with ExitStack() as stack:
        origin = Path(source) if isinstance(source, str | Path) else None
        out = Path(out_dir) if out_dir is not None else origin
        if out is None:
            out = getattr(source, "out_dir", None)
        if out is None:
            raise _error(t("report.err.no_dir", dir="None"))
        if origin is not None and not origin.is_dir():
            raise _error(t("report.err.no_dir", dir=str(origin)))
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _error(t("report.err.unwritable", dir=str(out), error=exc)) from exc
        worker = _pdf_worker(stack, out, lang) if "pdf" in formats else None
        data, _ = _data(source)
        if min_n is None:
            min_n = data.min_n
        return _render(data, out, lang, publication or data.publication, min_n, formats, worker)


def _render(
    data: Any,
    out: Path,
    lang: str,
    publication: bool,
    min_n: int,
    formats: tuple[str, ...] | list[str],
    worker: _PdfWorker | None,
) -> dict[str, Path]:
    """The report's files. With a PDF worker: the print HTML (which needs only the chart
    plans) goes to the worker first, before matplotlib is even imported here; the worker lays
    the PDF out while this process draws every chart, and paints each chart's page once its
    PNG exists."""
    from kommunaltypen.report.chartplan import plan_charts
    from kommunaltypen.report.html import context, render_html, shared_context
    from kommunaltypen.report.model import ReportError
    from kommunaltypen.report.pdf import ABORT_MARKER

    charts_dir = out / "charts"
    try:
        charts_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(t("report.err.unwritable", dir=str(out), error=exc)) from exc
    written: dict[str, Path] = {}
    plans = plan_charts(data, lang)
    shared = shared_context(data, lang, publication, min_n)  # both variants and the XLSX
    print_html = None
    if "pdf" in formats:
        print_html = render_html(context(data, plans, lang, publication, min_n, "print", shared))
    if worker is not None:
        assert print_html is not None
        for plan in plans:  # charts of an earlier render must not be taken for new ones
            for ext in ("png", "svg"):
                with suppress(FileNotFoundError):
                    (charts_dir / f"{plan.id}.{ext}").unlink()
        with suppress(FileNotFoundError):
            (charts_dir / ABORT_MARKER).unlink()
        worker.send({"html": print_html})
    from concurrent.futures import ThreadPoolExecutor

    from kommunaltypen.report.charts import draw_charts

    # the PNGs are compressed and written by one thread beside the drawing (Pillow releases
    # the GIL while compressing); the pool is joined before anything is returned
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-png") as png_pool:
        try:
            charts = draw_charts(data, plans, charts_dir, lang, publication, min_n, png_pool)
            for chart in charts:
                written[f"chart:{chart.id}.png"] = chart.png_path
                written[f"chart:{chart.id}.svg"] = chart.svg_path
            if "html" in formats:
                html = render_html(
                    context(data, charts, lang, publication, min_n, "screen", shared)
                )
                (out / "report.html").write_text(html, encoding="utf-8")
                written["html"] = out / "report.html"
            if "xlsx" in formats:
                from kommunaltypen.report.xlsx import write_xlsx

                written["xlsx"] = write_xlsx(
                    data, out / "report.xlsx", lang, publication, min_n, views=shared["views"]
                )
            for chart in charts:
                if chart.png_written is not None:
                    chart.png_written.result()
        except BaseException:
            if worker is not None:
                (charts_dir / ABORT_MARKER).touch()  # the waiting worker gives up at once
            raise
    if print_html is not None:
        if worker is not None:
            written["pdf"] = worker.result()
        else:
            from kommunaltypen.report.pdf import write_pdf

            written["pdf"] = write_pdf(print_html, out, out / "report.pdf")
    return dict(sorted(written.items()))
