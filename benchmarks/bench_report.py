"""Benchmark: render the full report (HTML, PDF, XLSX, all charts) for the 412-row data set.

Usage: ``python benchmarks/bench_report.py [--runs 3] [--workers 2]``

The analysis output directory is built once (not timed): the real pipeline on the bundled data
when it is available, otherwise the seeded synthetic 412-row survey of the report tests. Each
run renders the report in a fresh Python process (imports included, as a user would see it)
and is timed from outside; the script prints every run, the median and the per-format split of
one in-process run, and exits non-zero when the median exceeds the 10 s target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 10.0

RENDER = """
import sys, time
t0 = time.perf_counter()
from kommunaltypen.report import render_report
render_report(sys.argv[1], lang="de")
print(time.perf_counter() - t0)
"""


def build(out: Path) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from report_outdir import build_output_dir, real_pipeline_available

    build_output_dir(out)
    return "bundled data, real pipeline" if real_pipeline_available() else "synthetic 412 rows"


def split(out: Path) -> dict[str, float]:
    """Seconds per step of one sequential in-process render (for the docs)."""
    from kommunaltypen.report.charts import build_charts
    from kommunaltypen.report.html import context, render_html
    from kommunaltypen.report.model import load_output_dir
    from kommunaltypen.report.pdf import write_pdf
    from kommunaltypen.report.xlsx import write_xlsx

    times: dict[str, float] = {}
    t = time.perf_counter()
    data = load_output_dir(out)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    charts = build_charts(data, out / "charts", "de", False, 5)
    times["charts (16 x PNG+SVG)"] = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(context(data, charts, "de", False, 5, "screen"))
    (out / "report.html").write_text(html, encoding="utf-8")
    times["html"] = time.perf_counter() - t
    t = time.perf_counter()
    write_pdf(render_html(context(data, charts, "de", False, 5, "print")), out, out / "r.pdf")
    times["pdf"] = time.perf_counter() - t
    t = time.perf_counter()
    write_xlsx(data, out / "r.xlsx", "de")
    times["xlsx"] = time.perf_counter() - t
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="report worker processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        source = build(out)
        print(f"data: {source}; machine: {os.cpu_count()} CPUs; workers: {args.workers}")
        env = {**os.environ, "KOMMUNALTYPEN_REPORT_WORKERS": str(args.workers)}
        walls = []
        for run in range(1, args.runs + 1):
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", RENDER, str(out)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            wall = time.perf_counter() - t
            walls.append(wall)
            inner = float(proc.stdout.strip().splitlines()[-1])
            print(f"run {run}: {wall:.2f} s wall (render_report incl. imports: {inner:.2f} s)")
        median = statistics.median(walls)
        print(
            f"median: {median:.2f} s (target < {TARGET_S:.0f} s) -> "
            f"{'OK' if median < TARGET_S else 'MISSED'}"
        )
        print("sequential in-process split (warm imports):")
        for step, secs in split(out).items():
            print(f"  {step:<22} {secs:6.2f} s")
        sizes = {p.name: p.stat().st_size for p in out.glob("report.*")}
        print("sizes: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sorted(sizes.items())))
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
