"""LimeSurvey response export reader (CSV, "question code" headings, answer codes).

LimeSurvey names sub-questions ``code[SQ001]`` and ranking positions ``code[1]``; multiple
choice is exported as ``Y`` (ticked) or empty, yes/no questions as ``Y``/``N``. This reader
turns ``Y``/``N`` into ``1``/``0``; everything else (names, answer codes like ``A1``) is left
to a mapping file. LimeSurvey's own columns (``id``, ``submitdate``, …) are kept, so the
validator reports them as unknown columns unless the mapping uses them.
"""

from __future__ import annotations

import polars as pl

from kommunaltypen.io._common import Meta, Progress, SourceLike
from kommunaltypen.io.csv_reader import read_csv

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
    path: SourceLike,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> tuple[pl.DataFrame, Meta]:
    df, meta = read_csv(
        path, filename=filename, encoding=encoding, delimiter=delimiter, progress=progress
    )
    meta.format = "limesurvey"
    meta.decimal_comma = False
    yes_no = [
        pl.col(n).replace({"Y": "1", "N": "0"})
        for n in df.columns
        if n.lower() not in SYSTEM_COLUMNS
    ]
    return df.with_columns(yes_no), meta
