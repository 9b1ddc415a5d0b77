"""Every error the API answers, as RFC 9457 problem+json; mapped here, in one place."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, compile_path

from api.schemas import FieldError, ProblemDetails
from api.store import StoreError
from models import FieldIssue, ProblemError
from models.validation import format_loc

log = logging.getLogger("podlayout.api")

PROBLEM_JSON = "application/problem+json"
# `type` values; the README explains each.
TYPES = {
    400: "/problems/unreadable-body",
    401: "/problems/unauthorized",
    404: "/problems/not-found",
    405: "/problems/method-not-allowed",
    406: "/problems/not-acceptable",
    409: "/problems/not-finished",
    413: "/problems/body-too-large",
    415: "/problems/unsupported-media-type",
    422: "/problems/invalid-input",
    429: "/problems/busy",
    500: "/problems/internal-error",
    503: "/problems/unavailable",
}


class ApiError(Exception):
    """An error answer: status, a human detail, the offending fields, extra headers."""

    def __init__(self, status: int, detail: str, errors: Sequence[FieldIssue] = (),
                 headers: dict[str, str] | None = None, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.title = title


# A 4 MB body can hold hundreds of thousands of mistakes: the first ones are enough.
MAX_LISTED_ERRORS = 100


def problem_response(status: int, detail: str, instance: str | None,
                     errors: Sequence[FieldIssue] = (), headers: dict[str, str] | None = None,
                     title: str | None = None) -> JSONResponse:
    if len(errors) > MAX_LISTED_ERRORS:
        detail += f" (the first {MAX_LISTED_ERRORS} of {len(errors)} errors are listed)"
        errors = errors[:MAX_LISTED_ERRORS]
    body = ProblemDetails(
        type=TYPES.get(status, "about:blank"),
        title=title or HTTPStatus(status).phrase, status=status, detail=detail,
        instance=instance, errors=[FieldError(field=e.path, message=e.message) for e in errors],
    )
    return JSONResponse(body.to_wire(), status_code=status, headers=headers,
                        media_type=PROBLEM_JSON)


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def allowed_methods(request: Request) -> list[str]:
    """Every documented method at the request's path. Starlette's 405 names only the methods
    of the first route matching the path, so `/v1/jobs/{id}`, served by a GET and a DELETE
    route, would answer `Allow: GET`; RFC 9110 wants all of them."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    if root and path.startswith(f"{root}/"):  # behind a proxy: the route's own path
        path = path[len(root):]
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        regex, _, _ = compile_path(template)
        if regex.match(path):
            methods |= {method.upper() for method in operations if method in _METHODS}
    return sorted(methods)


def slash_twin(request: Request) -> str | None:
    """The path with its trailing slash removed (or one added) when a route serves that one,
    as a relative reference: a redirect built from the request's Host header would send the
    client wherever that header says."""
    path = request.scope["path"]
    twin = path.rstrip("/") if path.endswith("/") else f"{path}/"
    if not twin or twin.startswith("//"):  # `//host` would be a reference to another host
        return None
    scope = {**request.scope, "path": twin}
    if not any(route.matches(scope)[0] != Match.NONE for route in request.app.router.routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    root: str = request.scope.get("root_path", "")
    return root + twin + (f"?{query}" if query else "")


def install(app: FastAPI) -> None:
    """Map every exception to problem+json."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, request.url.path, exc.errors,
                                exc.headers, exc.title)

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(422, "the problem is not valid; see errors", request.url.path,
                                exc.issues, title="Invalid problem")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [FieldIssue(format_loc(tuple(e.get("loc", ()))), str(e.get("msg", "invalid")))
                  for e in exc.errors()]
        return problem_response(422, "the request is not valid; see errors",
                                request.url.path, issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            if (twin := slash_twin(request)) is not None:
                return RedirectResponse(twin, status_code=307)
            detail = f"no route {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; use {', '.join(allowed)}"
        return problem_response(exc.status_code, detail, request.url.path, headers=headers)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error("job store: %s", exc)
        return problem_response(503, "the job store is unavailable; retry later",
                                request.url.path, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # Never the traceback or the body in the answer; the log has the traceback.
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal error; the server log has the details",
                                request.url.path)
