"""Reconstruction of the study's microdata from its published tables.

The study's 412 answers are not public. This module builds 412 anonymous municipalities
(ids K001…K412) whose answers reproduce every published cell of Tables 1–16 of the
Tabellenanhang of Krellmann, Opiela, Groß, Weber (2020): *Digitale Kommune: Eine Typfrage?*
(ÖFIT/KGSt, ISBN 978-3-948582-03-6, CC BY 3.0 DE). See ``docs/reconstruction.md``.

Outline (one *group* = one of the four types, or the 87 untyped municipalities):

1. Table 2 gives the type × Kommunengruppe counts; Table 1 the goal rankings of the typed
   rows (one integer program over ordered goal triples, pairs and singles, with k-means
   fixed-point constraints and cuts, so that blind k-means recovers the intended types with
   the printed centres; see :mod:`kommunaltypen.reconstruct.table1`);
   Table 3 the populations (grouped medians over the codebook's population classes).
2. Tables 4–16: for every printed cell the count ``k`` and base ``n`` are derived from the
   printed decimals: per question and group the respondents, and per option a base of at
   least ``MIN_ITEM_BASE`` of them (the others leave that option unanswered, written as
   "keine Angabe", -9), the largest that prints as published; the untyped group
   completes the "Gesamt" cells. Joint structure (shared respondents, exclusive options, mean
   counts, filters, ranking triples, operator shares) is solved per question block, with
   ``scipy.optimize.milp`` where a block needs it.
3. Cells for which no count prints as the published figure (the study's figures contradict
   each other) get the nearest feasible value and are recorded as inconsistencies.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import Bounds, LinearConstraint, milp

from kommunaltypen import i18n
from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.reconstruct import table1
from kommunaltypen.reconstruct.counts import candidates, matches, nearest
from kommunaltypen.reconstruct.figures import TOTAL, TYPE_LABELS, TYPES, figure
from kommunaltypen.reconstruct.kmeans_cuts import CUTS

UNTYPED = "untyped"
GROUPS: tuple[str, ...] = (*TYPES, UNTYPED)
N_TOTAL = 412
N_TYPED = 325
DEFAULT_SEED = 2019
#: smallest base accepted before a cell is declared inconsistent (share of the group).
MIN_BASE = 0.75
#: Table 12's printed shares imply low bases (e.g. 37–42 of 47 Bedächtige answered).
LOW_BASE = 0.6
#: smallest base of one option of a multiple-choice or ranking question, as a share of the
#: question's respondents (the rest left that option unanswered: item non-response).
MIN_ITEM_BASE = 0.85
#: the code written for item non-response ("keine Angabe"): validation reads it as missing
#: for that option only, while empty option cells of an answered question mean "not ticked".
ITEM_NONRESPONSE = -9

#: goal option ids in codebook order (the typology's feature order)
GOALS = tuple(o.id for o in default_codebook().typology_question.options)
KREISE, STAEDTE, GEMEINDEN = "kreise", "staedte", "gemeinden"
T2_COLUMNS = {KREISE: "... Kreise", STAEDTE: "... Städte", GEMEINDEN: "... Gemeinden"}
#: Kommunenart codes of the untyped municipalities (not published; plausible mix).
UNTYPED_KOMMUNEN = {1: 17, 2: 6, 3: 38, 4: 26}
#: Bundesländer with Kreise and Gemeinden (the city states are left out).
FLAECHENLAENDER = (1, 3, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16)
FLAECHEN_WEIGHTS = (3, 9, 20, 7, 5, 12, 14, 1, 5, 3, 6, 4, 4)


@dataclass
class Issue:
    """A published cell that no consistent count reproduces, and why (``reason_id``: the
    message ``reconstruct.reason.<id>`` with ``params``, in German and English)."""

    table: int
    row_label: str
    column_label: str
    reason_id: str
    published: str
    reconstructed: str
    params: dict[str, Any] = field(default_factory=dict)
    part: str = ""

    def reason(self, lang: str = "en") -> str:
        text = i18n.t(f"reconstruct.reason.{self.reason_id}", lang=lang, **self.params)
        return f"{self.part}: {text}" if self.part else text


@dataclass
class Result:
    frame: pl.DataFrame
    types: list[str | None]
    issues: list[Issue]
    counts: dict[tuple[int, str, str], dict[str, tuple[int, int]]] = field(default_factory=dict)


def fractions_with_sum(
    denom: np.ndarray, cap: np.ndarray, share: float, lo: float, hi: float
) -> np.ndarray | None:
    """Integers ``0 <= a_i <= cap_i`` with ``lo <= sum(a_i / denom_i) <= hi``, each ``a_i`` near
    ``share·denom_i`` (greedy local search over single and paired unit moves)."""
    a = np.minimum(np.floor(share * denom + 0.5), cap).astype(int)
    mid = (lo + hi) / 2
    values = np.unique(denom)
    for _ in range(10000):
        total = float((a / denom).sum())
        if lo <= total <= hi:
            return a
        moves = []
        for v in values:
            up = np.flatnonzero((denom == v) & (a < cap))
            down = np.flatnonzero((denom == v) & (a > 0))
            if len(up):
                moves.append((abs(total + 1 / v - mid), [(up[0], 1)]))
            if len(down):
                moves.append((abs(total - 1 / v - mid), [(down[0], -1)]))
            for w in values:
                if v == w:
                    continue
                down_w = np.flatnonzero((denom == w) & (a > 0))
                if len(up) and len(down_w):
                    moves.append((abs(total + 1 / v - 1 / w - mid), [(up[0], 1), (down_w[0], -1)]))
        if not moves:
            return None
        dist, best = min(moves, key=lambda mv: mv[0])
        if dist >= abs(total - mid):
            return None
        for i, step in best:
            a[i] += step
    return None


def shares_as_counts(shares: list[float], precision: int, limit: int) -> int | None:
    """The smallest total up to ``limit`` whose whole counts print as all ``shares`` (in %)
    and add up to it; None if there is none."""
    for total in range(1, limit + 1):
        options = []
        for v in shares:
            centre = math.floor(v * total / 100)
            options.append(
                [
                    k
                    for k in range(max(0, centre - 1), min(total, centre + 2) + 1)
                    if matches(100 * k / total, v, precision)
                ]
            )
        if all(options) and any(sum(c) == total for c in itertools.product(*options)):
            return total
    return None


def _fmt(x: float, precision: int) -> str:
    return f"{x:.{precision}f}"


class Builder:
    """Builds the reconstruction; see the module docstring."""

    def __init__(self, seed: int = DEFAULT_SEED, codebook: Codebook | None = None) -> None:
        self.cb = codebook or default_codebook()
        self.rng = np.random.default_rng(seed)
        self.sizes: dict[str, int] = {}
        self.data: dict[str, dict[str, np.ndarray]] = {}
        self.issues: list[Issue] = []
        self.achieved: dict[tuple[int, str, str], dict[str, tuple[int, int]]] = {}

    # ------------------------------------------------------------------ helpers
    def _init_groups(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.data = {g: {c: np.full(n, np.nan) for c in self.cb.columns} for g, n in sizes.items()}

    def col(self, g: str, column: str) -> np.ndarray:
        return self.data[g][column]

    def _column_label(self, g: str) -> str:
        return TOTAL if g == UNTYPED else TYPE_LABELS[g]

    def _target(self, table: int, row: str, g: str, part: str) -> tuple[float, int]:
        fig = figure(table, row, self._column_label(g))
        value = fig.value2 if part == "geplant" else fig.value
        assert value is not None
        return value, fig.precision

    def _offsets(self, table: int, row: str, g: str, part: str) -> tuple[int, int]:
        if g != UNTYPED:
            return 0, 0
        done = self.achieved.get((table, row, part), {})
        return sum(done[t][1] for t in TYPES), sum(done[t][0] for t in TYPES)

    def _record(self, table: int, row: str, g: str, part: str, n: int, k: int) -> None:
        self.achieved.setdefault((table, row, part), {})[g] = (n, k)

    def _issue(
        self,
        table: int,
        row: str,
        g: str,
        part: str,
        reason_id: str,
        n: int,
        k: int,
        scale: float,
        **params: Any,
    ) -> None:
        value, precision = self._target(table, row, g, part)
        k0, n0 = self._offsets(table, row, g, part)
        got = scale * (k0 + k) / (n0 + n) if n0 + n else float("nan")
        self.issues.append(
            Issue(
                table,
                row,
                self._column_label(g),
                reason_id,
                _fmt(value, precision),
                _fmt(got, precision),
                params,
                part,
            )
        )

    def cell_options(
        self,
        table: int,
        row: str,
        g: str,
        cap: int,
        *,
        part: str = "",
        scale: float = 100.0,
        kmax_per: int = 1,
        min_frac: float = MIN_BASE,
    ) -> list[tuple[int, int]]:
        value, precision = self._target(table, row, g, part)
        k0, n0 = self._offsets(table, row, g, part)
        min_n = 0 if g == UNTYPED else max(1, math.ceil(min_frac * cap))
        return list(
            candidates(
                value,
                precision,
                cap,
                scale=scale,
                kmax_per=kmax_per,
                k0=k0,
                n0=n0,
                min_n=min_n,
            )
        )

    def shared_base(
        self,
        table: int,
        specs: list[tuple[str, str]],
        g: str,
        cap: int,
        *,
        scale: float = 100.0,
        kmax_per: int = 1,
        limit: int | None = None,
        min_frac: float = MIN_BASE,
    ) -> tuple[int, list[int]]:
        """One base ``n`` for several cells (rows of the same single-choice question).

        ``specs`` are ``(row_label, part)``; ``limit`` caps the sum of the counts."""
        lo = 0 if g == UNTYPED else max(1, math.ceil(min_frac * cap))
        for n in range(cap, lo - 1, -1):
            ks = []
            for row, part in specs:
                opts = self.cell_options(
                    table, row, g, n, part=part, scale=scale, kmax_per=kmax_per, min_frac=1.0
                )
                opts = [o for o in opts if o[0] == n]
                if not opts:
                    break
                ks.append(opts[0][1])
            else:
                if limit is None or sum(ks) <= limit * n:
                    for (row, part), k in zip(specs, ks, strict=True):
                        self._record(table, row, g, part, n, k)
                    return n, ks
        ks = []
        for row, part in specs:
            value, _ = self._target(table, row, g, part)
            k0, n0 = self._offsets(table, row, g, part)
            _, k = nearest(value, cap, scale=scale, kmax_per=kmax_per, k0=k0, n0=n0)
            ok = [
                o
                for o in self.cell_options(
                    table, row, g, cap, part=part, scale=scale, kmax_per=kmax_per, min_frac=1.0
                )
                if o[0] == cap
            ]
            if ok:
                k = ok[0][1]
            else:
                self._issue(
                    table,
                    row,
                    g,
                    part,
                    "single_base",
                    cap,
                    k,
                    scale,
                )
            self._record(table, row, g, part, cap, k)
            ks.append(k)
        return cap, ks

    def distribute(self, n: int, total: int, lo: int, hi: int, spread: float) -> np.ndarray:
        """``n`` integers in ``[lo, hi]`` summing to ``total`` (seeded, around the mean)."""
        if n == 0:
            return np.zeros(0)
        mean = total / n
        vals = np.clip(np.rint(self.rng.normal(mean, spread, n)), lo, hi).astype(int)
        diff = total - int(vals.sum())
        while diff != 0:
            step = 1 if diff > 0 else -1
            movable = np.flatnonzero(vals < hi) if step > 0 else np.flatnonzero(vals > lo)
            idx = self.rng.choice(movable, size=min(abs(diff), len(movable)), replace=False)
            vals[idx] += step
            diff -= step * len(idx)
        return vals.astype(float)

    # ------------------------------------------------------------------ Table 2: composition
    def composition(self) -> dict[str, dict[str, int]]:
        """Type × Kommunengruppe counts of the typed municipalities (Table 2)."""
        row = {t: TYPE_LABELS[t] for t in TYPES}
        sizes = {}
        for t in TYPES:
            fig = figure(2, row[t], "... Allen")
            sizes[t] = round(fig.value * N_TYPED / 100)
        # column totals: the smallest set of misses with k summing to the column total
        per_col: dict[str, dict[int, tuple[int, list[int]]]] = {}
        for grp, label in T2_COLUMNS.items():
            per_col[grp] = {}
            for total in range(1, N_TYPED + 1):
                ks = [round(figure(2, row[t], label).value * total / 100) for t in TYPES]
                if sum(ks) != total:
                    continue
                misses = sum(
                    not matches(100 * k / total, figure(2, row[t], label).value, 1)
                    for t, k in zip(TYPES, ks, strict=True)
                )
                per_col[grp][total] = (misses, ks)
        best = None
        for nk, (mk, kk) in per_col[KREISE].items():
            for ns, (ms, ks) in per_col[STAEDTE].items():
                ng = N_TYPED - nk - ns
                if ng not in per_col[GEMEINDEN]:
                    continue
                mg, kg = per_col[GEMEINDEN][ng]
                if any(a + b + c != sizes[t] for t, a, b, c in zip(TYPES, kk, ks, kg, strict=True)):
                    continue
                key = (mk + ms + mg, -nk)
                if best is None or key < best[0]:
                    best = (key, {KREISE: kk, STAEDTE: ks, GEMEINDEN: kg})
        assert best is not None, "Table 2 has no consistent composition"
        comp = {t: {grp: best[1][grp][i] for grp in T2_COLUMNS} for i, t in enumerate(TYPES)}
        for grp, label in T2_COLUMNS.items():
            total = sum(comp[t][grp] for t in TYPES)
            for t in TYPES:
                fig = figure(2, row[t], label)
                if not matches(100 * comp[t][grp] / total, fig.value, 1):
                    shares = [figure(2, row[u], label).value for u in TYPES]
                    alone = shares_as_counts(shares, 1, N_TOTAL)
                    self.issues.append(
                        Issue(
                            2,
                            row[t],
                            label,
                            "column_sum" if alone is None else "column_joint",
                            _fmt(fig.value, 1),
                            _fmt(100 * comp[t][grp] / total, 1),
                            {"limit": N_TOTAL} if alone is None else {},
                        )
                    )
        return comp

    # ------------------------------------------------------------------ Table 1: goal rankings
    def table1_centres(self) -> np.ndarray:
        """The printed Table 1 centres (types × goals, codebook goal order)."""
        return np.array(
            [
                [
                    figure(1, self.cb.typology_question.options[j].label_de, TYPE_LABELS[t]).value
                    for j in range(len(GOALS))
                ]
                for t in TYPES
            ]
        )

    def rankings(self) -> None:
        """Goal rankings of the typed rows (see :mod:`kommunaltypen.reconstruct.table1`)."""
        centres = self.table1_centres()
        sizes = [self.sizes[t] for t in TYPES]
        counts = table1.solve_counts(centres, sizes, [(d, np.array(a)) for d, a in CUTS])
        for ti, t in enumerate(TYPES):
            m = sizes[ti]
            chosen = np.repeat(np.arange(len(table1.PATTERNS)), counts[ti])
            self.rng.shuffle(chosen)
            for goal in GOALS:
                self.col(t, f"ziele_{goal}")[:] = 0
            for i, pi in enumerate(chosen):
                for rank, goal_idx in enumerate(table1.PATTERNS[pi], start=1):
                    self.col(t, f"ziele_{GOALS[goal_idx]}")[i] = rank
            got = table1.POINTS[chosen].sum(axis=0)
            for j in range(len(GOALS)):
                if not matches(got[j] / m, centres[ti, j], 2):
                    self.issues.append(
                        Issue(
                            1,
                            self.cb.typology_question.options[j].label_de,
                            TYPE_LABELS[t],
                            "centre_fraction",
                            _fmt(centres[ti, j], 2),
                            _fmt(got[j] / m, 2),
                            {"members": m},
                        )
                    )

    # ------------------------------------------------------------------ Table 3: populations
    def populations(self, comp: dict[str, dict[str, int]]) -> None:
        classes = self.cb.population_classes
        for t in TYPES:
            art = self.col(t, "kommunenart")
            for col_label, is_kreis in (("In Kreisen", True), ("In Städten und Gemeinden", False)):
                idx = np.flatnonzero((art == 1) if is_kreis else (art != 1))
                n = len(idx)
                target = figure(3, TYPE_LABELS[t], col_label).value
                best = None
                for ci, (lo, hi) in enumerate(classes):
                    if hi is None or ci == 0:
                        continue
                    w = hi - lo
                    for below in range(1, n):
                        for f in range(1, n - below):
                            if not (below < n / 2 <= below + f):
                                continue
                            if not matches(lo + (n / 2 - below) / f * w, target, 0):
                                continue
                            key = abs(below - (n - below - f))
                            if best is None or key < best[0]:
                                best = (key, ci, below, f)
                assert best is not None, f"Table 3: no grouped median for {t} {col_label}"
                _, ci, below, f = best
                above = n - below - f
                lo_c, hi_c = classes[ci]
                prev_lo, prev_hi = classes[ci - 1]
                next_lo, next_hi = classes[ci + 1]
                next_hi = next_hi or next_lo * 2
                pops = np.concatenate(
                    [
                        self.rng.integers(int(prev_lo), int(prev_hi), below),
                        self.rng.integers(int(lo_c), int(hi_c), f),
                        self.rng.integers(int(next_lo), int(next_hi), above),
                    ]
                )
                pops.sort()
                if is_kreis:
                    self.rng.shuffle(pops)
                    self.col(t, "einwohner")[idx] = pops
                else:
                    # Gemeinden get the smallest, kreisfreie Städte the largest populations
                    gem = idx[art[idx] == 4]
                    sta = idx[art[idx] != 4]
                    self.rng.shuffle(gem)
                    self.rng.shuffle(sta)
                    ordered = np.concatenate([gem, sta])
                    self.col(t, "einwohner")[ordered] = pops
                    big_city = (art[idx] != 4) & (self.col(t, "einwohner")[idx] >= 100000)
                    art[idx[big_city]] = 2
        # untyped: plausible populations by kind
        art = self.col(UNTYPED, "kommunenart")
        ranges = {1: (60000, 400000), 2: (100000, 600000), 3: (8000, 90000), 4: (1000, 15000)}
        pops = self.col(UNTYPED, "einwohner")
        for code, (lo, hi) in ranges.items():
            sel = np.flatnonzero(art == code)
            pops[sel] = self.rng.integers(lo, hi, len(sel))

    def stammdaten(self, comp: dict[str, dict[str, int]]) -> None:
        for t in TYPES:
            codes = np.concatenate(
                [
                    np.full(comp[t][KREISE], 1),
                    np.full(comp[t][STAEDTE], 3),
                    np.full(comp[t][GEMEINDEN], 4),
                ]
            ).astype(float)
            self.rng.shuffle(codes)
            self.col(t, "kommunenart")[:] = codes
        codes = np.concatenate([np.full(v, k) for k, v in UNTYPED_KOMMUNEN.items()]).astype(float)
        self.rng.shuffle(codes)
        self.col(UNTYPED, "kommunenart")[:] = codes
        weights = np.array(FLAECHEN_WEIGHTS, dtype=float)
        for g in GROUPS:
            n = self.sizes[g]
            self.col(g, "bundesland")[:] = self.rng.choice(
                FLAECHENLAENDER, size=n, p=weights / weights.sum()
            )
            self.col(g, "welle")[:] = 2019

    # ------------------------------------------------------------------ generic multiple block
    def _respondents(self, g: str, eligible: np.ndarray, n: int) -> np.ndarray:
        pool = np.array(eligible, dtype=int)
        self.rng.shuffle(pool)
        return pool[:n]

    def fill_multiple(
        self,
        g: str,
        question: str,
        respondents: np.ndarray,
        ticks: dict[str, int],
        bases: dict[str, int],
        exclusive: tuple[str, int] | None = None,
        cover_with: tuple[str, ...] = (),
        balance: bool = True,
    ) -> None:
        """Write a multiple-choice block of one group.

        ``ticks[o]``: rows ticking option ``o``; ``bases[o]``: rows with a non-null ``o``
        column (<= len(respondents)); ``exclusive``: (option, count) ticked alone;
        ``cover_with``: unpublished options used to give every active row at least one tick;
        ``balance``: spread ticks evenly over rows (else: at random, more varied counts).
        """
        q = self.cb.question(question)
        opts = [o.id for o in q.options]
        nq = len(respondents)
        for o in opts:
            self.col(g, f"{question}_{o}")[respondents] = 0
        tick_count = np.zeros(nq, dtype=int)
        active = np.ones(nq, dtype=bool)
        if exclusive:
            ex_opt, ex_k = exclusive
            self.col(g, f"{question}_{ex_opt}")[respondents[:ex_k]] = 1
            active[:ex_k] = False
            tick_count[:ex_k] = 99
        ticked: dict[str, np.ndarray] = {}
        for o in sorted(ticks, key=lambda o: -ticks[o]):
            k = ticks[o]
            pool = np.flatnonzero(active)
            assert k <= len(pool), f"{question}_{o}: {k} ticks for {len(pool)} rows ({g})"
            noise = self.rng.random(len(pool))
            order = (
                pool[np.lexsort((noise, tick_count[pool]))] if balance else pool[np.argsort(noise)]
            )
            chosen = order[:k]
            tick_count[chosen] += 1
            ticked[o] = chosen
            self.col(g, f"{question}_{o}")[respondents[chosen]] = 1
        for o in cover_with:
            pool = np.flatnonzero(active & (tick_count == 0))
            take = pool[: math.ceil(len(pool) / max(1, len(cover_with) - cover_with.index(o)))]
            tick_count[take] += 1
            self.col(g, f"{question}_{o}")[respondents[take]] = 1
        self._null_out(
            g,
            [f"{question}_{o}" for o in opts],
            respondents,
            {f"{question}_{o}": n for o, n in bases.items()},
        )

    def _null_out(
        self, g: str, columns: list[str], respondents: np.ndarray, bases: dict[str, int]
    ) -> None:
        """Item non-response: set ``len(respondents) - bases[o]`` zero cells of column ``o``
        to the "keine Angabe" code, keeping at least one answered column per respondent."""
        nq = len(respondents)
        nonnull = np.full(nq, len(columns))
        for column_name in columns:
            drop = nq - bases.get(column_name, nq)
            if drop <= 0:
                continue
            column = self.col(g, column_name)
            cand = np.flatnonzero(column[respondents] == 0)
            noise = self.rng.random(len(cand))
            cand = cand[np.lexsort((noise, -nonnull[cand]))]
            assert len(cand) >= drop and nonnull[cand[:drop]].min() > 1, column_name
            column[respondents[cand[:drop]]] = ITEM_NONRESPONSE
            nonnull[cand[:drop]] -= 1

    def common_base(
        self, table: int, labels: list[str], g: str, cap: int, extra_cost=None
    ) -> tuple[int, dict[str, int], dict[str, int]]:
        """Respondents ``n`` of a multiple-choice or ranking question and, per row, its base
        and count. A row's base is ``n`` or, where no count of ``n`` prints as published, the
        largest smaller base (at least ``MIN_ITEM_BASE·n``) that does: the difference are
        respondents who left that option unanswered (item non-response). ``n`` is the one
        with the fewest rows that print differently (then the fewest unanswered options, then
        the largest ``n``); rows no base fits get the nearest count of ``n``.

        Returns ``(n, counts, bases)`` keyed by row label."""
        lo = 0 if g == UNTYPED else max(1, math.ceil(MIN_BASE * cap))
        best: tuple[float, int, dict[str, int], dict[str, int]] | None = None
        for n in range(cap, lo - 1, -1):
            item_lo = max(1, math.ceil(MIN_ITEM_BASE * n)) if n else 0
            ks: dict[str, int] = {}
            ns: dict[str, int] = {}
            cost = 0.0
            for label in labels:
                opts = self.cell_options(table, label, g, n, min_frac=MIN_ITEM_BASE)
                opts = [o for o in opts if item_lo <= o[0] <= n][:1]  # largest base first
                if opts:
                    ns[label], ks[label] = opts[0]
                    cost += 1e-3 * (n - opts[0][0])
                    continue
                value, precision = self._target(table, label, g, "")
                k0, n0 = self._offsets(table, label, g, "")
                _, k = nearest(value, n, k0=k0, n0=n0)
                got = 100 * (k0 + k) / (n0 + n) if n0 + n else 0.0
                cost += 1 + abs(got - value) * 10**precision
            if extra_cost is not None:
                cost += extra_cost(n, ks, ns)
            if best is None or cost < best[0] - 1e-12:
                best = (cost, n, ks, ns)
            if cost == 0:
                break
        assert best is not None
        _, n, ks, ns = best
        for label in labels:
            if label in ks:
                self._record(table, label, g, "", ns[label], ks[label])
                continue
            value, _ = self._target(table, label, g, "")
            k0, n0 = self._offsets(table, label, g, "")
            _, k = nearest(value, n, k0=k0, n0=n0)
            bases = [b for b, _ in self.cell_options(table, label, g, cap, min_frac=0.0)]
            if not bases:
                self._issue(table, label, g, "", "no_base", n, k, 100, size=cap)
            else:
                share = round(100 * (1 - MIN_ITEM_BASE))
                self._issue(
                    table, label, g, "", "item_base", n, k, 100, share=share, largest=max(bases)
                )
            self._record(table, label, g, "", n, k)
            ks[label], ns[label] = k, n
        return n, ks, ns

    def multiple_rows(
        self,
        table: int,
        g: str,
        question: str,
        rows: dict[str, str],
        cap: int,
    ) -> tuple[int, dict[str, int], dict[str, int]]:
        """Respondents, and per published row's option: count and base of one group."""
        n, ks, ns = self.common_base(table, list(rows), g, cap)
        return n, {rows[lb]: k for lb, k in ks.items()}, {rows[lb]: b for lb, b in ns.items()}

    def plain_multiple(self, table: int, question: str, rows: dict[str, str]) -> None:
        for g in GROUPS:
            cap = self.sizes[g]
            nq, ticks, bases = self.multiple_rows(table, g, question, rows, cap)
            resp = self._respondents(g, np.arange(cap), nq)
            self.fill_multiple(g, question, resp, ticks, bases)

    def exclusive_multiple(
        self,
        table: int,
        question: str,
        rows: dict[str, str],
        exclusive_label: str,
        exclusive_opt: str,
        cover_with: tuple[str, ...] = (),
    ) -> None:
        for g in GROUPS:
            cap = self.sizes[g]
            nq, ticks, bases = self.multiple_rows(
                table, g, question, {**rows, exclusive_label: exclusive_opt}, cap
            )
            k_ex = ticks.pop(exclusive_opt)
            if max(ticks.values()) > nq - k_ex:
                raise AssertionError(f"table {table} {g}: exclusive option leaves too few rows")
            resp = self._respondents(g, np.arange(cap), nq)
            self.fill_multiple(g, question, resp, ticks, bases, (exclusive_opt, k_ex), cover_with)

    def filtered_multiple(
        self, table: int, question: str, rows: dict[str, str], eligible_fn
    ) -> None:
        for g in GROUPS:
            eligible = np.flatnonzero(eligible_fn(g))
            cap = len(eligible)
            nq, ticks, bases = self.multiple_rows(table, g, question, rows, cap)
            resp = self._respondents(g, eligible, nq)
            self.fill_multiple(g, question, resp, ticks, bases)

    # ------------------------------------------------------------------ Table 4 (+ OZG of 9)
    def handlungsfelder(self) -> None:
        q = self.cb.question("handlungsfelder")
        fields = [o.id for o in q.options]
        top1 = ("Verwaltung (als wichtigstes Handlungsfeld)", "verwaltung")
        top2 = (
            "Digitale Infrastruktur (unter den 2 wichtigsten Handlungsfeldern)",
            "infrastruktur",
        )
        top3 = {
            "Wirtschaft und Handel": "wirtschaft_handel",
            "Bildung, Kultur und Wissenschaft": "bildung",
            "Verkehr und Mobilität": "verkehr",
            "Sicherheit": "sicherheit",
            "Energie und Umwelt": "energie_umwelt",
            "Gesundheit und Pflege": "gesundheit",
        }
        ozg_row = (
            "Berücksichtigung OZG bei Verwaltungshandeln als prioritäres Handlungsfeld der "
            "Digitalstrategie"
        )
        patterns = list(itertools.permutations(range(len(fields)), 3))
        pat = np.array(patterns)
        fi = {f: i for i, f in enumerate(fields)}
        in_top3 = np.zeros((len(fields), len(patterns)))
        for j in range(3):
            in_top3[pat[:, j], np.arange(len(patterns))] = 1
        for g in GROUPS:
            cap = self.sizes[g]
            labels = {top1[0]: top1[1], top2[0]: top2[1], **top3}
            nq, ks, ns = self.common_base(4, list(labels), g, cap)
            counts = {labels[label]: k for label, k in ks.items()}
            bases = {labels[label]: b for label, b in ns.items()}
            a_eq, b_eq = [np.ones(len(patterns))], [nq]
            a_eq.append((pat[:, 0] == fi["verwaltung"]).astype(float))
            b_eq.append(counts["verwaltung"])
            a_eq.append(
                ((pat[:, 0] == fi["infrastruktur"]) | (pat[:, 1] == fi["infrastruktur"])).astype(
                    float
                )
            )
            b_eq.append(counts["infrastruktur"])
            for f in top3.values():
                a_eq.append(in_top3[fi[f]])
                b_eq.append(counts[f])
            a_ub = [in_top3[fi["verwaltung"]], in_top3[fi["infrastruktur"]]]
            b_ub = [bases["verwaltung"], bases["infrastruktur"]]
            c = -in_top3[fi["verwaltung"]] + self.rng.uniform(0, 1e-3, len(patterns))
            res = milp(
                c,
                integrality=np.ones(len(patterns)),
                bounds=Bounds(0, nq),
                constraints=[
                    LinearConstraint(np.array(a_eq), b_eq, b_eq),
                    LinearConstraint(np.array(a_ub), -np.inf, b_ub),
                ],
            )
            assert res.success, f"Table 4 rankings infeasible for {g}"
            x = np.rint(res.x).astype(int)
            chosen = np.repeat(np.arange(len(patterns)), x)
            self.rng.shuffle(chosen)
            resp = self._respondents(g, np.arange(cap), nq)
            for f in fields:
                self.col(g, f"handlungsfelder_{f}")[resp] = 0
            for r, pi in zip(resp, chosen, strict=True):
                for rank, f_idx in enumerate(patterns[pi], start=1):
                    self.col(g, f"handlungsfelder_{fields[f_idx]}")[r] = rank
            self._null_out(
                g,
                [f"handlungsfelder_{f}" for f in fields],
                resp,
                {f"handlungsfelder_{f}": n for f, n in bases.items()},
            )
            # OZG: asked where Verwaltung is ranked 1-3
            eligible = np.flatnonzero(np.isin(self.col(g, "handlungsfelder_verwaltung"), [1, 2, 3]))
            n_o, (k_o,) = self.shared_base(9, [(ozg_row, "")], g, len(eligible))
            ozg_resp = self._respondents(g, eligible, n_o)
            self.col(g, "ozg")[ozg_resp] = 0
            self.col(g, "ozg")[ozg_resp[:k_o]] = 1

    # ------------------------------------------------------------------ Tables 5 and 6
    def strategie(self) -> None:
        s_rows = [("Strategie vorhanden", ""), ("Strategie in Entwicklung", "")]
        anchors = {
            "Bedeutung Gesamtstrategie": "gesamtstrategie",
            "Bedeutung IT-Strategie": "it_strategie",
            "Bedeutung Stadt- bzw. Kreisentwicklungskonzept": "entwicklungskonzept",
            "Bedeutung Schul- und Medienentwicklungskonzept": "schulkonzept",
            "Bedeutung Wirtschaftsförderungskonzept": "wirtschaftskonzept",
            "Bedeutung Digitalisierungsstrategie des Kreises bzw. der kreisangehörigen Gemeinden": (
                "strategie_kreis_gemeinden"
            ),
            "Bedeutung Digitalisierungsstrategie von Bund und Land": "strategie_bund_land",
        }
        mean_row = "Summe der Anknüpfungspunkte (aus 7)"
        none_row = "Keine Bedeutung/Anknüpfungspunkte"
        for g in GROUPS:
            cap = self.sizes[g]
            n_s, (k1, k2) = self.shared_base(5, s_rows, g, cap, limit=1)
            resp = self._respondents(g, np.arange(cap), n_s)
            values = np.full(n_s, 3.0)
            values[:k1] = 1
            values[k1 : k1 + k2] = 2
            self.rng.shuffle(values)
            self.col(g, "strategie")[resp] = values
            # anchors: choose per-row (n, k) so that the mean count and "none" cells hold too
            all_opts = {label: self.cell_options(5, label, g, n_s) for label in anchors}
            # "Summe …" is the sum of the seven shares, each over its own base (share_sum)
            mv, mp = self._target(5, mean_row, g, "")

            def share_sum(combo: tuple[tuple[int, int], ...], g: str = g) -> float:
                out = 0.0
                for lb, (n, k) in zip(anchors, combo, strict=True):
                    k0, n0 = self._offsets(5, lb, g, "")
                    out += (k0 + k) / (n0 + n) if n0 + n else 0.0
                return out

            nv, np_ = self._target(5, none_row, g, "")
            nk0, nn0 = self._offsets(5, none_row, g, "")
            best = None
            lo_base = 0 if g == UNTYPED else math.ceil(MIN_BASE * n_s)
            for common in range(n_s, lo_base - 1, -1):
                per_row = []
                for label in anchors:
                    all_opts[label] = all_opts[label] or []
                    at = [o for o in all_opts[label] if o[0] == common][:1]
                    # else: the largest base with a few anchors left unanswered
                    item_lo = max(1, math.ceil(MIN_ITEM_BASE * common)) if common else 0
                    below = [o for o in all_opts[label] if item_lo <= o[0] < common][:1]
                    fallback = [
                        nearest(
                            self._target(5, label, g, "")[0],
                            common,
                            k0=self._offsets(5, label, g, "")[0],
                            n0=self._offsets(5, label, g, "")[1],
                        )
                    ]
                    per_row.append(at or below + fallback)
                for combo in itertools.product(*per_row):
                    ns = [c[0] for c in combo]
                    ks = [c[1] for c in combo]
                    total = sum(ks)
                    nq = common  # the respondents; a row's base may be a little smaller
                    summe = share_sum(combo)
                    mean_ok = matches(summe, mv, mp)
                    rows_cost = 0.0
                    for lb, (n, k) in zip(anchors, combo, strict=True):
                        k0, n0 = self._offsets(5, lb, g, "")
                        got_row = 100 * (k0 + k) / (n0 + n) if n0 + n else 0.0
                        target = self._target(5, lb, g, "")[0]
                        if not matches(got_row, target, 1):
                            rows_cost += 1 + abs(got_row - target) * 10
                    for active in range(max(ks), min(nq, total) + 1):
                        none = n_s - active
                        got = 100 * (nk0 + none) / (nn0 + n_s)
                        none_ok = matches(got, nv, np_)
                        mean_err = abs(summe - mv) * 10**mp
                        cost = (
                            rows_cost
                            + (0 if mean_ok else 1 + mean_err)
                            + (0 if none_ok else 1 + abs(got - nv) * 10**np_)
                        )
                        # then the fewest missing cells (the largest bases), then the fewest
                        # of them left unanswered item by item (rather than the whole question)
                        score = (-round(cost, 6), sum(ns), -sum(common - b for b in ns))
                        if best is None or score > best[0]:
                            best = (score, combo, nq, active)
            assert best is not None
            _, combo, nq, active = best
            total = sum(c[1] for c in combo)
            for (label, _opt), (n, k) in zip(anchors.items(), combo, strict=True):
                self._record(5, label, g, "", n, k)
                fig = self._target(5, label, g, "")
                k0, n0 = self._offsets(5, label, g, "")
                if not matches(100 * (k0 + k) / (n0 + n), *fig):
                    self._issue(
                        5,
                        label,
                        g,
                        "",
                        "anchor_base",
                        n,
                        k,
                        100,
                    )
            self._record(5, mean_row, g, "", nq, total)
            self._record(5, none_row, g, "", n_s, n_s - active)
            if not matches(share_sum(combo), mv, mp):
                self.issues.append(
                    Issue(
                        5,
                        mean_row,
                        self._column_label(g),
                        "anchor_sum",
                        _fmt(mv, mp),
                        _fmt(share_sum(combo), mp),
                    )
                )
            if not matches(100 * (nk0 + n_s - active) / (nn0 + n_s), nv, np_):
                self._issue(
                    5,
                    none_row,
                    g,
                    "",
                    "strategy_none",
                    n_s,
                    n_s - active,
                    100,
                )
            ticks = {opt: k for opt, (n, k) in zip(anchors.values(), combo, strict=True)}
            bases = {opt: n for opt, (n, k) in zip(anchors.values(), combo, strict=True)}
            bases["keine"] = nq
            a_resp = self._respondents(g, resp, nq)
            self.fill_multiple(g, "anknuepfung", a_resp, ticks, bases, ("keine", nq - active))
        rows6 = {
            "eigener Verwaltung": "verwaltung",
            "externen Beratern": "berater",
            "anderen Kommunen": "kommunen",
            "ausgewählten Akteuren": "ausgewaehlte_akteure",
            "kommunalen Unternehmen": "kommunale_unternehmen",
            "allen interessierten Akteuren der örtlichen Gemeinschaft": "alle_akteure",
            "IT-Unternehmen": "it_unternehmen",
        }
        self.filtered_multiple(
            6,
            "strategiebeteiligte",
            rows6,
            lambda g: np.isin(self.col(g, "strategie"), [1, 2]),
        )

    # ------------------------------------------------------------------ Table 9
    def basiskomponenten(self) -> None:
        rows = {
            "Chatbots": "chatbots",
            "Mobile Apps": "mobile_apps",
            "Dokumentenmanagementsystem (DMS)": "dms",
            "De-Mail": "de_mail",
        }
        free = {
            "formularserver": 0.5,
            "e_payment": 0.45,
            "servicekonto": 0.3,
            "eid": 0.25,
            "verwaltungspostfach": 0.2,
            "suchfunktion": 0.6,
        }
        mean_row = "Anzahl eingesetzter Basiskomponenten (aus 10)"
        comps = [o.id for o in self.cb.question("basiskomponenten").options]
        for g in GROUPS:
            cap = self.sizes[g]

            def mean_cost(n: int, ks: dict[str, int], ns: dict[str, int], g: str = g) -> float:
                published = sum(ks.values())
                for n_opt, total in self.cell_options(
                    9, mean_row, g, n, scale=1.0, kmax_per=10, min_frac=1.0
                ):
                    if n_opt == n and 0 <= total - published <= 6 * n:
                        return 0.0
                return 100.0

            nq, ks, ns = self.common_base(9, list(rows), g, cap, mean_cost)
            ticks = {rows[label]: k for label, k in ks.items()}
            bases = {rows[label]: b for label, b in ns.items()}
            published = sum(ticks.values())
            chosen = None
            for n_opt, total in self.cell_options(
                9, mean_row, g, nq, scale=1.0, kmax_per=10, min_frac=1.0
            ):
                extra = total - published
                if n_opt == nq and 0 <= extra <= len(free) * nq:
                    chosen = total
                    break
            assert chosen is not None, f"Table 9 mean count infeasible for {g}"
            total = chosen
            self._record(9, mean_row, g, "", nq, total)
            extra = total - published
            w = np.array(list(free.values()))
            alloc = np.minimum(np.floor(extra * w / w.sum()).astype(int), nq)
            i = 0
            while alloc.sum() < extra:
                if alloc[i % len(alloc)] < nq:
                    alloc[i % len(alloc)] += 1
                i += 1
            ticks.update(dict(zip(free, alloc.tolist(), strict=True)))
            resp = self._respondents(g, np.arange(cap), nq)
            self.fill_multiple(g, "basiskomponenten", resp, ticks, bases, balance=False)
        self.betreiber(comps)

    def betreiber(self, comps: list[str]) -> None:
        rows = {
            2: "Anteil der von kommunalen IT-Dienstleistern betriebenen Basiskomponenten",
            3: "Anteil der von privatwirtschaftlichen IT-Dienstleistern betriebenen "
            "Basiskomponenten",
        }
        done_sum = {2: 0.0, 3: 0.0}
        done_m = 0
        for g in GROUPS:
            used = np.column_stack([self.col(g, f"basiskomponenten_{c}") == 1 for c in comps])
            d = used.sum(axis=1)
            base = np.flatnonzero(d > 0)
            m = len(base)
            dd = d[base].astype(float)
            mm = m + (done_m if g == UNTYPED else 0)
            arrays = {}
            room = dd.copy()
            for code in (2, 3):
                value, precision = self._target(9, rows[code], g, "")
                tol = 0.9 * 0.5 * 10.0**-precision
                off = done_sum[code] if g == UNTYPED else 0.0
                lo = (value - tol) / 100 * mm - off
                hi = (value + tol) / 100 * mm - off
                arr = fractions_with_sum(dd, room, value / 100, lo, hi)
                if arr is None:
                    raise AssertionError(f"Table 9 operator shares infeasible for {g}")
                arrays[code] = arr
                room = room - arr
            a, b = arrays[2], arrays[3]
            for code, arr in ((2, a), (3, b)):
                if g != UNTYPED:
                    done_sum[code] += float((arr / dd).sum())
                self._record(9, rows[code], g, "", m, int(arr.sum()))
            if g != UNTYPED:
                done_m += m
            for i, r in enumerate(base):
                comp_idx = np.flatnonzero(used[r])
                self.rng.shuffle(comp_idx)
                codes = [2] * a[i] + [3] * b[i] + [1] * (len(comp_idx) - a[i] - b[i])
                for ci, code in zip(comp_idx, codes, strict=True):
                    self.col(g, f"betreiber_{comps[ci]}")[r] = code

    # ------------------------------------------------------------------ single and means
    def single(self, table: int, label: str, column: str) -> None:
        for g in GROUPS:
            cap = self.sizes[g]
            n, (k,) = self.shared_base(table, [(label, "")], g, cap)
            resp = self._respondents(g, np.arange(cap), n)
            self.col(g, column)[resp] = 0
            self.col(g, column)[resp[:k]] = 1

    def mean(self, table: int, label: str, column: str, lo: int, hi: int, spread: float) -> None:
        for g in GROUPS:
            cap = self.sizes[g]
            n, (total,) = self.shared_base(table, [(label, "")], g, cap, scale=1.0, kmax_per=hi)
            resp = self._respondents(g, np.arange(cap), n)
            self.col(g, column)[resp] = self.distribute(n, total, lo, hi, spread)

    def fortbildung(self) -> None:
        items = {
            "Fachverfahren und Anwendungen": "fortbildung_fachverfahren",
            "Technologische Trends": "fortbildung_trends",
            "Arbeitsweisen und Methoden": "fortbildung_methoden",
            "Digitale Arbeitsorganisation": "fortbildung_arbeitsorganisation",
            "Führungskräfte in der Digitalisierung": "fortbildung_fuehrung",
        }
        for label, column in items.items():
            for g in GROUPS:
                cap = self.sizes[g]
                n, (k1, k2) = self.shared_base(
                    12,
                    [(label, "angeboten"), (label, "geplant")],
                    g,
                    cap,
                    limit=1,
                    min_frac=LOW_BASE,
                )
                resp = self._respondents(g, np.arange(cap), n)
                values = np.zeros(n)
                values[:k1] = 1
                values[k1 : k1 + k2] = 2
                self.col(g, column)[resp] = values
        self.mean(
            12,
            "Anteil an Fortbildungen mit Digitalisierungsbezug (Schätzung)",
            "anteil_fortbildung_digital",
            0,
            100,
            12.0,
        )
        self.mean(
            12,
            "Selbsteinschätzung Mitarbeitendenbeteiligung (Skala: 0 bis 4)",
            "mitarbeitendenbeteiligung",
            0,
            4,
            0.8,
        )

    def selbsteinschaetzung(self) -> None:
        shift = {"bedaechtige": -0.4, "optimierer": 0.2, "serviceorientierte": 0.1}
        for g in GROUPS:
            n = self.sizes[g]
            for column in ("digitalisierungsgrad", "innovationsfreude"):
                vals = np.clip(np.rint(self.rng.normal(3 + shift.get(g, 0.0), 0.8, n)), 1, 5)
                vals[self.rng.random(n) < 0.04] = np.nan
                self.col(g, column)[:] = vals

    # ------------------------------------------------------------------ assembly
    def build(self) -> Result:
        comp = self.composition()
        sizes = {t: sum(comp[t].values()) for t in TYPES}
        sizes[UNTYPED] = N_TOTAL - N_TYPED
        self._init_groups(sizes)
        self.stammdaten(comp)
        self.rankings()
        self.populations(comp)
        self.handlungsfelder()
        self.strategie()
        roles = {
            "HVB": "hvb",
            "CIO": "cio",
            "CDO": "cdo",
            "Fachbereich IT": "fb_it",
            "Fachbereich Organisation": "fb_organisation",
            "Zentrale Steuerungsunterstützung": "steuerungsunterstuetzung",
            "Fachdezernate": "fachdezernate",
        }
        self.plain_multiple(7, "verantwortung_verwaltung", roles)
        self.plain_multiple(8, "verantwortung_gemeinschaft", roles)
        self.basiskomponenten()
        self.single(10, "Bekanntheit FIM", "fim")
        self.mean(
            11,
            "Grad der systematischen Bestandsaufnahme von Daten (Skala: 0 bis 3)",
            "datenbestandsaufnahme",
            0,
            3,
            0.8,
        )
        self.mean(
            11,
            "Grad der Bereitstellung von offenen Daten (Skala: 0 bis 3)",
            "open_data",
            0,
            3,
            0.6,
        )
        self.exclusive_multiple(
            11,
            "datennutzung",
            {
                "Datennutzung zur Personaleinsatzplanung": "personaleinsatz",
                "Datennutzung zur Prozessoptimierung": "prozessoptimierung",
                "Datennutzung zur Automatisierung": "automatisierung",
            },
            "Keine systematische Datennutzung",
            "keine",
            cover_with=("steuerung", "sonstige"),
        )
        self.fortbildung()
        self.exclusive_multiple(
            13,
            "glasfaser",
            {
                "Eigenregie": "eigenregie",
                "Mit lokalen Akteuren": "lokale_akteure",
                "Mit anderen Gebietskörperschaften": "gebietskoerperschaften",
                "Durch Fördermittel": "foerdermittel",
            },
            "Kein Glasfaserengagement",
            "kein",
        )
        self.plain_multiple(
            14,
            "unterstuetzung",
            {
                "Digitalisierung der lokalen Wirtschaft": "lokale_wirtschaft",
                "Start-up-Förderung": "startups",
                "Freies WLAN / LoRaWAN": "wlan",
                "Digitalisierung des Ehrenamtes": "ehrenamt",
            },
        )
        self.plain_multiple(
            15,
            "kompetenzangebote",
            {
                "Unterstützung der Entwicklung der Digitalkompetenzen": "digitalkompetenzen",
                "Angebote von Bibliotheken, VHS etc.": "bibliotheken_vhs",
                "Offene Werkstätten, FabLabs, Makerspaces": "werkstaetten",
                "Hackathons oder Cryptoparties": "hackathons",
            },
        )
        self.plain_multiple(
            16,
            "beteiligung",
            {
                "Online-Bürgerhaushalte": "buergerhaushalt",
                "Online-Befragungen": "befragungen",
                "Online-Mängelmelder": "maengelmelder",
                "Online-Beteiligung Planungsverfahren": "planungsverfahren",
                "Online-Bürgersprechstunden": "sprechstunden",
                "Civic Tech": "civic_tech",
            },
        )
        self.selbsteinschaetzung()
        return self.assemble()

    def assemble(self) -> Result:
        types: list[str | None] = []
        columns: dict[str, list[np.ndarray]] = {c: [] for c in self.cb.columns}
        for g in GROUPS:
            types.extend([None if g == UNTYPED else g] * self.sizes[g])
            for c in self.cb.columns:
                columns[c].append(self.data[g][c])
        order = self.rng.permutation(N_TOTAL)
        types = [types[i] for i in order]
        series = []
        for c in self.cb.columns:
            q, _ = self.cb.column_owner(c)
            if q.kind == "text":
                continue
            values = np.concatenate(columns[c])[order]
            if q.kind == "percentage":
                series.append(pl.Series(c, values, dtype=pl.Float64, nan_to_null=True))
            else:
                s = pl.Series(c, values, dtype=pl.Float64, nan_to_null=True)
                series.append(s.cast(pl.Int64))
        frame = pl.DataFrame(series)
        frame = frame.with_columns(
            pl.Series("kommune_id", [f"K{i + 1:03d}" for i in range(N_TOTAL)], dtype=pl.String),
            pl.lit(None, dtype=pl.String).alias("name"),
        ).select(list(self.cb.columns))
        self.issues.sort(key=lambda i: (i.table, i.row_label, i.column_label))
        return Result(frame, types, self.issues, self.achieved)


def build(seed: int = DEFAULT_SEED) -> Result:
    """Build the reconstruction (deterministic for a given seed)."""
    return Builder(seed).build()
