"""Parser of the Destatis Gemeindeverzeichnis GV100AD (fixed-width, 220 characters a record).

Layout after the "Datensatzbeschreibung GV100AD" (positions 1-based, characters of the UTF-8
decoded line — names with umlauts or Sorbian letters count as one character each):

==========  ===========  ================================================================
positions   field        meaning
==========  ===========  ================================================================
1-2         Satzart      10 Land, 20 Regierungsbezirk, 30 Region (BW), 40 Kreis,
                         50 Gemeindeverband, 60 Gemeinde
3-10        Gebietsstand YYYYMMDD
11-12       Land         ARS part 1
13          RB           Regierungsbezirk
14-15       Kreis
16-18       Gemeinde     (Satzart 60)
19-22       Verband      Gemeindeverband (Satzart 50, 60)
23-72       Bezeichnung  name
73-122      Sitz         seat of the administration (10-50)
123-124     TKZ          Textkennzeichen (40: 41-45, 50: 50-58, 60: 60-67)
129-139     Fläche       ha (Satzart 60)
140-150     Bevölkerung  insgesamt (Satzart 60)
==========  ===========  ================================================================

The 12-digit Amtlicher Regionalschlüssel (ARS) of a Gemeinde is Land + RB + Kreis + Verband +
Gemeinde (positions 11-15, 19-22, 16-18); a Kreis has the 5-digit ARS Land + RB + Kreis.

:func:`parse_directory` keeps what the municipality picker needs: the Kreise (Kreis,
Landkreis, Regionalverband; Textkennzeichen 43-45), the kreisfreie Städte / Stadtkreise (once,
from their Gemeinde record, Textkennzeichen 61/62) and the Gemeinden (60, 63, 64, 67);
gemeindefreie Gebiete (65, 66) are no municipalities and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

#: codebook ``kommunenart`` option id for each Textkennzeichen kept
KIND_BY_CODE: Mapping[int, str] = MappingProxyType(
    {
        43: "kreis",
        44: "kreis",
        45: "kreis",
        60: "gemeinde",  # Markt
        61: "kreisfreie_stadt",
        62: "kreisfreie_stadt",  # Stadtkreis (Baden-Württemberg)
        63: "kreisangehoerige_stadt",
        64: "gemeinde",
        67: "kreisangehoerige_stadt",  # Große Kreisstadt
    }
)
#: Kreis-level records of kreisfreie Städte (taken from their Gemeinde record instead)
_CITY_KREIS_CODES = (41, 42)
#: gemeindefreie Gebiete
_NOT_A_MUNICIPALITY = (65, 66)

RECORD_LENGTH = 220
FIELDS = (
    "ars",
    "name",
    "kind",
    "kind_code",
    "land",
    "land_name",
    "population",
    "kreis_ars",
    "kreis_name",
)


class GV100FormatError(ValueError):
    """A line does not follow the GV100AD record layout."""


@dataclass(slots=True)
class DirectoryEntry:
    """One row of the shipped directory extract (the columns of :data:`FIELDS`)."""

    ars: str
    name: str
    kind: str
    kind_code: int
    land: int
    land_name: str
    population: int
    kreis_ars: str | None = None
    kreis_name: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class _Kreis:
    ars: str
    name: str
    kind_code: int
    land: int
    population: int = 0
    members: list[DirectoryEntry] = field(default_factory=list)


def _number(text: str, line_no: int, what: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise GV100FormatError(f"line {line_no}: {what} {text!r} is not a number")
    return int(text)


def parse_directory(lines: Iterable[str]) -> tuple[str, list[DirectoryEntry]]:
    """The Gebietsstand (``YYYY-MM-DD``) and the directory entries of a GV100AD file.

    Entries come in file order (sorted by ARS within each Land: each Kreis before its
    Gemeinden). Raises :class:`GV100FormatError` for a line of the wrong length or with a
    non-numeric key."""
    lands: dict[int, str] = {}
    kreise: dict[str, _Kreis] = {}
    order: list[DirectoryEntry | _Kreis] = []
    stand = ""
    for line_no, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if len(line) != RECORD_LENGTH:
            raise GV100FormatError(
                f"line {line_no}: {len(line)} characters; expected {RECORD_LENGTH}"
            )
        satzart = line[0:2]
        stand = stand or f"{line[2:6]}-{line[6:8]}-{line[8:10]}"
        land = _number(line[10:12], line_no, "Land")
        name = line[22:72].strip()
        if satzart == "10":
            lands[land] = name
            continue
        if satzart not in ("40", "60"):
            continue
        kind_code = _number(line[122:124], line_no, "Textkennzeichen")
        kreis_ars = line[10:15]
        if satzart == "40":
            if kind_code in _CITY_KREIS_CODES:
                continue
            kreis = _Kreis(kreis_ars, name, kind_code, land)
            kreise[kreis_ars] = kreis
            order.append(kreis)
            continue
        population = _number(line[139:150], line_no, "Bevölkerung")
        if kreis_ars in kreise:
            kreise[kreis_ars].population += population
        if kind_code in _NOT_A_MUNICIPALITY or kind_code not in KIND_BY_CODE:
            continue
        ars = line[10:15] + line[18:22] + line[15:18]
        if not ars.isdigit():
            raise GV100FormatError(f"line {line_no}: ARS {ars!r} is not 12 digits")
        in_kreis = kind_code not in (61, 62)
        entry = DirectoryEntry(
            ars=ars,
            name=name,
            kind=KIND_BY_CODE[kind_code],
            kind_code=kind_code,
            land=land,
            land_name="",
            population=population,
            kreis_ars=kreis_ars if in_kreis else None,
        )
        if in_kreis and kreis_ars in kreise:
            kreise[kreis_ars].members.append(entry)
        order.append(entry)
    entries: list[DirectoryEntry] = []
    for item in order:
        if isinstance(item, _Kreis):
            entry = DirectoryEntry(
                ars=item.ars,
                name=item.name,
                kind=KIND_BY_CODE[item.kind_code],
                kind_code=item.kind_code,
                land=item.land,
                land_name="",
                population=item.population,
            )
            for member in item.members:
                member.kreis_name = item.name
        else:
            entry = item
        entry.land_name = lands.get(entry.land, "")
        entries.append(entry)
    return stand, entries


def iter_rows(entries: Iterable[DirectoryEntry]) -> Iterator[dict[str, object]]:
    """Entries as plain dicts (for CSV writing and bulk inserts)."""
    for entry in entries:
        yield entry.as_dict()
