"""LimeSurvey response export reader (CSV, "question code" headings, answer codes).

LimeSurvey names sub-questions ``code[SQ001]`` and ranking positions ``code[1]``; multiple
choice is exported as ``Y`` (ticked) or empty, yes/no questions as ``Y``/``N``. This reader
turns ``Y``/``N`` into ``1``/``0``; everything else (names, answer codes like ``A1``) is left
to a mapping file. LimeSurvey's own columns (``id``, ``submitdate``, …) are kept, so the
validator reports them as unknown columns unless the mapping uses them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from kommunaltypen.io._common import Meta, Progress
from kommunaltypen.io.csv_reader import collect, open_csv

SYSTEM_COLUMNS = (
    "id",
    "submitdate",
    "lastpage",
    "startlanguage",
    "seed",
    "token",
    "startdate",
    "datestamp",
    "ipaddr",
    "refurl",
)


def looks_like_limesurvey(header: list[str]) -> bool:
    names = {h.strip().lower() for h in header}
    return {"submitdate", "lastpage"} <= names or {"id", "startlanguage"} <= names


def read_limesurvey(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    lazy: bool = False,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame | pl.LazyFrame, Meta]:
    lf, meta = open_csv(path, encoding=encoding, delimiter=delimiter)
    meta.format = "limesurvey"
    meta.decimal_comma = False
    names = lf.collect_schema().names()
    yes_no = [
        pl.col(n).replace({"Y": "1", "N": "0"}) for n in names if n.lower() not in SYSTEM_COLUMNS
    ]
    lf = lf.with_columns(yes_no)
    if lazy:
        return lf, meta
    return collect(lf, path), meta
