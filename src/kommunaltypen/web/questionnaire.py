"""The questionnaire of the public Typ-Check as web forms, derived from the codebook.

Pure functions over the codebook (no request, no database), so the pages and their tests share
them:

- :func:`sections` — the codebook's sections in order (one page each); the id column and the
  survey wave are never asked;
- :func:`is_visible` / :func:`apply_filters` — the codebook's filters, evaluated on the server;
- :func:`parse_section` — a submitted form of one section → answer values (codebook columns →
  value as a file cell would hold it, missing codes included) plus the form's own problems
  (a goal ranked twice), before :func:`kommunaltypen.service.check_answers` applies the rules
  of a file import;
- :func:`form_state` — stored answers → what each field shows.

Stored answers keep "keine Angabe" as the codebook's missing code (``-9``), so that resuming
shows it again; the validation turns missing codes into empty cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from kommunaltypen.codebook import Codebook, Question, default_codebook
from kommunaltypen.i18n import label, t

#: never asked on a page: the identifier (set from the directory) and the survey wave
HIDDEN_QUESTIONS = frozenset({"kommune_id", "welle"})
NO_ANSWER = -9
NO_ANSWER_FIELD = "__keine_angabe"
RANK_FIELD = "__rang"


@dataclass(frozen=True)
class Section:
    id: str
    number: int  # 1-based
    questions: tuple[Question, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for q in self.questions for c in q.columns)


@cache
def sections(codebook: Codebook | None = None) -> tuple[Section, ...]:
    cb = codebook or default_codebook()
    order: dict[str, list[Question]] = {}
    for question in cb.questions:
        if question.id in HIDDEN_QUESTIONS:
            continue
        order.setdefault(question.section, []).append(question)
    return tuple(Section(sid, i, tuple(qs)) for i, (sid, qs) in enumerate(order.items(), start=1))


def section_title(section_id: str) -> str:
    return t(f"public.section.{section_id}")


def has_no_answer_option(question: Question) -> bool:
    """ "keine Angabe" is offered wherever the codebook has a missing code for the question:
    every numeric question that is not required (free text has no code)."""
    return not question.required and question.kind != "text"


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_visible(question: Question, answers: Mapping[str, Any], codebook: Codebook) -> bool:
    """Whether ``question`` is asked, given the ``answers`` so far (its filter holds)."""
    flt = question.filter
    if flt is None:
        return True
    value = _number(answers.get(flt.column(codebook)))
    return value is not None and value in flt.in_


def apply_filters(answers: Mapping[str, Any], codebook: Codebook | None = None) -> dict[str, Any]:
    """``answers`` without the answers to questions whose filter does not hold (codebook
    order: a filter only refers to an earlier question)."""
    cb = codebook or default_codebook()
    out = dict(answers)
    for question in cb.questions:
        if not is_visible(question, out, cb):
            for column in question.columns:
                out.pop(column, None)
    return out


@dataclass(frozen=True)
class FormProblem:
    """A problem of one question on a page (for the field and the error summary)."""

    question: str  # question id (the field group)
    message: str
    expected: str = ""
    label: str = ""  # the question's label, named in the error summary


def field_id(question_id: str) -> str:
    """The id of a question's first focusable control (the error summary links to it)."""
    return f"f-{question_id}"


def parse_section(
    form: Mapping[str, Sequence[str]], section: Section
) -> tuple[dict[str, Any], list[FormProblem]]:
    """The answers a submitted section form gives (columns of the section → value; absent =
    not answered) and the problems the columns cannot express (a goal ranked twice)."""
    out: dict[str, Any] = {}
    problems: list[FormProblem] = []

    def first(name: str) -> str:
        values = form.get(name) or []
        return values[0].strip() if values else ""

    for question in section.questions:
        no_answer = first(f"{question.id}{NO_ANSWER_FIELD}") != ""
        if question.kind in ("single", "ordinal"):
            value = first(question.id)
            if value != "":
                out[question.id] = value
        elif question.kind in ("number", "percentage"):
            value = first(question.id)
            if no_answer and value == "":
                out[question.id] = NO_ANSWER
            elif value != "":
                out[question.id] = value.replace(" ", "")
        elif question.kind == "text":
            value = first(question.id)
            if value != "":
                out[question.id] = value
        elif question.kind == "multiple":
            ticked = {v for v in form.get(question.id, []) if v}
            if no_answer and not ticked:
                out.update(dict.fromkeys(question.columns, NO_ANSWER))
            elif ticked:
                known = {o.id for o in question.options}
                for option in question.options:
                    out[f"{question.id}_{option.id}"] = 1 if option.id in ticked else 0
                for unknown in sorted(ticked - known):
                    out[f"{question.id}_{unknown}"] = 1  # refused by the validation
        elif question.kind == "ranking":
            chosen: list[str] = []
            for rank in range(1, int(question.max_rank or 3) + 1):
                chosen.append(first(f"{question.id}{RANK_FIELD}{rank}"))
            picked = [c for c in chosen if c]
            if no_answer and not picked:
                out.update(dict.fromkeys(question.columns, NO_ANSWER))
                continue
            if not picked:
                continue
            duplicates = sorted({c for c in picked if picked.count(c) > 1})
            if duplicates:
                names = ", ".join(_option_label(question, d) for d in duplicates)
                problems.append(
                    FormProblem(
                        question.id,
                        t("public.form.rank_twice", options=names),
                        t("public.form.rank_twice_expected"),
                    )
                )
                continue
            values = dict.fromkeys(question.columns, 0)
            for rank, option_id in enumerate(chosen, start=1):
                if option_id:
                    values[f"{question.id}_{option_id}"] = rank
            out.update(values)
    return out, problems


