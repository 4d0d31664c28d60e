"""Codebook-driven random survey answers for engine tests and load tests.

Not the reconstruction of the study (that is ``kommunaltypen.reconstruct``): these answers
only respect the codebook's rules (codes, ranges, complete rankings, exclusive options,
filters), so that they pass validation; their figures mean nothing. Goal rankings are drawn
around four prototypes (the study types' leading goals) so that a typology fitted on them finds
the four types. Everything is vectorised (numpy), so millions of rows take seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, Question, default_codebook

#: leading goal of each study type (Table 1), in the study's type order
PROTOTYPE_GOALS = ("rechtliche_vorgaben", "effizienz", "buergernaehe", "daseinsvorsorge")
TYPE_SHARES = (47 / 412, 111 / 412, 115 / 412, 52 / 412)  # the rest (87/412) untyped


def _ranking(q: Question, n: int, rng: np.random.Generator, lead: np.ndarray | None) -> np.ndarray:
    """(n, options) ranks 1..max_rank for max_rank distinct options, 0 elsewhere."""
    k = len(q.options)
    max_rank = int(q.max_rank or 3)
    noise = rng.random((n, k))
    if lead is not None:
        rows = np.flatnonzero(lead >= 0)
        noise[rows, lead[rows]] = -1.0  # the prototype goal comes first
    order = np.argsort(noise, axis=1)[:, :max_rank]
    ranks = np.zeros((n, k), dtype=np.int64)
    np.put_along_axis(ranks, order, np.arange(1, max_rank + 1)[None, :].repeat(n, 0), axis=1)
    return ranks


def synthetic_frame(n: int, seed: int = 0, codebook: Codebook | None = None) -> pl.DataFrame:
    """``n`` random municipalities as a raw frame with codebook column names and codes."""
    cb = codebook or default_codebook()
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray | list] = {}
    shares = np.array([*TYPE_SHARES, 1 - sum(TYPE_SHARES)])
    proto = rng.choice(5, size=n, p=shares)
    goal_q = cb.typology_question
    goal_ids = [o.id for o in goal_q.options]
    lead = np.array([goal_ids.index(g) for g in PROTOTYPE_GOALS] + [-1])[proto]
    lead = np.where(rng.random(n) < 0.9, lead, -1)
    untyped = proto == 4
    for q in cb.questions:
        if q.kind == "text":
            if q.role == "id":
                cols[q.id] = [f"S{i:07d}" for i in range(n)]
            continue
        if q.kind == "ranking":
            ranks = _ranking(q, n, rng, lead if q is goal_q else None)
            if q is goal_q:
                ranks = np.where(untyped[:, None], 0, ranks)  # untyped: nothing ranked
            for j, c in enumerate(q.columns):
                cols[c] = ranks[:, j]
        elif q.kind == "multiple":
            ticks = (rng.random((n, len(q.options))) < 0.35).astype(np.int64)
            excl = [j for j, o in enumerate(q.options) if o.exclusive]
            for j in excl:
                others = [i for i in range(len(q.options)) if i != j]
                none_ticked = ticks[:, others].sum(axis=1) == 0
                ticks[:, j] = none_ticked.astype(np.int64)
            for j, c in enumerate(q.columns):
                cols[c] = ticks[:, j]
        elif q.kind == "single":
            cols[q.id] = rng.choice(np.array(q.codes), size=n)
        elif q.kind == "ordinal":
            cols[q.id] = rng.integers(int(q.min or 0), int(q.max or 0) + 1, size=n)
        elif q.kind == "percentage":
            cols[q.id] = np.round(rng.uniform(0, 60, size=n), 1)
        elif q.id == "einwohner":
            cols[q.id] = np.round(np.exp(rng.normal(10.2, 1.2, size=n))).clip(500, 3_000_000)
        else:  # other numbers: inside their range
            lo, hi = q.min or 0, q.max if q.max is not None else 100
            vals = rng.uniform(lo, hi, size=n)
            cols[q.id] = np.round(vals) if q.integer else vals
    frame = pl.DataFrame(cols)
    # filters: respondents outside a question's filter leave it empty
    for q in cb.questions:
        if q.filter is None or q.kind == "text":
            continue
        asked = pl.col(q.filter.column(cb)).is_in(list(q.filter.in_))
        frame = frame.with_columns(
            [pl.when(asked).then(pl.col(c)).otherwise(None).alias(c) for c in q.columns]
        )
    integer_cols = [
        c
        for q in cb.questions
        if q.kind in ("single", "ordinal", "multiple", "ranking") or q.integer
        for c in q.columns
        if c in frame.columns
    ]
    return frame.with_columns(pl.col(integer_cols).cast(pl.Int64))


def write_synthetic_csv(path: str | Path, n: int, seed: int = 0) -> Path:
    """Write :func:`synthetic_frame` as a UTF-8 CSV (comma, header) and return the path."""
    path = Path(path)
    synthetic_frame(n, seed).write_csv(path)
    return path
