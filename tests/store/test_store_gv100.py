"""The GV100AD parser and the directory extract shipped in the package."""

from __future__ import annotations

import csv
import gzip
import io
import os
from importlib import resources
from pathlib import Path

import pytest

from kommunaltypen.codebook import default_codebook
from kommunaltypen.store.directory import directory_info, directory_rows
from kommunaltypen.store.gv100 import FIELDS, GV100FormatError, iter_rows, parse_directory

# Real records of GV100AD_30112025.txt (Destatis), in file order.
LINES = [
    "102025113001          Schleswig-Holstein                                Kiel".ljust(220),
    "402025113001051       Dithmarschen                                      Heide"
    + " " * 45
    + "43"
    + " " * 96,
    "502025113001051   5163Burg-St. Michaelisdonn                            Burg (Dithm.)"
    + " " * 37
    + "51"
    + " " * 96,
    "6020251130010510035163Averlak"
    + " " * 93
    + "64    000000009060000000060800000000312    25715       2123131912705003"
    + " " * 27,
    "102025113009          Bayern                                            München".ljust(220),
    "402025113009162       München, Landeshauptstadt                         München"
    + " " * 43
    + "41"
    + " " * 96,
    "6020251130091620000000München, Landeshauptstadt"
    + " " * 75
    + "61    000000310700000150500500000737442    80313*****  9147260184301216219"
    + " " * 24,
    "6020251130091751270127Markt Schwaben, M"
    + " " * 83
    + "60    000000010870000001364300000006869    85570       9112270382311212"
    + " " * 27,
    "402025113009184       München                                           München"
    + " " * 43
    + "44"
    + " " * 96,
    "6020251130091841120112Aschheim"
    + " " * 92
    + "64    000000028050000000914900000004622    85609       9147260184301220"
    + " " * 27,
    "6020251130091841190119Garching b.München, St"
    + " " * 78
    + "63    000000028170000001765600000009123    85748*****  9147260184301220"
    + " " * 27,
    "6020251130091844529452Forstenrieder Park"
    + " " * 82
    + "66    000000037090000000000000000000000                91472601     220"
    + " " * 27,
]


def test_sample_lines_have_the_record_length():
    assert [len(line) for line in LINES] == [220] * len(LINES)


@pytest.fixture(scope="module")
def parsed():
    stand, entries = parse_directory(line + "\n" for line in LINES)
    return stand, {entry.ars: entry for entry in entries}


def test_stand(parsed):
    assert parsed[0] == "2025-11-30"


def test_kreis_of_schleswig_holstein_and_a_gemeinde_in_an_amt(parsed):
    _, by_ars = parsed
    kreis = by_ars["01051"]
    assert (kreis.name, kreis.kind, kreis.kind_code) == ("Dithmarschen", "kreis", 43)
    assert (kreis.land, kreis.land_name) == (1, "Schleswig-Holstein")
    assert kreis.population == 608  # the sum over its Gemeinden (here only Averlak)
    assert kreis.kreis_ars is None
    # ARS = Land, RB, Kreis (01051) + Gemeindeverband (5163) + Gemeinde (003)
    gemeinde = by_ars["010515163003"]
    assert (gemeinde.name, gemeinde.kind, gemeinde.kind_code) == ("Averlak", "gemeinde", 64)
    assert (gemeinde.population, gemeinde.land) == (608, 1)
    assert (gemeinde.kreis_ars, gemeinde.kreis_name) == ("01051", "Dithmarschen")


def test_kreisfreie_stadt_appears_once_from_its_gemeinde_record(parsed):
    _, by_ars = parsed
    assert "09162" not in by_ars
    city = by_ars["091620000000"]
    assert city.name == "München, Landeshauptstadt"
    assert (city.kind, city.kind_code) == ("kreisfreie_stadt", 61)
    assert (city.land, city.land_name, city.population) == (9, "Bayern", 1505005)
    assert city.kreis_ars is None and city.kreis_name is None