def _option_label(question: Question, option_id: str) -> str:
    for option in question.options:
        if option.id == option_id:
            return label(option)
    return option_id


def merge_section(
    stored: Mapping[str, Any], section: Section, parsed: Mapping[str, Any], codebook: Codebook
) -> dict[str, Any]:
    """The stored answers with this section's columns replaced by ``parsed``, filters applied."""
    merged = {k: v for k, v in stored.items() if k not in set(section.columns)}
    merged.update(parsed)
    return apply_filters(merged, codebook)


def form_state(question: Question, answers: Mapping[str, Any]) -> dict[str, Any]:
    """What the fields of ``question`` show for ``answers``: ``value`` (single/ordinal/number/
    text, as text), ``ticked`` (multiple: option ids), ``ranks`` (ranking: option id per rank,
    "" = none) and ``no_answer`` (the "keine Angabe" control)."""
    state: dict[str, Any] = {"value": "", "ticked": set(), "ranks": [], "no_answer": False}
    if question.kind in ("single", "ordinal", "number", "percentage", "text"):
        value = answers.get(question.id)
        if value is not None and _number(value) == NO_ANSWER and question.kind != "text":
            state["no_answer"] = True
        elif value is not None:
            number = _number(value)
            if number is not None and number.is_integer() and question.kind != "text":
                state["value"] = str(int(number))
            else:
                state["value"] = str(value)
    elif question.kind == "multiple":
        values = [answers.get(c) for c in question.columns]
        if values and all(_number(v) == NO_ANSWER for v in values):
            state["no_answer"] = True
        else:
            state["ticked"] = {
                o.id for o, v in zip(question.options, values, strict=True) if _number(v) == 1
            }
    elif question.kind == "ranking":
        max_rank = int(question.max_rank or 3)
        ranks = [""] * max_rank
        values = [answers.get(c) for c in question.columns]
        if values and all(_number(v) == NO_ANSWER for v in values):
            state["no_answer"] = True
        for option, value in zip(question.options, values, strict=True):
            number = _number(value)
            if number is not None and 1 <= number <= max_rank:
                ranks[int(number) - 1] = option.id
        state["ranks"] = ranks
    return state


def is_answered(question: Question, answers: Mapping[str, Any]) -> bool:
    return any(answers.get(c) is not None for c in question.columns)


def section_progress(section: Section, answers: Mapping[str, Any], codebook: Codebook) -> str:
    """``done`` (every visible question answered), ``partial`` or ``open``."""
    visible = [q for q in section.questions if is_visible(q, answers, codebook)]
    answered = [q for q in visible if is_answered(q, answers)]
    if visible and len(answered) == len(visible):
        return "done"
    return "partial" if answered else "open"


def answer_text(question: Question, answers: Mapping[str, Any]) -> str:
    """The answer to ``question`` as text for people (print view), "" when not answered."""
    state = form_state(question, answers)
    if state["no_answer"]:
        return t("public.form.no_answer")
    if question.kind == "single":
        number = _number(state["value"])
        option = question.option_by_code(int(number)) if number is not None else None
        return label(option) if option is not None else state["value"]
    if question.kind == "ordinal":
        number = _number(state["value"])
        for scale in question.scale_labels:
            if number is not None and scale.code == int(number):
                return f"{int(number)} – {label(scale)}"
        return state["value"]
    if question.kind == "multiple":
        return "; ".join(label(o) for o in question.options if o.id in state["ticked"])
    if question.kind == "ranking":
        return "; ".join(
            f"{i}. {_option_label(question, oid)}" for i, oid in enumerate(state["ranks"], 1) if oid
        )
    return state["value"]
