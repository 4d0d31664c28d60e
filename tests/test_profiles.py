"""Type profiles (Steckbriefe) and the D-Team page: complete, bilingual, driven by the data."""

from __future__ import annotations

import re

import pytest

from kommunaltypen.report.figures import Resolver, placeholders
from kommunaltypen.report.model import TYPE_IDS, ReportError, load_output_dir
from kommunaltypen.report.profiles import build_profiles, load_profiles
from report_outdir import build_synthetic


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return build_synthetic(tmp_path_factory.mktemp("prof"))


@pytest.fixture()
def data(out_dir):
    return load_output_dir(out_dir)  # fresh objects per test: some tests change figures


def test_every_type_has_every_section_in_both_languages():
    decl = load_profiles()
    assert set(decl.types) == set(TYPE_IDS)
    for entry in decl.types.values():
        for section in decl.sections:
            assert entry[section.id].de and entry[section.id].en
    assert set(decl.dteam.roles) == set(TYPE_IDS)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_all_placeholders_resolve(data, lang):
    profiles, dteam, resolver = build_profiles(data, lang)
    assert resolver.missing == []
    texts = [text for p in profiles for _, text in p.sections] + [r[2] for r in dteam.roles]
    assert not any("{" in text for text in texts)
    assert [p.label for p in profiles] == [data.type_label(tid, lang) for tid in TYPE_IDS]


def test_profiles_rest_on_figures():
    """Every type's profile shows at least four figures from the tables."""
    decl = load_profiles()
    for type_id, entry in decl.types.items():
        refs = [ref for text in entry.values() for ref in placeholders(text.de)]
        assert len(refs) >= 4, type_id


def test_profile_updates_when_the_data_change(data):
    before, _, _ = build_profiles(data, "de")
    row = next(r for r in data.tables[7].rows if r.key == "cio")
    row.cells["optimierer"].value = 87.66
    after, _, _ = build_profiles(data, "de")
    text_before = dict(before[1].sections)["Digitale Verwaltung"]
    text_after = dict(after[1].sections)["Digitale Verwaltung"]
    assert "CIO 87,7 %" in text_after and text_before != text_after


def test_resolver_special_columns_and_suppression(data):
    resolver = Resolver(data, "de", publication=True, min_n=50)
    assert resolver.fill("{n.bedaechtige}") == "<50"
    assert resolver.fill("{t7.cio.bedaechtige}") == "<50"
    top = resolver.fill("{t7.cio.top}")
    assert top in {data.type_label(t, "de") for t in TYPE_IDS if t != "bedaechtige"}
    assert resolver.fill("{t7.gibt_es_nicht.optimierer}") == "–"
    assert resolver.missing == ["t7.gibt_es_nicht.optimierer"]
    assert re.fullmatch(r"\d+,\d", Resolver(data, "de", False, 5).fill("{t7.cio.gesamt}"))


def test_invalid_profile_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("source: {de: a, en: b}\nsections: []\ntypes: {}\n", encoding="utf-8")
    with pytest.raises(ReportError, match=r"p\.yaml"):
        load_profiles(path)


def test_offered_and_planned_figures_of_table_12(data):
    row = next(
        r for r in data.tables[12].rows if r.key == "fachverfahren_und_anwendungen_angeboten"
    )
    assert row.planned == "fachverfahren_und_anwendungen_geplant"
    cell = row.cells["optimierer"]
    assert cell.value2 is not None  # merged "offered / planned" row as the engine writes it
    resolver = Resolver(data, "de", False, 5)
    offered = resolver.fill("{t12.fachverfahren_und_anwendungen_angeboten.optimierer}")
    planned = resolver.fill("{t12.fachverfahren_und_anwendungen_geplant.optimierer}")
    assert offered == f"{cell.value:.1f}".replace(".", ",")
    assert planned == f"{cell.value2:.1f}".replace(".", ",")
    assert resolver.missing == []