def test_landkreis_markt_stadt_and_gemeindefreies_gebiet(parsed):
    _, by_ars = parsed
    landkreis = by_ars["09184"]
    assert (landkreis.name, landkreis.kind, landkreis.kind_code) == ("München", "kreis", 44)
    assert landkreis.population == 9149 + 17656 + 0
    garching = by_ars["091840119119"]
    assert (garching.kind, garching.kind_code) == ("kreisangehoerige_stadt", 63)
    assert (garching.population, garching.kreis_name) == (17656, "München")
    markt = by_ars["091750127127"]
    assert (markt.name, markt.kind, markt.kind_code) == ("Markt Schwaben, M", "gemeinde", 60)
    assert markt.kreis_ars == "09175" and markt.kreis_name is None  # its Kreis not in sample
    assert not [e for e in by_ars.values() if e.name == "Forstenrieder Park"]


def test_wrong_record_length_is_reported_with_the_line():
    with pytest.raises(GV100FormatError, match=r"line 2: 219 characters; expected 220"):
        parse_directory([LINES[0], LINES[1][:-1]])


def test_non_numeric_population_is_reported():
    broken = LINES[3][:139] + "0000000x608" + LINES[3][150:]
    with pytest.raises(GV100FormatError, match=r"line 1: Bevölkerung"):
        parse_directory([broken])


def _shipped_csv() -> list[dict[str, str]]:
    raw = (resources.files("kommunaltypen") / "data" / "gemeindeverzeichnis.csv.gz").read_bytes()
    return list(csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))


def test_shipped_extract_is_the_parse_of_the_destatis_file():
    """Needs the project's shared data (``shared/`` beside the clone, as on the developers'
    machines and in CI, or ``KOMMUNALTYPEN_SHARED_DIR``): fails, never skips, without it."""
    shared = os.environ.get("KOMMUNALTYPEN_SHARED_DIR") or (
        Path(__file__).resolve().parents[3] / "shared"
    )
    source = Path(shared) / "data" / "gemeindeverzeichnis" / "GV100AD_30112025.txt"
    assert source.is_file(), (
        f"the Destatis source {source} is missing: put the project's shared/ folder beside the "
        "clone or set KOMMUNALTYPEN_SHARED_DIR"
    )
    with source.open(encoding="utf-8") as handle:
        stand, entries = parse_directory(handle)
    expected = [
        {k: "" if v is None else str(v) for k, v in row.items()} for row in iter_rows(entries)
    ]
    assert _shipped_csv() == expected
    assert stand == directory_info().stand


def test_shipped_extract_contents():
    rows = directory_rows()
    assert len(rows) == directory_info().rows
    assert list(_shipped_csv()[0]) == list(FIELDS)
    by_kind: dict[str, int] = {}
    for row in rows:
        by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + 1
    assert by_kind["kreis"] == 294
    assert by_kind["kreisfreie_stadt"] == 106
    assert sum(by_kind.values()) > 11_000
    assert len({row["ars"] for row in rows}) == len(rows)
    assert all(len(row["ars"]) in (5, 12) and row["ars"].isdigit() for row in rows)
    # Land codes and names agree with the codebook's "bundesland" question
    lands = {o.code: o.label_de for o in default_codebook().question("bundesland").options}
    assert {(row["land"], row["land_name"]) for row in rows} == set(lands.items())
    # every Gemeinde in a Kreis names a Kreis of the directory
    kreise = {row["ars"]: row["name"] for row in rows if row["kind"] == "kreis"}
    members = [row for row in rows if row["kreis_ars"]]
    assert all(kreise[row["kreis_ars"]] == row["kreis_name"] for row in members)
    berlin = next(row for row in rows if row["ars"] == "110000000000")
    assert (berlin["name"], berlin["kind"], berlin["population"]) == (
        "Berlin, Stadt",
        "kreisfreie_stadt",
        3685265,
    )
    total = sum(row["population"] for row in rows if row["kind"] != "kreis")
    assert 83_000_000 < total < 84_000_000


def test_source_line_is_shipped():
    source = directory_info().source
    assert "Statistisches Bundesamt (Destatis), 2025" in source
    assert "Vervielfältigung und Verbreitung, auch auszugsweise, mit Quellenangabe gestattet" in (
        source
    )
