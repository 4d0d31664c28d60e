"""The project's shared vocabulary, declared once and derived everywhere else.

* the four Kommunentypen of the study (ids, labels, order, colours, descriptions) from
  ``data/types.yaml``, and the names of new types a typology of another wave may find
  (``neu_1``, ``neu_2`` …);
* the number-format locale of each user language (German: decimal comma, thousands dot);
* the progress callback type shared by readers, validation, typology, tables and report.

Everything here is immutable after the first load, so it is safe to share between threads and
requests. The language of a label is the current call's (:func:`kommunaltypen.i18n.get_lang`)
unless passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from kommunaltypen import yamlio
from kommunaltypen.i18n import get_lang, t

#: progress callback ``(stage, fraction done 0..1)``
Progress = Callable[[str, float], None]

#: prefix of the ids of new, unnamed types (``neu_1`` …)
NEW_TYPE_PREFIX = "neu_"
_NEW_TYPE = re.compile(r"neu_(\d+)")

#: the column id of "all municipalities" in tables and charts
TOTAL_ID = "gesamt"

#: babel locale of each user language (number formats)
LOCALES = {"de": "de_DE", "en": "en_GB"}


@dataclass(frozen=True)
class TypeInfo:
    """One of the study's Kommunentypen."""

    id: str
    label_de: str
    label_en: str
    short_de: str
    short_en: str
    description_de: str
    description_en: str
    study_n: int
    colour: str

    def label(self, lang: str | None = None) -> str:
        return self.label_en if (lang or get_lang()) == "en" else self.label_de

    def short(self, lang: str | None = None) -> str:
        """An abbreviation for narrow displays."""
        return self.short_en if (lang or get_lang()) == "en" else self.short_de

    def description(self, lang: str | None = None) -> str:
        return self.description_en if (lang or get_lang()) == "en" else self.description_de


@dataclass(frozen=True)
class _Palette:
    total: str
    extra: tuple[str, ...]


@cache
def _load() -> tuple[tuple[TypeInfo, ...], _Palette]:
    text = (resources.files("kommunaltypen") / "data" / "types.yaml").read_text("utf-8")
    data = yamlio.safe_load(text)
    types = tuple(
        TypeInfo(
            id=row["id"],
            label_de=row["label_de"],
            label_en=row["label_en"],
            short_de=row["short_de"],
            short_en=row["short_en"],
            description_de=row["description_de"],
            description_en=row["description_en"],
            study_n=int(row["study_n"]),
            colour=row["colour"],
        )
        for row in data["types"]
    )
    return types, _Palette(total=data["total_colour"], extra=tuple(data["extra_colours"]))


def study_types() -> tuple[TypeInfo, ...]:
    """The four study types in the study's order (its column order in Tables 1–16)."""
    return _load()[0]


def study_type(type_id: str) -> TypeInfo | None:
    return next((info for info in study_types() if info.id == type_id), None)


#: the study's type ids in the study's order
TYPE_IDS: tuple[str, ...] = tuple(info.id for info in study_types())


def is_new_type(type_id: str) -> bool:
    """A new, unnamed type found by a typology (``neu_1`` …)."""
    return _NEW_TYPE.fullmatch(type_id) is not None


def is_type_id(type_id: str) -> bool:
    """A study type id or a new type id."""
    return type_id in TYPE_IDS or is_new_type(type_id)


def type_label(type_id: str | None, lang: str | None = None) -> str:
    """User-facing label of a type id (study type, ``neu_<i>``, or None = not typed)."""
    lang = lang or get_lang()
    if type_id is None:
        return t("typology.not_typed", lang=lang)
    info = study_type(type_id)
    if info is not None:
        return info.label(lang)
    match = _NEW_TYPE.fullmatch(type_id)
    if match is not None:
        return t("typology.new_type", lang=lang, number=match.group(1))
    return type_id


def type_labels(type_id: str) -> dict[str, str]:
    """``{"de": …, "en": …}`` for one type id."""
    return {lang: type_label(type_id, lang) for lang in ("de", "en")}


def type_colour(type_id: str) -> str:
    """The colour of a type (or of the total column) in charts and pages."""
    info = study_type(type_id)
    if info is not None:
        return info.colour
    palette = _load()[1]
    if type_id == TOTAL_ID:
        return palette.total
    match = _NEW_TYPE.fullmatch(type_id)
    if match is not None:
        return palette.extra[(int(match.group(1)) - 1) % len(palette.extra)]
    return "#999999"


def extra_colours() -> tuple[str, ...]:
    """Colours for series that are not types."""
    return _load()[1].extra


def number_locale(lang: str | None = None) -> str:
    """The babel locale for numbers in ``lang`` (default: the current call's language)."""
    return LOCALES.get(lang or get_lang(), LOCALES["de"])


def format_number(value: float | None, precision: int, lang: str | None = None) -> str:
    """``value`` with ``precision`` decimals in the language's notation; "–" for no value.
    The one number format of every output (terminal, report, Thesen-Check, Typ-Check)."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    # the sign bit is part of the key: -0.0 == 0.0, but babel may print "-0"
    return _format_decimal(value, math.copysign(1.0, value), precision, number_locale(lang))


@lru_cache(maxsize=8192)
def _format_decimal(value: float, sign: float, precision: int, locale: str) -> str:
    """babel's formatting, memoised (a pure function of its arguments): a report formats the
    same figures for the print HTML, the screen HTML and the charts, and babel takes ~25 µs
    per number."""
    from babel.numbers import format_decimal

    del sign  # only in the key
    pattern = "#,##0" + ("." + "0" * precision if precision > 0 else "")
    return format_decimal(value, format=pattern, locale=locale)


def format_percent(share: float, lang: str | None = None, precision: int = 1) -> str:
    """A proportion 0..1 as a percentage in the language's notation (``12,5 %``)."""
    from babel.numbers import format_percent as _format_percent

    pattern = "#,##0" + ("." + "0" * precision if precision > 0 else "") + " %"
    return _format_percent(share, format=pattern, locale=number_locale(lang))
