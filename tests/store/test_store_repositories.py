"""Repositories and constraints, on SQLite and PostgreSQL (each test rolled back)."""

from __future__ import annotations

import secrets
import threading
import uuid
from datetime import UTC

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from kommunaltypen.i18n import use_lang
from kommunaltypen.store import (
    AuditRepo,
    DuplicateError,
    ModelRepo,
    NotFound,
    PublishedModel,
    StoreError,
    Submission,
    SubmissionFinalError,
    SubmissionRepo,
    WaveRepo,
    make_engine,
    migrate,
    session_factory,
    token_hash,
)

ANSWERS = {
    "kommunenart": 4,
    "bundesland": 9,
    "einwohner": 17656,
    "ziele_effizienz": 1,
    "ziele_buergernaehe": 2,
    "ziele_innovation": 3,
    "name": "Garching b.München",
    "nested": {"ä": [1, 2.5, None, True]},
}


def _new(repo: SubmissionRepo, **fields):
    values = {
        "token_hash": token_hash(secrets.token_urlsafe(32)),
        "answers": ANSWERS,
        "codebook_id": "digitale-kommune-2019",
        "codebook_version": 1,
    }
    values.update(fields)
    return repo.create(**values)


def test_token_hash_is_sha256_hex():
    digest = token_hash("abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_create_and_read_a_submission(db_session):
    repo = SubmissionRepo(db_session)
    token = secrets.token_urlsafe(32)
    created = _new(
        repo,
        token_hash=token_hash(token),
        kommune_ars="091840119119",
        kind="kreisangehoerige_stadt",
        land=9,
        size_class=3,
        consent=True,
        model_id="study-2020",
        type_id="optimierer",
    )
    assert isinstance(created.id, uuid.UUID) and created.id.version == 4
    assert created.status == "draft" and not created.is_final
    db_session.commit()  # releases the test's SAVEPOINT only
    db_session.expire_all()
    read = repo.get(str(created.id))
    assert read is not None and read.id == created.id
    assert read.answers == ANSWERS
    assert (read.kommune_ars, read.kind, read.land, read.size_class) == (
        "091840119119",
        "kreisangehoerige_stadt",
        9,
        3,
    )
    assert read.consent is True and read.model_id == "study-2020"
    assert read.created_at.tzinfo is UTC and read.updated_at == read.created_at
    assert read.finalized_at is None
    assert read.token_hash == token_hash(token) and token not in repr(vars(read))


def test_get_with_token_and_bad_ids(db_session):
    repo = SubmissionRepo(db_session)
    token = secrets.token_urlsafe(32)
    mine = _new(repo, token_hash=token_hash(token))
    other = _new(repo)
    assert repo.get_with_token(mine.id, token_hash(token)) is mine
    assert repo.get_with_token(mine.id, token_hash("wrong")) is None
    assert repo.get_with_token(other.id, token_hash(token)) is None  # token of another one
    assert repo.get("not-a-uuid") is None
    assert repo.get(uuid.uuid4()) is None
    assert repo.get_with_token("", token_hash(token)) is None


def test_update_and_finalize(db_session):
    repo = SubmissionRepo(db_session)
    submission = _new(repo)
    before = submission.updated_at
    changed = repo.update(submission.id, answers={"kommunenart": 1}, consent=True)
    assert changed.answers == {"kommunenart": 1} and changed.consent is True
    assert changed.updated_at >= before
    final = repo.finalize(str(submission.id))
    assert final.status == "final" and final.finalized_at is not None
    assert repo.finalize(submission.id).finalized_at == final.finalized_at  # idempotent
    with pytest.raises(SubmissionFinalError, match="abgeschlossen"):
        repo.update(submission, consent=False)
    with pytest.raises(TypeError, match="token_hash"):
        repo.update(_new(repo), token_hash="x")
    with pytest.raises(NotFound):
        repo.finalize(uuid.uuid4())


def test_token_hash_is_unique(db_session):
    repo = SubmissionRepo(db_session)
    digest = token_hash("same")
    _new(repo, token_hash=digest)
    with pytest.raises(StoreError, match="verletzen eine Regel"):
        _new(repo, token_hash=digest)
    _new(repo)  # the session is still usable (the failed insert was a SAVEPOINT)


def test_idempotency_key_is_unique(db_session):
    repo = SubmissionRepo(db_session)
    first = _new(repo, idempotency_key="key-1", request_hash="h1")
    with pytest.raises(DuplicateError, match="Idempotency-Key 'key-1' ist bereits vergeben"):
        _new(repo, idempotency_key="key-1", request_hash="h2")
    assert repo.by_idempotency_key("key-1") is first
    again, created = repo.create_or_get(
        idempotency_key="key-1",
        request_hash="h2",
        token_hash=token_hash("t"),
        answers={},
        codebook_id="c",
        codebook_version=1,
    )
    assert again is first and created is False and again.request_hash == "h1"
    # submissions without a key do not collide
    _new(repo)
    _new(repo)


def test_constraints_on_status_land_and_references(db_session):
    repo = SubmissionRepo(db_session)
    with pytest.raises(StoreError):
        _new(repo, kommune_ars="000000000000")  # not in the directory
    with pytest.raises(StoreError):
        _new(repo, wave_id=987654)
    with pytest.raises(StoreError):
        _new(repo, land=17)
    submission = _new(repo)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(
            update(Submission).where(Submission.id == submission.id).values(status="deleted")
        )


def test_list_count_and_delete_with_audit(db_session):
    waves = WaveRepo(db_session)
    wave = waves.create(name="Test 2026", year=2026, codebook_id="c", codebook_version=1)
    repo = SubmissionRepo(db_session)
    made = [_new(repo, wave_id=wave.id, land=9 if i % 2 else 1, kind="gemeinde") for i in range(5)]
    repo.finalize(made[0])
    assert repo.count(wave_id=wave.id) == 5
    assert repo.count(wave_id=wave.id, status="final") == 1
    assert repo.count(wave_id=wave.id, land="by") == 2
    listed = repo.list(wave_id=wave.id, limit=3)
    assert len(listed) == 3
    assert [s.created_at for s in listed] == sorted((s.created_at for s in listed), reverse=True)
    with pytest.raises(StoreError, match="Grund"):
        repo.delete(made[1].id, actor="analyst", reason="  ")
    assert repo.delete(made[1].id, actor="analyst@example.org", reason="Doppelte Einreichung")
    assert repo.get(made[1].id) is None
    assert repo.delete(made[1].id, actor="analyst", reason="again") is False
    entries = AuditRepo(db_session).list(target_type="submission", target_id=str(made[1].id))
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.action, entry.reason) == (
        "analyst@example.org",
        "submission.delete",
        "Doppelte Einreichung",
    )
    assert entry.details["wave_id"] == wave.id and entry.at.tzinfo is UTC


