"""Background jobs: submit, poll, stop, list."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.body import read_problem
from api.deps import ManagerDep, SettingsDep
from api.errors import ApiError
from api.jobs import QueueFullError
from api.openapi import ERRORS, NOT_FINISHED, NOT_FOUND, problem_body, report_responses
from api.routes.formats import ReportFormat, report_response
from api.schemas import JobAccepted, JobList, JobProgress, JobSummary, JobView, ProblemDetails
from api.store import JobKind, JobRecord, JobStatus
from models import FieldIssue, Plan, Problem, ProblemError, Review, parse_problem

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

STOP_WAIT_SECONDS = 5.0


def _summary(record: JobRecord) -> JobSummary:
    return JobSummary(
        id=record.id, kind=record.kind, status=record.status, created_at=record.created_at,
        started_at=record.started_at, finished_at=record.finished_at,
        attempts=record.attempts, stop_requested=record.stop_requested,
        time_limit_seconds=record.time_limit, notes=record.notes,
    )


def _view(record: JobRecord) -> JobView:
    progress = None
    if record.started_at is not None:
        end = record.finished_at if record.finished_at is not None else time.time()
        progress = JobProgress.model_validate(
            {**(record.progress or {}), "elapsedSeconds": round(max(0.0, end - record.started_at),
                                                                3)})
    result: Plan | Review | None = None
    if record.result is not None:
        result = (Review.model_validate(record.result) if record.kind == "review"
                  else Plan.model_validate(record.result))
    best = record.best
    if best is None and record.result is not None:  # a finished run's best is its answer's
        best = record.result.get("advised", record.result)
    return JobView(
        **_summary(record).model_dump(), progress=progress,
        best_plan=Plan.model_validate(best) if best is not None else None,
        result=result,
        error=ProblemDetails.model_validate(record.error) if record.error else None,
    )


def _found(record: JobRecord | None, job_id: str) -> JobRecord:
    if record is None:
        raise ApiError(404, f"no job {job_id!r} (unknown, or removed after its retention)")
    return record


@router.post(
    "", status_code=202, summary="Submit a job", response_model=JobAccepted,
    responses={**ERRORS}, openapi_extra=problem_body(),
    description="Queues the problem and answers at once with the job id and a `Location` "
                "header. `?kind=review` reviews the problem's `layout` instead of advising. "
                "The job is on disk before the answer: a server restart does not lose it.",
)
async def submit(request: Request, settings: SettingsDep, manager: ManagerDep,
                 kind: Annotated[Literal["advise", "review"], Query()] = "advise",
                 ) -> JSONResponse:
    problem, notes = await read_problem(request, settings)
    if kind == "review" and problem.layout is None:
        raise ApiError(422, "a review job needs the current layout", [
            FieldIssue("layout", "review needs the current `layout` in the problem")],
            title="Invalid problem")
    try:
        # The insert waits for the disk (fsync): not on the event loop.
        job_id = await run_in_threadpool(manager.submit, kind, problem,
                                         problem.policy.time_limit_seconds, notes)
    except QueueFullError as exc:
        raise ApiError(429, f"the job queue is full ({exc.limit} waiting); retry later",
                       headers={"Retry-After": "30"}) from None
    body = JobAccepted(id=job_id, status="queued", notes=notes)
    return JSONResponse(body.to_wire(), status_code=202,
                        headers={"Location": f"/v1/jobs/{job_id}"})


@router.get("", summary="List jobs, newest first", response_model=JobList,
            responses={**ERRORS})
def list_jobs(
    manager: ManagerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    status: Annotated[list[JobStatus] | None, Query(
        description="Only jobs in these statuses; repeat for several.")] = None,
    kind: Annotated[JobKind | None, Query(description="Only advise or review jobs.")] = None,
) -> JSONResponse:
    records, total = manager.store.page(limit, offset, status or [], kind)
    body = JobList(jobs=[_summary(r) for r in records], total=total, limit=limit, offset=offset)
    return JSONResponse(body.to_wire())


@router.get("/{job_id}", summary="Status, progress and the best plan so far",
            response_model=JobView,
            responses={**ERRORS, **NOT_FOUND, **NOT_FINISHED, **report_responses(
                "job", "the report of its result once it has one, before that of its best "
                "plan so far")})
def get_job(job_id: str, manager: ManagerDep, fmt: ReportFormat) -> Response:
    record = _found(manager.live_record(job_id), job_id)
    view = _view(record).to_wire()
    if fmt == "json":
        return report_response(fmt, view, None)
    shown = view["result"] if view["result"] is not None else view["bestPlan"]
    if shown is None:
        waiting = record.status in ("queued", "running")
        raise ApiError(409, f"job {job_id!r} is {record.status} and has no plan to report"
                       + ("; ask again once it has one" if waiting else "")
                       + " (`Accept: application/json` gives its status)",
                       title="Not finished")
    return report_response(fmt, shown, _problem(record))


def _problem(record: JobRecord) -> Problem | None:
    """The job's problem, for what a report adds from it (costs); a report without those
    beats no report."""
    try:
        return parse_problem(record.problem)
    except ProblemError:
        return None


@router.delete(
    "/{job_id}", summary="Stop early, keep the best plan", response_model=JobView,
    responses={**ERRORS, **NOT_FOUND, 202: {"model": JobView,
                                            "description": "Stop asked; still finishing."}},
    description="A queued job is cancelled; a running one stops and keeps its best plan "
                f"(the answer waits up to {STOP_WAIT_SECONDS:g} s for it, else 202 while it "
                "finishes). A finished job is left as it is. The record stays until retention "
                "removes it.",
)
def stop_job(job_id: str, manager: ManagerDep) -> JSONResponse:
    record = _found(manager.stop(job_id, STOP_WAIT_SECONDS), job_id)
    code = 202 if record.status in ("running", "queued") else 200
    return JSONResponse(_view(record).to_wire(), status_code=code)
