"""Benchmark of the reconstruction generator and of synthetic samples (``example-data --n``).

Prints: generator wall time (412 rows, all integer programs), synthetic sample of N rows
(drawing, writing CSV), the peak memory of the process and, for Table 1, how often blind
k-means recovers the intended types with seeds the cut search never saw (scikit-learn
``KMeans(n_clusters=4)`` and ``Typology()``, 100 and 1,000 starts, seeds 100…). Run:

    python benchmarks/bench_reconstruct.py [N] [SEEDS]
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
    recovery(int(sys.argv[2]) if len(sys.argv) > 2 else 20)


def recovery(n_seeds: int) -> None:
    """Blind recovery of the intended types on fresh seeds (not used by the cut search)."""
    from kommunaltypen.reconstruct import table1
    from kommunaltypen.reconstruct.generator import Builder
    from kommunaltypen.reconstruct.kmeans_cuts import CUTS

    builder = Builder()
    sizes = [sum(v.values()) for v in builder.composition().values()]
    t0 = time.perf_counter()
    counts = table1.solve_counts(
        builder.table1_centres(), sizes, [(d, np.array(a)) for d, a in CUTS]
    )
    t1 = time.perf_counter()
    print(f"Table 1 integer program ({len(CUTS)} cuts): {t1 - t0:.2f} s")
    x, labels = table1.expand(counts)
    for n_init, count in ((100, n_seeds), (1000, max(1, n_seeds // 2))):
        t2 = time.perf_counter()
        seeds = range(100, 100 + count)
        sk = len(table1.blind_fits(x, labels, seeds, (), n_init))
        ty = len(table1.blind_fits(x, labels, (), seeds, n_init))
        print(
            f"blind recovery, fresh seeds {seeds.start}-{seeds.stop - 1}, n_init={n_init}: "
            f"scikit-learn KMeans {count - sk}/{count}, Typology {count - ty}/{count} "
            f"({time.perf_counter() - t2:.1f} s)"
        )


if __name__ == "__main__":
    main()
