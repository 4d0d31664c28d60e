"""The analysis pipeline: validate → typology → tables → output directory.

:func:`run_analysis` is what ``kommunaltypen analyze`` runs; it is usable from Python and
returns an :class:`AnalysisResult` with every intermediate object (canonical data, validation
report, fitted typology, stability, k choice, computed tables). The output directory follows
``docs/architecture.md`` ("Analysis output directory") and ``docs/analyze.md``.

Reproducibility: every random step is seeded from ``seed``; nothing written depends on the
wall clock except the ``created_at`` field of ``manifest.json``, which is excluded from the
output hashes listed in the manifest.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from kommunaltypen import __version__
from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import InputFileError, KommunaltypenError
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.report.record import RESULT_FORMAT, AnalysisRecord
from kommunaltypen.tables import TableResult, TableSpec, compute_tables, load_tables, tables_frame
from kommunaltypen.typology import (
    KChoice,
    StabilityResult,
    Typology,
    choose_k,
    type_label,
)
from kommunaltypen.validate import ValidationReport, validate_file
from kommunaltypen.vocabulary import TYPE_IDS, Progress

STAGES = ("read", "validate", "typology", "bootstrap", "k_choice", "tables", "write")
PACKAGES = ("polars", "numpy", "scipy", "scikit-learn", "pydantic", "pyyaml")


def bundled_data_path() -> Path:
    """The bundled reconstruction of the study's data (412 municipalities)."""
    return Path(str(resources.files("kommunaltypen") / "data" / "example" / "beispieldaten.csv"))


@dataclass
class AnalysisResult:
    """Everything one analysis produced (also what the report renders)."""

    source: str
    data: pl.DataFrame
    validation: ValidationReport
    model: Typology
    types: pl.Series  # type id per accepted row, null = no type
    assignments: pl.DataFrame
    centers: pl.DataFrame
    tables: list[TableResult]
    stability: StabilityResult | None
    k_choice: KChoice | None
    manifest: dict[str, Any]
    publication: bool = False
    min_n: int = 5
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    #: the Thesen-Check (``kommunaltypen.claims.ClaimsResult``), None when not run
    claims: Any = None

    @property
    def type_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.model.type_ids_, 0)
        for row in self.types.drop_nulls().value_counts().iter_rows():
            counts[row[0]] = int(row[1])
        return counts

    @property
    def n_typed(self) -> int:
        return self.types.len() - self.types.null_count()

    def table(self, number: int) -> TableResult:
        for tb in self.tables:
            if tb.number == number:
                return tb
        raise KeyError(number)

    def tables_frame(self) -> pl.DataFrame:
        """All computed tables in long format (suppressed as configured)."""
        return tables_frame(self.tables, publication=self.publication, min_n=self.min_n)

    def to_dict(self) -> dict[str, Any]:
        """The part of the result the report and ``result.json`` hold (JSON-ready): tables
        with their ids and declarations (publishable: cells below ``min_n`` hidden in
        publication mode), diagnostics, type ids and the options. With ``manifest.json``,
        ``model.json`` and the CSV files it is everything ``report --from DIR`` needs."""
        return {
            "format": RESULT_FORMAT,
            "publication": self.publication,
            "min_n": self.min_n,
            "type_ids": list(self.model.type_ids_),
            "tables": [
                tb.to_dict(publication=self.publication, min_n=self.min_n) for tb in self.tables
            ],
            "diagnostics": _diagnostics(self),
            "claims": self.claims.to_dict() if self.claims is not None else None,
        }

    def notes(self, lang: str | None = None) -> list[str]:
        """The analysis' notes as sentences (unstable types, the number of types the criteria
        favour, new types): the same sentences as the report's "Hinweise der Analyse"."""
        from kommunaltypen.report.html import STABLE_JACCARD, notes
        from kommunaltypen.vocabulary import format_number

        lang = lang or get_lang()
        threshold = self.stability.threshold if self.stability is not None else STABLE_JACCARD
        return notes(_diagnostics(self), format_number(threshold, 2, lang), lang)

    def record(self) -> AnalysisRecord:
        """This result as the report sees it: exactly what :meth:`AnalysisRecord.from_dir`
        reads back from the output directory written by :func:`write_outputs`."""
        return AnalysisRecord.from_dict(
            _json_normal(self.to_dict()),
            manifest=_json_normal(self.manifest),
            model=json.loads(self.model.to_json()),  # as model.json holds it (key order too)
            assignments=self.assignments,
            centers=self.centers,
            rejected=_as_text(self.validation.rejected_rows),
        )


