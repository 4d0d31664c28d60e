"""The official municipality directory shipped with the package, and its loader.

``data/gemeindeverzeichnis.csv.gz`` is a compact extract of the Destatis Gemeindeverzeichnis
GV100AD (written by ``scripts/extract_gemeindeverzeichnis.py``; its Gebietsstand and source
line are in ``data/gemeindeverzeichnis.yaml``):

    Quelle: Statistisches Bundesamt (Destatis), 2025. Vervielfältigung und Verbreitung, auch
    auszugsweise, mit Quellenangabe gestattet.

:func:`load_directory` puts it into the ``kommune`` table on first start (one bulk insert) and
does nothing when the same Gebietsstand is already loaded; a newer shipped directory updates
the rows in place and marks vanished entries inactive (submissions may still refer to them).
"""

from __future__ import annotations

import csv
import gzip
import io
import time
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import Engine, Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from kommunaltypen import yamlio
from kommunaltypen.store.models import Kommune, KommuneWord, StoreMeta

DIRECTORY_FILE = "gemeindeverzeichnis.csv.gz"
META_FILE = "gemeindeverzeichnis.yaml"
STAND_KEY = "directory_stand"
_INT_FIELDS = ("kind_code", "land", "population")
_TRANSLITERATED_UMLAUTS = (("ae", "a"), ("oe", "o"), ("ue", "u"))


def normalize_name(text: str) -> str:
    """The search key of a name or query: case-folded, accents and umlauts removed (ä → a,
    and the spelled-out ae → a, oe → o, ue → u, so "Muenchen", "München" and "munchen" agree;
    ß → ss), every run of other characters (spaces, punctuation, brackets) one space.

    >>> normalize_name("München, Landeshauptstadt")
    'munchen landeshauptstadt'
    >>> normalize_name("Frankfurt (Oder), Stadt") == normalize_name("frankfurt  oder stadt")
    True
    """
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    for spelled, plain in _TRANSLITERATED_UMLAUTS:
        folded = folded.replace(spelled, plain)
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


@dataclass(frozen=True, slots=True)
class DirectoryInfo:
    """Facts about the shipped directory: Gebietsstand, number of rows, source line."""

    stand: str
    rows: int
    source: str


@cache
def directory_info() -> DirectoryInfo:
    """Gebietsstand, size and Destatis source line of the shipped directory (immutable)."""
    raw = resources.files("kommunaltypen") / "data" / META_FILE
    meta = yamlio.safe_load(raw.read_text(encoding="utf-8"))
    return DirectoryInfo(str(meta["stand"]), int(meta["rows"]), " ".join(meta["source"].split()))


def directory_rows() -> list[dict[str, Any]]:
    """The shipped directory as dicts with the columns of :class:`Kommune` (new list each
    call; the caller may change it)."""
    raw = (resources.files("kommunaltypen") / "data" / DIRECTORY_FILE).read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    rows: list[dict[str, Any]] = []
    for row in csv.DictReader(io.StringIO(text)):
        record: dict[str, Any] = dict(row)
        for name in _INT_FIELDS:
            record[name] = int(record[name])
        record["kreis_ars"] = record["kreis_ars"] or None
        record["kreis_name"] = record["kreis_name"] or None
        record["search_key"] = normalize_name(record["name"])
        record["active"] = True
        rows.append(record)
    return rows


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What :func:`load_directory` did: ``inserted`` / ``updated`` / ``deactivated`` rows
    (all 0 when the directory was already loaded), the Gebietsstand and the time taken."""

    stand: str
    inserted: int
    updated: int
    deactivated: int
    seconds: float

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deactivated)


def load_directory(session: Session) -> LoadResult:
    """Load the shipped directory into the ``kommune`` table, inside the session's current
    transaction (the caller commits; e.g. ``with Session.begin() as s: load_directory(s)``).

    Idempotent: when the Gebietsstand recorded in ``store_meta`` equals the shipped one and
    rows exist, nothing is done. An empty table gets one bulk insert (executemany; ``COPY``
    on PostgreSQL, followed by ``ANALYZE``). A table loaded from an older stand is brought up
    to date row by row. Serialised across processes (PostgreSQL advisory lock; SQLite's write
    lock), so workers starting together load once. Needs a writing session."""
    from kommunaltypen.store.engine import exclusive

    started = time.perf_counter()
    info = directory_info()
    with exclusive(session.connection()):
        loaded = session.get(StoreMeta, STAND_KEY)
        count = session.scalar(select(func.count()).select_from(Kommune)) or 0
        if loaded is not None and loaded.value == info.stand and count:
            return LoadResult(info.stand, 0, 0, 0, time.perf_counter() - started)
        rows = directory_rows()
        inserted = updated = deactivated = 0
        if not count:
            _bulk_insert(session, Kommune.__table__, rows)
            _bulk_insert(session, KommuneWord.__table__, word_rows(rows))
            inserted = len(rows)
            if session.connection().dialect.name == "postgresql":
                # statistics now, not when autovacuum gets round to it: the planner needs
                # them to choose the index scans of the search
                session.execute(text("ANALYZE kommune"))
                session.execute(text("ANALYZE kommune_word"))
        else:
            inserted, updated, deactivated = _update_in_place(session, rows)
        if loaded is None:
            session.add(StoreMeta(key=STAND_KEY, value=info.stand))
        else:
            loaded.value = info.stand
        session.flush()
    return LoadResult(info.stand, inserted, updated, deactivated, time.perf_counter() - started)


_COMPARED = (
    "name",
    "search_key",
    "kind",
    "kind_code",
    "land",
    "land_name",
    "population",
    "kreis_ars",
    "kreis_name",
    "active",
)


def _update_in_place(session: Session, rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    existing = {k.ars: k for k in session.scalars(select(Kommune))}
    new_rows = [row for row in rows if row["ars"] not in existing]
    changed = [
        row
        for row in rows
        if row["ars"] in existing
        and any(getattr(existing[row["ars"]], name) != row[name] for name in _COMPARED)
    ]
    shipped = {row["ars"] for row in rows}
    vanished = [ars for ars, k in existing.items() if ars not in shipped and k.active]
    if new_rows:
        session.execute(insert(Kommune), new_rows)
    if changed:
        session.execute(update(Kommune), changed)
    renamed = [row["ars"] for row in changed] + [row["ars"] for row in new_rows]
    if renamed:
        session.execute(delete(KommuneWord).where(KommuneWord.ars.in_(renamed)))
        session.execute(insert(KommuneWord), word_rows(changed + new_rows))
    if vanished:
        session.execute(update(Kommune).where(Kommune.ars.in_(vanished)).values(active=False))
    return len(new_rows), len(changed), len(vanished)


def word_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The :class:`KommuneWord` rows of directory rows: every distinct word of the search key
    after the first, of at least two characters."""
    out: list[dict[str, str]] = []
    for row in rows:
        for word in dict.fromkeys(row["search_key"].split()[1:]):
            if len(word) >= 2:
                out.append({"word": word, "ars": row["ars"]})
    return out


def _bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows fast: PostgreSQL ``COPY … FROM STDIN`` (psycopg 3) inside the
    session's transaction, elsewhere one executemany."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    quoted = ", ".join(f'"{name}"' for name in columns)
    driver = connection.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([row[name] for name in columns])


def prepare_database(engine: Engine) -> LoadResult:
    """Migrate ``engine``'s database to head and load the directory, in one call (what a
    server does on start). Returns what the directory load did."""
    from kommunaltypen.store.engine import migrate, session_factory

    migrate(engine)
    with session_factory(engine).begin() as session:
        return load_directory(session)
