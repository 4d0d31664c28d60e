"""Directory loader and search, on SQLite and PostgreSQL (each test rolled back)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text, update

from kommunaltypen.i18n import use_lang
from kommunaltypen.store import (
    DirectoryRepo,
    Kommune,
    StoreError,
    directory_info,
    load_directory,
    normalize_name,
)
from kommunaltypen.store.directory import STAND_KEY
from kommunaltypen.store.models import KommuneWord, StoreMeta


@pytest.mark.parametrize(
    ("text_in", "key"),
    [
        ("München, Landeshauptstadt", "munchen landeshauptstadt"),
        ("MUENCHEN", "munchen"),
        ("Frankfurt (Oder), Stadt", "frankfurt oder stadt"),
        ("Bad Tölz-Wolfratshausen", "bad tolz wolfratshausen"),
        ("Großräschen", "grossraschen"),
        ("Bautzen / Budyšin", "bautzen budysin"),
        ("  ", ""),
    ],
)
def test_normalize_name(text_in, key):
    assert normalize_name(text_in) == key


def test_directory_is_loaded_once(db_session):
    count = db_session.scalar(select(func.count()).select_from(Kommune))
    assert count == directory_info().rows
    again = load_directory(db_session)
    assert (again.inserted, again.updated, again.deactivated) == (0, 0, 0)
    assert not again.changed
    assert db_session.scalar(select(func.count()).select_from(Kommune)) == count


def test_directory_from_an_older_stand_is_updated_in_place(db_session):
    munich = "091620000000"
    db_session.execute(update(Kommune).where(Kommune.ars == munich).values(population=1))
    db_session.execute(delete(Kommune).where(Kommune.ars == "09184"))
    db_session.add(
        Kommune(
            ars="099999999999",
            name="Altgemeinde",
            search_key="altgemeinde",
            kind="gemeinde",
            kind_code=64,
            land=9,
            land_name="Bayern",
            population=10,
        )
    )
    db_session.get(StoreMeta, STAND_KEY).value = "2020-01-01"
    db_session.flush()
    result = load_directory(db_session)
    assert (result.inserted, result.updated, result.deactivated) == (1, 1, 1)
    assert db_session.get(StoreMeta, STAND_KEY).value == directory_info().stand
    db_session.expire_all()
    assert db_session.get(Kommune, munich).population == 1505005
    assert db_session.get(Kommune, "09184").name == "München"
    old = db_session.get(Kommune, "099999999999")
    assert old is not None and old.active is False
    assert DirectoryRepo(db_session).search("altgemeinde") == []


def _names(found):
    return [k.name for k in found]


def test_search_by_name_prefix_case_and_umlaut_tolerant(db_session):
    repo = DirectoryRepo(db_session)
    first = repo.search("mun")[0]
    assert (first.ars, first.name) == ("091620000000", "München, Landeshauptstadt")
    for query in ("MÜN", "münchen", "Muenchen", "  münchen "):
        assert repo.search(query)[0].ars == "091620000000", query
    found = repo.search("münchen", limit=5)
    # whole-word matches first (the city, then the Landkreis "München"), by population
    assert [k.ars for k in found[:2]] == ["091620000000", "09184"]
    assert found[1].kind == "kreis" and found[1].kind_code == 44


def test_search_orders_whole_words_before_longer_names(db_session):
    found = DirectoryRepo(db_session).search("halle", limit=10)
    names = _names(found)
    assert names[0] == "Halle (Saale), Stadt"
    whole = [n for n in names if normalize_name(n).split()[0] == "halle"]
    assert names[: len(whole)] == whole  # "Hallenberg" etc. only after every "Halle …"
    populations = [k.population for k in found[: len(whole)]]
    assert populations == sorted(populations, reverse=True)


def test_search_finds_a_later_word_when_there_is_room(db_session):
    names = _names(DirectoryRepo(db_session).search("tölz"))
    assert "Bad Tölz, St" in names
    assert "Bad Tölz-Wolfratshausen" in names


def test_later_words_are_indexed_and_kept_current(db_session):
    bad_toelz = "091730112112"
    words = db_session.scalars(select(KommuneWord.word).where(KommuneWord.ars == bad_toelz))
    assert sorted(words) == ["st", "tolz"]
    found = DirectoryRepo(db_session).search("münchen", limit=100)
    assert len({k.ars for k in found}) == len(found)  # a name matching twice is listed once
    assert "Garching b.München, St" in _names(found)  # by its later word
    # a renamed entry gets new words on the next load
    db_session.execute(
        update(Kommune).where(Kommune.ars == bad_toelz).values(name="x", search_key="x")
    )
    db_session.execute(delete(KommuneWord).where(KommuneWord.ars == bad_toelz))
    db_session.get(StoreMeta, STAND_KEY).value = "2020-01-01"
    assert load_directory(db_session).updated == 1
    words = db_session.scalars(select(KommuneWord.word).where(KommuneWord.ars == bad_toelz))
    assert sorted(words) == ["st", "tolz"]


def test_search_by_ars_prefix(db_session):
    repo = DirectoryRepo(db_session)
    assert [k.ars for k in repo.search("09162")] == ["091620000000"]
    found = repo.search("09184", limit=100)
    assert found[0].ars == "09184"  # the Kreis before its Gemeinden
    assert len(found) > 20 and all(k.ars.startswith("09184") for k in found)
    assert repo.search("99") == []


def test_search_filters_by_land(db_session):
    repo = DirectoryRepo(db_session)
    for land in (15, "15", "st"):
        found = repo.search("halle", land=land)
        assert found and {k.land for k in found} == {15}
        assert found[0].name == "Halle (Saale), Stadt"
    assert {k.land for k in repo.search("a", land="by", limit=100)} == {9}
    assert repo.search("halle", land=None)[0].land == 15


def test_unknown_land_is_an_error_naming_it(db_session):
    repo = DirectoryRepo(db_session)
    with pytest.raises(StoreError, match=r"Unbekanntes Land 'xx'; erwartet: 1–16, sh"):
        repo.search("a", land="xx")
    with use_lang("en"), pytest.raises(StoreError, match=r"Unknown Land 17"):
        repo.search("a", land=17)


def test_search_limit_and_empty_query(db_session):
    repo = DirectoryRepo(db_session)
    assert len(repo.search("b", limit=3)) == 3
    assert len(repo.search("b", limit=10_000)) == 100
    assert len(repo.search("b", limit=0)) == 1
    biggest = repo.search("", limit=3)
    assert biggest[0].name == "Berlin, Stadt"
    assert [k.population for k in biggest] == sorted((k.population for k in biggest), reverse=True)
    assert repo.search("?!") == repo.search("")


def test_get_and_record_fields(db_session):
    repo = DirectoryRepo(db_session)
    assert repo.get("nope") is None
    kommune = repo.get("091840119119")
    data = kommune.to_dict()
    assert data == {
        "ars": "091840119119",
        "name": "Garching b.München, St",
        "kind": "kreisangehoerige_stadt",
        "kind_code": 63,
        "kind_label": "Stadt",
        "land": 9,
        "land_name": "Bayern",
        "population": 17656,
        "kreis_ars": "09184",
        "kreis_name": "München",
    }
    with use_lang("en"):
        assert repo.get("09184").kind_label == "Rural district (Landkreis)"
    assert repo.count() == directory_info().rows
    assert repo.count(land="by") == 2056 + 71  # Bayern: Gemeinden + Landkreise


def test_name_search_is_an_index_range_scan(db_session, db_backend):
    where = "WHERE active AND search_key >= 'mun' AND search_key < 'muo'"
    if db_backend == "sqlite":
        sql = f"EXPLAIN QUERY PLAN SELECT ars FROM kommune {where}"
    else:  # the planner may prefer a scan of 11,000 rows; the index must be usable at all
        db_session.execute(text("SET LOCAL enable_seqscan = off"))
        sql = f"EXPLAIN SELECT ars FROM kommune {where}"
    plan = " ".join(str(row) for row in db_session.execute(text(sql)).all())
    assert "ix_kommune_search_key" in plan, plan
