"""The claims file: pydantic models, the loader and the checks against codebook and tables.

Format (``data/claims.yaml``, documented in ``docs/claims.md``)::

    version: 1
    settings: {alpha: 0.05, correction: holm}
    measures:          # derived measures, from codebook columns
      - {id: basiskomponenten_anzahl, kind: count, columns: [...], values: [1], label_de, label_en}
    claims:
      - {id: A01, kind: association, x: <measure or column>, y: ..., direction: positive, ...}
      - {id: T01, kind: type, table: 9, rows: [<row id or label>], order: [[optimierer], [...]]}

Every claim has the study's place(s) (``places``: chapter, pages, optionally table) and a
short wording in German and English (``text_de``/``text_en``). Problems are reported as
:class:`ClaimsError` naming the file, the claim or measure, what was received and what was
expected.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kommunaltypen import yamlio
from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import CodebookError, KommunaltypenError
from kommunaltypen.i18n import t
from kommunaltypen.tables.spec import RowSpec, TableSpec, study_tables
from kommunaltypen.vocabulary import TYPE_IDS

Scale = Literal["binary", "ordinal"]
Method = Literal["auto", "kendall", "spearman"]
#: table layouts whose columns are the types (type claims need them)
TYPE_LAYOUTS = ("types", "types_total")
#: row measures a type claim can rest on (one value per municipality)
TYPE_CLAIM_MEASURES = (
    "share",
    "share_none",
    "mean",
    "mean_count",
    "mean_ratio",
    "share_sum",
    "centre",
)


class ClaimsError(KommunaltypenError):
    """A claims file is malformed or refers to unknown columns, measures, types, tables or
    rows."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Place(_Model):
    """Where the study states the finding: chapter (``"1"`` = the theses, ``"5.3"`` …), the
    pages of that section, and for type claims the table it rests on."""

    chapter: str = Field(min_length=1)
    pages: str = Field(min_length=1)
    table: int | None = None

    def text(self, lang: str = "de") -> str:
        key = "claims.place_table" if self.table is not None else "claims.place"
        return t(key, lang=lang, chapter=self.chapter, pages=self.pages, table=self.table)


class Measure(_Model):
    """A derived measure (or a codebook column with a label).

    * ``column``: one codebook column; with ``values`` it becomes binary (1 = value in
      ``values``); ``planned_question: true`` declares a column the codebook may lack yet
      (claims using it show "no data" until the codebook and data have it);
    * ``count``: how many of ``columns`` hold one of ``values`` (default 1 = ticked; for
      ranking columns e.g. [1, 2, 3]); null when every column is null;
    * ``any``: 1 if any of ``columns`` holds one of ``values``, else 0; null when all are null.
    """

    id: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["column", "count", "any"]
    label_de: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    column: str | None = None
    columns: tuple[str, ...] | None = None
    values: tuple[float, ...] | None = None
    scale: Scale | None = None
    planned_question: bool = False

    @model_validator(mode="after")
    def _fields(self) -> Measure:
        if self.kind == "column":
            if not self.column or self.columns:
                raise ValueError("kind 'column' needs 'column' (one codebook column), no 'columns'")
        else:
            if not self.columns or self.column:
                raise ValueError(f"kind {self.kind!r} needs 'columns' (a list), no 'column'")
            if self.planned_question:
                raise ValueError("'planned_question' is only for kind 'column'")
        if self.values is not None and not self.values:
            raise ValueError("'values' needs at least one value")
        return self

    def label(self, lang: str = "de") -> str:
        return self.label_en if lang == "en" else self.label_de

    def referenced_columns(self) -> tuple[str, ...]:
        return (self.column,) if self.column else tuple(self.columns or ())


class Settings(_Model):
    alpha: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["holm", "bh"] = "holm"


