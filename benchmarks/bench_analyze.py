"""Benchmark of ``kommunaltypen analyze`` (without report rendering).

Measured side by side in one run, each in its own subprocess (wall time and peak RSS of the
child via ``os.wait4``):

1. ``polars.read_csv`` of a large synthetic CSV (default 1,000,000 rows) – the baseline;
2. ``kommunaltypen analyze FILE --out DIR --no-report --quiet`` on the same CSV
   (validate, typology with 1,000 bootstrap refits, k choice, all tables, all files);
3. ``kommunaltypen analyze --out DIR --no-report --quiet`` on the bundled 412-row data set
   (1,000 bootstrap refits).

Targets: (2) ≤ 3 × (1) and peak RSS < 3 GB; (3) < 3 s wall. Prints the figures and the ratio;
exits non-zero if a target is missed.

Large data: ``kommunaltypen example-data --n N --seed S`` when that command exists, else the
codebook-driven generator :mod:`kommunaltypen.tables.synthetic`.

    python benchmarks/bench_analyze.py [--rows 1000000] [--seed 0] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RATIO_LIMIT = 3.0
RSS_LIMIT_GB = 3.0
SMALL_LIMIT_S = 3.0


def run_child(cmd: list[str]) -> tuple[float, float, int, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in GB, exit status, CPU seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode != 0:
        print(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}", file=sys.stderr)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024 / 1024, proc.returncode, cpu  # ru_maxrss is in KiB


def make_data(path: Path, rows: int, seed: int) -> str:
    cli = [sys.executable, "-m", "kommunaltypen"]
    probe = subprocess.run([*cli, "example-data", "--help"], capture_output=True)
    if probe.returncode == 0:
        cmd = [
            *cli,
            "example-data",
            "--out",
            str(path),
            "--format",
            "csv",
            "--n",
            str(rows),
            "--seed",
            str(seed),
        ]
        subprocess.run(cmd, check=True, capture_output=True)
        return "kommunaltypen example-data"
    from kommunaltypen.tables.synthetic import write_synthetic_csv

    write_synthetic_csv(path, rows, seed)
    return "kommunaltypen.tables.synthetic"


def codebook_declaration(path: Path) -> Path:
    """Fallback tables while the study's declaration is not installed: one share row per
    option of every single/multiple question and one mean row per ordinal/percentage
    question, all in the ``types_total`` layout (about as many cells as Tables 1–16)."""
    import yaml

    from kommunaltypen.codebook import default_codebook

    rows = []
    for q in default_codebook().questions:
        if q.kind == "multiple":
            rows += [
                {"label_de": f"{q.id}: {o.id}", "measure": "share", "column": c, "values": [1]}
                for o, c in zip(q.options, q.columns, strict=True)
            ]
        elif q.kind == "single" and q.id not in ("bundesland",):
            rows += [
                {
                    "label_de": f"{q.id}: {o.id}",
                    "measure": "share",
                    "column": q.id,
                    "values": [o.code],
                }
                for o in q.options
            ]
        elif q.kind in ("ordinal", "percentage"):
            rows.append({"label_de": q.id, "measure": "mean", "column": q.id})
    tables = [
        {
            "number": 1 + i // 10,
            "caption_de": f"Alle Fragen {1 + i // 10}",
            "columns": "types_total",
            "rows": rows[i : i + 10],
        }
        for i in range(0, len(rows), 10)
    ]
    path.write_text(yaml.safe_dump({"tables": tables}, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_analyze_"))
    work.mkdir(parents=True, exist_ok=True)
    csv = work / f"synthetic_{args.rows}.csv"
    source = make_data(csv, args.rows, args.seed) if not csv.is_file() else "existing file"
    size_mb = csv.stat().st_size / 1e6
    py = sys.executable
    cli = [py, "-m", "kommunaltypen"]
    bootstrap = ["--bootstrap", str(args.bootstrap)]
    from kommunaltypen.analysis import bundled_data_path
    from kommunaltypen.tables import study_tables_path

    tables: list[str] = []
    if not study_tables_path().is_file():
        tables = ["--table-spec", str(codebook_declaration(work / "all_questions.yaml"))]
        print("note: study.yaml not installed; using a declaration of all codebook questions")
    small_input: list[str] = []
    if not bundled_data_path().is_file():
        small = work / "synthetic_412.csv"
        from kommunaltypen.tables.synthetic import write_synthetic_csv

        write_synthetic_csv(small, 412, args.seed)
        small_input = [str(small)]
        print("note: bundled data not installed; using 412 synthetic rows instead")

    read_cmd = [py, "-c", f"import polars as pl; pl.read_csv({str(csv)!r})"]
    read_wall, read_rss, rc1, read_cpu = run_child(read_cmd)
    out_big = work / "out_big"
    shutil.rmtree(out_big, ignore_errors=True)
    big_cmd = [
        *cli,
        "analyze",
        str(csv),
        "--out",
        str(out_big),
        "--no-report",
        "--quiet",
        *bootstrap,
        "--seed",
        str(args.seed),
        *tables,
    ]
    big_wall, big_rss, rc2, big_cpu = run_child(big_cmd)
    out_small = work / "out_small"
    shutil.rmtree(out_small, ignore_errors=True)
    small_cmd = [
        *cli,
        "analyze",
        *small_input,
        "--out",
        str(out_small),
        "--no-report",
        "--quiet",
        *bootstrap,
        *tables,
    ]
    small_wall, small_rss, rc3, small_cpu = run_child(small_cmd)

    ratio = big_wall / read_wall
    checks = {
        f"analyze {args.rows:,} rows ≤ {RATIO_LIMIT:g} × polars read": rc2 == 0
        and ratio <= RATIO_LIMIT,
        f"peak RSS analyze {args.rows:,} rows < {RSS_LIMIT_GB:g} GB": rc2 == 0
        and big_rss < RSS_LIMIT_GB,
        f"analyze 412 rows (bundled, {args.bootstrap} bootstrap refits) < {SMALL_LIMIT_S:g} s": (
            rc3 == 0 and small_wall < SMALL_LIMIT_S
        ),
    }
    print(f"data: {csv} ({size_mb:.0f} MB, {args.rows:,} rows, generator: {source})")
    print(f"cpus: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = [
        ("polars.read_csv (subprocess)", read_wall, read_cpu, read_rss),
        ("analyze large (subprocess, --no-report)", big_wall, big_cpu, big_rss),
        ("analyze 412 rows (subprocess, --no-report)", small_wall, small_cpu, small_rss),
    ]
    print(f"{'step':<46} {'wall s':>8} {'CPU s':>8} {'peak RSS GB':>12}")
    for name, wall, cpu, rss in rows:
        print(f"{name:<46} {wall:8.2f} {cpu:8.2f} {rss:12.2f}")
    print(
        f"ratio analyze / polars read: {ratio:.2f} wall (limit {RATIO_LIMIT:g}), "
        f"{big_cpu / read_cpu:.2f} CPU (for information)"
    )
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if rc1 != 0:
        print("FAIL  polars baseline did not run")
    return 0 if all(checks.values()) and rc1 == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
