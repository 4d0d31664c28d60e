"""Repositories: the only way the web layer reads and writes the database.

Each repository is constructed with a SQLAlchemy :class:`~sqlalchemy.orm.Session` and works
inside the session's current transaction: methods ``flush`` (so constraint violations surface
at the call) but never commit — the caller owns the transaction (``with Session.begin() as
s: ...``). Records are the ORM objects of :mod:`kommunaltypen.store.models` (their docstrings
list the fields); sessions from :func:`~kommunaltypen.store.engine.session_factory` keep them
readable after the commit.

Tokens: the store only ever sees the SHA-256 hash of a submission's private token
(:func:`token_hash`); the web layer generates the token and keeps it out of the database.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kommunaltypen.i18n import t
from kommunaltypen.store.directory import normalize_name
from kommunaltypen.store.errors import StoreError
from kommunaltypen.store.gv100 import FIELDS as DIRECTORY_FIELDS
from kommunaltypen.store.models import (
    AuditLog,
    Kommune,
    KommuneWord,
    PublishedModel,
    Submission,
    SubmissionStatus,
    Wave,
    utcnow,
)

#: the Länder by codebook option id (``bundesland``), for the ``land`` filter
LAND_IDS: Mapping[str, int] = MappingProxyType(
    {
        "sh": 1,
        "hh": 2,
        "ni": 3,
        "hb": 4,
        "nw": 5,
        "he": 6,
        "rp": 7,
        "bw": 8,
        "by": 9,
        "sl": 10,
        "be": 11,
        "bb": 12,
        "mv": 13,
        "sn": 14,
        "st": 15,
        "th": 16,
    }
)
MAX_SEARCH_LIMIT = 100


class NotFound(StoreError):
    """The record asked for does not exist."""


class SubmissionFinalError(StoreError):
    """A final submission cannot be changed any more."""


class DuplicateError(StoreError):
    """A unique value (wave name, model id, idempotency key) is taken already."""


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a private token — what the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_land(value: int | str | None) -> int | None:
    """A Land code 1..16 from a code (``9``, ``"09"``) or a codebook id (``"by"``); None stays
    None. Anything else raises :class:`StoreError` naming the value and what is expected."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in LAND_IDS:
            return LAND_IDS[text]
        if text.isdigit():
            value = int(text)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 16:
        return value
    raise StoreError(t("store.unknown_land", value=value, expected="1–16, " + ", ".join(LAND_IDS)))


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _successor(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# ---------------------------------------------------------------------------- directory


class DirectoryRepo:
    """The municipality directory (:class:`~kommunaltypen.store.models.Kommune` rows)."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session  # a Connection serves search_entries only

    def get(self, ars: str) -> Kommune | None:
        """The entry with this ARS (5 digits for a Kreis, 12 otherwise), or None."""
        return self.session.get(Kommune, ars.strip())

    def count(self, land: int | str | None = None) -> int:
        stmt = select(func.count()).select_from(Kommune).where(Kommune.active)
        code = parse_land(land)
        if code is not None:
            stmt = stmt.where(Kommune.land == code)
        return self.session.scalar(stmt) or 0

    def search(self, q: str, land: int | str | None = None, limit: int = 20) -> list[Kommune]:
        """Entries matching ``q``, best first, at most ``limit`` (1..100).

        - ``q`` of digits: entries whose ARS starts with it (a Kreis before its Gemeinden).
        - otherwise: names (compared by :func:`normalize_name`: case, accents and umlauts do
          not matter, "mun" finds "München") that start with ``q`` — whole-word matches
          ("halle" → "Halle (Saale), Stadt") before longer names ("Hallenberg"), each by
          population, largest first; then, if there is room, names with a later word starting
          with ``q`` ("tolz" → "Bad Tölz"; through ``kommune_word``, also an index range).
        - empty ``q``: the largest entries.

        ``land`` (a code 1..16 or codebook id such as ``"by"``) restricts to one Land; an
        unknown Land raises :class:`StoreError`. Inactive (former) entries are never found.
        Both name and ARS lookups are index range scans (``ix_kommune_search_key``,
        ``ix_kommune_land_search_key``, the primary key)."""
        return list(self._search(q, land, limit, entities=True))

    def search_entries(
        self, q: str, land: int | str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """The entries of :meth:`search` as plain data (:func:`kommune_entry`, the JSON API's
        shape), read as rows without ORM objects — cheaper; the repository may be built on a
        plain :class:`~sqlalchemy.engine.Connection` for it."""
        return [kommune_entry(row) for row in self._search(q, land, limit, entities=False)]

    def _search(self, q: str, land: int | str | None, limit: int, *, entities: bool) -> list[Any]:
        limit = max(1, min(int(limit), MAX_SEARCH_LIMIT))
        code = parse_land(land)
        raw = (q or "").strip()
        params: dict[str, Any] = {"limit": limit, "land": code}
        with_land = code is not None
        run = self.session.scalars if entities else self.session.execute

        def rows(kind: str) -> list[Any]:
            return list(run(_search_statement(kind, with_land, entities), params))

        if raw.isdigit():
            params |= {"lo": raw, "hi": _successor(raw)}
            return rows("ars")
        key = normalize_name(raw)
        if not key:
            return rows("largest")
        params |= {"lo": key, "hi": _successor(key), "key": key, "key_words": key + " %"}
        found = rows("name")
        if len(found) < limit and " " not in key:  # a word holds no space
            seen = {k.ars for k in found}
            for kommune in rows("word"):
                if kommune.ars not in seen and len(found) < limit:
                    seen.add(kommune.ars)
                    found.append(kommune)
        return found


def kommune_entry(row: Any) -> dict[str, Any]:
    """A directory entry (a :class:`Kommune` or a row of its columns) as plain data for an
    API response, ``kind_label`` in the current language — what ``Kommune.to_dict`` gives."""
    return {
        "ars": row.ars,
        "name": row.name,
        "kind": row.kind,
        "kind_code": row.kind_code,
        "kind_label": t(f"store.kind_code.{row.kind_code}"),
        "land": row.land,
        "land_name": row.land_name,
        "population": row.population,
        "kreis_ars": row.kreis_ars,
        "kreis_name": row.kreis_name,
    }


#: the columns :func:`kommune_entry` reads: the fields of a directory record
_ENTRY_COLUMNS = DIRECTORY_FIELDS


@cache
def _search_statement(kind: str, with_land: bool, entities: bool = True) -> Select[Any]:
    """The statements of :meth:`DirectoryRepo.search`, built once per shape with bound
    parameters (immutable, shared by all threads): building a statement costs about as much
    CPU as running it. ``entities``: select :class:`Kommune` objects, else the columns of
    :func:`kommune_entry`. Parameters: ``lo``/``hi`` (key range), ``key``, ``key_words``
    (``key + " %"``), ``land``, ``limit``. A normalised key holds only letters, digits and
    single spaces, so it needs no LIKE escaping."""
    if entities:
        stmt: Select[Any] = select(Kommune)
    else:
        stmt = select(*(getattr(Kommune, name) for name in _ENTRY_COLUMNS))
    stmt = stmt.where(Kommune.active)
    if with_land:
        stmt = stmt.where(Kommune.land == bindparam("land"))
    lo, hi = bindparam("lo"), bindparam("hi")
    if kind == "ars":
        stmt = stmt.where(Kommune.ars >= lo, Kommune.ars < hi).order_by(
            func.length(Kommune.ars), Kommune.ars
        )
    elif kind == "largest":
        stmt = stmt.order_by(Kommune.population.desc(), Kommune.name)
    elif kind == "name":
        whole_word = case(
            (Kommune.search_key == bindparam("key"), 0),
            (Kommune.search_key.like(bindparam("key_words")), 0),
            else_=1,
        )
        stmt = stmt.where(Kommune.search_key >= lo, Kommune.search_key < hi).order_by(
            whole_word, Kommune.population.desc(), Kommune.name
        )
    elif kind == "word":
        words = select(KommuneWord.ars).where(KommuneWord.word >= lo, KommuneWord.word < hi)
        stmt = stmt.where(Kommune.ars.in_(words)).order_by(Kommune.population.desc(), Kommune.name)
    else:  # pragma: no cover - internal
        raise ValueError(kind)
    return stmt.limit(bindparam("limit"))


# ---------------------------------------------------------------------------- submissions


@cache
def _insert_statement(dialect: str) -> Any:
    """``INSERT INTO submission … ON CONFLICT DO NOTHING RETURNING id`` in ``dialect`` (built
    once per dialect; values are bound per call)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the store supports these two
        raise StoreError(t("store.integrity", error=f"dialect {dialect}"))
    table = Submission.__table__
    # no conflict target: every unique index is an arbiter. With only idempotency_key, two
    # concurrent requests with one key (and so one derived token) could collide on the
    # token_hash index instead — an error, where the second must find the first's row.
    # RETURNING tells whether the row went in (psycopg reports no rowcount here).
    return insert(table).on_conflict_do_nothing().returning(table.c.id)


class SubmissionRepo:
    """Self-check submissions (:class:`~kommunaltypen.store.models.Submission`)."""

    #: fields :meth:`update` may change
    UPDATABLE = (
        "answers",
        "codebook_id",
        "codebook_version",
        "consent",
        "kommune_ars",
        "kind",
        "size_class",
        "land",
        "wave_id",
        "model_id",
        "type_id",
    )

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        token_hash: str,
        answers: Mapping[str, Any],
        codebook_id: str,
        codebook_version: int,
        wave_id: int | None = None,
        kommune_ars: str | None = None,
        kind: str | None = None,
        size_class: int | None = None,
        land: int | None = None,
        consent: bool = False,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        model_id: str | None = None,
        type_id: str | None = None,
        id: uuid.UUID | None = None,
    ) -> Submission:
        """Insert a draft submission and return it (``id`` random unless given).

        The insert runs in a SAVEPOINT: when ``idempotency_key`` is taken already (also by a
        concurrent request that committed first), :class:`DuplicateError` is raised and the
        session's transaction stays usable — call :meth:`by_idempotency_key` next, or use
        :meth:`create_or_get`. An unknown ``kommune_ars`` or ``wave_id`` raises
        :class:`StoreError`."""
        now = utcnow()
        submission = Submission(
            id=id or uuid.uuid4(),
            token_hash=token_hash,
            answers=dict(answers),
            codebook_id=codebook_id,
            codebook_version=codebook_version,
            wave_id=wave_id,
            kommune_ars=kommune_ars,
            kind=kind,
            size_class=size_class,
            land=land,
            consent=consent,
            status=SubmissionStatus.DRAFT.value,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            model_id=model_id,
            type_id=type_id,
            created_at=now,
            updated_at=now,
        )
        try:
            with self.session.begin_nested():
                self.session.add(submission)
                self.session.flush()
        except IntegrityError as exc:
            if idempotency_key is not None and self.by_idempotency_key(idempotency_key):
                raise DuplicateError(
                    t("store.duplicate", what="Idempotency-Key", value=idempotency_key)
                ) from exc
            raise StoreError(t("store.integrity", error=_first_line(exc))) from exc
        return submission

    def create_or_get(
        self, *, idempotency_key: str, request_hash: str, **fields: Any
    ) -> tuple[Submission, bool]:
        """The submission stored under ``idempotency_key`` and False, or a new one (created
        with ``fields``) and True. Safe under concurrency: of simultaneous calls with one key
        exactly one creates; the others get its row (compare its ``request_hash`` with yours
        to tell a replay from a conflict)."""
        existing = self.by_idempotency_key(idempotency_key)
        if existing is not None:
            return existing, False
        try:
            created = self.create(
                idempotency_key=idempotency_key, request_hash=request_hash, **fields
            )
        except DuplicateError:
            existing = self.by_idempotency_key(idempotency_key)
            assert existing is not None
            return existing, False
        return created, True

    def insert_once(
        self,
        *,
        token_hash: str,
        answers: Mapping[str, Any],
        codebook_id: str,
        codebook_version: int,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        **fields: Any,
    ) -> tuple[Submission, bool]:
        """:meth:`create_or_get` (or :meth:`create` without a key) in one statement, for
        the API's hot path: ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite
        alike) — no look-up before, no SAVEPOINT. Returns the new submission (a
        record built from the inserted values, not attached to the session) and True; or,
        when the key is taken already (also by a concurrent request that committed first),
        the stored one and False. The same concurrency guarantee: the unique key decides.
        ``fields``: the other columns of :meth:`create` (``kommune_ars``, ``kind``, …); an
        unknown ``kommune_ars`` / ``wave_id`` or another broken constraint raises
        :class:`StoreError`, and the session's transaction must then be rolled back."""
        unknown = sorted(set(fields) - set(self.UPDATABLE) - {"id"})
        if unknown:
            raise TypeError(f"unknown submission fields {unknown}")
        now = utcnow()
        values: dict[str, Any] = {
            "id": fields.pop("id", None) or uuid.uuid4(),
            "token_hash": token_hash,
            "answers": dict(answers),
            "codebook_id": codebook_id,
            "codebook_version": codebook_version,
            "status": SubmissionStatus.DRAFT.value,
            "consent": bool(fields.pop("consent", False)),
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        statement = _insert_statement(self.session.get_bind().dialect.name)
        try:
            inserted = self.session.execute(statement, values).first()
        except IntegrityError as exc:
            raise StoreError(t("store.integrity", error=_first_line(exc))) from exc
        if inserted is not None:
            return Submission(**values), True
        existing = self.by_idempotency_key(idempotency_key) if idempotency_key else None
        if existing is None:  # a unique value other than the key was taken (id, token)
            raise DuplicateError(t("store.duplicate", what="submission", value=values["id"]))
        return existing, False

    def get(self, id: uuid.UUID | str, *, for_update: bool = False) -> Submission | None:
        """The submission with this id (a UUID or its text; anything else finds nothing).
        ``for_update`` locks the row until the transaction ends (PostgreSQL)."""
        key = _as_uuid(id)
        if key is None:
            return None
        if for_update:
            stmt = select(Submission).where(Submission.id == key).with_for_update()
            return self.session.scalars(stmt).first()
        return self.session.get(Submission, key)

    def get_with_token(
        self, id: uuid.UUID | str, token_hash: str, *, for_update: bool = False
    ) -> Submission | None:
        """The submission if ``token_hash`` is its token's hash (compared in constant time),
        else None — a wrong token and an unknown id look the same."""
        submission = self.get(id, for_update=for_update)
        if submission is None or not hmac.compare_digest(submission.token_hash, token_hash):
            return None
        return submission

    def by_idempotency_key(self, key: str) -> Submission | None:
        return self.session.scalars(
            select(Submission).where(Submission.idempotency_key == key)
        ).first()

    def id_by_idempotency_key(self, key: str) -> uuid.UUID | None:
        """The id of the submission stored under ``key`` (None if none): a probe that loads
        no record — what a request with a new key (nearly every one) needs to know."""
        return self.session.execute(
            select(Submission.id).where(Submission.idempotency_key == key)
        ).scalar()

    def _require(self, submission: Submission | uuid.UUID | str) -> Submission:
        if isinstance(submission, Submission):
            return submission
        found = self.get(submission, for_update=True)
        if found is None:
            raise NotFound(t("store.not_found", what="submission", value=submission))
        return found

    def update(self, submission: Submission | uuid.UUID | str, **changes: Any) -> Submission:
        """Change a draft (only the fields in :attr:`UPDATABLE`); sets ``updated_at``. A final
        submission raises :class:`SubmissionFinalError`, an unknown field ``TypeError``."""
        record = self._require(submission)
        unknown = sorted(set(changes) - set(self.UPDATABLE))
        if unknown:
            raise TypeError(f"cannot update {unknown}; updatable: {list(self.UPDATABLE)}")
        if record.is_final:
            raise SubmissionFinalError(t("store.submission_final", id=record.id))
        for name, value in changes.items():
            setattr(record, name, dict(value) if name == "answers" else value)
        record.updated_at = utcnow()
        self._flush()
        return record

    def finalize(self, submission: Submission | uuid.UUID | str) -> Submission:
        """Mark a submission final (``finalized_at`` = now). Finalising a final submission
        again changes nothing (idempotent) and returns it."""
        record = self._require(submission)
        if not record.is_final:
            now = utcnow()
            record.status = SubmissionStatus.FINAL.value
            record.finalized_at = now
            record.updated_at = now
            self._flush()
        return record

    def _filtered(
        self,
        stmt: Select[Any],
        wave_id: int | None,
        status: str | None,
        land: int | str | None,
        kind: str | None,
    ) -> Select[Any]:
        if wave_id is not None:
            stmt = stmt.where(Submission.wave_id == wave_id)
        if status is not None:
            stmt = stmt.where(Submission.status == SubmissionStatus(status).value)
        code = parse_land(land)
        if code is not None:
            stmt = stmt.where(Submission.land == code)
        if kind is not None:
            stmt = stmt.where(Submission.kind == kind)
        return stmt

    def list(
        self,
        *,
        wave_id: int | None = None,
        status: str | None = None,
        land: int | str | None = None,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Submission]:
        """Submissions, newest first, filtered by wave, status, Land and kind."""
        stmt = self._filtered(select(Submission), wave_id, status, land, kind)
        stmt = stmt.order_by(Submission.created_at.desc(), Submission.id)
        return list(self.session.scalars(stmt.limit(max(0, limit)).offset(max(0, offset))))

    def count(
        self,
        *,
        wave_id: int | None = None,
        status: str | None = None,
        land: int | str | None = None,
        kind: str | None = None,
    ) -> int:
        stmt = self._filtered(
            select(func.count()).select_from(Submission), wave_id, status, land, kind
        )
        return self.session.scalar(stmt) or 0

    def delete(self, id: uuid.UUID | str, actor: str, reason: str) -> bool:
        """Delete a submission and write an audit log entry (``submission.delete``) with
        ``actor`` and ``reason`` (both required, :class:`StoreError` when empty). Returns False
        when there is no such submission (nothing logged)."""
        if not actor.strip() or not reason.strip():
            raise StoreError(t("store.reason_required", actor=actor, reason=reason))
        record = self.get(id, for_update=True)
        if record is None:
            return False
        details = {
            "wave_id": record.wave_id,
            "status": record.status,
            "kommune_ars": record.kommune_ars,
            "created_at": record.created_at.isoformat(),
        }
        self.session.delete(record)
        AuditRepo(self.session).record(
            actor=actor,
            action="submission.delete",
            target_type="submission",
            target_id=str(record.id),
            reason=reason,
            details=details,
        )
        self._flush()
        return True

    def _flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise StoreError(t("store.integrity", error=_first_line(exc))) from exc


# ---------------------------------------------------------------------------- waves


class WaveRepo:
    """Survey waves (:class:`~kommunaltypen.store.models.Wave`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, *, name: str, year: int, codebook_id: str, codebook_version: int) -> Wave:
        """A new wave; a name in use raises :class:`DuplicateError`."""
        wave = Wave(
            name=name,
            year=year,
            codebook_id=codebook_id,
            codebook_version=codebook_version,
            created_at=utcnow(),
        )
        try:
            with self.session.begin_nested():
                self.session.add(wave)
                self.session.flush()
        except IntegrityError as exc:
            raise DuplicateError(t("store.duplicate", what="wave", value=name)) from exc
        return wave

    def get(self, id: int) -> Wave | None:
        return self.session.get(Wave, id)

    def by_name(self, name: str) -> Wave | None:
        return self.session.scalars(select(Wave).where(Wave.name == name)).first()

    def list(self) -> Sequence[Wave]:
        """All waves, newest year first."""
        return list(self.session.scalars(select(Wave).order_by(Wave.year.desc(), Wave.id.desc())))


# ---------------------------------------------------------------------------- models


class ModelRepo:
    """Published typologies (:class:`~kommunaltypen.store.models.PublishedModel`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def publish(
        self,
        *,
        model_id: str,
        typology: Mapping[str, Any],
        data_hash: str,
        wave_id: int | None = None,
        name: str | None = None,
        make_current: bool = True,
    ) -> PublishedModel:
        """Store a typology (its JSON as a dict) and, by default, make it the current model
        (the previous current one stays stored, no longer current). A ``model_id`` published
        already raises :class:`DuplicateError`."""
        record = PublishedModel(
            model_id=model_id,
            name=name,
            typology=dict(typology),
            data_hash=data_hash,
            wave_id=wave_id,
            published_at=utcnow(),
            is_current=False,
        )
        try:
            with self.session.begin_nested():
                self.session.add(record)
                self.session.flush()
        except IntegrityError as exc:
            raise DuplicateError(t("store.duplicate", what="model", value=model_id)) from exc
        if make_current:
            self.set_current(model_id)
        return record

    def get(self, model_id: str) -> PublishedModel | None:
        return self.session.scalars(
            select(PublishedModel).where(PublishedModel.model_id == model_id)
        ).first()

    def current(self) -> PublishedModel | None:
        """The model the self-check uses now, or None when none is published."""
        return self.session.scalars(select(PublishedModel).where(PublishedModel.is_current)).first()

    def set_current(self, model_id: str) -> PublishedModel:
        """Make ``model_id`` the current model (:class:`NotFound` if it is not stored)."""
        record = self.get(model_id)
        if record is None:
            raise NotFound(t("store.not_found", what="model", value=model_id))
        self.session.execute(
            update(PublishedModel)
            .where(PublishedModel.is_current, PublishedModel.model_id != model_id)
            .values(is_current=False)
            .execution_options(synchronize_session="fetch")
        )
        record.is_current = True
        self.session.flush()
        return record

    def list(self) -> Sequence[PublishedModel]:
        """All published models, newest first."""
        return list(
            self.session.scalars(
                select(PublishedModel).order_by(
                    PublishedModel.published_at.desc(), PublishedModel.id.desc()
                )
            )
        )


# ---------------------------------------------------------------------------- audit


class AuditRepo:
    """The audit log (:class:`~kommunaltypen.store.models.AuditLog`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditLog:
        entry = AuditLog(
            at=utcnow(),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            details=dict(details) if details is not None else None,
        )
        self.session.add(entry)
        self.session.flush()
        return entry

    def list(
        self,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[AuditLog]:
        """Entries, newest first, optionally for one target."""
        stmt = select(AuditLog)
        if target_type is not None:
            stmt = stmt.where(AuditLog.target_type == target_type)
        if target_id is not None:
            stmt = stmt.where(AuditLog.target_id == target_id)
        stmt = stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
        return list(self.session.scalars(stmt.limit(max(0, limit)).offset(max(0, offset))))


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
