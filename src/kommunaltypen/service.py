"""The service layer: the operations every front end (CLI, web application, scripts) uses.

Each function takes data and returns objects — never a path it must write, never a global it
changes. Files are only read when the caller passes a path; uploads come as bytes or binary file
objects with their original file name. The language of user-facing texts is the current call's
(:func:`kommunaltypen.i18n.use_lang`), so concurrent calls in one process do not interfere.

* :func:`analyse` — validate → typology → tables of a data set (path, bytes, upload or frame);
* :func:`default_model` / :func:`load_model` — the typology used to type single municipalities;
* :func:`classify` — the type of one ranking of the goals, with probabilities and distances;
* :func:`check_answers` — one municipality's answers through the same rules and messages as a
  file import (one rulebook for files and forms);
* :func:`evaluate` — one municipality's answers against an analysis: type, probabilities,
  Mischform, its place in each table's figures and the recommendations that apply;
* :func:`describe_codebook` — the questionnaire as data (for forms and documentation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import polars as pl

from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.vocabulary import Progress, type_label

if TYPE_CHECKING:  # typing only: keeps start-up light (no scipy/sklearn for a classify)
    from kommunaltypen.analysis import AnalysisResult
    from kommunaltypen.typology import Typology

Source = str | Path | bytes | IO[bytes]


# ------------------------------------------------------------------------------ problems
@dataclass(frozen=True)
class Problem:
    """One reason an input was refused: the field, the value received, what was expected, and
    the whole message in the current language."""

    field: str
    value: str | None
    expected: str
    message: str
    rule: str = "invalid"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class InvalidInput(KommunaltypenError):
    """Input refused by the rules; ``problems`` says where, what and what was expected."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))


# ------------------------------------------------------------------------------ models
@dataclass(frozen=True)
class ModelInfo:
    """A fitted typology with the id under which results name it."""

    typology: Typology
    model_id: str
    name: str

    @property
    def data_hash(self) -> str | None:
        return getattr(self.typology, "data_hash_", None)


def _model_id(kind: str, typology: Typology) -> str:
    """``kind:<12 hex digits of the training data's hash>`` (``kind`` alone without a hash)."""
    digest = str(getattr(typology, "data_hash_", None) or "").split(":")[-1]
    return f"{kind}:{digest[:12]}" if digest else kind


@cache
def default_model() -> ModelInfo:
    """The bundled model (``data/model.json``: the typology of the bundled reconstruction), or
    the study's Table 1 centres when no model is shipped. Loaded once; treat it as read-only."""
    from kommunaltypen.typology import Typology

    bundled = resources.files("kommunaltypen") / "data" / "model.json"
    if bundled.is_file():
        model = Typology.load(Path(str(bundled)), codebook=default_codebook())
        return ModelInfo(model, _model_id("bundled", model), "model.json")
    model = Typology.from_reference("study", codebook=default_codebook())
    return ModelInfo(model, "study-table-1", t("typology.classify_model_reference", lang="de"))


def load_model(source: str | Path | Mapping[str, Any], model_id: str | None = None) -> ModelInfo:
    """A model from a JSON file (``Typology.save``) or its dict (as stored by the web
    application)."""
    from kommunaltypen.typology import Typology

    if isinstance(source, Mapping):
        model = Typology.from_dict(dict(source), codebook=default_codebook())
        name = model_id or "model"
    else:
        model = Typology.load(Path(source), codebook=default_codebook())
        name = str(source)
    return ModelInfo(model, model_id or _model_id("model", model), name)


# ------------------------------------------------------------------------------ classify
@dataclass(frozen=True)
class Classification:
    """The type of one ranking of the goals under one model."""

    goals: tuple[str, ...]  # option ids, most important first
    type_id: str
    probabilities: dict[str, float]
    distances: dict[str, float]
    mischform: bool
    mischform_threshold: float
    model_id: str
    model_name: str
    data_hash: str | None

    def label(self, lang: str | None = None) -> str:
        return type_label(self.type_id, lang)

    @property
    def ranked_types(self) -> list[str]:
        """Type ids by probability, the most likely first."""
        return sorted(self.probabilities, key=lambda k: -self.probabilities[k])

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "goals": list(self.goals),
            "type": self.type_id,
            "label": self.label(lang),
            "mischform": self.mischform,
            "mischform_threshold": self.mischform_threshold,
            "probabilities": dict(self.probabilities),
            "distances": dict(self.distances),
            "model": self.model_name,
            "model_id": self.model_id,
            "data_hash": self.data_hash,
        }


