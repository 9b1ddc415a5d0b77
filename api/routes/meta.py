"""The input schema, liveness and readiness."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import ManagerDep, require_token
from api.errors import problem_response
from api.openapi import ERRORS
from api.schemas import Health
from api.store import StoreError
from models import Problem

router = APIRouter(tags=["meta"])
log = logging.getLogger("podlayout.api")


@router.get("/v1/schema", summary="JSON Schema of the input", responses={**ERRORS},
            dependencies=[Depends(require_token)])
def schema() -> dict[str, Any]:
    return Problem.model_json_schema(by_alias=True)


@router.head("/healthz", include_in_schema=False)  # probes that only look at the status
@router.get("/healthz", summary="Liveness (HEAD too)", response_model=Health)
async def healthz() -> Health:  # on the event loop: answers even when every thread is busy
    return Health(status="ok")


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", summary="Readiness: the job store answers reads and writes (HEAD too)",
            response_model=Health, responses={503: ERRORS[503]})
def readyz(manager: ManagerDep) -> JSONResponse:
    try:
        manager.store.ping(write=True)  # a store locked by another process is not ready
    except StoreError as exc:  # the path is for the log, not for whoever asks
        log.warning("not ready: %s", exc)
        return problem_response(503, "the job store is unavailable", "/readyz",
                                headers={"Retry-After": "5"})
    return JSONResponse(Health(status="ready").to_wire())
