"""Recommendation rules: declaration checks, matching of one municipality's answers, and the
figure / strongest type taken from the current tables (also under suppression)."""

from __future__ import annotations

import pytest

from kommunaltypen.codebook import default_codebook
from kommunaltypen.report.figures import find_row
from kommunaltypen.report.model import TYPE_IDS, ReportError, load_output_dir
from kommunaltypen.report.recommendations import load_rules, recommend
from report_outdir import build_synthetic

REQUIRED_TOPICS = {
    "strategie",
    "anknuepfungspunkte",
    "rollen",
    "basiskomponenten",
    "ozg",
    "fim",
    "daten",
    "fortbildung",
    "beteiligung_mitarbeitende",
    "glasfaser",
    "gemeinschaft",
    "kompetenzen",
    "partizipation",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_output_dir(build_synthetic(tmp_path_factory.mktemp("recs")))


def test_shipped_rules_cover_the_topics_and_known_columns():
    rules = load_rules().rules
    assert {r.topic for r in rules} >= REQUIRED_TOPICS
    columns = set(default_codebook().columns)
    for rule in rules:
        for cond in rule.when:
            assert set(cond.referenced()) <= columns, rule.id
        assert rule.advice.de and rule.advice.en


def test_every_rule_figure_exists_in_the_tables(data):
    for rule in load_rules().rules:
        table = data.tables[rule.figure.table]
        assert find_row(table, rule.figure.row) is not None, rule.id


def test_no_data_use_points_to_the_type_strongest_in_staff_planning(data):
    answers = {
        f"datennutzung_{o.id}": 0 for o in default_codebook().question("datennutzung").options
    }
    answers["datennutzung_keine"] = 1
    recs = {r.rule_id: r for r in recommend(answers, data)}
    assert set(recs) == {"datennutzung_keine"}
    rec = recs["datennutzung_keine"]
    row = find_row(data.tables[11], "datennutzung_zur_personaleinsatzplanung")
    best = max(TYPE_IDS, key=lambda tid: row.cells[tid].value)
    assert rec.type_id == best
    assert rec.value == pytest.approx(row.cells[best].value)
    assert rec.value_text == f"{row.cells[best].value:.1f}".replace(".", ",")
    assert data.type_label(best, "de") in rec.advice and rec.value_text in rec.advice


def test_conditions_all_must_hold_and_counts(data):
    cb = default_codebook()
    none_ticked = {f"beteiligung_{o.id}": 0 for o in cb.question("beteiligung").options}
    assert "beteiligungsformate" in {r.rule_id for r in recommend(none_ticked, data)}
    one_ticked = {**none_ticked, "beteiligung_befragungen": 1}
    assert "beteiligungsformate" not in {r.rule_id for r in recommend(one_ticked, data)}
    # unanswered question: no advice about it
    assert recommend({}, data) == []
    # both roles missing → advice; one present → none
    both = {"verantwortung_verwaltung_cio": 0, "verantwortung_verwaltung_cdo": 0}
    assert [r.rule_id for r in recommend(both, data)] == ["rollen_cio_cdo"]
    one = {"verantwortung_verwaltung_cio": 1, "verantwortung_verwaltung_cdo": 0}
    assert recommend(one, data) == []


def test_english_and_directory_input(data):
    recs = recommend({"fim": 0}, data.out_dir, lang="en")
    assert [r.rule_id for r in recs] == ["fim_unbekannt"]
    assert recs[0].advice.startswith("FIM is unknown")


def test_suppressed_cells_never_name_a_type(data):
    min_n = 50  # Bedächtige (45) are suppressed
    for rule in load_rules().rules:
        from kommunaltypen.report.recommendations import evaluate

        rec = evaluate(rule, data, "de", publication=True, min_n=min_n)
        assert rec.type_id != "bedaechtige"
        assert "<" not in rec.value_text or rec.type_id is None


def test_rule_file_errors(tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - id: x\n    topic: t\n    when: [{column: gibt_es_nicht, in: [1]}]\n"
        "    figure: {table: 11, row: x}\n    advice: {de: a, en: b}\n",
        encoding="utf-8",
    )
    with pytest.raises(ReportError, match="gibt_es_nicht"):
        load_rules(bad)
    bad.write_text("rules:\n  - id: x\n    when: []\n", encoding="utf-8")
    with pytest.raises(ReportError, match=r"rules\.yaml"):
        load_rules(bad)
    with pytest.raises(ReportError):
        load_rules(tmp_path / "missing.yaml")