def test_waves(db_session):
    repo = WaveRepo(db_session)
    old = repo.create(name="Welle 2019", year=2019, codebook_id="c", codebook_version=1)
    new = repo.create(name="Welle 2026", year=2026, codebook_id="c", codebook_version=2)
    with use_lang("en"), pytest.raises(DuplicateError, match="wave 'Welle 2019' is already"):
        repo.create(name="Welle 2019", year=2020, codebook_id="c", codebook_version=1)
    assert repo.by_name("Welle 2026") is new and repo.get(old.id) is old
    assert [w.name for w in repo.list()][:2] == ["Welle 2026", "Welle 2019"]


def test_published_models_have_one_current(db_session):
    repo = ModelRepo(db_session)
    assert repo.current() is None
    first = repo.publish(model_id="m1", typology={"k": 4, "centers": [[1.5]]}, data_hash="h1")
    assert repo.current() is first
    second = repo.publish(model_id="m2", typology={"k": 4}, data_hash="h2", name="Zweites")
    assert repo.current() is second and first.is_current is False
    kept = repo.publish(model_id="m3", typology={}, data_hash="h3", make_current=False)
    assert repo.current() is second and kept.is_current is False
    assert repo.set_current("m1") is first and repo.current() is first
    assert repo.get("m1").typology == {"k": 4, "centers": [[1.5]]}
    assert [m.model_id for m in repo.list()][:3] == ["m3", "m2", "m1"]
    with pytest.raises(DuplicateError):
        repo.publish(model_id="m1", typology={}, data_hash="x")
    with pytest.raises(NotFound):
        repo.set_current("missing")
    # the database itself refuses a second current model
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(
            update(PublishedModel).where(PublishedModel.model_id == "m2").values(is_current=True)
        )
    assert db_session.scalars(select(PublishedModel).where(PublishedModel.is_current)).all() == [
        first
    ]


