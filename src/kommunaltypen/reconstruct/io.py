"""Reading and writing the reconstruction."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import InputFileError, KommunaltypenError
from kommunaltypen.i18n import t
from kommunaltypen.reconstruct.figures import TYPE_LABELS, TYPES, figure

FORMATS = ("csv", "xlsx", "sav")


def bundled_data_path() -> Path:
    """Path of the shipped reconstruction ``data/example/beispieldaten.csv``."""
    return Path(str(resources.files("kommunaltypen") / "data" / "example" / "beispieldaten.csv"))


def schema(codebook: Codebook | None = None) -> dict[str, pl.DataType]:
    """Polars dtypes of the canonical columns (see docs/architecture.md)."""
    cb = codebook or default_codebook()
    out: dict[str, pl.DataType] = {}
    for c in cb.columns:
        q, _ = cb.column_owner(c)
        if q.kind == "text":
            out[c] = pl.String
        elif q.kind == "percentage" or (q.kind == "number" and not q.integer):
            out[c] = pl.Float64
        else:
            out[c] = pl.Int64
    return out


def load_bundled(codebook: Codebook | None = None) -> pl.DataFrame:
    """The shipped reconstruction as stored: the canonical columns and dtypes, with item
    non-response still as the code -9 (``validate_file(bundled_data_path())`` gives the
    canonical data, where those cells are null)."""
    return pl.read_csv(bundled_data_path(), schema=schema(codebook))


def intended_types(frame: pl.DataFrame, codebook: Codebook | None = None) -> list[str | None]:
    """Type id per row: the Table 1 centre nearest to the row's goal points (rows without a
    typable ranking: None). Typable: at least one goal ranked and the ranks present exactly
    1..m (m <= 3). In the reconstruction each typed row is strictly nearest to the centre of
    the type it was built for."""
    cb = codebook or default_codebook()
    q = cb.typology_question
    ranks = np.nan_to_num(frame.select(q.columns).to_numpy().astype(float))
    m = (ranks > 0).sum(axis=1)
    steps = np.arange(1, 4)
    present = np.sort(np.where(ranks > 0, ranks, np.inf), axis=1)[:, :3]
    expected = np.where(steps[None] <= m[:, None], steps[None], np.inf)
    complete = (m >= 1) & (m <= 3) & (present == expected).all(axis=1)
    points = np.where(ranks > 0, 4 - ranks, 0)
    centres = np.array(
        [[figure(1, o.label_de, TYPE_LABELS[ty]).value for o in q.options] for ty in TYPES]
    )
    nearest = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
    return [TYPES[i] if ok else None for i, ok in zip(nearest, complete, strict=True)]


def write_frame(frame: pl.DataFrame, out: str | Path, fmt: str | None = None) -> Path:
    """Write a canonical frame as csv, xlsx or sav (format from ``fmt`` or the suffix)."""
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".") or "csv").lower()
    if fmt not in FORMATS:
        raise KommunaltypenError(t("reconstruct.bad_format", got=fmt, expected=", ".join(FORMATS)))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            frame.write_csv(out)
        elif fmt == "xlsx":
            frame.write_excel(out, worksheet="daten")
        else:  # labels, user-missing codes, formats, measurement levels (io.writers)
            from kommunaltypen.io.writers import write_sav

            write_sav(frame, out, mark_item_nonresponse=False)
    except OSError as exc:
        raise InputFileError(t("reconstruct.cannot_write", path=str(out), error=str(exc))) from exc
    return out


def write_issues(issues: list, out: str | Path) -> None:
    """Write the inconsistent cells (``study_inconsistencies.csv`` layout: the reason in
    English and German)."""
    with Path(out).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            [
                *("table", "row_label", "column_label"),
                *("reason", "reason_de", "published", "reconstructed"),
            ]
        )
        for i in issues:
            w.writerow(
                [
                    *(i.table, i.row_label, i.column_label),
                    *(i.reason("en"), i.reason("de"), i.published, i.reconstructed),
                ]
            )
