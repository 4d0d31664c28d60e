"""Benchmark: reading + validating a generated survey CSV vs. polars just reading it.

Target (issue 2): ``validate_file`` on a 1,000,000-row CSV takes at most 2x the time of
``pl.read_csv`` on the same file, measured side by side in one run, with peak memory < 3 GB.

Baseline: ``pl.read_csv(path, infer_schema_length=10_000)`` — polars' default (100 rows of
schema inference) cannot read the file at all, because text in number columns (one of the
injected errors) first appears after row 100; 10,000 rows is the cheapest setting that reads
it (``infer_schema_length=None`` would scan the file twice and make the baseline much slower).

Each measurement runs in its own subprocess (peak RSS from ``resource.getrusage``; imports,
the codebook and the message catalogue are loaded before the clock starts). Measurements
alternate (polars, kommunaltypen, polars, …) and the median of ``--repeat`` runs is compared.

    python benchmarks/bench_validate.py                 # 1,000,000 rows
    python benchmarks/bench_validate.py --rows 100000   # quicker
    python benchmarks/bench_validate.py --item-nonresponse 0.005  # "keine Angabe" in option
                                                        # cells of every multiple-choice question

Prints both timings, the ratio and the peak memory; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from kommunaltypen.codebook import default_codebook
from kommunaltypen.io.synthetic import random_canonical

TARGET_RATIO = 2.0
TARGET_PEAK_GB = 3.0

POLARS = """
import json, resource, sys, time
import polars as pl
t = time.perf_counter()
df = pl.read_csv(sys.argv[1], infer_schema_length=10_000)
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": secs, "rows": df.height, "peak_mb": peak}))
"""

OURS = """
import json, resource, sys, time
from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import catalog
from kommunaltypen.validate import validate_file
default_codebook(); catalog()
t = time.perf_counter()
data, report = validate_file(sys.argv[1])
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
assert report.rows_in == report.rows_accepted + report.rows_rejected
print(json.dumps({"seconds": secs, "rows": report.rows_in, "accepted": report.rows_accepted,
                  "rejected": report.rows_rejected, "issues": len(report.issues),
                  "peak_mb": peak}))
"""


def generate(
    path: Path,
    rows: int,
    seed: int = 2019,
    invalid_share: float = 0.01,
    item_nonresponse: float = 0.0,
) -> int:
    """Write ``rows`` random valid rows, ~``invalid_share`` of them made invalid; with
    ``item_nonresponse`` > 0 that share of the unticked option cells of every multiple-choice
    question holds "keine Angabe" (-9)."""
    rng = np.random.default_rng(seed)
    df = random_canonical(rows, seed=seed)
    n_bad = int(rows * invalid_share)
    bad = rng.choice(rows, size=n_bad, replace=False)
    kinds = np.array_split(bad, 7)
    text = {c: df.get_column(c).cast(pl.String) for c in df.columns}

    def put(column: str, idx: np.ndarray, value: str) -> None:
        if len(idx):
            text[column] = text[column].scatter(idx.tolist(), value)

    put("einwohner", kinds[0], "viele")  # text in a number field
    put("kommunenart", kinds[1], "9")  # unknown code
    put("anteil_fortbildung_digital", kinds[2], "150")  # out of range
    put("ziele_effizienz", kinds[3], "1")  # repeated rank 1 ...
    put("ziele_innovation", kinds[3], "1")  # ... twice
    put("glasfaser_kein", kinds[4], "1")  # "none" with ...
    put("glasfaser_eigenregie", kinds[4], "1")  # ... another option
    ids = text["kommune_id"]
    text["kommune_id"] = ids.scatter(kinds[5].tolist(), "K" + "1".zfill(len(ids[0]) - 1))
    put("strategie", kinds[6], "3")  # no strategy ...
    put("strategiebeteiligte_berater", kinds[6], "1")  # ... but took part in it
    # item non-response: "keine Angabe" (-9) in some unticked option cells of every
    # multiple-choice question (validation keeps these null and the other empty cells 0)
    for q in default_codebook():
        if q.kind != "multiple" or item_nonresponse <= 0:
            continue
        for column in q.columns:
            unticked = np.flatnonzero((text[column] == "0").fill_null(False).to_numpy())
            take = unticked[rng.random(len(unticked)) < item_nonresponse]
            take = np.setdiff1d(take, bad)  # keep the invalid rows as they are
            put(column, take, "-9")
    pl.DataFrame(list(text.values())).write_csv(path)
    return n_bad


def measure(code: str, path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"measurement failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file", type=Path, help="reuse/keep the generated CSV here")
    parser.add_argument(
        "--item-nonresponse",
        type=float,
        default=0.0,
        help='share of unticked option cells holding "keine Angabe" (-9), e.g. 0.005',
    )
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        n_bad = generate(args.generate, args.rows, item_nonresponse=args.item_nonresponse)
        print(f"generated {args.rows:,} rows, {n_bad:,} of them made invalid")
        return 0

    tmp = None
    if args.file is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "bench.csv"
    else:
        path = args.file
    try:
        if not path.exists():
            # generate in a child process: on Linux a child inherits the peak RSS of its
            # parent, which would spoil the memory figures of the measuring children
            t = time.perf_counter()
            subprocess.run(
                [
                    *(sys.executable, __file__, "--rows", str(args.rows)),
                    *("--item-nonresponse", str(args.item_nonresponse), "--generate", str(path)),
                ],
                check=True,
            )
            size = path.stat().st_size / 1e6
            print(f"generated in {time.perf_counter() - t:.1f} s: {path} ({size:.0f} MB)")
        with path.open("rb") as fh:  # warm the page cache for both contenders
            while fh.read(1 << 24):
                pass
        polars_runs, our_runs = [], []
        for _ in range(args.repeat):
            polars_runs.append(measure(POLARS, path))
            our_runs.append(measure(OURS, path))
        t_pl = statistics.median(r["seconds"] for r in polars_runs)
        t_kt = statistics.median(r["seconds"] for r in our_runs)
        peak = max(r["peak_mb"] for r in our_runs)
        peak_pl = max(r["peak_mb"] for r in polars_runs)
        ratio = t_kt / t_pl
        last = our_runs[-1]
        python = sys.version.split()[0]
        print(f"machine: {os.cpu_count()} CPUs, polars {pl.__version__}, Python {python}")
        print(
            f"rows: {last['rows']:,} in, {last['accepted']:,} accepted, {last['rejected']:,} "
            f"rejected, {last['issues']:,} issues"
        )
        print(
            "polars read_csv     : "
            + ", ".join(f"{r['seconds']:.2f}" for r in polars_runs)
            + f" s -> median {t_pl:.2f} s (peak {peak_pl / 1024:.2f} GB)"
        )
        print(
            "validate_file       : "
            + ", ".join(f"{r['seconds']:.2f}" for r in our_runs)
            + f" s -> median {t_kt:.2f} s (peak {peak / 1024:.2f} GB)"
        )
        pairs = [o["seconds"] / p["seconds"] for p, o in zip(polars_runs, our_runs, strict=True)]
        print("pairwise ratios     : " + ", ".join(f"{r:.2f}" for r in pairs))
        print(f"ratio of medians    : {ratio:.2f} (target <= {TARGET_RATIO})")
        print(f"peak memory (ours)  : {peak / 1024:.2f} GB (target < {TARGET_PEAK_GB} GB)")
        ok = ratio <= TARGET_RATIO and peak / 1024 < TARGET_PEAK_GB
        print("RESULT: " + ("target met" if ok else "TARGET MISSED"))
        return 0 if ok else 1
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
