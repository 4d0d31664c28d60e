"""Benchmark: the Typ-Check's core per request — evaluate, explain, peer comparison, view data,
and the PDF profile — for municipalities of the bundled data (412 rows).

Usage: ``python benchmarks/bench_selfcheck.py [--runs 10] [--lang de]``

Set-up (not timed per request, printed once): the analysis of the bundled data, the comparison
basis and the peer basis (what a server keeps per published analysis). Each run takes another
municipality's answers (a new ``kommune_id``, so they are not part of the data) and times, in
one process: ``service.evaluate``, ``selfcheck.profile_view`` (explanation, goal profile, peer
comparison, recommendations) and ``render_profile_pdf``. Wall-clock and CPU seconds are both
printed, since on a shared machine wall time mostly measures the other processes. Exits
non-zero when the median PDF wall time exceeds the 3 s target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

TARGET_PDF_S = 3.0


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lang", default="de", choices=("de", "en"))
    args = parser.parse_args()

    from kommunaltypen import service
    from kommunaltypen.selfcheck import peers
    from kommunaltypen.selfcheck.pdf import render_profile_pdf
    from kommunaltypen.selfcheck.view import profile_view

    w0, c0 = _clock()
    result = service.analyse(None, n_bootstrap=0, k_choice=False)
    w1, c1 = _clock()
    basis = service.comparison_basis(result)
    pb = peers.peer_basis(basis)
    w2, c2 = _clock()
    print(f"analysis of the bundled data: {w1 - w0:.2f} s wall, {c1 - c0:.2f} s CPU")
    print(f"comparison + peer basis:      {w2 - w1:.2f} s wall, {c2 - c1:.2f} s CPU")

    kinds = peers.PEER_KINDS
    times: dict[str, list[tuple[float, float]]] = {"evaluate": [], "view": [], "pdf": []}
    for run in range(args.runs):
        row = result.data.row((run * 37) % result.data.height, named=True)
        answers = {k: v for k, v in row.items() if v is not None}
        answers["kommune_id"] = f"bench-{run}"
        a = _clock()
        evaluation = service.evaluate(answers, basis)
        b = _clock()
        view = profile_view(evaluation, pb, kind=kinds[run % len(kinds)], lang=args.lang)
        c = _clock()
        pdf = render_profile_pdf(view)
        d = _clock()
        for name, (s, e) in (("evaluate", (a, b)), ("view", (b, c)), ("pdf", (c, d))):
            times[name].append((e[0] - s[0], e[1] - s[1]))
        print(
            f"run {run + 1}: evaluate {b[0] - a[0]:.3f} s, view {c[0] - b[0]:.3f} s, "
            f"pdf {d[0] - c[0]:.2f} s wall / {d[1] - c[1]:.2f} s CPU ({len(pdf) // 1024} KiB)"
        )
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"median {name:9s}: {wall:.3f} s wall, {cpu:.3f} s CPU")
    median_pdf = statistics.median(v[0] for v in times["pdf"])
    return 0 if median_pdf <= TARGET_PDF_S else 1


if __name__ == "__main__":
    sys.exit(main())
