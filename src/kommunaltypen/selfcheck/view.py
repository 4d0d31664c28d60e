"""The result of one municipality as view data: everything the result page and the PDF profile
show, as plain frozen dataclasses with the texts already in the page's language.

:func:`profile_view` gathers it from an :class:`~kommunaltypen.service.Evaluation` and a
:class:`~kommunaltypen.selfcheck.peers.PeerBasis`: type, probabilities, Mischform note, the
explanation ("what would change it"), the goal profile and its SVG chart, the benchmark per topic
(own answer, type, all, the chosen peer group — suppressed under the small-group rule), the
recommendations (each with the type to learn from and the figure behind it), where the figures
come from, and the date and model. The web page (F2) and :func:`~kommunaltypen.selfcheck.pdf.
render_profile_pdf` render the same object, so both show the same content.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kommunaltypen.i18n import get_lang, t, use_lang
from kommunaltypen.selfcheck import explain as _explain
from kommunaltypen.selfcheck import peers as _peers
from kommunaltypen.vocabulary import (
    format_number,
    format_percent,
    number_locale,
    study_type,
    type_colour,
    type_label,
)

if TYPE_CHECKING:
    from kommunaltypen.service import Evaluation, ModelInfo


@dataclass(frozen=True)
class Bar:
    """One type's probability (for a bar chart)."""

    type_id: str
    label: str
    colour: str
    probability: float
    text: str
    own: bool


@dataclass(frozen=True)
class CellView:
    """One group's figure in a row: ``text`` (value or "–"), ``n_text``, ``spread_text``
    (median and quartiles of numeric rows); ``reason`` says why a suppressed cell is empty."""

    group: str
    text: str
    n_text: str | None = None
    spread_text: str | None = None
    suppressed: bool = False
    reason: str | None = None
    reason_id: str | None = None


@dataclass(frozen=True)
class RowView:
    table: int
    row_id: str
    label: str
    own_text: str
    cells: tuple[CellView, ...]
    position_text: str | None = None


@dataclass(frozen=True)
class TopicView:
    """The rows of one table of the study (one topic)."""

    table: int
    caption: str
    rows: tuple[RowView, ...]


@dataclass(frozen=True)
class RecommendationView:
    advice: str
    type_id: str | None
    type_label: str
    learn_from: str
    figure: str
    table: int


@dataclass(frozen=True)
class ProfileView:
    """Everything the result page and the PDF profile show (texts in ``lang``)."""

    lang: str
    date: str  # ISO date
    date_text: str
    title: str
    municipality: tuple[tuple[str, str], ...]  # (label, value) pairs: name, kind, Land, size
    model_id: str
    model_name: str
    typed: bool
    type_id: str | None
    type_label: str | None
    type_description: str | None
    type_colour: str | None
    mischform: bool
    mischform_note: str | None
    not_typed_reason: str | None
    bars: tuple[Bar, ...]
    ranking: tuple[str, ...]  # goal names, most important first
    explanation_text: str | None
    alternatives: tuple[str, ...]
    profile_svg: str | None
    peer_kind: str | None
    peer_label: str | None
    groups: tuple[tuple[str, str], ...]  # (group id, column heading), in column order
    topics: tuple[TopicView, ...]
    recommendations: tuple[RecommendationView, ...]
    source_text: str
    notes: tuple[str, ...]
    explanation: _explain.Explanation | None = field(default=None, repr=False)
    profile: _explain.GoalProfile | None = field(default=None, repr=False)
    comparison: _peers.PeerComparison | None = field(default=None, repr=False)


def _date_text(day: dt.date, lang: str) -> str:
    from babel.dates import format_date

    return format_date(day, format="long", locale=number_locale(lang))


@lru_cache(maxsize=1 << 16)
def _number(value: float, precision: int, lang: str) -> str:
    """``format_number`` remembered: a page shows hundreds of figures, nearly all of them
    the same group figures for every municipality (babel formats one in ~0.1 ms)."""
    return format_number(value, precision, lang)


@lru_cache(maxsize=1 << 14)
def _percent(share: float, lang: str, precision: int = 0) -> str:
    """``format_percent`` remembered (positions and probabilities repeat across pages)."""
    return format_percent(share, lang, precision)


def _value_text(value: float | None, percent: bool, precision: int, lang: str) -> str:
    if value is None:
        return "–"
    text = _number(value, precision, lang)
    return f"{text}\u00a0%" if percent else text


def _own_text(row: _peers.PeerRow, lang: str) -> str:
    if row.own is None:
        return t("selfcheck.own.none", lang=lang)
    if not row.numeric:
        return t("selfcheck.own.yes" if row.own >= 0.5 else "selfcheck.own.no", lang=lang)
    scale = 100.0 if row.percent else 1.0
    return _value_text(row.own * scale, row.percent, row.precision, lang)


