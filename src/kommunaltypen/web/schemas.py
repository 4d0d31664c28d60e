"""Request and response bodies of the JSON API (pydantic models).

Request models forbid unknown fields (``extra="forbid"``): a misspelt field is a 422 problem,
never silently ignored. Answers are a flat object of codebook column → JSON scalar (as a file
cell would hold it); their rules live in the codebook and are checked by
:func:`kommunaltypen.service.check_answers`, not here (one rulebook).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

GoalId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Ars = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,12}$")]
AnswerValue = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None

#: most answers a submission may carry (the codebook has a few hundred columns)
MAX_ANSWERS = 2000


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- classify
class ClassifyRequest(RequestModel):
    goals: list[GoalId] = Field(
        min_length=1,
        max_length=10,
        description="Goal ids of the codebook's ranking question, most important first "
        "(the study asked for three).",
        examples=[["effizienz", "buergernaehe", "innovation"]],
    )


class ClassifyResponse(ResponseModel):
    goals: list[str] = Field(description="The goal ids as understood, most important first.")
    type: str = Field(description="Type id (bedaechtige, optimierer, …).")
    label: str = Field(description="Type label in the response language.")
    mischform: bool = Field(description="True when no type reaches the Mischform threshold.")
    mischform_threshold: float
    probabilities: dict[str, float] = Field(description="Membership probability per type id.")
    distances: dict[str, float] = Field(description="Distance to each type's centre.")
    model: str = Field(description="Name of the model used.")
    model_id: str = Field(description="Id of the model used.")
    data_hash: str | None = Field(default=None, description="Hash of the model's training data.")


# ---------------------------------------------------------------------------- directory
class KommuneOut(ResponseModel):
    ars: str = Field(description="Amtlicher Regionalschlüssel (12 digits; 5 for a Kreis).")
    name: str
    kind: str = Field(description="Codebook kommunenart option id.")
    kind_code: int = Field(description="Official Textkennzeichen of the directory.")
    kind_label: str
    land: int = Field(description="Land code 1..16.")
    land_name: str
    population: int
    kreis_ars: str | None = None
    kreis_name: str | None = None


class KommunenResponse(ResponseModel):
    items: list[KommuneOut]
    count: int = Field(description="Number of items returned (at most limit).")


# ---------------------------------------------------------------------------- submissions
class SubmissionIn(RequestModel):
    """The body of POST /submissions and PUT /submissions/{id} (a full replacement)."""

    answers: dict[Annotated[str, StringConstraints(max_length=200)], AnswerValue] = Field(
        max_length=MAX_ANSWERS,
        description="Codebook column id → value (as in a data file; missing codes allowed).",
        examples=[
            {
                "kommune_id": "09162000",
                "kommunenart": 2,
                "bundesland": 9,
                "einwohner": 1500000,
                "ziele_effizienz": 1,
                "ziele_buergernaehe": 2,
                "ziele_innovation": 3,
            }
        ],
    )
    kommune_ars: Ars | None = Field(
        default=None, description="The municipality in the directory (None: anonymous)."
    )
    consent: bool = Field(default=False, description="Agrees to be asked in the next wave.")


class SubmissionOut(ResponseModel):
    id: str
    status: Literal["draft", "final"]
    answers: dict[str, AnswerValue]
    kommune_ars: str | None
    kind: str | None
    land: int | None
    size_class: int | None
    consent: bool
    codebook_id: str
    codebook_version: int
    type: str | None = Field(description="Type id under model_id (None without a ranking).")
    model_id: str | None
    created_at: datetime
    updated_at: datetime
    finalized_at: datetime | None


class SubmissionCreated(SubmissionOut):
    token: str = Field(
        description="Private token of this submission: send it as 'Authorization: Bearer "
        "<token>' to read, update or finalise it. Shown only in this response (and in its "
        "idempotent replays); the server stores only its hash."
    )


# ---------------------------------------------------------------------------- analysts
# The analyst API (/api/v1/analyst, login required): submissions, waves, reports (analysis
# jobs). Thin views of the workspace's records (docs/workspace.md).
#: the largest id of a wave or job (32-bit integer columns)
MAX_ID = 2_147_483_647


class AnalystSubmission(SubmissionOut):
    wave_id: int | None = Field(description="The wave the submission was stored with.")


class AnalystSubmissionPage(ResponseModel):
    items: list[AnalystSubmission]
    total: int = Field(description="Submissions matching the filters (all pages).")
    limit: int
    offset: int


class SubmissionDeleted(ResponseModel):
    id: str
    deleted: Literal[True]
    actor: str = Field(description="Who deleted it (the logged-in account).")
    reason: str = Field(description="Why (as recorded in the audit log).")
    at: datetime = Field(description="When (as recorded in the audit log).")
    analyses_flagged: int = Field(
        description="Analyses whose input contained the municipality: its rows were removed "
        "from their stored files; they are marked as needing a re-run."
    )


WaveName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class WaveIn(RequestModel):
    name: WaveName = Field(description="Unique name of the wave.", examples=["Befragung 2026"])
    year: int = Field(ge=1990, le=2100, description="Year of the survey.")
    codebook_version: int | None = Field(
        default=None, description="Codebook version (must be this installation's; default it)."
    )


class WaveOut(ResponseModel):
    id: int
    name: str
    year: int
    codebook_id: str
    codebook_version: int
    created_at: datetime
    latest_report: int | None = Field(description="Id of the latest finished analysis.")


class WaveList(ResponseModel):
    items: list[WaveOut]
    count: int


class ReportIn(RequestModel):
    wave_id: int = Field(ge=1, le=MAX_ID, description="The wave to analyse (all its rows).")


class ReportSummary(ResponseModel):
    rows: int | None = None
    accepted: int | None = None
    typed: int | None = None
    type_counts: dict[str, int] | None = None
    model_id: str | None = None


class ReportLinks(ResponseModel):
    status: str = Field(description="This job's status (GET).")
    page: str = Field(description="The job's workspace page.")
    html: str | None = Field(default=None, description="The report (when done).")
    pdf: str | None = None
    xlsx: str | None = None


class ReportOut(ResponseModel):
    """An analysis job of a wave and, when it is done, its report."""

    id: int
    wave_id: int
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(ge=0, le=1)
    stage: str | None
    message: str | None = Field(description="Why it failed, in the request's language.")
    lang: str = Field(description="Language of the report.")
    needs_rerun: bool = Field(description="Data of its input was deleted since.")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: ReportSummary | None
    links: ReportLinks


class ReportList(ResponseModel):
    items: list[ReportOut]
    count: int


# ---------------------------------------------------------------------------- problems
class ProblemFieldError(BaseModel):
    field: str
    value: object | None = None
    expected: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


class Health(ResponseModel):
    status: Literal["ok"]
