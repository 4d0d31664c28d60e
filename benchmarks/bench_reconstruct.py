"""Benchmark of the reconstruction generator and of synthetic samples (``example-data --n``).

Prints: generator wall time (412 rows, all integer programs), synthetic sample of N rows
(drawing, writing CSV) and the peak memory of the process. Run:

    python benchmarks/bench_reconstruct.py [N]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kommunaltypen.reconstruct import build, intended_types, load_bundled, synthetic_sample
from kommunaltypen.reconstruct.io import write_frame


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    t0 = time.perf_counter()
    result = build()
    t1 = time.perf_counter()
    print(f"generator (412 rows, {len(result.issues)} inconsistent cells): {t1 - t0:.2f} s")
    base = load_bundled()
    groups = np.array([g or "untyped" for g in intended_types(base)])
    t2 = time.perf_counter()
    sample = synthetic_sample(base, n, seed=1, group=groups)
    t3 = time.perf_counter()
    print(f"synthetic sample, {n:,} rows x {sample.width} columns: {t3 - t2:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        out = write_frame(sample, Path(tmp) / "sample.csv", "csv")
        t4 = time.perf_counter()
        size = out.stat().st_size / 1e6
    print(f"write CSV ({size:.0f} MB): {t4 - t3:.2f} s; total sample+write {t4 - t2:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
