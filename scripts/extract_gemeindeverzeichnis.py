"""Writes the compact directory extract shipped in the package.

Usage: python3 scripts/extract_gemeindeverzeichnis.py [GV100AD_*.txt] [--out FILE]

Reads the Destatis Gemeindeverzeichnis GV100AD (fixed width, UTF-8; layout in
``kommunaltypen.store.gv100``) and writes ``src/kommunaltypen/data/gemeindeverzeichnis.csv.gz``
(Kreise, kreisfreie Städte and Gemeinden: ARS, name, kind, Land, population, Kreis) plus the
Gebietsstand in ``gemeindeverzeichnis.yaml``. The output is deterministic (gzip without a
timestamp), so rerunning on the same input changes no bytes.

Quelle: Statistisches Bundesamt (Destatis), 2025. Vervielfältigung und Verbreitung, auch
auszugsweise, mit Quellenangabe gestattet.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from pathlib import Path

from kommunaltypen.store.gv100 import FIELDS, iter_rows, parse_directory

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "gemeindeverzeichnis" / "GV100AD_30112025.txt"
DATA = ROOT / "src" / "kommunaltypen" / "data"

META = """\
# The municipality directory shipped in gemeindeverzeichnis.csv.gz
# (written by scripts/extract_gemeindeverzeichnis.py; do not edit by hand).
source_file: {source}
stand: "{stand}"
population_date: "2024-12-31"
rows: {rows}
source: >-
  Quelle: Statistisches Bundesamt (Destatis), 2025 (Gemeindeverzeichnis GV100AD,
  Gebietsstand {stand_de}; Bevölkerung am 31.12.2024 auf Grundlage des Zensus 2022).
  Daten im Auftrag der Herausgebergemeinschaft Statistische Ämter des Bundes und der Länder.
  Vervielfältigung und Verbreitung, auch auszugsweise, mit Quellenangabe gestattet.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DATA / "gemeindeverzeichnis.csv.gz")
    args = parser.parse_args()
    with args.source.open(encoding="utf-8") as handle:
        stand, entries = parse_directory(handle)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(iter_rows(entries))
    with (
        args.out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(text.getvalue().encode("utf-8"))
    year, month, day = stand.split("-")
    meta = META.format(
        source=args.source.name, stand=stand, stand_de=f"{day}.{month}.{year}", rows=len(entries)
    )
    args.out.with_name("gemeindeverzeichnis.yaml").write_text(meta, encoding="utf-8")
    print(f"{len(entries)} entries (Gebietsstand {stand}) -> {args.out}")


if __name__ == "__main__":
    main()
