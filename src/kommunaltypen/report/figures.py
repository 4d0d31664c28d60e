"""Figure placeholders: ``{t7.cio.optimierer}`` pulls a cell from the current tables.

Syntax: ``{t<table>.<row id>.<column id>}``: the row id of the table declaration
(``RowSpec.id``: explicit ``id:`` in ``data/tables/study.yaml``, else derived from the German
label), the column id (a type id, ``gesamt``, a Kommunengruppe level id such as ``kreise``,
``alle``). The offered and the planned row of a Table 12 pair are rows of their own
(``fachverfahren_und_anwendungen_angeboten`` / ``…_geplant``). Two special columns: ``top``
gives the label of the type with the highest value in that row, ``low`` the lowest.
``{n.<type id>}`` is the number of typed members of a type (n of Table 1). Suppressed cells
print as ``<min_n``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kommunaltypen.report import fmt
from kommunaltypen.report.model import TableModel, TableRow, is_type_key
from kommunaltypen.vocabulary import type_label

PLACEHOLDER = re.compile(r"\{(?:t(\d+)\.([a-z0-9_]+)\.([a-z0-9_]+)|n\.([a-z0-9_]+))\}")


def find_row(table: TableModel, key: str) -> TableRow | None:
    """The declared row with id ``key`` (None if the table has none)."""
    return table.row(key)


def strongest(
    row: TableRow, publication: bool, min_n: int, direction: str = "max"
) -> tuple[str, float] | None:
    """The type with the highest (or lowest) visible value in ``row``."""
    values = []
    for type_id, cell in row.cells.items():
        if not is_type_key(type_id):
            continue
        if cell.value is None or fmt.is_hidden(cell, publication, min_n):
            continue
        values.append((type_id, cell.value))
    if not values:
        return None
    pick = max if direction == "max" else min
    return pick(values, key=lambda item: item[1])


@dataclass
class Resolver:
    """Fills placeholders from one report's tables; remembers what it could not resolve."""

    tables: dict[int, TableModel]
    lang: str
    publication: bool
    min_n: int
    missing: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.tables, dict):  # a ReportData
            self.tables = self.tables.tables

    def value(self, table_no: int, row_key: str, column: str) -> str:
        table = self.tables.get(table_no)
        row = find_row(table, row_key) if table else None
        if row is None:
            return self._missing(f"t{table_no}.{row_key}.{column}")
        if column in ("top", "low"):
            best = strongest(row, self.publication, self.min_n, "max" if column == "top" else "min")
            if best is None:
                return self._missing(f"t{table_no}.{row_key}.{column}")
            return type_label(best[0], self.lang)
        cell = row.cells.get(column)
        if cell is None:
            return self._missing(f"t{table_no}.{row_key}.{column}")
        return fmt.cell_text(cell, row, self.lang, self.publication, self.min_n)

    def members(self, type_id: str) -> str:
        table = self.tables.get(1)
        counts = [r.cells[type_id].n for r in (table.rows if table else []) if type_id in r.cells]
        counts = [c for c in counts if c is not None]
        if not counts:
            return self._missing(f"n.{type_id}")
        if self.publication and counts[0] < self.min_n:
            return f"<{self.min_n}"
        return fmt.number(counts[0], 0, self.lang)

    def _missing(self, ref: str) -> str:
        self.missing.append(ref)
        return "–"

    def fill(self, text: str) -> str:
        def repl(match: re.Match[str]) -> str:
            if match.group(4):
                return self.members(match.group(4))
            return self.value(int(match.group(1)), match.group(2), match.group(3))

        return PLACEHOLDER.sub(repl, text)


def placeholders(text: str) -> list[str]:
    """All placeholders in ``text`` (for checks)."""
    return [m.group(0) for m in PLACEHOLDER.finditer(text)]
