"""The serialisable view of an analysis result: what the output directory holds and what the
report renders (:class:`AnalysisRecord`). A light module: ``report --from DIR`` reads a
directory without importing the typology or the validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from kommunaltypen.errors import InputFileError
from kommunaltypen.i18n import t
from kommunaltypen.tables.engine import TableResult

__all__ = ["RESULT_FORMAT", "AnalysisRecord"]


#: version of ``result.json``
RESULT_FORMAT = 1


@dataclass
class AnalysisRecord:
    """The serialisable view of an :class:`AnalysisResult`: what the output directory holds
    and the report renders. ``AnalysisResult.record()`` builds it in memory,
    :meth:`from_dir` from ``result.json``, ``manifest.json``, ``model.json`` and the CSV
    files; both give equal objects, so a report renders the same bytes either way."""

    tables: list[TableResult]
    type_ids: list[str]
    diagnostics: dict[str, Any]
    manifest: dict[str, Any]
    model: dict[str, Any]
    assignments: pl.DataFrame
    centers: pl.DataFrame | None
    rejected: pl.DataFrame
    publication: bool = False
    min_n: int = 5
    #: the Thesen-Check (``kommunaltypen.claims.ClaimsResult``), None when not run
    claims: Any = None

    @classmethod
    def from_dict(
        cls,
        raw: dict[str, Any],
        *,
        manifest: dict[str, Any],
        model: dict[str, Any],
        assignments: pl.DataFrame,
        centers: pl.DataFrame | None,
        rejected: pl.DataFrame,
    ) -> AnalysisRecord:
        return cls(
            tables=[TableResult.from_dict(tb) for tb in raw["tables"]],
            type_ids=[str(tid) for tid in raw["type_ids"]],
            diagnostics=dict(raw.get("diagnostics") or {}),
            manifest=manifest,
            model=model,
            assignments=assignments,
            centers=centers,
            rejected=rejected,
            publication=bool(raw.get("publication", False)),
            min_n=int(raw.get("min_n", 5)),
            claims=_claims_from(raw.get("claims")),
        )

    @classmethod
    def from_dir(cls, out_dir: str | Path) -> AnalysisRecord:
        """Read an output directory written by :func:`write_outputs` (``result.json``
        required). Raises :class:`~kommunaltypen.errors.InputFileError` with what is
        missing or unreadable."""
        out = Path(out_dir)
        raw = _read_json(out / "result.json")
        if raw.get("format") != RESULT_FORMAT or not isinstance(raw.get("tables"), list):
            raise InputFileError(
                t(
                    "report.err.result_format",
                    file=str(out / "result.json"),
                    got=raw.get("format"),
                    expected=RESULT_FORMAT,
                )
            )
        try:
            return cls.from_dict(
                raw,
                manifest=_read_json(out / "manifest.json"),
                model=_read_json(out / "model.json"),
                assignments=_read_assignments(out / "assignments.csv"),
                centers=_read_text_csv(out / "centers.csv", required=False),
                rejected=_read_text_csv(out / "rejected.csv", required=False),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFileError(
                t(
                    "report.err.result_format",
                    file=str(out / "result.json"),
                    got=f"{type(exc).__name__}: {exc}",
                    expected=RESULT_FORMAT,
                )
            ) from exc

    def table(self, number: int) -> TableResult:
        for tb in self.tables:
            if tb.number == number:
                return tb
        raise KeyError(number)


def _claims_from(raw: Any) -> Any:
    """The Thesen-Check held in ``result.json`` (None when the analysis ran none)."""
    if not raw:
        return None
    from kommunaltypen.claims import ClaimsResult

    return ClaimsResult.from_dict(raw)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputFileError(t("report.err.result_missing", file=str(path))) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(t("report.err.result_unreadable", file=str(path), error=exc)) from exc
    if not isinstance(data, dict):
        raise InputFileError(
            t("report.err.result_unreadable", file=str(path), error=type(data).__name__)
        )
    return data


def _read_text_csv(path: Path, *, required: bool = True) -> pl.DataFrame:
    if not path.exists() and not required:
        return pl.DataFrame()
    try:
        return pl.read_csv(path, infer_schema=False)
    except FileNotFoundError as exc:
        raise InputFileError(t("report.err.result_missing", file=str(path))) from exc
    except pl.exceptions.NoDataError:
        return pl.DataFrame()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputFileError(t("report.err.result_unreadable", file=str(path), error=exc)) from exc


def _read_assignments(path: Path) -> pl.DataFrame:
    """``assignments.csv`` with the types :func:`_assignments` gives them."""
    frame = _read_text_csv(path)
    casts = [pl.col(c).cast(pl.Float64) for c in frame.columns if c.startswith("p_")]
    if "mischform" in frame.columns:
        casts.append(pl.col("mischform").replace_strict({"true": True, "false": False}))
    try:
        return frame.with_columns(casts) if casts else frame
    except pl.exceptions.PolarsError as exc:
        raise InputFileError(t("report.err.result_unreadable", file=str(path), error=exc)) from exc
