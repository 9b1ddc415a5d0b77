"""POST /v1/whatif: what node and zone failures do to the given layout (a simulation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from advisor.report import MEDIA_TYPES
from advisor.report.whatif import render_whatif
from advisor.whatif import Kind, parse_failure, run_whatif
from api.body import read_problem
from api.deps import SettingsDep
from api.errors import ApiError
from api.openapi import ERRORS, problem_body, report_responses
from api.routes.formats import ReportFormat
from models import ProblemError
from models.plan import WhatIf

router = APIRouter(prefix="/v1", tags=["solve"])
MAX_WORST = 50


@router.post(
    "/whatif", summary="Simulate node and zone failures", response_model=WhatIf,
    responses={**ERRORS, **report_responses("simulation", "a report of it")},
    openapi_extra=problem_body(review=True),
    description="For each failure (`?fail=node=NAME`, `?fail=zone=NAME`, repeatable; by "
                "default the `worst` nodes, the worst zone and every zone when there are at "
                "most five, but not a zone holding every node, the whole cluster): the "
                "critical components it stops (`lostComponents`), those left "
                "below their disruption budget or half (`degradedComponents`), where "
                "kube-scheduler's defaults place the evicted replicas again (pools growing), "
                "what stays Pending, and whether the application recovers. The layout is "
                "simulated as it is: nothing is re-optimised.",
)
async def whatif(request: Request, settings: SettingsDep, fmt: ReportFormat,
                 fail: Annotated[list[str] | None, Query(
                     description="node=NAME or zone=NAME; repeatable.")] = None,
                 worst: Annotated[int, Query(ge=1, le=MAX_WORST, description=(
                     "How many of the worst nodes to try when no failure is given."))] = 1,
                 ) -> Response:
    problem, _ = await read_problem(request, settings)
    try:
        failures: list[tuple[Kind, str]] = [parse_failure(f, "fail") for f in fail or []]
        result = await run_in_threadpool(run_whatif, problem, failures, worst)
    except ProblemError as exc:
        raise ApiError(422, "the failures or the layout cannot be simulated", exc.issues,
                       title="Invalid problem") from None
    headers = {"Vary": "Accept"}  # a cache must not give one client's report to another
    if fmt == "json":
        return JSONResponse(result.to_wire(), headers=headers)
    text = await run_in_threadpool(render_whatif, fmt, result.to_wire(), None)
    return Response(text, media_type=MEDIA_TYPES[fmt], headers=headers)
