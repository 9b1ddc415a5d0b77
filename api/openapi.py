"""OpenAPI extras: the problem schema as the request body, examples, problem+json errors."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from advisor.report import MEDIA_TYPES
from api.errors import PROBLEM_JSON
from api.schemas import ProblemDetails
from models import Problem

_ERROR_TEXT = {
    400: "The body cannot be read: not JSON or YAML, not UTF-8.",
    401: "`PODLAYOUT_API_TOKEN` is set and the bearer token is missing or wrong.",
    413: "The body is larger than `PODLAYOUT_MAX_BODY_BYTES`.",
    415: "The content type is neither JSON nor YAML.",
    422: "The problem is invalid or larger than the server's limits; `errors` names the fields.",
    429: "Too many solves at once or a full job queue; see `Retry-After`.",
    503: "The job store or the job manager is unavailable.",
}
_RETRY_AFTER = {"description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 0}}
# The headers error answers carry (api/errors.py and the routes set them).
_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"required": True, "description": "The scheme to use: `Bearer`.",
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {**_RETRY_AFTER, "required": True}},
    503: {"Retry-After": _RETRY_AFTER},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "description": text,
           **({"headers": _ERROR_HEADERS[code]} if code in _ERROR_HEADERS else {})}
    for code, text in _ERROR_TEXT.items()
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemDetails, "description": "No job with this id (or it has expired)."},
}
NOT_FINISHED: dict[int | str, dict[str, Any]] = {
    409: {"model": ProblemDetails, "description": "A report (any `Accept` but JSON) of a job "
          "that has no plan: queued, still looking for a first plan, cancelled or failed. "
          "`application/json` always answers with the job's status."},
}
# The reports an answer with a plan or a review comes as, besides its JSON, by `Accept`.
_REPORTS: dict[str, str] = {
    "text": "the terminal summary",
    "markdown": "Markdown for a pull-request comment",
    "html": "a self-contained page with pictures of the layout",
    "sarif": "SARIF 2.1.0, one result per finding, for code scanning",
}


def report_responses(what: str, report: str = "its report"
                     ) -> dict[int | str, dict[str, Any]]:
    """The 200 answer's other media types and the 406, for an operation answering with `what`
    as JSON and with `report` in the other formats. Reports are for people and tools: their
    content is not part of the contract, so their schemas say only what kind of document
    they are."""
    reports = {MEDIA_TYPES[fmt]: text for fmt, text in _REPORTS.items()}
    listed = ", ".join(f"`{media}` ({text})" for media, text in reports.items())
    supported = ", ".join([MEDIA_TYPES["json"], *reports])
    return {
        200: {"description": f"The {what} as JSON (`application/json`, also for `*/*` or no "
                             f"`Accept`), or by `Accept` {report}: {listed}. q-values "
                             "count; on a tie JSON wins.",
              "content": {media: {"schema": {"type": "object" if media.endswith("json")
                                             else "string"}} for media in reports}},
        406: {"model": ProblemDetails,
              "description": f"The `Accept` header takes none of: {supported}."},
    }


@cache
def example(name: str) -> dict[str, Any]:
    """A shipped example problem: inside the package when installed from a wheel, else the
    repository's examples/ directory."""
    here = Path(__file__).resolve().parent
    for path in (here / name, here.parent / "examples" / name):
        if path.is_file():
            data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
            return data
    return {"containers": [{"name": "web", "requests": {"cpu": "250m", "memory": "256Mi"}}],
            "nodes": [{"name": "node-1", "allocatable": {"cpu": "4", "memory": "16Gi"}}]}


def problem_body(review: bool = False) -> dict[str, Any]:
    data = example("reference-review.yaml" if review else "reference.yaml")
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema, "example": data},
        "application/yaml": {"schema": schema, "example": data},
    }}}


def manifest_body() -> dict[str, Any]:
    """Kubernetes manifests or a Compose file, as YAML (several documents) or JSON."""
    text = {"schema": {"type": "string", "description": "Kubernetes manifests (YAML "
                       "documents, a List) or a Compose file; Node documents among them are "
                       "the cluster's nodes."}}
    return {"requestBody": {"required": True, "content": {
        "application/yaml": text, "application/json": {"schema": {"type": "object"}}}}}


# Headers of success answers, by (method, path, status); the routes set them.
_SUCCESS_HEADERS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("post", "/v1/jobs", "202"): {"Location": {
        "required": True, "description": "The job's URL, `/v1/jobs/{id}`.",
        "schema": {"type": "string"}}},
    **{("post", path, "200"): {"X-Podlayout-Time-Limit-Capped": {
        "description": "Present when the requested time limit was above the server's maximum: "
                       "the limit used instead, in seconds.",
        "schema": {"type": "number"}}} for path in ("/v1/advise", "/v1/review")},
}


def install(app: FastAPI) -> None:
    """Generate the schema once, with Problem and its parts among the components, every error
    answer documented as problem+json, the headers answers carry, and the bearer token only
    when the server requires one."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes, tags=app.openapi_tags)
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(by_alias=True,
                                            ref_template="#/components/schemas/{model}")
        for name, sub in problem.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components["Problem"] = problem
        # The server caps these at its own maxima instead of refusing larger values.
        policy = components["Policy"]["properties"]
        for key in ("timeLimitSeconds", "workers"):
            policy[key].pop("maximum", None)
            policy[key]["description"] = (
                policy[key].get("description", "") + " Above this server's maximum "
                "(PODLAYOUT_MAX_TIME_LIMIT_SECONDS, PODLAYOUT_MAX_SOLVER_WORKERS) it is capped, "
                "and the answer says so.").strip()
        # Without PODLAYOUT_API_TOKEN the server checks no token; a documented bearer
        # requirement would have clients send one, and expect 401s that never come.
        tokenless = app.state.settings.api_token is None
        if tokenless:
            spec["components"].pop("securitySchemes", None)
        for route, path in spec.get("paths", {}).items():
            for method, operation in path.items():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if code[0] in "45" and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
                    if (method, route, code) in _SUCCESS_HEADERS:
                        response.setdefault("headers", {}).update(
                            _SUCCESS_HEADERS[method, route, code])
                if tokenless:
                    operation.pop("security", None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
