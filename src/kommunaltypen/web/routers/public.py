"""The public Typ-Check: server-rendered HTML pages (German by default, ``?lang=en``).

Pages (every one works without JavaScript; with htmx the forms and the directory search update
the ``<main id="main">`` element in place — a request with ``HX-Request`` and without
``HX-Boosted`` gets that element only):

===========================================  ===============================================
``GET /``                                    start page: what the Typ-Check is, privacy
``GET /barrierefreiheit``                    Erklärung zur Barrierefreiheit (BITV 2.0)
``GET /impressum``                           imprint and privacy notice (operator: settings)
``GET /check``                               "who you are": directory search (``q``), a
                                             chosen municipality (``ars``), or anonymous
``GET /check/kommunen``                      the search results alone (htmx, search as you type)
``POST /check``                              creates the submission → its first section
``GET /check/{id}/{token}``                  overview of a submission (the private link)
``GET|POST /check/{id}/{token}/abschnitt/N`` one section of the questionnaire
``GET /check/{id}/{token}/ergebnis``         the result (``?gruppe=`` chooses the peer group)
``POST …/einwilligung`` / ``…/abschliessen``  consent to the next wave / finalise
``GET /check/{id}/{token}/drucken``          print view of the link and every answer
``GET /check/{id}/{token}/profil.pdf``       the PDF profile
===========================================  ===============================================

The private link carries the submission's token (the API's token scheme: 256 random bits, the
store keeps only its SHA-256). A wrong token and an unknown id give the same 404 page. Pages
under ``/check/{id}/…`` send ``X-Robots-Tag: noindex``, ``Cache-Control: no-store`` and
``<meta name="robots" content="noindex">``; no page loads anything from another origin.
Every form carries the CSRF field (:mod:`kommunaltypen.web.csrf` checks it in middleware).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import get_lang, label, t
from kommunaltypen.vocabulary import format_number, format_percent, type_label
from kommunaltypen.web import deps, typcheck
from kommunaltypen.web import questionnaire as qn

router = APIRouter(include_in_schema=False)

NOINDEX_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}
SEARCH_LIMIT = 20


# ---------------------------------------------------------------------------- templates
@pass_context
def csrf_field(context: Any) -> Markup:
    """The hidden CSRF input of a form (the token the middleware put into the request)."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(
        csrf_token(context["request"])
    )


def csrf_token(request: Request) -> str:
    return str(request.scope.get("state", {}).get("csrf_token", ""))


