"""Table declarations: pydantic models and the loader of declaration files.

The format is the contract in ``docs/tables.md``. A declaration file holds ``tables:``, a list
of tables; each table has a column ``layout`` and ``rows``; each row names a ``measure``, the
codebook column(s) it reads, optional ``where`` conditions restricting its base, and the
printed precision. Problems are reported as :class:`~kommunaltypen.errors.TableSpecError`
naming the file, the table and the row.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kommunaltypen import yamlio
from kommunaltypen.codebook import Codebook, default_codebook
from kommunaltypen.errors import CodebookError, TableSpecError
from kommunaltypen.i18n import t

Measure = Literal[
    "centre",
    "type_share",
    "grouped_median",
    "share",
    "share_none",
    "mean",
    "mean_count",
    "mean_ratio",
    "share_sum",
]
Layout = Literal["types", "types_total", "kommunengruppe_all", "kreis_vs_rest"]
TestName = Literal["auto", "chi2", "anova", "kruskal", "none"]

#: measures whose value is a percentage (and whose cells get a Wilson interval)
PERCENT_MEASURES = frozenset({"share", "share_none", "type_share", "mean_ratio"})
#: measures whose cell value is a proportion of base rows (binomial: Wilson CI, chi-square)
PROPORTION_MEASURES = frozenset({"share", "share_none", "type_share"})

from kommunaltypen.vocabulary import TYPE_IDS  # noqa: E402  (declared once, in types.yaml)

#: what a row id looks like (explicit ``id:`` or derived from ``label_de``)
ROW_ID = re.compile(r"[a-z0-9][a-z0-9_]*")


def slug(text: str) -> str:
    """A stable ASCII id for a label: ``"Bedächtige"`` → ``"bedaechtige"`` (lower case,
    umlauts transliterated, every run of other characters → ``_``)."""
    text = str(text).strip().lower()
    for src, dst in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(src, dst)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Model):
    """A ``where`` condition: ``{column: C, in: [..]}`` or ``{column: C, not_null: true}``."""

    column: str
    in_: tuple[float, ...] | None = Field(default=None, alias="in")
    not_null: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        if (self.in_ is None) == (self.not_null is None):
            raise ValueError("a where condition needs exactly one of 'in' or 'not_null'")
        if self.in_ is not None and not self.in_:
            raise ValueError("'in' needs at least one value")
        if self.not_null is False:
            raise ValueError("'not_null' can only be true")
        return self


class ColumnSet(_Model):
    """Columns counted by ``mean_ratio`` (numerator / denominator)."""

    columns: tuple[str, ...] = Field(min_length=1)
    values: tuple[float, ...] = (1,)


class RowSpec(_Model):
    #: stable id of the row, unique in its table (explicit ``id:``, else derived once from
    #: ``label_de`` by :func:`slug`); outputs, charts, profiles and recommendations use it
    id: str = ""
    label_de: str = Field(min_length=1)
    label_en: str | None = None
    measure: Measure
    column: str | None = None
    columns: tuple[str, ...] | None = None
    values: tuple[float, ...] | None = None
    type: str | None = None
    base_column: str | None = None
    numerator: ColumnSet | None = None
    denominator: ColumnSet | None = None
    where: tuple[Condition, ...] = ()
    precision: int = Field(default=1, ge=0, le=6)
    study_label: str | None = None
    study_label_en: str | None = None
    part: Literal["angeboten", "geplant"] | None = None
    test: TestName = "auto"

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, raw: object) -> object:
        """A row without ``id:`` gets the slug of its German label (deterministic)."""
        if isinstance(raw, dict) and not raw.get("id") and isinstance(raw.get("label_de"), str):
            return {**raw, "id": slug(raw["label_de"])}
        return raw

    @model_validator(mode="after")
    def _fields_for_measure(self) -> RowSpec:
        if not ROW_ID.fullmatch(self.id):
            raise ValueError(
                f"row id {self.id!r} is not usable; expected lower-case letters, digits and "
                "'_' (e.g. 'strategie_vorhanden'); set 'id:' on the row"
            )
        m = self.measure
        need: dict[str, tuple[str, ...]] = {
            "centre": ("column",),
            "type_share": ("type",),
            "grouped_median": ("column",),
            "share": ("column", "values"),
            "share_none": ("columns",),
            "mean": ("column",),
            "mean_count": ("columns",),
            "mean_ratio": ("numerator", "denominator"),
            "share_sum": ("columns",),
        }
        missing = [f for f in need[m] if getattr(self, f) in (None, ())]
        if missing:
            raise ValueError(f"measure {m!r} needs the field(s) {', '.join(missing)}")
        allowed = set(need[m]) | {"type"}  # type: restricts the base to one type
        if m in ("mean_count", "share_sum"):
            allowed.add("values")
        if m in ("share_none", "mean_count"):
            allowed.add("base_column")
        for f in ("column", "columns", "values", "type", "base_column", "numerator", "denominator"):
            if f not in allowed and getattr(self, f) is not None:
                raise ValueError(f"field {f!r} is not used by measure {m!r}")
        if self.type is not None and not (
            self.type in TYPE_IDS or re.fullmatch(r"neu_\d+", self.type)
        ):
            raise ValueError(
                f"unknown type {self.type!r}; expected one of {', '.join(TYPE_IDS)} or neu_<n>"
            )
        if (self.part is None) != (self.study_label is None):
            raise ValueError("'part' and 'study_label' must be given together")
        if self.study_label_en is not None and self.study_label is None:
            raise ValueError("'study_label_en' needs 'study_label' and 'part'")
        return self

    # -- derived -----------------------------------------------------------------------------
    @property
    def percent(self) -> bool:
        return self.measure in PERCENT_MEASURES

    @property
    def is_proportion(self) -> bool:
        return self.measure in PROPORTION_MEASURES

    @property
    def count_values(self) -> tuple[float, ...]:
        """Values counted by ``mean_count`` and ``share_sum`` (default: ticked = 1)."""
        return self.values or (1,)

    def label(self, lang: str = "de") -> str:
        return (self.label_en or self.label_de) if lang == "en" else self.label_de

    def pair_label(self, lang: str = "de") -> str:
        """Label of an offered/planned pair (Table 12): the study's label of the pair."""
        if lang == "en" and self.study_label_en:
            return self.study_label_en
        return self.study_label or self.label(lang)

    def referenced_columns(self) -> list[str]:
        cols: list[str] = []
        if self.column:
            cols.append(self.column)
        cols.extend(self.columns or ())
        if self.base_column:
            cols.append(self.base_column)
        for cs in (self.numerator, self.denominator):
            if cs is not None:
                cols.extend(cs.columns)
        cols.extend(c.column for c in self.where)
        return cols