def _json_normal(value: Any) -> Any:
    """``value`` as it comes back from the JSON files (sorted keys, lists, plain numbers)."""
    return json.loads(json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default))


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, as ``rejected.csv`` is read back (the report lists it)."""
    return frame.select(pl.all().cast(pl.String)) if frame.width else frame


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: modules the pipeline needs only after reading: imported in the background during the read
_LATE_IMPORTS = ("scipy.special",)
#: imported the same way when the Thesen-Check will run (scipy.stats alone takes ~0.7 s)
_CLAIMS_IMPORTS = ("scipy.stats",)


def _background_start(source: Path, imports: Sequence[str] = _LATE_IMPORTS) -> Future[str]:
    """Work that does not depend on the data, started in a second thread while the input is
    read and validated (polars leaves part of the second core idle then): the input hash and
    the imports needed later. Hashing runs without the GIL (hashlib releases it for large
    blocks), and the import mostly waits while polars parses. Returns the hash's future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kommunaltypen-bg")
    digest = pool.submit(_sha256, source)
    for name in imports:
        pool.submit(importlib.import_module, name)
    pool.shutdown(wait=False)  # the thread ends once these tasks are done
    return digest


def _input_hash(digest: Future[str], source: Path) -> str:
    try:
        return digest.result()
    except OSError as exc:
        raise InputFileError(t("validate.file_unreadable", file=source, error=exc)) from exc


def _unwritable(out_dir: Path, exc: OSError) -> InputFileError:
    """The error of an output directory that cannot be written (naming it and the cause)."""
    return InputFileError(t("tables.out_unwritable", dir=str(out_dir), error=str(exc)))


class _EarlyOutputs:
    """Large output files written and hashed by a background thread while the analysis goes
    on: the assignments of 10⁶ rows take ~0.3 s to write and ~0.1 s to hash, and that overlaps
    with the bootstrap, the k choice, the tables and the Thesen-Check (polars writes without
    the GIL). Each file is written under a hidden temporary name in the output directory and
    becomes the real file only when :func:`write_outputs` adopts it; :meth:`discard` removes
    what an analysis that failed did not adopt (and the directory, if it made it and it is
    still empty), so a failed run leaves no partial output."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._made_dir = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kommunaltypen-write")
        self._files: dict[str, tuple[Path, Future[str]]] = {}

    def submit(self, name: str, write: Callable[[Path], Any]) -> None:
        if not self.out_dir.is_dir():
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _unwritable(self.out_dir, exc) from exc
            self._made_dir = True
        tmp = self.out_dir / f".{name}.tmp"

        def job() -> str:
            write(tmp)
            return _sha256(tmp)

        self._files[name] = (tmp, self._pool.submit(job))

    def adopt(self, name: str) -> tuple[Path, str] | None:
        """The written file under its real name and its sha256 (None: not written here).
        Raises the write's ``OSError``."""
        entry = self._files.pop(name, None)
        if entry is None:
            return None
        tmp, digest = entry
        sha = digest.result()
        target = self.out_dir / name
        os.replace(tmp, target)
        return target, sha

    def discard(self) -> None:
        for tmp, digest in self._files.values():
            with suppress(Exception):  # the analysis' own error is the one reported
                digest.result()
            tmp.unlink(missing_ok=True)
        self._files.clear()
        self._pool.shutdown(wait=True)
        if self._made_dir:
            with suppress(OSError):  # only while it is empty: a failed run made it
                self.out_dir.rmdir()


