"""What the REST API answers besides plans and reviews: jobs, health and errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.store import JobKind, JobStatus
from models import Plan, Review


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class FieldError(Wire):
    field: str = Field(description="Path of the offending value, e.g. `containers[0].requests`.")
    message: str


class ProblemDetails(Wire):
    """An error, as RFC 9457 `application/problem+json`."""

    type: str = Field("about:blank", description="Names the kind of error (see the README).")
    title: str
    status: int
    detail: str = ""
    instance: str | None = Field(None, description="The request path.")
    errors: list[FieldError] = Field(default_factory=list,
                                     description="The offending fields, when there are any.")


class JobAccepted(Wire):
    id: str
    status: JobStatus
    notes: list[str] = Field(default_factory=list,
                             description="What the server changed, e.g. a capped time limit.")


class JobProgress(Wire):
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    elapsed_seconds: float = Field(0.0, description="Since the job (this attempt) started.")
    solutions: int = Field(0, description="Improving plans the solver found so far.")


class JobSummary(Wire):
    id: str
    kind: JobKind
    status: JobStatus
    created_at: float = Field(description="Unix time.")
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = Field(description="Runs started; a run cut short by a server crash counts.")
    stop_requested: bool = False
    time_limit_seconds: float
    notes: list[str] = Field(default_factory=list)


class JobView(JobSummary):
    progress: JobProgress | None = None
    best_plan: Plan | None = Field(
        None, description="The best plan so far while running; the plan a stopped or "
                          "interrupted job keeps; the advised plan once done.")
    result: Plan | Review | None = Field(
        None, description="The full answer once the run ends (`done`, or `stopped` by DELETE): "
                          "a plan for advise jobs, a review for review jobs.")
    error: ProblemDetails | None = None


class JobList(Wire):
    jobs: list[JobSummary]
    total: int = Field(description="Jobs matching the filter, over all pages.")
    limit: int
    offset: int


class Health(Wire):
    status: str
    detail: str = ""


class Imported(Wire):
    """A problem imported from Kubernetes manifests or a Compose file."""

    problem: dict[str, Any] = Field(description=(
        "The problem, as `podlayout import` writes it: post it to /v1/advise or /v1/review, "
        "or edit it first."))
    warnings: list[str] = Field(default_factory=list, description=(
        "What the import assumed or left out (requests it defaulted, objects it skipped)."))
