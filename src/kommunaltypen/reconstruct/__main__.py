"""``python -m kommunaltypen.reconstruct --out FILE``: regenerate the bundled reconstruction."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kommunaltypen.reconstruct.generator import DEFAULT_SEED, Builder, build
from kommunaltypen.reconstruct.io import write_frame, write_issues
from kommunaltypen.reconstruct.table1 import format_cuts, search_cuts


def bundled_model(frame):
    """The default Typology (seed 0) fitted on ``frame``: what ``data/model.json`` holds."""
    from kommunaltypen.codebook import default_codebook
    from kommunaltypen.typology import Typology

    return Typology(random_state=0, n_bootstrap=0, codebook=default_codebook()).fit(frame)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kommunaltypen.reconstruct")
    parser.add_argument("--out", help="CSV file for the 412 rows")
    parser.add_argument(
        "--search-cuts",
        action="store_true",
        help="recompute the k-means cuts of the Table 1 program (kmeans_cuts.py; minutes)",
    )
    parser.add_argument(
        "--inconsistencies",
        help="CSV file for the inconsistent cells "
        "(default: study_inconsistencies.csv next to the package data)",
    )
    parser.add_argument(
        "--model",
        help="also fit the default Typology on the generated rows and save it here "
        "(the shipped data/model.json used by `classify` without --model)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.search_cuts:
        builder = Builder(args.seed)
        sizes = [sum(v.values()) for v in builder.composition().values()]
        cuts = search_cuts(builder.table1_centres(), sizes, verbose=True)
        target = Path(__file__).parent / "kmeans_cuts.py"
        target.write_text(format_cuts(cuts), encoding="utf-8")
        print(f"{target}: {len(cuts)} cuts ({time.perf_counter() - start:.1f} s)")
    if not args.out:
        return
    result = build(args.seed)
    out = write_frame(result.frame, args.out, "csv")
    issues = args.inconsistencies or Path(__file__).parent.parent / "data" / (
        "study_inconsistencies.csv"
    )
    write_issues(result.issues, issues)
    if args.model:
        print(f"{bundled_model(result.frame).save(args.model)}: fitted default model")
    print(
        f"{out}: {result.frame.height} rows; {len(result.issues)} inconsistent cells -> "
        f"{issues} ({time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