def _goal_problem(goals: Sequence[str], exc: Exception, codebook: Codebook) -> Problem:
    question = codebook.typology_question
    return Problem(
        field="goals",
        value=", ".join(str(g) for g in goals),
        expected=t(
            "service.goals_expected",
            max=int(question.max_rank or 3),
            options=", ".join(o.id for o in question.options),
        ),
        message=str(exc),
        rule="goals",
    )


def classify(
    goals: Sequence[str], model: ModelInfo | None = None, codebook: Codebook | None = None
) -> Classification:
    """Classify one ranking (goal ids, codes or labels, most important first). Raises
    :class:`InvalidInput` for unknown or repeated goals and a wrong number of goals."""
    from kommunaltypen.typology import TypologyError, ranking_points

    cb = codebook or default_codebook()
    info = model or default_model()
    try:
        points = ranking_points(list(goals), cb)
    except TypologyError as exc:
        raise InvalidInput([_goal_problem(goals, exc, cb)]) from exc
    return _classify_points(points, info, cb)


def _classify_points(points: np.ndarray, info: ModelInfo, cb: Codebook) -> Classification:
    model = info.typology
    question = cb.typology_question
    order = sorted(
        (i for i in range(points.shape[1]) if points[0, i] > 0), key=lambda i: -points[0, i]
    )
    proba = model.predict_proba(points)[0]
    dist = model.transform(points)[0]
    best = int(model.predict(points)[0])
    return Classification(
        goals=tuple(question.options[i].id for i in order),
        type_id=model.type_ids_[best],
        probabilities={tid: float(p) for tid, p in zip(model.type_ids_, proba, strict=True)},
        distances={tid: float(d) for tid, d in zip(model.type_ids_, dist, strict=True)},
        mischform=bool(proba.max() < model.mischform_threshold),
        mischform_threshold=float(model.mischform_threshold),
        model_id=info.model_id,
        model_name=info.name,
        data_hash=info.data_hash,
    )


# ------------------------------------------------------------------------------ answers
@dataclass(frozen=True)
class AnswerCheck:
    """One municipality's answers after the file import's rules: ``row`` holds the canonical
    values (codebook columns → value or None) when ``ok``; ``problems`` every reason to refuse
    them, ``warnings`` notes that do not refuse them."""

    ok: bool
    row: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def frame(self, codebook: Codebook | None = None) -> pl.DataFrame:
        """The canonical one-row frame (as validation returns it)."""
        from kommunaltypen.schema import canonical_schema

        if self.row is None:
            raise InvalidInput(self.problems)
        cb = codebook or default_codebook()
        return pl.DataFrame([self.row], schema=canonical_schema(cb), orient="row")


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _problem_from_issue(issue: Any) -> Problem:
    """A validation issue of one answer set: the message without the file/row prefix (there is
    one row; the field names the column)."""
    from kommunaltypen.validate import _short_message

    return Problem(
        field=issue.column or "",
        value=issue.value,
        expected=issue.expected,
        message=_short_message(issue),
        rule=issue.rule,
    )


#: validation rules that only warn for files but refuse a form or API submission
_REFUSED_WARNINGS = frozenset({"unknown_columns"})


