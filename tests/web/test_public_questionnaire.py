"""The questionnaire as forms (web/questionnaire.py): every question kind of the codebook goes
from form fields to answers the file import's rules accept, and back to the same fields."""

from __future__ import annotations

from typing import Any

import pytest

from kommunaltypen import service
from kommunaltypen.codebook import default_codebook
from kommunaltypen.web import questionnaire as qn

BASE = {"kommune_id": "x", "kommunenart": 2, "bundesland": 9, "einwohner": 100000}


def test_sections_follow_the_codebook_and_never_ask_the_id_or_wave() -> None:
    sections = qn.sections()
    cb = default_codebook()
    assert [s.id for s in sections] == list(dict.fromkeys(q.section for q in cb.questions))
    assert [s.number for s in sections] == list(range(1, len(sections) + 1))
    asked = {q.id for s in sections for q in s.questions}
    assert asked == {q.id for q in cb.questions} - {"kommune_id", "welle"}
    for section in sections:
        assert qn.section_title(section.id)  # every section has a title in the catalogue


def _form_for(question: Any, variant: int) -> dict[str, list[str]]:
    """A form answer for ``question`` (variant 0: first option(s), 1: "keine Angabe")."""
    if variant == 1 and qn.has_no_answer_option(question):
        if question.kind in ("single", "ordinal"):
            return {question.id: ["-9"]}
        return {f"{question.id}{qn.NO_ANSWER_FIELD}": ["1"]}
    if question.kind == "single":
        return {question.id: [str(question.options[0].code)]}
    if question.kind == "ordinal":
        return {question.id: [str(int(question.max or 1))]}
    if question.kind == "multiple":
        picked = [o.id for o in question.options if not o.exclusive]
        return {question.id: picked}
    if question.kind == "ranking":
        ids = [o.id for o in question.options]
        return {f"{question.id}{qn.RANK_FIELD}{r}": [ids[-r]] for r in (1, 2, 3)}
    if question.kind == "text":
        return {question.id: ["Musterstadt"]}
    return {question.id: ["42"]}


@pytest.mark.parametrize("variant", [0, 1])
@pytest.mark.parametrize("section", qn.sections(), ids=lambda s: s.id)
def test_every_question_round_trips_through_form_rules_and_back(
    section: qn.Section, variant: int
) -> None:
    cb = default_codebook()
    stored: dict[str, Any] = dict(BASE)
    stored.update({"strategie": 1, "handlungsfelder_verwaltung": 1})  # filters hold
    stored.update({f"basiskomponenten_{o.id}": 1 for o in cb.question("basiskomponenten").options})
    form: dict[str, list[str]] = {}
    shown = [q for q in section.questions if qn.is_visible(q, stored, cb)]
    controlling = {q.filter.question for q in cb.questions if q.filter is not None}
    for question in shown:
        if (question.required or question.id in controlling) and variant == 1:
            form.update(_form_for(question, 0))
        else:
            form.update(_form_for(question, variant))
    parsed, problems = qn.parse_section(form, section)
    assert problems == []
    merged = qn.merge_section(stored, section, parsed, cb)
    check = service.check_answers(merged)
    assert check.ok, check.problems
    for question in shown:
        state = qn.form_state(question, merged)
        expected = form
        declined = variant == 1 and qn.has_no_answer_option(question)
        if declined and question.id not in controlling:
            assert state["no_answer"], question.id
            assert qn.answer_text(question, merged) == "keine Angabe"
        elif question.kind in ("single", "ordinal", "number", "percentage", "text"):
            assert state["value"] == expected[question.id][0], question.id
        elif question.kind == "multiple":
            assert state["ticked"] == set(expected[question.id]), question.id
        else:
            ranks = [expected[f"{question.id}{qn.RANK_FIELD}{r}"][0] for r in (1, 2, 3)]
            assert state["ranks"] == ranks, question.id


def test_filters_drop_answers_of_questions_no_longer_asked() -> None:
    cb = default_codebook()
    answers = {**BASE, "strategie": 1, "strategiebeteiligte_berater": 1}
    assert qn.apply_filters(answers, cb) == answers
    answers["strategie"] = 3
    kept = qn.apply_filters(answers, cb)
    assert "strategiebeteiligte_berater" not in kept and kept["strategie"] == 3
    ozg = cb.question("ozg")
    assert not qn.is_visible(ozg, {"handlungsfelder_verwaltung": 0}, cb)
    assert qn.is_visible(ozg, {"handlungsfelder_verwaltung": 2}, cb)
    assert not qn.is_visible(ozg, {"handlungsfelder_verwaltung": -9}, cb)


def test_a_partial_ranking_keeps_its_ranks_and_a_repeated_goal_is_a_problem() -> None:
    goals = qn.sections()[1]
    parsed, problems = qn.parse_section({"ziele__rang1": ["effizienz"]}, goals)
    assert problems == [] and parsed["ziele_effizienz"] == 1 and parsed["ziele_innovation"] == 0
    parsed, problems = qn.parse_section(
        {"ziele__rang1": ["effizienz"], "ziele__rang3": ["effizienz"]}, goals
    )
    assert [p.question for p in problems] == ["ziele"] and "ziele_effizienz" not in parsed