def _cell(row: _peers.PeerRow, figure: _peers.Figure, lang: str) -> CellView:
    if figure.reason is not None:
        return CellView(
            figure.group,
            "–",
            suppressed=True,
            reason=figure.reason.text(lang),
            reason_id=figure.reason.message_id,
        )
    if not figure.n:
        return CellView(figure.group, "–", t("selfcheck.n", lang=lang, n=0))
    spread = None
    if row.numeric and figure.median is not None:
        scale = 100.0 if row.percent else 1.0
        prec = row.precision

        def fmt(x: float | None) -> str:
            return _value_text(None if x is None else x * scale, row.percent, prec, lang)

        spread = t(
            "selfcheck.spread",
            lang=lang,
            q1=fmt(figure.q1),
            median=fmt(figure.median),
            q3=fmt(figure.q3),
        )
    return CellView(
        figure.group,
        _value_text(figure.value, row.percent, row.precision, lang),
        t("selfcheck.n", lang=lang, n=_number(figure.n, 0, lang)),
        spread,
    )


def _source_text(basis: _peers.PeerBasis, lang: str) -> str:
    waves, n, typed, bundled = basis.source
    wave = ", ".join(str(w) for w in waves) or "–"
    key = "selfcheck.source.bundled" if bundled else "selfcheck.source.data"
    return t(
        key,
        lang=lang,
        wave=wave,
        n=format_number(n, 0, lang),
        typed=format_number(typed, 0, lang),
    )


#: ranking spaces (every ranking classified) per (model id, ranking length): immutable data
#: derived from an immutable model, so one explanation costs a search, not 720 classifications
_SPACES: dict[tuple[str, int], _explain.RankingSpace] = {}
_SPACES_LOCK = threading.Lock()
_SPACES_MAX = 32


#: explanations per (model id, ranking): immutable, and there are only 820 rankings
_EXPLANATIONS: dict[tuple[str, tuple[str, ...]], _explain.Explanation] = {}
_EXPLANATIONS_MAX = 4096


def _explanation(goals: tuple[str, ...], model: ModelInfo, cb: Any) -> _explain.Explanation:
    key = (model.model_id, goals)
    found = _EXPLANATIONS.get(key)
    if found is None:
        found = _explain.explain(goals, model, cb, space=_space(goals, model, cb))
        with _SPACES_LOCK:
            if len(_EXPLANATIONS) >= _EXPLANATIONS_MAX:
                _EXPLANATIONS.pop(next(iter(_EXPLANATIONS)))
            found = _EXPLANATIONS.setdefault(key, found)
    return found


def _space(goals: tuple[str, ...], model: ModelInfo, cb: Any) -> _explain.RankingSpace:
    key = (model.model_id, len(goals))
    with _SPACES_LOCK:
        found = _SPACES.get(key)
    if found is None:
        found = _explain.ranking_space(model, cb, min_len=len(goals))
        with _SPACES_LOCK:
            if len(_SPACES) >= _SPACES_MAX:
                _SPACES.pop(next(iter(_SPACES)))
            found = _SPACES.setdefault(key, found)
    return found


def _municipality(answers: dict[str, Any], lang: str, cb: Any) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if answers.get("name"):
        out.append((t("selfcheck.muni.name", lang=lang), str(answers["name"])))
    for kind in ("kommunenart", "bundesland"):
        group = _peers.peer_group_of(answers, kind, cb)
        if group is not None:
            out.append((t(f"selfcheck.muni.{kind}", lang=lang), group.value_label(lang, cb)))
    size = _peers.peer_group_of(answers, "groessenklasse", cb)
    if size is not None:
        out.append((t("selfcheck.muni.groessenklasse", lang=lang), size.value_label(lang, cb)))
    return tuple(out)


def profile_view(
    evaluation: Evaluation,
    basis: _peers.PeerBasis,
    *,
    kind: str | None = "kommunenart",
    model: ModelInfo | None = None,
    lang: str | None = None,
    today: dt.date | None = None,
    with_type_peer: bool = False,
    min_n: int = _peers.MIN_N,
) -> ProfileView:
    """The view data of one municipality's result.

    ``evaluation``: :func:`kommunaltypen.service.evaluate` of its answers; ``basis``: the
    :func:`~kommunaltypen.selfcheck.peers.peer_basis` of the same analysis; ``kind``: the peer
    group (one of :data:`~kommunaltypen.selfcheck.peers.PEER_KINDS`, None for none); ``model``:
    the model the evaluation classified with (default: the analysis' own model, as
    :func:`~kommunaltypen.service.evaluate` uses it); ``today``: the date printed (default: today,
    UTC)."""
    lang = lang or get_lang()
    with use_lang(lang):
        return _build(evaluation, basis, kind, model, lang, today, with_type_peer, min_n)