class TableSpec(_Model):
    number: int = Field(ge=1)
    id: str | None = None
    caption_de: str = Field(min_length=1)
    caption_en: str | None = None
    columns: Layout
    rows: tuple[RowSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_rows(self) -> TableSpec:
        labels = [r.label_de for r in self.rows]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"duplicate row labels: {dupes}")
        ids = [r.id for r in self.rows]
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            raise ValueError(
                f"duplicate row ids {dupes} (explicit 'id:' or derived from 'label_de'); "
                "expected a unique id per row: set a distinct 'id:' on these rows"
            )
        pairs: dict[str, list[str]] = {}
        for r in self.rows:
            if r.part is not None and r.study_label is not None:
                pairs.setdefault(r.study_label, []).append(r.part)
        for label, parts in pairs.items():
            if sorted(parts) not in (["angeboten"], ["angeboten", "geplant"], ["geplant"]):
                raise ValueError(
                    f"study_label {label!r}: parts {parts}; expected at most one 'angeboten' "
                    "and one 'geplant' row"
                )
        return self

    def row(self, row_id: str) -> RowSpec:
        """The row with id ``row_id`` (KeyError if there is none)."""
        for r in self.rows:
            if r.id == row_id:
                return r
        raise KeyError(row_id)

    def caption(self, lang: str = "de") -> str:
        return (self.caption_en or self.caption_de) if lang == "en" else self.caption_de

    @property
    def file_name(self) -> str:
        return f"table_{self.number:02d}.csv"