def _lang_url(request: Request, lang: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", lang))
    return f"{request.url.path}?{urlencode(params)}"


def _make_templates() -> Jinja2Templates:
    folder = resources.files("kommunaltypen.web") / "templates"
    templates = Jinja2Templates(directory=str(folder))
    env = templates.env
    env.globals.update(
        t=t,
        csrf_field=csrf_field,
        label=label,
        type_label=type_label,
        format_number=format_number,
        format_percent=format_percent,
        field_id=qn.field_id,
    )
    return templates


templates = _make_templates()


def wants_fragment(request: Request) -> bool:
    """htmx request that swaps ``#main`` (not a boosted navigation)."""
    return (
        request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
    )


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    private: bool = False,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page (or, for htmx, its ``<main>`` element with the page title)."""
    lang = get_lang()
    ctx = {
        "request": request,
        "lang": lang,
        "other_lang": "en" if lang == "de" else "de",
        "lang_url": _lang_url(request, "en" if lang == "de" else "de"),
        "csrf_token": csrf_token(request),
        "noindex": private,
        "settings": deps.app_state(request).settings,
        **context,
    }
    template = templates.get_template(name)
    if wants_fragment(request):
        tctx = template.new_context(ctx)
        title = "".join(template.blocks["title"](tctx)).strip()
        main = "".join(template.blocks["main"](template.new_context(ctx)))
        body = f"<title>{escape(title)}</title>\n{main}"
    else:
        body = template.render(ctx)
    out_headers = dict(headers or {})
    if private:
        out_headers.update(NOINDEX_HEADERS)
    return HTMLResponse(body, status_code=status, headers=out_headers)


def redirect(request: Request, url: str, *, private: bool = True) -> Response:
    """303 to ``url``; for htmx a 200 with ``HX-Location`` … replaced by rendering in place by
    the callers that can; plain redirect otherwise (keeps ``?lang=``)."""
    lang = request.query_params.get("lang")
    if lang in ("de", "en"):
        url += ("&" if "?" in url else "?") + urlencode({"lang": lang})
    headers = dict(NOINDEX_HEADERS) if private else {}
    if request.headers.get("hx-request") == "true":
        headers["HX-Redirect"] = url
        return Response(status_code=200, headers=headers)
    return RedirectResponse(url, status_code=303, headers=headers)


# ---------------------------------------------------------------------------- static pages
@router.get("/", response_class=HTMLResponse)
def start(request: Request) -> HTMLResponse:
    return render(request, "start.html", {"n_sections": len(qn.sections())})


@router.get("/barrierefreiheit", response_class=HTMLResponse)
def accessibility(request: Request) -> HTMLResponse:
    return render(request, "barrierefreiheit.html", {})


@router.get("/impressum", response_class=HTMLResponse)
def imprint(request: Request) -> HTMLResponse:
    return render(request, "impressum.html", {})


# ---------------------------------------------------------------------------- who you are
def _kind_code(kind: str | None) -> int | None:
    if kind is None:
        return None
    try:
        return default_codebook().question("kommunenart").option(kind).code
    except Exception:
        return None


def _search(session: Session, q: str) -> list[Any]:
    from kommunaltypen.store import DirectoryRepo

    q = q.strip()[:100]
    return DirectoryRepo(session).search(q, limit=SEARCH_LIMIT) if q else []


def _who_context(
    session: Session,
    q: str,
    ars: str | None,
    values: Mapping[str, Any] | None = None,
    problems: list[qn.FormProblem] | None = None,
) -> dict[str, Any]:
    from kommunaltypen.store import DirectoryRepo

    cb = default_codebook()
    chosen = None
    if ars and ars.isdigit() and len(ars) <= 12:
        chosen = DirectoryRepo(session).get(ars)
    prefill: dict[str, Any] = dict(values or {})
    if chosen is not None and not values:
        prefill = {
            "kommunenart": _kind_code(chosen.kind),
            "bundesland": chosen.land,
            "einwohner": chosen.population,
            "name": chosen.name,
        }
    classes = [{"index": i, "text": _size_class_text(i)} for i in range(len(cb.population_classes))]
    return {
        "q": q,
        "results": _search(session, q) if q and chosen is None else [],
        "searched": bool(q) and chosen is None,
        "chosen": chosen,
        "prefill": prefill,
        "kinds": cb.question("kommunenart").options,
        "laender": cb.question("bundesland").options,
        "size_classes": classes,
        "problems": problems or [],
        "section": qn.sections()[0],
        "n_sections": len(qn.sections()),
    }


@router.get("/check", response_class=HTMLResponse)
def who(
    request: Request,
    session: Annotated[Session, Depends(deps.read_session)],
    q: Annotated[str, Query(max_length=100)] = "",
    ars: Annotated[str | None, Query(max_length=12)] = None,
    anonym: Annotated[str | None, Query(max_length=1)] = None,
) -> HTMLResponse:
    ctx = _who_context(session, q, ars)
    ctx["anonymous"] = anonym == "1"
    return render(request, "check.html", ctx)


@router.get("/check/kommunen", response_class=HTMLResponse)
def who_search(
    request: Request,
    session: Annotated[Session, Depends(deps.read_session)],
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    if not wants_fragment(request):
        return RedirectResponse("/check?" + urlencode({"q": q}), status_code=303)
    ctx = {"q": q, "results": _search(session, q), "searched": bool(q.strip())}
    template = templates.get_template("partials/kommunen.html")
    return HTMLResponse(template.render({**ctx, "request": request, "lang": get_lang()}))


def _size_class_population(index: int) -> int | None:
    """A population inside size class ``index`` (its middle; the open class: 1.5 × its lower
    bound) — anonymous submissions give the class only, the typology never uses it."""
    classes = default_codebook().population_classes
    if not 0 <= index < len(classes):
        return None
    lo, hi = classes[index]
    return int(lo * 1.5) if hi is None else int((lo + hi) // 2)


@router.post("/check", response_class=HTMLResponse)
async def who_submit(request: Request) -> Response:
    form = await request.form()
    values = {k: [str(v) for v in form.getlist(k)] for k in form}
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_who_submit, request, values)


def _first(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or []
    return values[0].strip() if values else ""


def _who_submit(request: Request, form: Mapping[str, list[str]]) -> Response:
    from kommunaltypen.store import DirectoryRepo, SubmissionRepo

    state = deps.app_state(request)
    anonymous = _first(form, "anonym") == "1"
    ars = _first(form, "ars") or None
    problems: list[qn.FormProblem] = []
    answers: dict[str, Any] = {
        "kommunenart": _first(form, "kommunenart") or None,
        "bundesland": _first(form, "bundesland") or None,
    }
    with state.sessions() as session:
        chosen = DirectoryRepo(session).get(ars) if ars and ars.isdigit() else None
        if ars and chosen is None:
            problems.append(
                qn.FormProblem("ars", t("web.problem.kommune_not_found_detail", ars=ars))
            )
        if anonymous:
            size = _first(form, "groesse")
            population = _size_class_population(int(size)) if size.isdigit() else None
            if population is None:
                problems.append(
                    qn.FormProblem(
                        "groesse", t("public.who.size_missing"), t("public.who.size_expected")
                    )
                )
            answers["einwohner"] = population
            answers["kommune_id"] = "anonym"
        else:
            answers["einwohner"] = _first(form, "einwohner").replace(".", "").replace(" ", "")
            answers["kommune_id"] = chosen.ars if chosen is not None else "anonym"
            if chosen is not None:
                answers["name"] = chosen.name
        answers = {k: v for k, v in answers.items() if v not in (None, "")}
        check = deps.app_state(request).checker.check(answers)  # batched with others
        size_missing = anonymous and "einwohner" not in answers  # said once, at the class
        problems += [
            qn.FormProblem(p.field, p.message, p.expected)
            for p in check.problems
            if p.field and not (size_missing and p.field == "einwohner")
        ]
        labels = {
            "ars": t("public.who.search_label"),
            "kommunenart": t("public.who.kind"),
            "bundesland": t("public.who.land"),
            "groesse": t("public.who.size"),
            "einwohner": t("public.who.population"),
        }
        order = list(labels)
        problems = sorted(
            (
                qn.FormProblem(p.question, p.message, p.expected, labels.get(p.question, ""))
                for p in problems
            ),
            key=lambda p: order.index(p.question) if p.question in order else len(order),
        )
        if problems or check.row is None:
            ctx = _who_context(
                session,
                "",
                ars,
                values={**answers, "groesse": _first(form, "groesse")},
                problems=problems,
            )
            ctx["anonymous"] = anonymous
            return render(request, "check.html", ctx, status=422)
        stored = _stored(answers, check.row)
        token = deps.new_token()
        cb = default_codebook()
        sub = SubmissionRepo(session).create(
            token_hash=deps.token_hash(token),
            answers=stored,
            codebook_id=cb.id,
            codebook_version=cb.version,
            kommune_ars=chosen.ars if chosen is not None else None,
            **_derived(check.row, deps.current_model(state)),
        )
        session.commit()
        state.pdf.start()  # its PDF will be asked for in a few minutes: load WeasyPrint now
        return redirect(request, f"{_base(sub.id, token)}/abschnitt/2?neu=1")


def _derived(row: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """kind, land, size class and type of a canonical row (as the API stores them)."""
    from kommunaltypen.web.routers.api import _grouping, _typing

    clean = {k: v for k, v in row.items() if v is not None}
    type_id, model_id = _typing(clean, model)
    return {**_grouping(clean), "type_id": type_id, "model_id": model_id}


def _stored(answers: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """What a submission keeps: the canonical value of every answered column, the missing code
    where the answer was "keine Angabe" (so that resuming shows it again)."""
    out: dict[str, Any] = {}
    for column, raw in answers.items():
        value = row.get(column)
        if value is not None:
            out[column] = value
        elif raw is not None and str(raw).strip() == str(qn.NO_ANSWER):
            out[column] = qn.NO_ANSWER
    return out


def _base(submission_id: Any, token: str) -> str:
    return f"/check/{submission_id}/{token}"


# ---------------------------------------------------------------------------- submissions
def _load(session: Session, submission_id: str, token: str) -> Any:
    from kommunaltypen.store import SubmissionRepo

    if len(token) > 200:
        return None
    return SubmissionRepo(session).get_with_token(submission_id, deps.token_hash(token))


def _fetch(request: Request, submission_id: str, token: str) -> Any:
    """The submission (detached, read-only) when the token is its token, else None. The
    database session is closed before the page is computed, so that slow pages (result, PDF)
    never hold a pooled connection."""
    with deps.app_state(request).read_sessions() as session:
        return _load(session, submission_id, token)


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "fehler.html", {"reason": "not_found"}, status=404, private=True)


def _sub_context(request: Request, sub: Any, token: str) -> dict[str, Any]:
    base = _base(sub.id, token)
    link = str(request.base_url).rstrip("/") + base
    cb = default_codebook()
    answers = dict(sub.answers or {})
    progress = [
        {
            "section": s,
            "title": qn.section_title(s.id),
            "state": qn.section_progress(s, answers, cb),
        }
        for s in qn.sections()
    ]
    return {
        "sub": sub,
        "base": base,
        "private_link": link,
        "final": sub.is_final,
        "progress": progress,
        "n_sections": len(qn.sections()),
        "kommune_name": answers.get("name"),
    }


@router.get("/check/{submission_id}/{token}", response_class=HTMLResponse)
def overview(
    request: Request,
    submission_id: str,
    token: str,
) -> HTMLResponse:
    sub = _fetch(request, submission_id, token)
    if sub is None:
        return _not_found(request)
    return render(request, "uebersicht.html", _sub_context(request, sub, token), private=True)


def _section_or_none(number: int) -> qn.Section | None:
    all_sections = qn.sections()
    return all_sections[number - 1] if 1 <= number <= len(all_sections) else None


def _section_context(
    request: Request,
    sub: Any,
    token: str,
    section: qn.Section,
    answers: Mapping[str, Any],
    problems: list[qn.FormProblem],
    notice: str | None = None,
    form: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    cb = default_codebook()
    ctx = _sub_context(request, sub, token)
    shown = [q for q in section.questions if qn.is_visible(q, answers, cb)]
    state = {q.id: qn.form_state(q, answers) for q in shown}
    if form is not None:  # a refused ranking is shown as entered, for correcting
        for q in shown:
            if q.kind == "ranking" and any(p.question == q.id for p in problems):
                ranks = range(1, int(q.max_rank or 3) + 1)
                state[q.id]["ranks"] = [_first(form, f"{q.id}{qn.RANK_FIELD}{r}") for r in ranks]
    order = [q.id for q in section.questions]
    problems = sorted(
        (
            qn.FormProblem(p.question, p.message, p.expected, _question_label(p.question))
            for p in problems
        ),
        key=lambda p: order.index(p.question) if p.question in order else len(order),
    )
    by_question: dict[str, list[qn.FormProblem]] = {}
    for p in problems:
        by_question.setdefault(p.question, []).append(p)
    controlling = {q.filter.question for q in cb.questions if q.filter is not None}
    ctx.update(
        {
            "section": section,
            "section_title": qn.section_title(section.id),
            "questions": shown,
            "state": state,
            "problems": problems,
            "by_question": by_question,
            "no_answer": {q.id: qn.has_no_answer_option(q) for q in shown},
            "controlling": controlling,
            "action": f"{ctx['base']}/abschnitt/{section.number}",
            "is_last": section.number == len(qn.sections()),
            "new": request.query_params.get("neu") == "1",
            "notice": notice,
            "no_answer_field": qn.NO_ANSWER_FIELD,
            "rank_field": qn.RANK_FIELD,
        }
    )
    return ctx


@router.get("/check/{submission_id}/{token}/abschnitt/{number}", response_class=HTMLResponse)
def section_page(
    request: Request,
    submission_id: str,
    token: str,
    number: int,
) -> HTMLResponse:
    sub = _fetch(request, submission_id, token)
    section = _section_or_none(number)
    if sub is None or section is None:
        return _not_found(request)
    ctx = _section_context(request, sub, token, section, dict(sub.answers or {}), [])
    return render(request, "abschnitt.html", ctx, private=True)


@router.post("/check/{submission_id}/{token}/abschnitt/{number}", response_class=HTMLResponse)
async def section_submit(request: Request, submission_id: str, token: str, number: int) -> Response:
    form = await request.form()
    values = {k: [str(v) for v in form.getlist(k)] for k in form}
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_section_submit, request, submission_id, token, number, values)


def _section_submit(
    request: Request, submission_id: str, token: str, number: int, form: Mapping[str, list[str]]
) -> Response:
    from kommunaltypen.store import SubmissionRepo

    state = deps.app_state(request)
    cb = default_codebook()
    section = _section_or_none(number)
    action = _first(form, "aktion") or "weiter"
    sub = _fetch(request, submission_id, token)
    if sub is None or section is None:
        return _not_found(request)
    if sub.is_final:
        ctx = _sub_context(request, sub, token)
        return render(request, "uebersicht.html", ctx, status=409, private=True)
    stored = dict(sub.answers or {})
    parsed, problems = qn.parse_section(form, section)
    merged = qn.merge_section(stored, section, parsed, cb)
    if action == "aktualisieren":  # filters changed: show the section again, save nothing
        ctx = _section_context(request, sub, token, section, merged, [])
        return render(request, "abschnitt.html", ctx, private=True)
    # outside the write transaction: CPU only, batched with concurrent requests
    check = deps.app_state(request).checker.check(merged)
    problems += [
        qn.FormProblem(_question_of(p.field), p.message, p.expected) for p in check.problems
    ]
    if problems or check.row is None:
        ctx = _section_context(request, sub, token, section, merged, problems, form=form)
        return render(request, "abschnitt.html", ctx, status=422, private=True)
    # the questions the form showed (htmx may have shown follow-ups already)
    shown = {x for x in _first(form, "gezeigt").split(",") if x}
    before = shown or {q.id for q in section.questions if qn.is_visible(q, stored, cb)}
    after = {q.id for q in section.questions if qn.is_visible(q, merged, cb)}
    model = deps.model_for(state, sub.model_id) if sub.model_id else deps.current_model(state)
    fields = {"answers": _stored(merged, check.row), **_derived(check.row, model)}
    with state.sessions() as session:
        sub = _load(session, submission_id, token)
        if sub is None:
            return _not_found(request)
        if sub.is_final:  # finalised meanwhile
            ctx = _sub_context(request, sub, token)
            return render(request, "uebersicht.html", ctx, status=409, private=True)
        SubmissionRepo(session).update(sub, **fields)
        session.commit()
    new_questions = after - before
    if new_questions and action == "weiter":
        ctx = _section_context(
            request, sub, token, section, merged, [], notice=t("public.form.new_questions")
        )
        return render(request, "abschnitt.html", ctx, private=True)
    base = _base(sub.id, token)
    if action == "zurueck" and number > 1:
        target = f"{base}/abschnitt/{number - 1}"
    elif action == "speichern":
        target = f"{base}/abschnitt/{number}"
    elif number < len(qn.sections()):
        target = f"{base}/abschnitt/{number + 1}"
    else:
        target = f"{base}/ergebnis"
    if wants_fragment(request) and target.startswith(f"{base}/abschnitt/"):
        next_section = _section_or_none(int(target.rsplit("/", 1)[1]))
        assert next_section is not None
        ctx = _section_context(request, sub, token, next_section, dict(sub.answers), [])
        return render(request, "abschnitt.html", ctx, private=True, headers={"HX-Push-Url": target})
    return redirect(request, target)


def _question_label(question_id: str) -> str:
    try:
        return label(default_codebook().question(question_id))
    except Exception:
        return ""


def _question_of(column: str) -> str:
    cb = default_codebook()
    try:
        question, _ = cb.column_owner(column)
        return question.id
    except Exception:
        return column


# ---------------------------------------------------------------------------- result
def _peer_kind(gruppe: str | None) -> str | None:
    """The peer group of ``?gruppe=`` (default: same Kommunenart; ``keine``: none)."""
    from kommunaltypen.selfcheck.peers import PEER_KINDS

    if gruppe in PEER_KINDS:
        return gruppe
    return None if gruppe == "keine" else "kommunenart"


class _Output:
    """What one result page or PDF of a submission is computed from: its model, language,
    peer group and date, and the key of the stored outputs (:mod:`kommunaltypen.web.typcheck`)."""

    def __init__(self, request: Request, sub: Any, peer: str | None) -> None:
        self.state = deps.app_state(request)
        self.sub = sub
        self.peer = peer
        self.lang = get_lang()
        self.day = dt.datetime.now(dt.UTC).date()
        self.model = deps.model_for(self.state, sub.model_id)  # earlier ones keep their model
        self.key = typcheck.output_key(
            sub.answers or {}, self.model.model_id, self.lang, peer, self.day
        )
        #: one PDF render per submission and key at a time
        self.render_key = f"{sub.id}:{self.key}"

    def view(self) -> Any:
        """The selfcheck view data (what the result page and the PDF show)."""
        from kommunaltypen.selfcheck.view import profile_view as build

        _, peers = typcheck.comparison_for(self.state, self.model)
        # the stored answers were checked when they were saved (the canonical row)
        evaluation = typcheck.evaluate(self.state, self.model, self.sub.answers or {})
        return build(
            evaluation, peers, kind=self.peer, model=self.model, lang=self.lang, today=self.day
        )

    def keep(self, kind: str) -> Any:
        """A callback that stores an output of ``kind`` under this key."""
        name = typcheck.variant(kind, self.lang, self.peer)
        return lambda content: typcheck.store(self.state, self.sub.id, name, self.key, content)

    def cached(self, kind: str) -> bytes | None:
        name = typcheck.variant(kind, self.lang, self.peer)
        return typcheck.cached(self.state, self.sub.id, name, self.key)

    def page_parts(self) -> dict[str, Any]:
        """The result page's view-only parts (stored; computed on the first request), and the
        PDF's render queued in the background then."""
        stored = self.cached("page")
        if stored is not None:
            parts = json.loads(stored)
        else:
            view = self.view()
            parts = _page_macros(view)
            self.keep("page")(json.dumps(parts).encode("utf-8"))
            if self.cached("pdf") is None:  # its print HTML is made in the render process
                self.state.pdf.prefetch(
                    self.render_key, lambda: typcheck.print_view(view), self.keep("pdf")
                )
        return {
            "typed": bool(parts["typed"]),
            "summary": Markup(parts["summary"]),
            "figures": Markup(parts["figures"]),
        }

    def pdf(self) -> bytes:
        """The PDF profile: stored, being rendered (waits for it), or rendered now."""
        stored = self.cached("pdf")
        if stored is not None:
            return stored
        source = typcheck.print_view(self.view())
        return self.state.pdf.render(self.render_key, source, self.keep("pdf"))


def _page_macros(view: Any) -> dict[str, Any]:
    """The result page's view-only parts of ``view`` (what :meth:`_Output.page_parts` keeps)."""
    macros = templates.get_template("partials/result.html").module
    return {
        "typed": view.typed,
        "summary": str(macros.summary(view)),  # type: ignore[attr-defined]
        "figures": str(macros.figures(view)),  # type: ignore[attr-defined]
    }


def warm_typcheck(state: Any) -> None:
    """Ready this worker for the Typ-Check's first result pages (the application's lifespan
    runs it before the worker accepts requests): the current model's comparison basis and
    evaluation batcher (:func:`kommunaltypen.web.typcheck.warm`) and the result page's
    templates, compiled by rendering one page's parts in each language."""
    from kommunaltypen.i18n import LANGUAGES, use_lang

    for lang in LANGUAGES:
        with use_lang(lang):
            _page_macros(typcheck.warm(state, lang))


def _result_context(request: Request, sub: Any, token: str, gruppe: str | None) -> dict[str, Any]:
    from kommunaltypen.selfcheck.peers import PEER_KINDS

    peer = _peer_kind(gruppe)
    ctx = _sub_context(request, sub, token)
    ctx.update(
        {
            "parts": _Output(request, sub, peer).page_parts(),
            "peer": peer,
            "peer_kinds": PEER_KINDS,
            "pdf_url": f"{ctx['base']}/profil.pdf?"
            + urlencode({"lang": get_lang(), "gruppe": peer or "keine"}),
        }
    )
    return ctx


@router.get("/check/{submission_id}/{token}/ergebnis", response_class=HTMLResponse)
def result_page(
    request: Request,
    submission_id: str,
    token: str,
    gruppe: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    sub = _fetch(request, submission_id, token)
    if sub is None:
        return _not_found(request)
    ctx = _result_context(request, sub, token, gruppe)
    return render(request, "ergebnis.html", ctx, private=True)


@router.post("/check/{submission_id}/{token}/einwilligung", response_class=HTMLResponse)
async def consent(request: Request, submission_id: str, token: str) -> Response:
    form = await request.form()
    given = form.get("einwilligung") == "1"
    from starlette.concurrency import run_in_threadpool

    def work() -> Response:
        from kommunaltypen.store import SubmissionRepo

        with deps.app_state(request).sessions() as session:
            sub = _load(session, submission_id, token)
            if sub is None:
                return _not_found(request)
            if not sub.is_final:
                SubmissionRepo(session).update(sub, consent=given)
                session.commit()
            return redirect(request, f"{_base(sub.id, token)}/ergebnis#einwilligung")

    return await run_in_threadpool(work)


@router.post("/check/{submission_id}/{token}/abschliessen", response_class=HTMLResponse)
def finalize(request: Request, submission_id: str, token: str) -> Response:
    from kommunaltypen.store import SubmissionRepo

    with deps.app_state(request).sessions() as session:
        sub = _load(session, submission_id, token)
        if sub is None:
            return _not_found(request)
        if not sub.is_final:
            SubmissionRepo(session).finalize(sub)
            session.commit()
        return redirect(request, f"{_base(sub.id, token)}/ergebnis")


def _print_text(question: Any, answers: Mapping[str, Any]) -> str:
    """An answer for the print view; an anonymous submission's population is its size class
    (the number stored is only a placeholder inside the class)."""
    value = answers.get(question.id)
    if question.id == "einwohner" and isinstance(value, int | float):
        index = default_codebook().population_class(value)
        if answers.get("kommune_id") == "anonym" and index is not None:
            return _size_class_text(index)
        return format_number(value, 0)
    return qn.answer_text(question, answers)


def _size_class_text(index: int) -> str:
    lo, hi = default_codebook().population_classes[index]
    if hi is None:
        return t("public.who.size_class_open", lo=format_number(lo, 0))
    return t("public.who.size_class", lo=format_number(lo, 0), hi=format_number(hi - 1, 0))


@router.get("/check/{submission_id}/{token}/drucken", response_class=HTMLResponse)
def print_view(
    request: Request,
    submission_id: str,
    token: str,
) -> HTMLResponse:
    sub = _fetch(request, submission_id, token)
    if sub is None:
        return _not_found(request)
    cb = default_codebook()
    answers = dict(sub.answers or {})
    blocks = []
    for section in qn.sections():
        items = [
            {"question": q, "text": _print_text(q, answers)}
            for q in section.questions
            if qn.is_visible(q, answers, cb)
        ]
        blocks.append({"section": section, "title": qn.section_title(section.id), "items": items})
    ctx = _sub_context(request, sub, token)
    ctx["blocks"] = blocks
    return render(request, "drucken.html", ctx, private=True)


@router.get("/check/{submission_id}/{token}/profil.pdf")
def profile_pdf(
    request: Request,
    submission_id: str,
    token: str,
    gruppe: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    sub = _fetch(request, submission_id, token)
    if sub is None:
        return _not_found(request)
    pdf = _profile_pdf(request, sub, gruppe)
    name = f"typ-check-{str(sub.id)[:8]}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={**NOINDEX_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _profile_pdf(request: Request, sub: Any, gruppe: str | None) -> bytes:
    return _Output(request, sub, _peer_kind(gruppe)).pdf()
