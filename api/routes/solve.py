"""POST /v1/advise and /v1/review: solve within the request, bounded by the time limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from advisor.frontier import frontier
from advisor.review import review as run_review
from advisor.solve import SolveControl
from advisor.solve import advise as run_advise
from api.body import read_problem, with_notes
from api.deps import GateDep, SettingsDep
from api.errors import ApiError
from api.openapi import ERRORS, problem_body, report_responses
from api.routes.formats import ReportFormat, report_response
from api.settings import Settings
from models import FieldIssue, Frontier, Objective, Plan, Problem, Review
from models.plan import AdviseAnswer

router = APIRouter(prefix="/v1", tags=["solve"])

CAPPED_HEADER = "X-Podlayout-Time-Limit-Capped"
NO_FRONTIER_SARIF = ("a frontier has no SARIF report (it is several layouts): ask for "
                     "application/json, text/plain, text/markdown or text/html")
DISCONNECT_POLL_SECONDS = 0.5


async def _solve(request: Request, settings: Settings, gate: GateDep, fmt: str, review: bool,
                 work: Callable[[Problem, SolveControl], Plan | Review | Frontier]) -> Response:
    # The slot first: a busy server answers 429 without reading or parsing the body.
    if not gate.acquire(blocking=False):
        raise ApiError(429, "the server is busy with other solves; retry later or submit a "
                            "job (POST /v1/jobs)", headers={"Retry-After": "5"})
    control = SolveControl()
    live: set[SolveControl] = request.app.state.sync_controls
    try:
        problem, notes = await read_problem(request, settings)
        if review and problem.layout is None:
            raise ApiError(422, "review needs the current layout", [
                FieldIssue("layout", "review needs the current `layout` in the problem")],
                title="Invalid problem")
        if fmt == "sarif" and not review and problem.policy.objective == Objective.FRONTIER:
            raise ApiError(406, NO_FRONTIER_SARIF)  # said before the solve, not after it
        live.add(control)  # a shutdown stops it (api/cli.py), and it answers with its best plan
        task = asyncio.ensure_future(run_in_threadpool(work, problem, control))
        while not (await asyncio.wait({task}, timeout=DISCONNECT_POLL_SECONDS))[0]:
            if not control.stopped and await request.is_disconnected():
                control.stop()  # nobody waits for the answer: free the slot and the cores
        result = task.result()
    finally:
        live.discard(control)
        gate.release()
    if isinstance(result, Frontier):
        body: dict[str, Any] = result.to_wire()
        if notes:
            body["message"] = "; ".join([*notes, body["message"]])
    else:
        body = with_notes(result.to_wire(), notes)
    headers = {}
    if any(note.startswith("policy.timeLimitSeconds") for note in notes):
        headers[CAPPED_HEADER] = f"{problem.policy.time_limit_seconds:g}"
    if fmt == "json":
        return report_response(fmt, body, problem, headers)
    return await run_in_threadpool(report_response, fmt, body, problem, headers)


def _advise_or_frontier(problem: Problem, control: SolveControl) -> Plan | Frontier:
    """One plan, or the frontier when the policy asks for it."""
    if problem.policy.objective == Objective.FRONTIER:
        return frontier(problem, control)
    return run_advise(problem, control)


@router.post(
    "/advise", summary="Plan grouping and placement",
    response_model=AdviseAnswer, responses={**ERRORS, **report_responses("plan")},
    openapi_extra=problem_body(),
    description="Solves within the problem's time limit (the server's default when the "
                "policy sets none, capped at the server's maximum; a capped limit is named in "
                "`solver.message` and the `X-Podlayout-Time-Limit-Capped` header; "
                "`policy.workers` is capped the same way). An "
                "infeasible problem is an answer too: 200 with `status: infeasible`. With "
                "`policy.objective: frontier`, the answer is `{plans, points, recommended}`: "
                "up to five plans trading node cost against SPOF, cheapest to safest. "
                "`policy.maxMoves` needs the problem's `layout` (422 otherwise).",
)
async def advise(request: Request, settings: SettingsDep, gate: GateDep,
                 fmt: ReportFormat) -> Response:
    return await _solve(request, settings, gate, fmt, False, _advise_or_frontier)


@router.post(
    "/review", summary="Review the current layout",
    response_model=Review, responses={**ERRORS, **report_responses("review")},
    openapi_extra=problem_body(review=True),
    description="Scores the problem's `layout` (required), lists its findings, and shows the "
                "advised plan beside it.",
)
async def review(request: Request, settings: SettingsDep, gate: GateDep,
                 fmt: ReportFormat) -> Response:
    return await _solve(request, settings, gate, fmt, True, run_review)