def _versions() -> dict[str, str]:
    versions = {"kommunaltypen": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _rows_by_kind(data: pl.DataFrame, types: pl.Series) -> dict[str, dict[str, int]]:
    """Accepted and typed municipalities per Kommunenart code (for the report)."""
    if "kommunenart" not in data.columns:
        return {}
    counts = (
        pl.DataFrame({"kind": data["kommunenart"], "typed": types.is_not_null()})
        .group_by("kind")
        .agg(pl.len().alias("accepted"), pl.col("typed").sum())
        .drop_nulls("kind")
        .sort("kind")
    )
    return {
        str(row["kind"]): {"accepted": int(row["accepted"]), "typed": int(row["typed"])}
        for row in counts.iter_rows(named=True)
    }


def _step(progress: Progress | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)


def _centers(model: Typology, lang: str) -> pl.DataFrame:
    """One row per type: id, label, size, then the centre on each goal (0..3 points)."""
    features = model.centers_frame()["option_id"].to_list()
    rows: dict[str, Any] = {
        "type": list(model.type_ids_),
        "label": [type_label(tid, lang) for tid in model.type_ids_],
        "n": [round(float(s)) for s in model.cluster_sizes_],
    }
    for j, feature in enumerate(features):
        rows[feature] = model.cluster_centers_[:, j].tolist()
    return pl.DataFrame(rows)


def _assignments(
    model: Typology, data: pl.DataFrame, types: pl.Series, codebook: Codebook
) -> pl.DataFrame:
    """``kommune_id, type, p_<type>…, mischform, reason`` for every accepted row.

    Same content as :meth:`Typology.assignments` (without labels and distances) for the rows
    the model was fitted on: typability and reasons come from the fit (``typable_``,
    ``not_typed_reason_``); the probabilities are computed once per distinct fitted pattern
    (``patterns_``) and broadcast with the fit's row → pattern index (``pattern_index_``), so
    the cost does not grow with the rows beyond one gather."""
    per_pattern = model.predict_proba(model.patterns_)  # (u, k)
    by_pattern = pl.DataFrame(
        {f"p_{tid}": per_pattern[:, j] for j, tid in enumerate(model.type_ids_)}
        | {"mischform": per_pattern.max(axis=1) < model.mischform_threshold}
    )
    index = pl.Series(np.asarray(model.pattern_index_), dtype=pl.Int64)
    index = pl.select(pl.when(index >= 0).then(index).cast(pl.UInt32)).to_series()  # null: no type
    cols: list[pl.Series] = []
    if codebook.id_column in data.columns:
        cols.append(data[codebook.id_column])
    cols.append(types.alias("type"))
    cols.extend(
        by_pattern.select(pl.all().gather(index)).with_columns(pl.col("mischform").fill_null(False))
    )
    cols.append(pl.Series("reason", model.not_typed_reason_, dtype=pl.String))
    return pl.DataFrame(cols)


def _resolve_tables(
    tables: str | Path | Sequence[TableSpec] | None, codebook: Codebook
) -> tuple[list[TableSpec], str]:
    """The table declarations to compute and where they came from (for the manifest)."""
    if tables is None:
        return load_tables(None, codebook), "study"
    if isinstance(tables, str | Path):
        return load_tables(tables, codebook), str(tables)
    return list(tables), "<python>"


def _render_report(out_dir: Path, result: AnalysisResult, lang: str) -> None:
    """Render the report (HTML, PDF, XLSX, charts) and add its files to ``result.files``."""
    from kommunaltypen.report import render_report

    paths = render_report(  # from memory: the result, rendered into out_dir
        out_dir, result, lang=lang, publication=result.publication, min_n=result.min_n
    )
    for path in paths.values():
        result.files[path.relative_to(out_dir).as_posix()] = path


def run_analysis(
    path: str | Path | None = None,
    mapping: str | Path | None = None,
    out_dir: str | Path | None = None,
    tables: str | Path | Sequence[TableSpec] | None = None,
    publication: bool = False,
    min_n: int = 5,
    n_bootstrap: int = 1000,
    seed: int = 0,
    lang: str | None = None,
    progress: Progress | None = None,
    *,
    report: bool = False,
    k_choice: bool = True,
    codebook: Codebook | None = None,
    claims: str | Path | bool | None = None,
) -> AnalysisResult:
    """Validate ``path`` (default: the bundled data), fit the typology, compute the tables
    (default: the study's Tables 1–16, or a declaration file) and, with ``out_dir``, write the
    output directory. ``report=True`` also renders the report. ``k_choice=False`` skips the
    k-choice diagnostics (gap statistic). ``claims``: run the Thesen-Check (``True``: the
    shipped claims, a path: a claims file; ``claims.csv`` and a report section then). Data
    already in memory (an upload, a frame) goes through :func:`analyse_validated` (see
    :mod:`kommunaltypen.service`)."""
    lang = lang or get_lang()
    _check_parameters(min_n, n_bootstrap)
    loaded_claims = _load_claims(claims, codebook or default_codebook())  # errors before the read
    cb = codebook or default_codebook()
    source = Path(path) if path is not None else bundled_data_path()
    if not source.is_file():
        raise InputFileError(t("tables.input_missing", file=str(source)))
    specs = _resolve_tables(tables, cb)  # declaration errors before the (long) read
    input_digest = _background_start(
        source, _LATE_IMPORTS + (_CLAIMS_IMPORTS if loaded_claims is not None else ())
    )
    data, validation = validate_file(source, mapping=mapping, codebook=cb, progress=progress)
    _step(progress, "validate", 1.0)
    input_info = {
        "file": source.name,
        "sha256": _input_hash(input_digest, source),
        "bundled": path is None,
        "mapping": None if mapping is None else Path(mapping).name,
        "mapping_sha256": None if mapping is None else _sha256(Path(mapping)),
    }
    early = _EarlyOutputs(Path(out_dir)) if out_dir is not None else None
    try:
        result = analyse_validated(
            data,
            validation,
            input_info=input_info,
            tables=specs,
            publication=publication,
            min_n=min_n,
            n_bootstrap=n_bootstrap,
            seed=seed,
            lang=lang,
            progress=progress,
            k_choice=k_choice,
            codebook=cb,
            early_outputs=early,
        )
        if loaded_claims is not None:
            from kommunaltypen.claims import check_analysis

            _step(progress, "claims", 0.0)
            result.claims = check_analysis(result, loaded_claims, codebook=cb)
            _step(progress, "claims", 1.0)
        if out_dir is not None:
            _step(progress, "write", 0.0)
            write_outputs(result, Path(out_dir), early)
            _step(progress, "write", 1.0)
    finally:
        if early is not None:
            early.discard()
    if out_dir is not None and report:
        _render_report(Path(out_dir), result, lang)
    return result


def _param(value: Any) -> Any:
    """A typology parameter for the manifest: plain values as they are, paths as text, other
    objects (e.g. a codebook) by their class name, never their whole ``repr``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple) and all(
        v is None or isinstance(v, bool | int | float | str) for v in value
    ):
        return list(value)
    return type(value).__name__


def _load_claims(claims: str | Path | bool | None, codebook: Codebook) -> Any:
    """The claims to check (None: no Thesen-Check), loaded before any data is read so that a
    bad claims file is reported at once."""
    if claims is None or claims is False:
        return None
    from kommunaltypen.claims import load_claims

    return load_claims(None if claims is True else claims, codebook=codebook)


def _check_parameters(min_n: int, n_bootstrap: int) -> None:
    if min_n < 1:
        raise KommunaltypenError(t("tables.bad_min_n", value=min_n))
    if n_bootstrap < 0:
        raise KommunaltypenError(t("tables.bad_bootstrap", value=n_bootstrap))


def analyse_validated(
    data: pl.DataFrame,
    validation: ValidationReport,
    *,
    input_info: dict[str, Any],
    tables: str | Path | Sequence[TableSpec] | tuple[list[TableSpec], str] | None = None,
    publication: bool = False,
    min_n: int = 5,
    n_bootstrap: int = 1000,
    seed: int = 0,
    lang: str | None = None,
    progress: Progress | None = None,
    k_choice: bool = True,
    codebook: Codebook | None = None,
    early_outputs: _EarlyOutputs | None = None,
) -> AnalysisResult:
    """The analysis of validated canonical data (no files): fit the typology, stability and
    k choice, compute the tables and the manifest. ``input_info`` describes where the data
    came from (``file``, ``sha256``, ``bundled``, ``mapping``, ``mapping_sha256``).
    ``early_outputs`` (:func:`run_analysis` with an output directory): the assignments are
    written in the background from the moment they are known."""
    lang = lang or get_lang()
    _check_parameters(min_n, n_bootstrap)
    cb = codebook or default_codebook()
    specs, tables_source = tables if isinstance(tables, tuple) else _resolve_tables(tables, cb)
    if data.height == 0:
        raise KommunaltypenError(
            t("tables.no_valid_rows", file=str(validation.source), rows=validation.rows_in)
        )

    _step(progress, "typology", 0.0)
    model = Typology(random_state=seed, n_bootstrap=n_bootstrap, codebook=cb).fit(data)
    types = pl.Series("type", np.asarray(model.labels_)).replace_strict(
        dict(enumerate(model.type_ids_)), default=None, return_dtype=pl.String
    )
    assignments = _assignments(model, data, types, cb)
    if early_outputs is not None:
        early_outputs.submit("assignments.csv", assignments.write_csv)
    _step(progress, "typology", 1.0)

    stability = None
    if n_bootstrap > 0:
        _step(progress, "bootstrap", 0.0)
        stability = model.stability(n_bootstrap=n_bootstrap, random_state=seed)
        _step(progress, "bootstrap", 1.0)
    kc = None
    if k_choice:
        _step(progress, "k_choice", 0.0)
        kc = choose_k(model, random_state=seed)  # the fit's patterns: no pass over rows
        _step(progress, "k_choice", 1.0)

    _step(progress, "tables", 0.0)
    labels_map = {tid: (type_label(tid, "de"), type_label(tid, "en")) for tid in model.type_ids_}
    results = compute_tables(
        data,
        types,
        specs,
        codebook=cb,
        seed=seed,
        progress=progress,
        type_ids=list(model.type_ids_),
        type_labels=labels_map,
    )

    manifest: dict[str, Any] = {
        "input": dict(input_info),
        "parameters": {
            "tables": tables_source,
            "publication": publication,
            "min_n": min_n,
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "k_choice": k_choice,
            "lang": lang,
            "typology": {k: _param(v) for k, v in model.get_params().items()},
        },
        "seed": seed,
        "versions": _versions(),
        "rows": {
            "in": validation.rows_in,
            "accepted": validation.rows_accepted,
            "rejected": validation.rows_rejected,
            "typed": types.len() - types.null_count(),
            "by_kommunenart": _rows_by_kind(data, types),
        },
        "tables": [tb.number for tb in results],
    }
    result = AnalysisResult(
        source=str(validation.source),
        data=data,
        validation=validation,
        model=model,
        types=types,
        assignments=assignments,
        centers=_centers(model, lang),
        tables=results,
        stability=stability,
        k_choice=kc,
        manifest=manifest,
        publication=publication,
        min_n=min_n,
    )
    result.manifest["types"] = result.type_counts
    return result


def _diagnostics(result: AnalysisResult) -> dict[str, Any]:
    model = result.model
    flags: list[str] = []
    if result.stability is not None:
        flags += [f"unstable:{tid}" for tid in result.stability.unstable]
    if result.k_choice is not None and result.k_choice.recommended_k != model.n_clusters:
        flags.append(f"k_choice:{result.k_choice.recommended_k}")
    new_types = [tid for tid in model.type_ids_ if tid not in TYPE_IDS]
    flags += [f"new_type:{tid}" for tid in new_types]
    n_mischform = (
        int(result.assignments["mischform"].sum())
        if "mischform" in result.assignments.columns
        else 0
    )
    notes: list[dict[str, Any]] = []
    if result.stability is not None:
        notes += [{"code": "unstable", "type": tid} for tid in result.stability.unstable]
    if result.k_choice is not None and result.k_choice.recommended_k != model.n_clusters:
        notes.append(
            {"code": "k_choice", "k": result.k_choice.recommended_k, "kept": model.n_clusters}
        )
    notes += [{"code": "new_type", "type": tid} for tid in new_types]
    return {
        "n_clusters": model.n_clusters,
        "notes": notes,
        "k_choice": result.k_choice.to_dict() if result.k_choice is not None else None,
        "stability": result.stability.to_dict() if result.stability is not None else None,
        "reference_distance": {
            tid: (None if np.isnan(d) else float(d))
            for tid, d in zip(model.type_ids_, model.reference_distance_, strict=True)
        },
        "n_mischform": n_mischform,
        "flags": flags,
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default)
    path.write_text(text + "\n", encoding="utf-8")


def write_outputs(
    result: AnalysisResult, out_dir: Path, early: _EarlyOutputs | None = None
) -> dict[str, Path]:
    """Write the output directory (tables, assignments, centres, model, diagnostics,
    rejected rows, manifest). Returns the written files by name. Files already written by
    ``early`` (:func:`run_analysis`) are adopted with their hash."""
    hashes: dict[str, str] = {}
    try:
        (out_dir / "tables").mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        for tb in result.tables:
            target = out_dir / "tables" / tb.spec.file_name
            tb.to_frame(publication=result.publication, min_n=result.min_n).write_csv(target)
            files[f"tables/{target.name}"] = target
        simple = {
            "assignments.csv": lambda p: result.assignments.write_csv(p),
            "centers.csv": lambda p: result.centers.write_csv(p),
            "model.json": lambda p: result.model.save(p),
            "diagnostics.json": lambda p: _write_json(p, _diagnostics(result)),
            "result.json": lambda p: _write_json(p, result.to_dict()),
            "validation.json": lambda p: result.validation.write_json(p),
            "rejected.csv": lambda p: result.validation.write_rejected_csv(p),
        }
        if result.claims is not None:
            from kommunaltypen.claims import write_claims_csv

            simple["claims.csv"] = lambda p: write_claims_csv(result.claims, p)
        for name, writer in simple.items():
            adopted = early.adopt(name) if early is not None else None
            if adopted is None:
                writer(out_dir / name)
            else:
                hashes[name] = adopted[1]
            files[name] = out_dir / name
        manifest = dict(result.manifest)
        manifest["outputs"] = {
            name: hashes.get(name) or _sha256(p) for name, p in sorted(files.items())
        }
        manifest["created_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
        _write_json(out_dir / "manifest.json", manifest)
        files["manifest.json"] = out_dir / "manifest.json"
    except OSError as exc:
        raise _unwritable(out_dir, exc) from exc
    result.manifest = manifest
    result.out_dir = out_dir
    result.files = files
    return files