class TableFile(_Model):
    tables: tuple[TableSpec, ...] = Field(min_length=1)


def _location(raw: object, loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Table and row description for an error location inside the raw YAML."""
    table_desc, row_desc = "-", "-"
    if len(loc) >= 2 and loc[0] == "tables" and isinstance(loc[1], int):
        try:
            table = raw["tables"][loc[1]]  # type: ignore[index]
            table_desc = str(table.get("number", f"#{loc[1] + 1}"))
            if len(loc) >= 4 and loc[2] == "rows" and isinstance(loc[3], int):
                row = table["rows"][loc[3]]
                row_desc = repr(row.get("label_de", f"#{loc[3] + 1}"))
        except (KeyError, IndexError, TypeError, AttributeError):
            pass  # the raw declaration is malformed there: keep the generic descriptions
    return table_desc, row_desc


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_tables(raw: object, origin: str, codebook: Codebook | None = None) -> list[TableSpec]:
    """Validate a parsed declaration (``{"tables": [...]}``) against the format and codebook."""
    if not isinstance(raw, dict) or "tables" not in raw:
        raise TableSpecError(t("tables.spec_top", file=origin, got=type(raw).__name__))
    try:
        parsed = TableFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        table_desc, row_desc = _location(raw, loc)
        where = ".".join(str(p) for p in loc)
        raise TableSpecError(
            t(
                "tables.spec_invalid",
                file=origin,
                table=table_desc,
                row=row_desc,
                where=where,
                msg=first["msg"],
                got=_short(first.get("input")),
            )
        ) from exc
    numbers = [tb.number for tb in parsed.tables]
    dupes = sorted({n for n in numbers if numbers.count(n) > 1})
    if dupes:
        raise TableSpecError(t("tables.spec_duplicate_number", file=origin, numbers=dupes))
    cb = codebook or default_codebook()
    known = set(cb.columns)
    for tb in parsed.tables:
        for row in tb.rows:
            for col in row.referenced_columns():
                if col not in known:
                    raise TableSpecError(
                        t(
                            "tables.spec_unknown_column",
                            file=origin,
                            table=tb.number,
                            row=row.label_de,
                            column=col,
                        )
                    )
            if row.measure == "grouped_median" and not cb.population_classes:
                raise TableSpecError(
                    t("tables.spec_no_classes", file=origin, table=tb.number, row=row.label_de)
                )
            if row.measure == "centre":
                try:
                    owner, _ = cb.column_owner(row.column or "")
                except CodebookError:  # pragma: no cover - checked above via `known`
                    owner = None
                if owner is None or owner.kind != "ranking":
                    raise TableSpecError(
                        t(
                            "tables.spec_centre_ranking",
                            file=origin,
                            table=tb.number,
                            row=row.label_de,
                            column=row.column,
                        )
                    )
    return list(parsed.tables)


def load_tables(
    path: str | Path | None = None, codebook: Codebook | None = None
) -> list[TableSpec]:
    """Load a declaration file; without ``path`` the study's Tables 1–16."""
    if path is None:
        return list(study_tables())
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TableSpecError(t("tables.spec_unreadable", file=str(path), error=str(exc))) from exc
    try:
        raw = yamlio.safe_load(text)
    except yamlio.YAMLError as exc:
        raise TableSpecError(t("tables.spec_yaml", file=str(path), error=str(exc))) from exc
    return parse_tables(raw, str(path), codebook)


def study_tables_path() -> Path:
    return Path(str(resources.files("kommunaltypen") / "data" / "tables" / "study.yaml"))


@cache
def study_tables() -> tuple[TableSpec, ...]:
    """The shipped declarations of the study's Tables 1–16 (``data/tables/study.yaml``)."""
    path = study_tables_path()
    if not path.is_file():
        raise TableSpecError(t("tables.spec_missing_study", file=str(path)))
    return tuple(load_tables(path))
