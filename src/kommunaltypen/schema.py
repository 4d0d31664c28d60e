"""The canonical schema: the polars dtype of every codebook column (see
``docs/architecture.md``, "Canonical validated data").

It belongs to the codebook, below the readers and the validator: ``io`` (synthetic data,
writers), ``validate`` and the analysis all take the dtypes from here.
``kommunaltypen.validate`` re-exports these names for existing callers.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from kommunaltypen.codebook import Codebook, Question, default_codebook

#: question kinds whose columns hold whole numbers (codes, scale values, 0/1, ranks)
INT_KINDS = ("single", "ordinal", "multiple", "ranking")

#: signed integer dtypes from the narrowest: canonical integer columns use the first one that
#: holds every valid value (and the missing codes), so option columns take one byte per cell
_INT_DTYPES = ((pl.Int8, 7), (pl.Int16, 15), (pl.Int32, 31))


def value_bounds(q: Question) -> tuple[float, float] | None:
    """The smallest and largest valid value of a question's column(s), as the rules enforce
    them (codes, 0/1, ranks 0..max_rank, min..max); None if unbounded or not numeric."""
    if q.kind == "single":
        return float(min(q.codes)), float(max(q.codes))
    if q.kind == "multiple":
        return 0.0, 1.0
    if q.kind == "ranking":
        return 0.0, float(q.max_rank or 1)
    if q.kind in ("ordinal", "number", "percentage") and q.min is not None and q.max is not None:
        return float(q.min), float(q.max)
    return None


def is_integer_question(q: Question) -> bool:
    """Whether a question's columns hold whole numbers."""
    return q.kind in INT_KINDS or (q.kind == "number" and q.integer)


def dtype_of(q: Question, missing: Iterable[int] = ()) -> pl.DataType:
    """The canonical dtype of a question's column(s): text, a float, or the narrowest signed
    integer that holds every valid value (see :func:`value_bounds`) and the ``missing``
    codes. Validation checks on wide types and narrows only accepted rows, so a value out of
    the narrow range is reported by its rule, never cut off."""
    if q.kind == "text":
        return pl.String()
    if not is_integer_question(q):
        return pl.Float64()
    bounds = value_bounds(q)
    if bounds is None:
        return pl.Int64()
    lo, hi = min(bounds[0], *missing, 0), max(bounds[1], *missing, 0)
    for dtype, bits in _INT_DTYPES:
        if -(2**bits) <= lo and hi < 2**bits:
            return dtype()
    return pl.Int64()


def canonical_schema(codebook: Codebook | None = None) -> dict[str, pl.DataType]:
    """Every codebook column (in canonical order) with its canonical dtype."""
    cb = codebook or default_codebook()
    missing = sorted(cb.missing_values)
    return {c: dtype_of(q, missing) for q in cb for c in q.columns}


def empty_frame(codebook: Codebook | None = None) -> pl.DataFrame:
    """A frame with no rows and exactly the canonical columns and dtypes."""
    return pl.DataFrame(schema=canonical_schema(codebook))
