"""The codebook: the questionnaire declared once, as data, loaded into typed objects.

The shipped declaration is ``data/codebook.yaml``. Every other part of kommunaltypen (readers,
validator, templates, table specs, report, web form) reads the questionnaire from here.

Column layout of a data set (the "wide" canonical form):

* ``text``, ``number``, ``percentage``, ``single``, ``ordinal``: one column named ``<id>``;
* ``multiple``: one 0/1 column per option, ``<id>_<option id>``;
* ``ranking``: one column per option, ``<id>_<option id>``, holding the rank (1..max_rank) or
  0/empty for "not ranked".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kommunaltypen import yamlio
from kommunaltypen.errors import CodebookError

Kind = Literal["text", "number", "percentage", "single", "ordinal", "multiple", "ranking"]
MULTI_COLUMN_KINDS = ("multiple", "ranking")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Model):
    code: int
    id: str
    label_de: str
    label_en: str
    exclusive: bool = False


class ScaleLabel(_Model):
    code: int
    label_de: str
    label_en: str


class MissingCode(_Model):
    code: int
    id: str
    label_de: str
    label_en: str


class Filter(_Model):
    """Who is asked: respondents whose answer to ``question`` (or to its ``option`` column)
    is one of ``in_`` values."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    question: str
    option: str | None = None
    in_: tuple[int, ...] = Field(alias="in")

    def column(self, codebook: Codebook) -> str:
        q = codebook.question(self.question)
        return q.column_for(self.option) if self.option else q.id


class Question(_Model):
    id: str
    kind: Kind
    label_de: str
    label_en: str
    section: str
    role: Literal["id", "typology"] | None = None
    required: bool = False
    options: tuple[Option, ...] = ()
    scale_labels: tuple[ScaleLabel, ...] = ()
    min: float | None = None
    max: float | None = None
    integer: bool = False
    max_rank: int | None = None
    filter: Filter | None = None
    tables: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Question:
        if self.kind in ("single", "multiple", "ranking") and not self.options:
            raise ValueError(f"question {self.id!r} of kind {self.kind} needs options")
        if self.kind == "ordinal" and (self.min is None or self.max is None):
            raise ValueError(f"ordinal question {self.id!r} needs min and max")
        if self.kind == "ranking" and not self.max_rank:
            raise ValueError(f"ranking question {self.id!r} needs max_rank")
        codes = [o.code for o in self.options]
        ids = [o.id for o in self.options]
        if len(set(codes)) != len(codes) or len(set(ids)) != len(ids):
            raise ValueError(f"question {self.id!r} has duplicate option codes or ids")
        return self

    # -- columns ---------------------------------------------------------------------------
    @property
    def columns(self) -> tuple[str, ...]:
        if self.kind in MULTI_COLUMN_KINDS:
            return tuple(f"{self.id}_{o.id}" for o in self.options)
        return (self.id,)

    def column_for(self, option_id: str) -> str:
        self.option(option_id)
        return f"{self.id}_{option_id}"

    def option(self, option_id: str) -> Option:
        for o in self.options:
            if o.id == option_id:
                return o
        raise CodebookError(
            f"Frage {self.id!r} hat keine Option {option_id!r}; "
            f"erwartet: {', '.join(o.id for o in self.options)}"
        )

    def option_by_code(self, code: int) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    @property
    def codes(self) -> tuple[int, ...]:
        return tuple(o.code for o in self.options)

    def label(self, lang: str = "de") -> str:
        return self.label_en if lang == "en" else self.label_de


class GroupLevel(_Model):
    id: str
    label_de: str
    label_en: str
    codes: tuple[int, ...]


class Grouping(_Model):
    based_on: str
    label_de: str
    label_en: str
    levels: tuple[GroupLevel, ...]

    def level_for(self, code: int) -> GroupLevel | None:
        return next((lv for lv in self.levels if code in lv.codes), None)


