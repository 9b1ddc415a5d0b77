"""POST /v1/import: the problem that manifests or a Compose file make, without solving."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.body import DEFAULTS_PARAM, INJECTED_PARAM, read_input
from api.deps import SettingsDep
from api.openapi import ERRORS, manifest_body
from api.schemas import Imported

router = APIRouter(prefix="/v1", tags=["import"])


@router.post(
    "/import", summary="Import manifests or a Compose file", response_model=Imported,
    responses={**ERRORS}, openapi_extra=manifest_body(),
    description="Reads Kubernetes manifests (several YAML documents, or a `List`) or a "
                "Compose file as `podlayout import` does and answers the problem they make, "
                "with the import's warnings. Node documents in the body (`kubectl get nodes "
                f"-o yaml`) are the cluster's nodes. `?{DEFAULTS_PARAM}=cpu=100m,memory=128Mi` "
                f"and `?{INJECTED_PARAM}=istio-proxy:cpu=100m,memory=128Mi` (repeatable) set "
                "the requests assumed where the manifests set none. /v1/advise, /v1/review and "
                "/v1/jobs take the same bodies and parameters.",
)
async def import_manifests(request: Request, settings: SettingsDep) -> JSONResponse:
    body = await read_input(request, settings)
    return JSONResponse(Imported(problem=body.data, warnings=body.warnings).to_wire())