class _ClaimBase(_Model):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    places: tuple[Place, ...] = Field(min_length=1)
    text_de: str = Field(min_length=1)
    text_en: str = Field(min_length=1)

    def text(self, lang: str = "de") -> str:
        return self.text_en if lang == "en" else self.text_de

    def place_text(self, lang: str = "de") -> str:
        return "; ".join(p.text(lang) for p in self.places)


class AssociationClaim(_ClaimBase):
    """Two measures go together: ``direction`` positive (both high together) or negative."""

    kind: Literal["association"]
    x: str = Field(min_length=1)
    y: str = Field(min_length=1)
    direction: Literal["positive", "negative"]
    method: Method = "auto"

    @model_validator(mode="after")
    def _distinct(self) -> AssociationClaim:
        if self.x == self.y:
            raise ValueError("x and y must be two different measures")
        return self


class TypeClaim(_ClaimBase):
    """Types order on table rows: every type of an earlier group of ``order`` has a higher
    value than every type of a later group, on every row of ``rows``.

    Shorthands: ``highest: <type>`` (that type above all others) and ``lowest: <type>``.
    """

    kind: Literal["type"]
    table: int = Field(ge=1)
    rows: tuple[str, ...] = Field(min_length=1)
    order: tuple[tuple[str, ...], ...] | None = None
    highest: str | None = None
    lowest: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _groups(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("order"), list):
            data = dict(data)
            data["order"] = [g if isinstance(g, list) else [g] for g in data["order"]]
        return data

    @model_validator(mode="after")
    def _one_form(self) -> TypeClaim:
        given = [f for f in ("order", "highest", "lowest") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("a type claim needs exactly one of 'order', 'highest', 'lowest'")
        if self.order is not None:
            if len(self.order) < 2 or any(not g for g in self.order):
                raise ValueError("'order' needs at least two non-empty groups of types")
            flat = [tid for g in self.order for tid in g]
            if len(flat) != len(set(flat)):
                raise ValueError("'order' names a type twice")
        return self

    def groups(self) -> tuple[tuple[str, ...], ...]:
        """The claimed order as groups (highest first)."""
        if self.order is not None:
            return self.order
        if self.highest is not None:
            return ((self.highest,), tuple(tid for tid in TYPE_IDS if tid != self.highest))
        assert self.lowest is not None
        return (tuple(tid for tid in TYPE_IDS if tid != self.lowest), (self.lowest,))

    def named_types(self) -> list[str]:
        if self.order is not None:
            return [tid for g in self.order for tid in g]
        return [self.highest or self.lowest or ""]

    def comparisons(self) -> list[tuple[str, str]]:
        """Pairs (higher, lower) the claim asserts: each type of a group vs each type of the
        next group."""
        groups = self.groups()
        return [(a, b) for hi, lo in itertools.pairwise(groups) for a in hi for b in lo]


Claim = AssociationClaim | TypeClaim


class ClaimsFile(_Model):
    version: Literal[1] = 1
    settings: Settings = Settings()
    measures: tuple[Measure, ...] = ()
    #: the claim model is picked by ``kind``, so that errors name the right fields
    claims: tuple[Annotated[Claim, Field(discriminator="kind")], ...] = Field(min_length=1)


@dataclass(frozen=True)
class Claims:
    """A loaded, checked claims file."""

    source: str
    settings: Settings
    measures: MappingProxyType[str, Measure]
    claims: tuple[Claim, ...]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)

    def claim(self, claim_id: str) -> Claim:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise KeyError(claim_id)


# ----------------------------------------------------------------------------- row lookup
def row_keys(row: RowSpec) -> list[str]:
    """Every key a claim may use for a table row: its ``id`` (when the declaration has
    one), its German and its English label."""
    keys = [getattr(row, "id", None), row.label_de, row.label_en]
    return [k for k in keys if k]


def find_row(table: TableSpec, key: str) -> RowSpec | None:
    for row in table.rows:
        if key in row_keys(row):
            return row
    return None


def _expected_rows(table: TableSpec, limit: int = 6) -> str:
    keys = [getattr(r, "id", None) or r.label_de for r in table.rows]
    more = f", … ({len(keys)})" if len(keys) > limit else ""
    return ", ".join(repr(k) for k in keys[:limit]) + more