class Codebook(_Model):
    id: str
    version: int
    title_de: str
    title_en: str
    source: str
    missing_codes: tuple[MissingCode, ...]
    groups: dict[str, Grouping]
    population_classes: tuple[tuple[float, float | None], ...]
    questions: tuple[Question, ...]

    @model_validator(mode="after")
    def _check(self) -> Codebook:
        ids = [q.id for q in self.questions]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate question ids: {sorted(dupes)}")
        cols = [c for q in self.questions for c in q.columns]
        dupes = {c for c in cols if cols.count(c) > 1}
        if dupes:
            raise ValueError(f"duplicate column names: {sorted(dupes)}")
        known = set(ids)
        for q in self.questions:
            if q.filter:
                if q.filter.question not in known:
                    raise ValueError(f"filter of {q.id!r} refers to unknown {q.filter.question!r}")
                target = next(x for x in self.questions if x.id == q.filter.question)
                if q.filter.option and q.filter.option not in {o.id for o in target.options}:
                    raise ValueError(f"filter of {q.id!r} refers to unknown option")
        for name, g in self.groups.items():
            if g.based_on not in known:
                raise ValueError(f"group {name!r} is based on unknown question {g.based_on!r}")
        if sum(1 for q in self.questions if q.role == "id") != 1:
            raise ValueError("exactly one question must have role: id")
        return self

    # -- lookups ---------------------------------------------------------------------------
    def question(self, qid: str) -> Question:
        q = self._by_id().get(qid)
        if q is None:
            raise CodebookError(f"Unbekannte Frage {qid!r} im Codebuch")
        return q

    def _by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    def __iter__(self) -> Iterator[Question]:  # type: ignore[override]
        return iter(self.questions)

    @property
    def columns(self) -> tuple[str, ...]:
        """All data columns in canonical order."""
        return tuple(c for q in self.questions for c in q.columns)

    def column_owner(self, column: str) -> tuple[Question, Option | None]:
        """The question (and option, for multi-column kinds) a column belongs to."""
        for q in self.questions:
            if q.kind in MULTI_COLUMN_KINDS:
                for o in q.options:
                    if f"{q.id}_{o.id}" == column:
                        return q, o
            elif q.id == column:
                return q, None
        raise CodebookError(f"Spalte {column!r} ist nicht im Codebuch")

    @property
    def id_column(self) -> str:
        return next(q.id for q in self.questions if q.role == "id")

    @property
    def typology_question(self) -> Question:
        return next(q for q in self.questions if q.role == "typology")

    @property
    def missing_values(self) -> frozenset[int]:
        return frozenset(m.code for m in self.missing_codes)

    def population_class(self, population: float) -> int | None:
        """Index of the population class that holds ``population`` (None if none does)."""
        for i, (lo, hi) in enumerate(self.population_classes):
            if population >= lo and (hi is None or population < hi):
                return i
        return None

    def title(self, lang: str = "de") -> str:
        return self.title_en if lang == "en" else self.title_de

    # -- export ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for q, dq in zip(self.questions, data["questions"], strict=True):
            dq["columns"] = list(q.columns)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def _parse(raw: object, origin: str) -> Codebook:
    if not isinstance(raw, dict):
        raise CodebookError(f"{origin}: erwartet eine YAML-Zuordnung (mapping) auf oberster Ebene")
    try:
        return Codebook.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CodebookError(f"{origin}: ungültiges Codebuch bei {where}: {first['msg']}") from exc


@cache
def default_codebook() -> Codebook:
    """The shipped codebook of the 2019 survey."""
    text = (resources.files("kommunaltypen") / "data" / "codebook.yaml").read_text("utf-8")
    return _parse(yamlio.safe_load(text), "codebook.yaml")


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load a codebook from a YAML/JSON file, or the shipped one when ``path`` is None."""
    if path is None:
        return default_codebook()
    path = Path(path)
    try:
        raw = yamlio.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yamlio.YAMLError) as exc:
        raise CodebookError(f"{path}: Codebuch nicht lesbar ({exc})") from exc
    return _parse(raw, str(path))
