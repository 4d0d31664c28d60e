"""Integer counts behind printed figures.

A printed share ``v`` with ``p`` decimals is consistent with ``k`` of ``n`` when
``100·k/n`` lies strictly inside ``(v − ½·10⁻ᵖ, v + ½·10⁻ᵖ)``; a printed mean likewise with a
sum ``s`` over ``n``. Boundary values (exactly half a unit away) are avoided so that any
rounding convention reproduces the printed figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

EPS = 1e-9


def tolerance(precision: int) -> float:
    return 0.5 * 10.0**-precision - EPS


def matches(x: float, value: float, precision: int) -> bool:
    """True when ``x`` prints as ``value`` at ``precision`` decimals (strictly, no ties)."""
    return abs(x - value) < tolerance(precision)


def candidates(
    value: float,
    precision: int,
    cap: int,
    *,
    scale: float = 100.0,
    kmax_per: int = 1,
    k0: int = 0,
    n0: int = 0,
    min_n: int = 1,
) -> Iterator[tuple[int, int]]:
    """All ``(n, k)`` with ``min_n <= n <= cap`` and ``0 <= k <= kmax_per·n`` such that
    ``scale·(k0 + k)/(n0 + n)`` prints as ``value``; largest ``n`` first, for each ``n`` the
    ``k`` closest to the exact target first.

    ``k0``/``n0`` are counts already fixed elsewhere (e.g. the four type columns when the
    untyped rows have to complete a "Gesamt" cell).
    """
    for n in range(cap, min_n - 1, -1):
        total = n0 + n
        if total <= 0:
            continue
        centre = value * total / scale - k0
        lo = max(0, math.floor(centre - 2))
        hi = min(kmax_per * n, math.ceil(centre + 2))
        for k in sorted(range(lo, hi + 1), key=lambda k: (abs(k - centre), k)):
            if matches(scale * (k0 + k) / total, value, precision):
                yield n, k


def nearest(
    value: float,
    cap: int,
    *,
    scale: float = 100.0,
    kmax_per: int = 1,
    k0: int = 0,
    n0: int = 0,
) -> tuple[int, int]:
    """The ``k`` (with ``n = cap``) whose figure is nearest to ``value`` (fallback when no
    count prints as the published figure)."""
    total = n0 + cap
    k = round(value * total / scale - k0)
    return cap, max(0, min(kmax_per * cap, k))