def _build(
    evaluation: Evaluation,
    basis: _peers.PeerBasis,
    kind: str | None,
    model: ModelInfo | None,
    lang: str,
    today: dt.date | None,
    with_type_peer: bool,
    min_n: int,
) -> ProfileView:
    from kommunaltypen import service
    from kommunaltypen.report.recommendations import recommend

    result = basis.comparison.result
    cb = basis.comparison.codebook
    day = today or dt.datetime.now(dt.UTC).date()
    cls = evaluation.classification
    if model is None:
        model = service.ModelInfo(
            result.model, cls.model_id if cls else "analysis", cls.model_name if cls else "analysis"
        )
    comparison = _peers.compare(basis, evaluation, kind, min_n=min_n, with_type_peer=with_type_peer)

    bars: tuple[Bar, ...] = ()
    explanation = profile = None
    explanation_text = profile_svg = None
    alternatives: tuple[str, ...] = ()
    ranking: tuple[str, ...] = ()
    if cls is not None:
        bars = tuple(
            Bar(
                tid,
                type_label(tid, lang),
                type_colour(tid),
                p,
                _percent(float(p), lang, 0),
                tid == cls.type_id,
            )
            for tid, p in cls.probabilities.items()
        )
        ranking = tuple(_explain.goal_name(g, lang) for g in cls.goals)
        explanation = _explanation(tuple(cls.goals), model, cb)
        explanation_text = (
            explanation.change.sentence(lang)
            if explanation.change is not None
            else t("selfcheck.edit.none", lang=lang)
        )
        alternatives = tuple(c.sentence(lang) for c in explanation.alternatives[1:])
        profile = _explain.goal_profile(cls.goals, model, cb)
        profile_svg = _explain.profile_svg(profile, lang)

    groups = tuple((g, _peers.group_label(g, comparison, lang)) for g in comparison.groups)
    topics: list[TopicView] = []
    places = {(p.table, p.row_id): p for p in evaluation.places}
    for table in sorted({r.table for r in comparison.rows}):
        if table == 1:
            continue  # the goal centres: shown as the goal profile chart
        rows = []
        for row in comparison.rows_of(table):
            place = places.get((row.table, row.row_id))
            position = None
            if row.numeric and place is not None and place.position is not None:
                all_fig = row.figures.get("all")
                if all_fig is not None and not all_fig.suppressed and all_fig.n:
                    position = t(
                        "selfcheck.position",
                        lang=lang,
                        share=_percent(place.position, lang, 0),
                    )
            rows.append(
                RowView(
                    table=row.table,
                    row_id=row.row_id,
                    label=row.label(lang),
                    own_text=_own_text(row, lang),
                    cells=tuple(_cell(row, row.figures[g], lang) for g, _ in groups),
                    position_text=position,
                )
            )
        topics.append(TopicView(table, basis.caption(table, lang), tuple(rows)))

    percent_rows = {
        (tb.number, label)
        for tb in result.tables
        for r in tb.rows
        if r.spec.percent
        for label in (r.spec.label_de, r.spec.label_en)
    }
    recs = []
    tables = basis.table_models or result.tables
    for rec in recommend(dict(evaluation.answers), tables, lang=lang):
        unit = "\u00a0%" if (rec.table, rec.row_label) in percent_rows else ""
        recs.append(
            RecommendationView(
                advice=rec.advice,
                type_id=rec.type_id,
                type_label=rec.type_label,
                learn_from=t("selfcheck.rec.learn_from", lang=lang, type=rec.type_label),
                figure=t(
                    "selfcheck.rec.figure",
                    lang=lang,
                    table=rec.table,
                    row=rec.row_label,
                    value=rec.value_text + unit,
                    total=rec.total_text + unit,
                ),
                table=rec.table,
            )
        )

    info = study_type(cls.type_id) if cls is not None else None
    mischform = bool(cls is not None and cls.mischform)
    notes = [
        t("selfcheck.note.typology", lang=lang),
        t("selfcheck.note.suppression", lang=lang, min_n=min_n),
    ]
    if comparison.own_in_data:
        notes.append(t("selfcheck.note.own_in_data", lang=lang))
    return ProfileView(
        lang=lang,
        date=day.isoformat(),
        date_text=_date_text(day, lang),
        title=t("selfcheck.title", lang=lang),
        municipality=_municipality(dict(evaluation.answers), lang, cb),
        model_id=cls.model_id if cls is not None else model.model_id,
        model_name=cls.model_name if cls is not None else model.name,
        typed=cls is not None,
        type_id=cls.type_id if cls is not None else None,
        type_label=type_label(cls.type_id, lang) if cls is not None else None,
        type_description=info.description(lang) if info is not None else None,
        type_colour=type_colour(cls.type_id) if cls is not None else None,
        mischform=mischform,
        mischform_note=(
            t(
                "selfcheck.mischform",
                lang=lang,
                threshold=format_percent(cls.mischform_threshold, lang, 0),
                type=type_label(cls.type_id, lang),
            )
            if mischform and cls is not None
            else None
        ),
        not_typed_reason=evaluation.not_typed_reason,
        bars=bars,
        ranking=ranking,
        explanation_text=explanation_text,
        alternatives=alternatives,
        profile_svg=profile_svg,
        peer_kind=comparison.group.kind if comparison.group is not None else None,
        peer_label=comparison.group.label(lang, cb) if comparison.group is not None else None,
        groups=groups,
        topics=tuple(topics),
        recommendations=tuple(recs),
        source_text=_source_text(basis, lang),
        notes=tuple(notes),
        explanation=explanation,
        profile=profile,
        comparison=comparison,
    )
