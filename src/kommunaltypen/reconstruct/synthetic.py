"""Larger synthetic samples drawn from the reconstruction's per-type distributions.

Each synthetic row gets a group (one of the four types or "untyped", with the
reconstruction's group shares) and, per question block, the answers of a random donor row of
the same group. Blocks that are linked by filters (strategy and its participants, fields of
action and OZG, base components and their operators) are drawn together, so every synthetic
row passes the same validation rules as the reconstruction. Fully vectorised (numpy).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import t

#: question ids drawn from one donor row together (filters link them).
LINKED_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("kommunenart", "bundesland", "einwohner", "welle"),
    ("ziele",),
    ("handlungsfelder", "ozg"),
    ("strategie", "anknuepfung", "strategiebeteiligte"),
    ("basiskomponenten", "betreiber_"),
    ("fortbildung_", "anteil_fortbildung_digital"),
)


def _blocks(codebook: Codebook) -> list[list[str]]:
    """Column groups: linked blocks as declared, every other question on its own."""
    blocks: list[list[str]] = []
    taken: set[str] = set()
    for linked in LINKED_BLOCKS:
        cols = []
        for q in codebook.questions:
            if q.role == "id" or q.id == "name":
                continue
            if any(q.id == p or (p.endswith("_") and q.id.startswith(p)) for p in linked):
                cols.extend(q.columns)
                taken.add(q.id)
        blocks.append(cols)
    for q in codebook.questions:
        if q.id not in taken and q.role != "id" and q.id != "name":
            blocks.append(list(q.columns))
    return blocks


def synthetic_sample(
    base: pl.DataFrame,
    n: int,
    seed: int,
    codebook: Codebook | None = None,
    group: np.ndarray | None = None,
) -> pl.DataFrame:
    """``n`` synthetic rows from ``base`` (the reconstruction); ``group`` labels each base row
    (type id or "untyped"); default: rows with a goal ranking vs the rest (no goal ranked)."""
    if n < 1:
        raise KommunaltypenError(t("reconstruct.bad_n", n=n))
    cb = codebook or default_codebook()
    rng = np.random.default_rng(seed)
    if group is None:
        ziele = base.select(cb.typology_question.columns).to_numpy()
        group = np.where(np.isnan(ziele.astype(float)).any(axis=1), "untyped", "typed")
    labels, inverse = np.unique(group, return_inverse=True)
    sizes = np.bincount(inverse)
    members = np.argsort(inverse, kind="stable")  # base rows, grouped
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    draw_group = rng.choice(len(labels), size=n, p=sizes / sizes.sum())
    g_start, g_size = starts[draw_group], sizes[draw_group]
    numeric = base.drop(["kommune_id", "name"])
    parts = []
    for cols in _blocks(cb):
        # one donor row of the same group per synthetic row and block
        donors = members[g_start + (rng.random(n) * g_size).astype(np.int64)]
        parts.append(numeric.select(cols)[pl.Series(donors)])
    frame = pl.concat(parts, how="horizontal")
    width = max(6, len(str(n)))
    ids = pl.format("S{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(width))
    return frame.with_columns(
        ids.alias("kommune_id"), pl.lit(None, dtype=pl.String).alias("name")
    ).select(list(cb.columns))