def check_answers(
    answers: Mapping[str, Any], codebook: Codebook | None = None, source: str | None = None
) -> AnswerCheck:
    """Validate one municipality's answers (codebook column → value; absent = not answered)
    with exactly the rules and messages of a file import. Values are taken as a file cell
    would be (numbers or their text; missing codes such as -9 allowed). A column the codebook
    does not know is refused here (a file import only warns), since a form cannot send one by
    mistake."""
    return check_answers_many([answers], codebook, source)[0]


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _answers_frame(batch: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pl.DataFrame:
    """The answer sets as a raw frame, each column typed as a reader would type it: a column
    nobody answered as ``Null``, one of whole numbers only (not booleans) as ``Int64``, any
    other as the cells' text. Validation treats an already numeric column exactly as the
    same numbers written as text (the file formats' golden tests hold it to that), but parses
    it with a fraction of the work — which is most of the cost of checking one answer set."""
    n = len(batch)
    given: dict[str, list[Any]] = {}  # column -> its cells, for the columns anyone answered
    for i, answers in enumerate(batch):  # over the answered cells only, not rows × columns
        for c, cell in answers.items():
            if cell is not None:
                given.setdefault(c, [None] * n)[i] = cell
    data: dict[str, list[Any]] = {}
    schema: dict[str, Any] = {}
    for c in columns:
        cells = given.get(c)
        if cells is None:
            data[c], schema[c] = [None] * n, pl.Null
        elif all(
            cell is None or (type(cell) is int and _INT64_MIN <= cell <= _INT64_MAX)
            for cell in cells
        ):
            data[c], schema[c] = cells, pl.Int64
        else:
            data[c], schema[c] = [_cell_text(cell) for cell in cells], pl.String
    return pl.DataFrame(data, schema=schema)


def check_answers_many(
    batch: Sequence[Mapping[str, Any]],
    codebook: Codebook | None = None,
    source: str | None = None,
) -> list[AnswerCheck]:
    """:func:`check_answers` for many independent answer sets in one validation pass (a
    server checks concurrent submissions together: one pass over 64 rows costs about as much
    as over one). The answer sets do not see each other: the rule against a repeated
    ``kommune_id`` within a file does not apply between them."""
    from kommunaltypen.validate import validate_frame

    cb = codebook or default_codebook()
    name = source or t("service.answers_source")
    known = set(cb.columns)
    results: list[AnswerCheck | None] = [None] * len(batch)
    clean = [i for i, answers in enumerate(batch) if set(answers) <= known]
    for i in sorted(set(range(len(batch))) - set(clean)):
        # an unknown column: checked alone, so that its warning names only its own columns
        columns = list(dict.fromkeys([*cb.columns, *batch[i]]))
        data, report = validate_frame(
            _answers_frame([batch[i]], columns), source=name, codebook=cb, unique_ids=False
        )
        results[i] = _answer_check(report.issues, data.row(0, named=True) if data.height else None)
    if clean:
        data, report = validate_frame(
            _answers_frame([batch[i] for i in clean], cb.columns),
            source=name,
            codebook=cb,
            unique_ids=False,
        )
        first = report.meta.first_data_row if report.meta is not None else 2
        by_row: dict[int, list[Any]] = {}
        frame_wide: list[Any] = []
        for issue in report.issues:
            if issue.row is None:
                frame_wide.append(issue)
            else:
                by_row.setdefault(issue.row - first, []).append(issue)
        accepted = iter(data.iter_rows(named=True))
        statuses = report.row_status.get_column("status").to_list()
        for k, (i, status) in enumerate(zip(clean, statuses, strict=True)):
            row = next(accepted) if status == "accepted" else None
            results[i] = _answer_check([*frame_wide, *by_row.get(k, [])], row)
    return [r for r in results if r is not None]


def _answer_check(issues: Sequence[Any], row: dict[str, Any] | None) -> AnswerCheck:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for issue in issues:
        refused = issue.severity == "error" or issue.rule in _REFUSED_WARNINGS
        (problems if refused else warnings).append(_problem_from_issue(issue))
    if problems or row is None:
        return AnswerCheck(False, None, problems, warnings)
    return AnswerCheck(True, row, [], warnings)


# ------------------------------------------------------------------------------ analyse
def analyse(
    source: Source | pl.DataFrame | None = None,
    *,
    filename: str | None = None,
    mapping: str | Path | None = None,
    tables: Any = None,
    publication: bool = False,
    min_n: int = 5,
    n_bootstrap: int = 1000,
    seed: int = 0,
    k_choice: bool = True,
    codebook: Codebook | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Validate a data set, fit the typology and compute the tables; nothing is written.

    ``source``: a path, the file's bytes, a binary file object (an upload; ``filename`` names it
    in messages and decides the format), a raw frame (polars or pandas, validated like a file)
    or None for the bundled reconstruction of the study's data."""
    from kommunaltypen import analysis
    from kommunaltypen.mapping import load_mapping
    from kommunaltypen.validate import validate_file, validate_frame

    cb = codebook or default_codebook()
    options: dict[str, Any] = {
        "tables": tables,
        "publication": publication,
        "min_n": min_n,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "k_choice": k_choice,
        "codebook": cb,
        "progress": progress,
    }
    if source is None or isinstance(source, str | Path):
        return analysis.run_analysis(source, mapping=mapping, **options)
    mapping_info = {
        "mapping": None if mapping is None else Path(mapping).name,
        "mapping_sha256": None if mapping is None else _file_sha256(Path(mapping)),
    }
    if isinstance(source, bytes | bytearray) or hasattr(source, "read"):
        raw, name = _read_source(source, filename)
        data, report = validate_file(
            raw, filename=name, mapping=mapping, codebook=cb, progress=progress
        )
        digest: str | None = hashlib.sha256(raw).hexdigest()
    else:  # a frame in memory
        name = filename or "<frame>"
        loaded = load_mapping(mapping) if mapping is not None else None
        data, report = validate_frame(
            source, source=name, codebook=cb, mapping=loaded, progress=progress
        )
        digest = None
    info = {"file": name, "sha256": digest, "bundled": False, **mapping_info}
    return analysis.analyse_validated(data, report, input_info=info, **options)


def _read_source(source: bytes | bytearray | IO[bytes], filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), filename or "upload"
    data = source.read()
    if not isinstance(data, bytes | bytearray):
        raise KommunaltypenError(t("service.not_binary", value=type(data).__name__))
    return bytes(data), filename or Path(str(getattr(source, "name", "") or "upload")).name


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ evaluate
@dataclass(frozen=True)
class Spread:
    """The distribution of a row's per-municipality values in one group."""

    n: int
    q1: float
    median: float
    q3: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RowPlace:
    """One municipality's place in one row of one table.

    ``own`` is its value in the row's unit before scaling (0/1 for shares, the answer for means
    and counts, the points for centres), None where it is outside the row's base (not asked,
    no answer). ``type_value``/``total_value`` are the table's cells (percent for shares) for
    its type and for all municipalities; ``spread``/``type_spread`` the quartiles of the
    per-municipality values (scales, counts, centres; None for shares); ``position`` the
    share of all municipalities with a lower value, ties counted half (0..1)."""

    table: int
    row_id: str
    label_de: str
    label_en: str | None
    measure: str
    percent: bool
    precision: int
    own: float | None
    type_value: float | None
    type_n: int | None
    total_value: float | None
    total_n: int | None
    spread: Spread | None
    type_spread: Spread | None
    position: float | None

    def label(self, lang: str | None = None) -> str:
        return (self.label_en or self.label_de) if (lang or get_lang()) == "en" else self.label_de


@dataclass(frozen=True)
class Evaluation:
    """One municipality's answers against an analysis (see :func:`evaluate`)."""

    answers: dict[str, Any]
    classification: Classification | None
    not_typed_reason: str | None
    places: list[RowPlace]
    recommendations: list[Any]

    def places_of(self, table: int) -> list[RowPlace]:
        return [p for p in self.places if p.table == table]


#: measures whose per-municipality value says something on its own (type shares, grouped
#: medians and sums of shares do not)
_PLACED_MEASURES = frozenset({"share", "share_none", "mean", "mean_count", "mean_ratio", "centre"})


def ranked_goals(row: Mapping[str, Any], codebook: Codebook) -> list[str]:
    """The goal ids a canonical answer row ranks, most important first."""
    question = codebook.typology_question
    ranked = []
    for option, column in zip(question.options, question.columns, strict=True):
        value = row.get(column)
        if value is not None and int(value) > 0:
            ranked.append((int(value), option.id))
    return [goal for _, goal in sorted(ranked)]


def _spread(values: pl.Series) -> Spread | None:
    values = values.drop_nulls()
    if values.len() == 0:
        return None
    q = np.quantile(values.to_numpy().astype(float), [0.25, 0.5, 0.75])
    return Spread(int(values.len()), float(q[0]), float(q[1]), float(q[2]))


def _row_id(spec: Any) -> str:
    return getattr(spec, "id", None) or spec.label_de


@dataclass(frozen=True)
class _TablePlan:
    table: Any  # TableResult
    rows: list[Any]  # RowResults of the placed measures
    exprs: list[pl.Expr]
    values: list[np.ndarray]  # per row: the sorted known values of all municipalities
    spreads: list[Spread | None]  # per row: all municipalities (None for shares)
    type_spreads: list[dict[str, Spread | None]]  # per row and type id


@dataclass(frozen=True)
class ComparisonBasis:
    """What every evaluation against one analysis shares, computed once (:func:`comparison_basis`)
    and read-only afterwards: the per-municipality values of every placed table row. A server
    keeps one per published analysis instead of recomputing it per request."""

    result: AnalysisResult
    codebook: Codebook
    plans: tuple[_TablePlan, ...]
    #: the report's table models of ``result`` (what the recommendation rules read)
    table_models: Any = None


def comparison_basis(result: AnalysisResult, codebook: Codebook | None = None) -> ComparisonBasis:
    """Prepare :func:`evaluate` against ``result`` (the per-municipality row values)."""
    from kommunaltypen.tables.engine import TYPE_COLUMN, row_expression

    cb = codebook or default_codebook()
    all_frame = result.data.with_columns(result.types.alias(TYPE_COLUMN))
    plans = []
    for table in result.tables:
        type_cols = {c.key for c in table.columns if not c.total}
        if not type_cols <= set(result.model.type_ids_):
            continue  # not a table by type (Kommunengruppe layouts)
        rows = [r for r in table.rows if r.spec.measure in _PLACED_MEASURES]
        if not rows:
            continue
        exprs = [row_expression(r.spec, cb).alias(f"r{i}") for i, r in enumerate(rows)]
        everyone = all_frame.select([*exprs, pl.col(TYPE_COLUMN)])
        values, spreads, type_spreads = [], [], []
        for i, r in enumerate(rows):
            column = everyone[f"r{i}"].cast(pl.Float64)
            values.append(np.sort(column.drop_nulls().to_numpy()))
            numeric = not r.spec.is_proportion
            spreads.append(_spread(column) if numeric else None)
            type_spreads.append(
                {
                    tid: _spread(column.filter(everyone[TYPE_COLUMN] == tid)) if numeric else None
                    for tid in result.model.type_ids_
                }
            )
        plans.append(_TablePlan(table, rows, exprs, values, spreads, type_spreads))
    from kommunaltypen.report.recommendations import as_table_models

    return ComparisonBasis(result, cb, tuple(plans), as_table_models(result.tables))


def evaluate(
    answers: Mapping[str, Any],
    basis: AnalysisResult | ComparisonBasis,
    model: ModelInfo | None = None,
    *,
    validated: bool = False,
) -> Evaluation:
    """One municipality's answers against an analysis: its type under ``model`` (default: the
    analysis' own model), probabilities and Mischform, its place in every row of every table
    with type columns, and the recommendations whose conditions its answers meet.

    ``answers`` are validated first (:func:`check_answers`); refused answers raise
    :class:`InvalidInput`. ``validated=True`` takes ``answers`` as the canonical row a check
    already returned (``AnswerCheck.row``, as a submission stores it) and skips the check.
    Pass a :func:`comparison_basis` to evaluate many municipalities against one analysis."""

    if not isinstance(basis, ComparisonBasis):
        basis = comparison_basis(basis)
    result, cb = basis.result, basis.codebook
    if validated:
        check = AnswerCheck(True, {c: answers.get(c) for c in cb.columns})
    else:
        check = check_answers(answers, cb)
    if not check.ok or check.row is None:
        raise InvalidInput(check.problems)
    info = model or ModelInfo(result.model, _model_id("analysis", result.model), "analysis")
    return _evaluate_rows([check.row], basis, info)[0]


def evaluate_many(
    rows: Sequence[Mapping[str, Any]],
    basis: ComparisonBasis,
    model: ModelInfo | None = None,
) -> list[Evaluation]:
    """:func:`evaluate` with ``validated=True`` of many canonical rows against one analysis,
    their own values computed in one polars pass (a pass over 16 rows costs about as much as
    one over a single row). Each result equals ``evaluate(row, basis, model, validated=True)``."""
    result, cb = basis.result, basis.codebook
    info = model or ModelInfo(result.model, _model_id("analysis", result.model), "analysis")
    return _evaluate_rows([{c: r.get(c) for c in cb.columns} for r in rows], basis, info)


def _evaluate_rows(
    rows: Sequence[Mapping[str, Any]], basis: ComparisonBasis, info: ModelInfo
) -> list[Evaluation]:
    from kommunaltypen.schema import canonical_schema
    from kommunaltypen.tables.engine import TYPE_COLUMN

    result, cb = basis.result, basis.codebook
    typed: list[tuple[Classification | None, str | None]] = []
    for row in rows:
        goals = ranked_goals(row, cb)
        classification: Classification | None = None
        reason: str | None = None
        try:
            classification = classify(goals, info, cb) if goals else None
            if classification is None:
                reason = t("service.no_goals")
        except InvalidInput as exc:
            reason = exc.problems[0].message
        typed.append((classification, reason))
    type_ids = [c.type_id if c is not None else None for c, _ in typed]
    own_frame = pl.DataFrame(list(rows), schema=canonical_schema(cb), orient="row").with_columns(
        pl.Series(TYPE_COLUMN, type_ids, dtype=pl.String)
    )
    # every placed row's own value in one pass over the frame of these rows
    own_values = own_frame.select(
        [
            e.alias(f"t{k}_{i}")
            for k, plan in enumerate(basis.plans)
            for i, e in enumerate(plan.exprs)
        ]
    )
    tables = basis.table_models or result.tables
    out = []
    for j, (row, (classification, reason), type_id) in enumerate(
        zip(rows, typed, type_ids, strict=True)
    ):
        values = own_values.row(j, named=True)
        places: list[RowPlace] = []
        for k, plan in enumerate(basis.plans):
            for i, row_result in enumerate(plan.rows):
                places.append(_place(plan, i, row_result, values[f"t{k}_{i}"], type_id))
        out.append(
            Evaluation(
                answers=dict(row),
                classification=classification,
                not_typed_reason=reason,
                places=places,
                recommendations=_recommendations(row, tables),
            )
        )
    return out


def _place(plan: _TablePlan, i: int, row_result: Any, own: Any, type_id: str | None) -> RowPlace:
    spec = row_result.spec
    cells = {c.column.key: c for c in row_result.cells}
    total = next((c for c in row_result.cells if c.column.total), None)
    mine = cells.get(type_id) if type_id is not None else None
    own = None if own is None else float(own)
    known = plan.values[i]
    position = None
    if own is not None and known.size:
        below = np.searchsorted(known, own, side="left")
        ties = np.searchsorted(known, own, side="right") - below
        position = float((below + 0.5 * ties) / known.size)
    return RowPlace(
        table=plan.table.number,
        row_id=_row_id(spec),
        label_de=spec.label_de,
        label_en=spec.label_en,
        measure=spec.measure,
        percent=spec.percent,
        precision=spec.precision,
        own=own,
        type_value=mine.value if mine is not None else None,
        type_n=mine.n if mine is not None else None,
        total_value=total.value if total is not None else None,
        total_n=total.n if total is not None else None,
        spread=plan.spreads[i],
        type_spread=plan.type_spreads[i].get(type_id) if type_id is not None else None,
        position=position,
    )


def _recommendations(row: Mapping[str, Any], tables: Any) -> list[Any]:
    """The shipped recommendation rules that apply to these answers, with their figures."""
    from kommunaltypen.report.recommendations import recommend

    return recommend(dict(row), tables, lang=get_lang())


# ------------------------------------------------------------------------------ codebook
def describe_codebook(codebook: Codebook | None = None, lang: str | None = None) -> dict[str, Any]:
    """The questionnaire as data: the codebook itself (ids, kinds, options, codes, labels,
    missing codes, filters) and one documentation row per data column in ``lang``."""
    import json

    from kommunaltypen.codebook_docs import column_docs

    cb = codebook or default_codebook()
    lang = lang or get_lang()
    return {"codebook": json.loads(cb.to_json()), "columns": column_docs(cb, lang)}