# ----------------------------------------------------------------------------- parsing
def _location(raw: object, loc: tuple[int | str, ...]) -> str:
    """The claim or measure an error location points into (its id when it has one)."""
    if len(loc) >= 2 and loc[0] in ("claims", "measures") and isinstance(loc[1], int):
        try:
            item = raw[loc[0]][loc[1]]  # type: ignore[index]
            ident = item.get("id") if isinstance(item, dict) else None
        except (KeyError, IndexError, TypeError):
            ident = None
        what = "claim" if loc[0] == "claims" else "measure"
        return f"{what} {ident!r}" if ident else f"{what} #{loc[1] + 1}"
    return "-"


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def column_scale(column: str, codebook: Codebook) -> Scale | None:
    """The scale of a codebook column used directly in an association: multiple-choice
    options and yes/no questions are binary; ordinal scales, numbers and percentages are
    ordinal; anything else (text, ranks, nominal single choice) has none."""
    question, _ = codebook.column_owner(column)
    if question.kind == "multiple":
        return "binary"
    if question.kind in ("ordinal", "number", "percentage"):
        return "ordinal"
    if question.kind == "single" and set(question.codes) == {0, 1}:
        return "binary"
    return None


def measure_scale(measure: Measure, codebook: Codebook) -> Scale | None:
    if measure.scale is not None:
        return measure.scale
    if measure.kind == "count":
        return "ordinal"
    if measure.kind == "any" or measure.values is not None:
        return "binary"
    assert measure.column is not None
    if measure.column not in codebook.columns:
        return None  # planned question: unknown until the codebook has it
    return column_scale(measure.column, codebook)


