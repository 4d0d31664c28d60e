"""Random survey data that is valid under the codebook (for templates, tests, benchmarks).

``random_canonical(n, seed)`` draws ``n`` municipalities column by column with numpy (fast
enough for a million rows): answers follow each question's kind, rankings are consistent,
exclusive options stand alone, and respondents outside a question's filter leave it empty.
The values are made up; they are not the study's data.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, Question, default_codebook

_NAMES = (
    "Müllheim",
    "Großenhain",
    "Kreis Süderland",
    "Bad Kötzting",
    "Weißenfels",
    "Oberursel (Taunus)",
    "Lüdenscheid",
    "Neustadt a. d. Weinstraße",
)


def _nulls(values: np.ndarray, mask: np.ndarray, dtype: pl.DataType, name: str) -> pl.Series:
    s = pl.Series(name, values)
    if mask.any():
        s = s.set(pl.Series(mask), None)  # type: ignore[arg-type]
    return s.cast(dtype)


def random_canonical(
    n: int, seed: int = 0, codebook: Codebook | None = None, missing_share: float = 0.05
) -> pl.DataFrame:
    """``n`` random valid rows in canonical form (columns and dtypes of the contract)."""
    from kommunaltypen.schema import canonical_schema

    cb = codebook or default_codebook()
    rng = np.random.default_rng(seed)
    schema = canonical_schema(cb)
    cols: dict[str, pl.Series] = {}

    def skip() -> np.ndarray:
        return rng.random(n) < missing_share

    for q in cb:
        if q.kind == "text":
            if q.role == "id":
                width = max(3, len(str(n)))
                cols[q.id] = pl.Series(q.id, [f"K{i + 1:0{width}d}" for i in range(n)])
            else:
                names = np.array(_NAMES, dtype=object)[rng.integers(0, len(_NAMES), n)]
                cols[q.id] = _nulls(names, skip(), pl.String, q.id)
        elif q.kind == "single":
            codes = np.array(q.codes)[rng.integers(0, len(q.codes), n)]
            miss = np.zeros(n, bool) if q.required else skip()
            cols[q.id] = _nulls(codes, miss, pl.Int64, q.id)
        elif q.kind == "ordinal":
            vals = rng.integers(int(q.min or 0), int(q.max or 0) + 1, n)
            cols[q.id] = _nulls(vals, skip(), pl.Int64, q.id)
        elif q.kind in ("number", "percentage"):
            cols[q.id] = _number(q, rng, n, skip())
        elif q.kind == "multiple":
            cols.update(_multiple(q, rng, n, skip()))
        elif q.kind == "ranking":
            cols.update(_ranking(q, rng, n, missing_share))
        if q.filter is not None:
            target = cols[q.filter.column(cb)]
            outside = ~target.is_in(list(q.filter.in_)).fill_null(False)
            for c in q.columns:
                cols[c] = cols[c].set(outside, None)  # type: ignore[arg-type]
    return pl.DataFrame([cols[c].cast(schema[c]).alias(c) for c in cb.columns])


def _number(q: Question, rng: np.random.Generator, n: int, miss: np.ndarray) -> pl.Series:
    lo = q.min if q.min is not None else 0.0
    hi = q.max if q.max is not None else 100.0
    if q.integer and hi - lo > 1000:
        vals = np.clip(np.round(rng.lognormal(9.5, 1.3, n)), lo, hi)
    elif q.integer and q.section == "stammdaten" and lo >= 2000:
        vals = np.full(n, 2019.0)  # survey wave
        miss = np.zeros(n, bool)
    elif q.integer:
        vals = rng.integers(int(lo), int(hi) + 1, n).astype(float)
    else:
        vals = np.round(rng.uniform(lo, hi, n) * 2) / 2  # halves: exact in any format
    if q.required:
        miss = np.zeros(n, bool)
    return _nulls(vals, miss, pl.Int64 if q.integer else pl.Float64, q.id)


def _multiple(
    q: Question, rng: np.random.Generator, n: int, miss: np.ndarray
) -> dict[str, pl.Series]:
    ex = [o for o in q.options if o.exclusive]
    regular = [o for o in q.options if not o.exclusive]
    ticks = (rng.random((n, len(regular))) < 0.35).astype(np.int64)
    none = ticks.sum(axis=1) == 0
    out: dict[str, pl.Series] = {}
    if ex:
        ex_col = none.astype(np.int64)
    else:  # no "none" option: tick one at random so that the answer is visible in every format
        ticks[none, rng.integers(0, len(regular), none.sum())] = 1
    for j, o in enumerate(regular):
        out[q.column_for(o.id)] = _nulls(ticks[:, j], miss, pl.Int64, q.column_for(o.id))
    for o in ex:
        out[q.column_for(o.id)] = _nulls(ex_col, miss, pl.Int64, q.column_for(o.id))
    return {c: out[c] for c in q.columns}


def _ranking(
    q: Question, rng: np.random.Generator, n: int, missing_share: float
) -> dict[str, pl.Series]:
    k = len(q.options)
    top = q.max_rank or 1
    order = np.argsort(rng.random((n, k)), axis=1)  # random permutation per row
    depth = rng.choice([top, max(top - 1, 1), 1], size=n, p=[0.9, 0.05, 0.05])
    ranks = np.zeros((n, k), np.int64)
    rows = np.arange(n)
    for r in range(top):
        chosen = order[:, r]
        ranks[rows, chosen] = np.where(depth > r, r + 1, 0)
    miss = rng.random(n) < 2 * missing_share
    return {
        q.column_for(o.id): _nulls(ranks[:, j], miss, pl.Int64, q.column_for(o.id))
        for j, o in enumerate(q.options)
    }
