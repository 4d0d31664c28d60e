"""Benchmark: the full report (HTML, PDF, XLSX, all charts) for the 412-row data set, this
code against a baseline commit, side by side.

Usage: ``python benchmarks/bench_report.py [--runs 3] [--baseline be1c08e] [--target 0.5]``

The baseline commit is checked out into a temporary ``git worktree`` (removed afterwards).
For each version the analysis output directory is built once with that version's own code
(not timed: the real pipeline on the bundled data via ``tests/report_outdir.py``). Each run
renders the report from that directory in a fresh Python process (imports included, as
``kommunaltypen report --from DIR`` would) and is timed from outside; baseline and current
runs alternate, so both see the same machine load. The script prints every run (with the
1-minute load average after it), both medians and their ratio, and exits non-zero when the
ratio (current / baseline) exceeds ``--target`` (default 0.5: at most half the baseline's
time).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "be1c08e"
TARGET = 0.5

BUILD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from report_outdir import build_output_dir
build_output_dir(Path(sys.argv[2]))
import kommunaltypen
print(kommunaltypen.__file__)
"""

RENDER = """
import sys, time
t0 = time.perf_counter()
from kommunaltypen.report import render_report
render_report(sys.argv[1], lang="de")
print(time.perf_counter() - t0)
"""


def _env(src: Path, workers: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(src),
        "KOMMUNALTYPEN_REPORT_WORKERS": str(workers),
        "KOMMUNALTYPEN_LANG": "de",
    }


def build(tree: Path, out: Path, workers: int) -> None:
    """The output directory of ``tree``'s own pipeline (its code, its test helper)."""
    proc = subprocess.run(
        [sys.executable, "-c", BUILD, str(tree / "tests"), str(out)],
        capture_output=True,
        text=True,
        env=_env(tree / "src", workers),
        check=True,
        cwd=out.parent,
    )
    used = proc.stdout.strip().splitlines()[-1]
    if not used.startswith(str(tree / "src")):
        raise SystemExit(f"{tree}: imported {used} instead of its own code")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def render(tree: Path, out: Path, workers: int) -> tuple[float, float, float]:
    """(wall seconds from outside, seconds inside incl. imports, CPU seconds of the render
    and its worker processes) of one fresh-process render."""
    for name in ("report.html", "report.pdf", "report.xlsx"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "charts", ignore_errors=True)
    cpu = _children_cpu()
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RENDER, str(out)],
        capture_output=True,
        text=True,
        env=_env(tree / "src", workers),
        check=True,
        cwd=out.parent,
    )
    wall = time.perf_counter() - t
    cpu = _children_cpu() - cpu
    if not (out / "report.pdf").stat().st_size:
        raise SystemExit(f"{tree}: no PDF written")
    return wall, float(proc.stdout.strip().splitlines()[-1]), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per version (≥ 3)")
    parser.add_argument("--baseline", default=BASELINE, help="baseline commit")
    parser.add_argument("--target", type=float, default=TARGET, help="largest ratio")
    parser.add_argument("--workers", type=int, default=2, help="report worker processes")
    args = parser.parse_args()
    runs = max(3, args.runs)
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        base_tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), args.baseline],
            capture_output=True,
            check=True,
        )
        try:
            trees = {"baseline": base_tree, "current": ROOT}
            outs = {}
            for name, tree in trees.items():
                outs[name] = Path(tmp) / f"out_{name}"
                outs[name].mkdir()
                build(tree, outs[name], args.workers)
            load = os.getloadavg()[0]
            print(
                f"data: bundled 412 rows, real pipeline; {os.cpu_count()} CPUs; "
                f"workers {args.workers}; baseline {args.baseline}; load average {load:.1f}"
            )
            walls: dict[str, list[float]] = {name: [] for name in trees}
            cpus: dict[str, list[float]] = {name: [] for name in trees}
            for run in range(1, runs + 1):
                order = list(trees) if run % 2 else list(reversed(trees))
                for name in order:
                    wall, inner, cpu = render(trees[name], outs[name], args.workers)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
                    print(
                        f"run {run} {name:<8}: {wall:6.2f} s wall ({inner:.2f} s inside), "
                        f"{cpu:6.2f} CPU-s; load average {os.getloadavg()[0]:.1f}"
                    )
            medians = {name: statistics.median(v) for name, v in walls.items()}
            cpu_medians = {name: statistics.median(v) for name, v in cpus.items()}
            ratio = medians["current"] / medians["baseline"]
            print(
                f"median baseline {medians['baseline']:.2f} s, current {medians['current']:.2f} s"
                f" -> ratio {ratio:.2f} (target <= {args.target:.2f}): "
                f"{'OK' if ratio <= args.target else 'MISSED'}; "
                f"load average now {os.getloadavg()[0]:.1f}"
            )
            print(
                f"CPU (render + workers): baseline {cpu_medians['baseline']:.2f} s, "
                f"current {cpu_medians['current']:.2f} s -> ratio "
                f"{cpu_medians['current'] / cpu_medians['baseline']:.2f}"
            )
            sizes = {p.name: p.stat().st_size for p in outs["current"].glob("report.*")}
            print(
                "sizes: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sorted(sizes.items()))
            )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)],
                capture_output=True,
                check=False,
            )
    return 0 if ratio <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
