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
