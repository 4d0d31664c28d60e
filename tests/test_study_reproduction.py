"""``kommunaltypen analyze`` on the bundled data reproduces every cell of the study's Tables 1–16.

Runs the command once on the bundled reconstruction (``data/example/beispieldaten.csv``) with
the study's declarations (``data/tables/study.yaml``) and compares every computed cell with the
transcribed figure (``data/study_figures.csv``) to the printed precision. Cells the
reconstruction lists as inconsistent in the study itself (``data/study_inconsistencies.csv``:
table, row_label, column_label, reason) are only checked for presence.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from kommunaltypen.cli import main

DATA = resources.files("kommunaltypen") / "data"
TABLES = range(1, 17)


def _normalise(label: str) -> str:
    # the study prints "Service-orientierte" in the headers of Tables 6–16
    return "Serviceorientierte" if label == "Service-orientierte" else label


def _figures() -> list[dict[str, str]]:
    with (DATA / "study_figures.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _inconsistent() -> set[tuple[int, str, str]]:
    path = DATA / "study_inconsistencies.csv"
    if not path.is_file():
        return set()
    with path.open(encoding="utf-8") as handle:
        return {
            (int(r["table"]), r["row_label"], _normalise(r["column_label"]))
            for r in csv.DictReader(handle)
        }


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str, str], dict]:
    out = tmp_path_factory.mktemp("study") / "out"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "analyze",
                "--out",
                str(out),
                "--no-report",
                "--quiet",
                "--bootstrap",
                "20",
                "--no-k-choice",
            ]
        )
    assert info.value.code in (0, None)
    cells: dict[tuple[int, str, str], dict] = {}
    for number in TABLES:
        frame = pl.read_csv(out / "tables" / f"table_{number:02d}.csv", infer_schema=False)
        for row in frame.iter_rows(named=True):
            key_label = row["study_label"] if row.get("study_label") else row["row_label"]
            part = row.get("part") or ""
            cells[(number, key_label, row["column_label"], part)] = row  # type: ignore[index]
    return cells


def _close(computed_value: str | None, printed: str, precision: int) -> bool:
    if computed_value in (None, ""):
        return False
    return abs(float(computed_value) - float(printed)) <= 0.5 * 10**-precision + 1e-9


@pytest.mark.parametrize("number", TABLES)
def test_table_matches_study(number: int, computed: dict) -> None:
    skip = _inconsistent()
    figures = [f for f in _figures() if int(f["table"]) == number]
    assert figures, f"no transcribed figures for Table {number}"
    mismatches = []
    for fig in figures:
        column = _normalise(fig["column_label"])
        precision = int(fig["precision"])
        key = (number, fig["row_label"], column)
        two_values = bool(fig.get("value2"))
        parts = (
            [("angeboten", fig["value"]), ("geplant", fig["value2"])]
            if two_values
            else [("", fig["value"])]
        )
        for part, printed in parts:
            cell = computed.get((*key, part))
            if cell is None:
                mismatches.append(f"missing cell {fig['row_label']!r} / {column!r} {part}")
                continue
            if key in skip:
                continue
            if not _close(cell["value"], printed, precision):
                mismatches.append(
                    f"{fig['row_label']!r} / {column!r} {part}: computed {cell['value']} "
                    f"(n={cell['n']}), printed {printed}"
                )
    assert not mismatches, f"Table {number}: " + "; ".join(mismatches)


def test_every_computed_cell_is_a_study_cell(computed: dict) -> None:
    figures = {(int(f["table"]), f["row_label"], _normalise(f["column_label"])) for f in _figures()}
    extra = [key for key in computed if key[:3] not in figures]
    assert not extra, f"cells without a study figure: {extra[:5]}"


def test_inconsistencies_file_is_well_formed() -> None:
    path = Path(str(DATA / "study_inconsistencies.csv"))
    if not path.is_file():
        return  # nothing listed: every cell must match exactly (checked above)
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    figures = {(int(f["table"]), f["row_label"], _normalise(f["column_label"])) for f in _figures()}
    for row in rows:
        key = (int(row["table"]), row["row_label"], _normalise(row["column_label"]))
        assert key in figures, f"listed inconsistency is not a study cell: {key}"
        assert row["reason"].strip(), f"no reason given for {key}"
