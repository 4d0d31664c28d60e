"""The PDF worker: ``python -m kommunaltypen.report._pdf_worker OUT_DIR PDF_PATH LANG``.

A fresh interpreter (started by :func:`kommunaltypen.report.render_report`, never forked from
the caller, so a threaded server process is never copied). It imports WeasyPrint at once, then
reads one pickled job from stdin — the print HTML — and writes the PDF: the layout runs while
the calling process draws the charts, and painting waits for each chart file as WeasyPrint
asks for it (the PNGs are embedded with their own compressed data:
:func:`~kommunaltypen.report.pdf.reuse_png_data`). Exit code 0 on success; otherwise 1 with
one message on stderr.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    out_dir, pdf_path, lang = Path(argv[0]), Path(argv[1]), argv[2]
    from kommunaltypen.i18n import use_lang
    from kommunaltypen.report.pdf import reuse_png_data, warm_up, write_pdf

    warm_up()
    reuse_png_data()
    # one document, then the process ends: no cyclic garbage collection (WeasyPrint's boxes
    # make many short-lived cycles; collecting them cost ~9 % of the render, memory without
    # it grows by ~2 MB)
    gc.disable()
    raw = sys.stdin.buffer.read()
    if not raw:
        return 1  # the caller gave up before sending the job
    try:
        with use_lang(lang):
            job = pickle.loads(raw)  # from the parent process, over a pipe
            write_pdf(job["html"], out_dir, pdf_path, wait_for_charts=True)
    except Exception as exc:  # reported to the caller as one message
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # no interpreter teardown (freeing WeasyPrint's boxes and caches takes ~0.15 s): the PDF
    # is written and closed, and the caller waits for this process to end
    os._exit(code)