def _check_references(
    parsed: ClaimsFile, origin: str, codebook: Codebook, tables: Sequence[TableSpec]
) -> None:
    known = set(codebook.columns)
    measures = {m.id: m for m in parsed.measures}
    ids = [m.id for m in parsed.measures]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ClaimsError(t("claims.spec_duplicate", file=origin, what="measures", ids=dupes))
    ids = [c.id for c in parsed.claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ClaimsError(t("claims.spec_duplicate", file=origin, what="claims", ids=dupes))
    for m in parsed.measures:
        for col in m.referenced_columns():
            if col in known or (m.planned_question and m.kind == "column"):
                continue
            raise ClaimsError(
                t("claims.spec_unknown_column", file=origin, where=f"measure {m.id!r}", column=col)
            )
        if (
            m.kind == "column"
            and m.column in known
            and m.values is None
            and m.scale is None
            and column_scale(m.column, codebook) is None
        ):
            raise ClaimsError(t("claims.spec_no_scale", file=origin, measure=m.id, column=m.column))
        if m.id in known and not (m.kind == "column" and m.column == m.id):
            raise ClaimsError(t("claims.spec_measure_shadows", file=origin, measure=m.id))
    by_number = {tb.number: tb for tb in tables}
    for claim in parsed.claims:
        if isinstance(claim, AssociationClaim):
            for var in (claim.x, claim.y):
                if var in measures:
                    continue
                if var not in known:
                    raise ClaimsError(
                        t(
                            "claims.spec_unknown_variable",
                            file=origin,
                            claim=claim.id,
                            got=var,
                            measures=", ".join(sorted(measures)) or "-",
                        )
                    )
                if column_scale(var, codebook) is None:
                    raise ClaimsError(
                        t("claims.spec_no_scale", file=origin, measure=var, column=var)
                    )
            if claim.method != "auto":
                sx, sy = (
                    measure_scale(measures[v], codebook)
                    if v in measures
                    else column_scale(v, codebook)
                    for v in (claim.x, claim.y)
                )
                if "binary" in (sx, sy):
                    raise ClaimsError(
                        t(
                            "claims.spec_method_scale",
                            file=origin,
                            claim=claim.id,
                            method=claim.method,
                            x=claim.x,
                            y=claim.y,
                            scale_x=sx,
                            scale_y=sy,
                        )
                    )
            continue
        for tid in claim.named_types():
            if tid not in TYPE_IDS:
                raise ClaimsError(
                    t(
                        "claims.spec_unknown_type",
                        file=origin,
                        claim=claim.id,
                        got=tid,
                        expected=", ".join(TYPE_IDS),
                    )
                )
        table = by_number.get(claim.table)
        if table is None:
            raise ClaimsError(
                t(
                    "claims.spec_unknown_table",
                    file=origin,
                    claim=claim.id,
                    got=claim.table,
                    expected=", ".join(str(n) for n in sorted(by_number)),
                )
            )
        if table.columns not in TYPE_LAYOUTS:
            raise ClaimsError(
                t("claims.spec_table_not_types", file=origin, claim=claim.id, table=claim.table)
            )
        for key in claim.rows:
            row = find_row(table, key)
            if row is None:
                raise ClaimsError(
                    t(
                        "claims.spec_unknown_row",
                        file=origin,
                        claim=claim.id,
                        table=claim.table,
                        got=key,
                        expected=_expected_rows(table),
                    )
                )
            if row.measure not in TYPE_CLAIM_MEASURES or row.type is not None:
                raise ClaimsError(
                    t(
                        "claims.spec_row_measure",
                        file=origin,
                        claim=claim.id,
                        row=key,
                        measure=row.measure,
                    )
                )


def parse_claims(
    raw: object,
    origin: str,
    *,
    codebook: Codebook | None = None,
    tables: Sequence[TableSpec] | None = None,
) -> Claims:
    """Validate a parsed claims document against the format, the codebook and the tables."""
    if not isinstance(raw, dict) or "claims" not in raw:
        raise ClaimsError(t("claims.spec_top", file=origin, got=type(raw).__name__))
    try:
        parsed = ClaimsFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        # the claim union adds the model name to the location; drop it for readers
        loc = tuple(p for p in loc if p not in ("association", "type"))
        raise ClaimsError(
            t(
                "claims.spec_invalid",
                file=origin,
                item=_location(raw, loc),
                where=".".join(str(p) for p in loc) or "-",
                msg=first["msg"],
                got=_short(first.get("input")),
            )
        ) from exc
    cb = codebook or default_codebook()
    specs = list(tables) if tables is not None else list(study_tables())
    try:
        _check_references(parsed, origin, cb, specs)
    except CodebookError as exc:  # pragma: no cover - columns are checked before their owner
        raise ClaimsError(str(exc)) from exc
    return Claims(
        source=origin,
        settings=parsed.settings,
        measures=MappingProxyType({m.id: m for m in parsed.measures}),
        claims=tuple(parsed.claims),
    )


def default_claims_path() -> Path:
    return Path(str(resources.files("kommunaltypen") / "data" / "claims.yaml"))


@cache
def _default_claims() -> Claims:
    return _load(default_claims_path(), None, None)


def _load(path: Path, codebook: Codebook | None, tables: Sequence[TableSpec] | None) -> Claims:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClaimsError(t("claims.spec_unreadable", file=str(path), error=str(exc))) from exc
    try:
        raw = yamlio.safe_load(text)
    except yamlio.YAMLError as exc:
        raise ClaimsError(t("claims.spec_yaml", file=str(path), error=str(exc))) from exc
    return parse_claims(raw, str(path), codebook=codebook, tables=tables)


def load_claims(
    path: str | Path | None = None,
    *,
    codebook: Codebook | None = None,
    tables: Sequence[TableSpec] | None = None,
) -> Claims:
    """Load and check a claims file; without ``path`` the shipped ``data/claims.yaml``
    (checked against the shipped codebook and the study's table declarations)."""
    if path is None and codebook is None and tables is None:
        return _default_claims()
    return _load(Path(path) if path is not None else default_claims_path(), codebook, tables)
