"""The study's published figures (Tables 1–16), transcribed in ``data/study_figures.csv``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

#: type ids in the order of the study's columns, with the labels the study prints.
TYPE_LABELS: dict[str, str] = {
    "bedaechtige": "Bedächtige",
    "optimierer": "Optimierer",
    "serviceorientierte": "Serviceorientierte",
    "community_manager": "Community Manager",
}
TYPES: tuple[str, ...] = tuple(TYPE_LABELS)
#: the study prints "Service-orientierte" in the headers of Tables 6–16.
LABEL_ALIASES = {"Service-orientierte": "Serviceorientierte"}
TOTAL = "Gesamt"


@dataclass(frozen=True)
class Figure:
    table: int
    row_label: str
    column_label: str
    value: float
    value2: float | None
    precision: int


@cache
def figures_frame() -> pd.DataFrame:
    """``study_figures.csv`` as a pandas frame (labels as printed)."""
    path = resources.files("kommunaltypen") / "data" / "study_figures.csv"
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={"caption": str, "row_label": str, "column_label": str})


@cache
def _index() -> dict[tuple[int, str, str], Figure]:
    out: dict[tuple[int, str, str], Figure] = {}
    for r in figures_frame().itertuples(index=False):
        col = LABEL_ALIASES.get(r.column_label, r.column_label)
        v2 = None if pd.isna(r.value2) else float(r.value2)
        out[(int(r.table), r.row_label, col)] = Figure(
            int(r.table), r.row_label, col, float(r.value), v2, int(r.precision)
        )
    return out


def figure(table: int, row_label: str, column_label: str) -> Figure:
    """One published cell; type columns may be given by id or label."""
    col = TYPE_LABELS.get(column_label, column_label)
    return _index()[(table, row_label, LABEL_ALIASES.get(col, col))]


def row_labels(table: int) -> list[str]:
    """Row labels of a table in printed order."""
    frame = figures_frame()
    return list(dict.fromkeys(frame.loc[frame["table"] == table, "row_label"]))