@pytest.mark.parametrize(
    ("method", "token_of"),
    [
        # committed, from several threads with their own sessions: exactly one row per key
        ("create_or_get", lambda i: f"token-{i}"),
        # retries of one request carry one key AND one (derived) token: of concurrent inserts,
        # one stores, the others find its row — never a unique-token error
        ("insert_once", lambda i: f"token-of-key-{i % 2}"),
    ],
)
def test_concurrent_creates_with_one_idempotency_key_store_one(
    fresh_database_url, method, token_of
):
    engine = make_engine(fresh_database_url)
    migrate(engine)
    sessions = session_factory(engine)
    results, errors = [], []
    barrier = threading.Barrier(8)

    def submit(i: int) -> None:
        barrier.wait()
        try:
            with sessions.begin() as session:
                record, created = getattr(SubmissionRepo(session), method)(
                    idempotency_key=f"key-{i % 2}",
                    request_hash="same",
                    token_hash=token_hash(token_of(i)),
                    answers={"i": i},
                    codebook_id="c",
                    codebook_version=1,
                )
                results.append((record.idempotency_key, record.id, created))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sessions() as session:
        stored = session.scalars(select(Submission)).all()
    assert sorted(s.idempotency_key for s in stored) == ["key-0", "key-1"]
    assert sum(created for _, _, created in results) == 2
    ids = {key: {i for k, i, _ in results if k == key} for key in ("key-0", "key-1")}
    assert all(len(found) == 1 for found in ids.values())
    engine.dispose()


def test_insert_once_inserts_or_finds_the_keyed_submission(db_session):
    """The API's one-statement insert: a new row, or the row already under the key."""
    repo = SubmissionRepo(db_session)
    created, is_new = repo.insert_once(
        idempotency_key="k-1",
        request_hash="h1",
        token_hash=token_hash("t1"),
        answers=ANSWERS,
        codebook_id="c",
        codebook_version=2,
        kind="gemeinde",
        land=9,
        consent=True,
    )
    assert is_new is True
    stored = repo.by_idempotency_key("k-1")
    assert stored is not None and stored.id == created.id
    assert repo.id_by_idempotency_key("k-1") == created.id
    assert repo.id_by_idempotency_key("k-2") is None
    # the returned record holds exactly what went in
    for name in ("token_hash", "answers", "codebook_version", "kind", "land", "consent"):
        assert getattr(stored, name) == getattr(created, name), name
    assert stored.status == created.status == "draft"
    assert stored.created_at == created.created_at and created.created_at.tzinfo is not None
    # the same key again (another body, another token): nothing written, the first row back
    again, is_new = repo.insert_once(
        idempotency_key="k-1",
        request_hash="h2",
        token_hash=token_hash("t2"),
        answers={},
        codebook_id="c",
        codebook_version=2,
    )
    assert is_new is False and again.id == created.id and again.request_hash == "h1"
    count = db_session.scalar(select(func.count()).select_from(Submission))
    # without a key: always a new row
    for i in range(2):
        _, is_new = repo.insert_once(
            token_hash=token_hash(f"free-{i}"), answers={}, codebook_id="c", codebook_version=1
        )
        assert is_new is True
    assert db_session.scalar(select(func.count()).select_from(Submission)) == count + 2


def test_insert_once_refuses_broken_references_and_unknown_fields(db_session):
    repo = SubmissionRepo(db_session)
    with pytest.raises(TypeError, match="unknown submission fields"):
        repo.insert_once(
            token_hash=token_hash("x"), answers={}, codebook_id="c", codebook_version=1, colour=1
        )
    with pytest.raises(StoreError), db_session.begin_nested():
        repo.insert_once(
            token_hash=token_hash("y"),
            answers={},
            codebook_id="c",
            codebook_version=1,
            kommune_ars="000000000000",  # not in the directory
        )
