"""Reading a problem from a request body: size limit, JSON or YAML, API-side limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from advisor.kube.bodies import Body, OptionError, import_options, read_body
from advisor.kube.common import ImportOptions, ManifestError
from advisor.loading import Format, LimitError
from api.errors import ApiError
from api.settings import Settings
from models import FieldIssue, Problem, ProblemError

JSON_TYPES = {"application/json"}
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}


def _format(content_type: str | None) -> Format:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("", "application/x-www-form-urlencoded", "text/plain"):
        return "auto"  # no type, or curl -d's default: tell JSON from YAML by the text
    if media in JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in YAML_TYPES or media.endswith("+yaml"):
        return "yaml"
    raise ApiError(415, f"unsupported content type {media!r}: send application/json or "
                        "application/yaml", [FieldIssue("Content-Type", "not JSON or YAML")])


async def read_text(request: Request, limit: int) -> str:
    """The body as UTF-8 text; 413 past `limit` bytes, checked while reading."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start})"
        raise ApiError(400, f"the body is {message}", [FieldIssue("body", message)]) from None


# Query parameters that set import options for manifests and Compose bodies (the CLI's
# --default-requests and --injected-requests; Node documents in the body are --nodes).
DEFAULTS_PARAM, INJECTED_PARAM = "defaultRequests", "injectedRequests"


def _import_options(request: Request) -> ImportOptions:
    query = request.query_params
    try:
        return import_options(query.get(DEFAULTS_PARAM), query.getlist(INJECTED_PARAM),
                              (DEFAULTS_PARAM, INJECTED_PARAM))
    except OptionError as exc:
        field = INJECTED_PARAM if str(exc).startswith(INJECTED_PARAM) else DEFAULTS_PARAM
        raise ApiError(422, "an import option is not valid", [FieldIssue(field, str(exc))],
                       title="Invalid input") from None


async def read_input(request: Request, settings: Settings,
                     adjust: Callable[[Any], None] | None = None) -> Body:
    """The problem in the body, or the problem imported from manifests or a Compose file in
    it, and the import warnings; within this server's limits."""
    fmt = _format(request.headers.get("content-type"))
    options = _import_options(request)
    text = await read_text(request, settings.max_body_bytes)
    try:
        # Parsing megabytes of YAML takes a while: not on the event loop. Aliases may expand
        # the values to at most what a body could hold written out.
        return await run_in_threadpool(read_body, text, "body", options, fmt,
                                       settings.max_yaml_aliases, settings.max_body_bytes,
                                       adjust)
    except LimitError:
        raise  # readable, but over a limit: 422
    except ManifestError as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        if exc.message.startswith("invalid YAML"):
            raise ApiError(400, exc.message + where,
                           [FieldIssue("body", exc.message + where)]) from None
        raise ApiError(422, "the manifests cannot be imported; see errors",
                       [FieldIssue("body", exc.message + where)], title="Invalid input") from None
    except ProblemError as exc:
        if len(exc.issues) == 1 and exc.issues[0].path == "body":  # could not be read at all
            detail = exc.issues[0].message
            if request.headers.get("content-type", "").startswith(
                    "application/x-www-form-urlencoded"):
                detail += (" (sent as a form: `curl -d` drops the newlines YAML needs; use "
                           "--data-binary @FILE with -H 'Content-Type: application/yaml')")
            raise ApiError(400, detail, exc.issues) from None
        raise


async def read_problem(request: Request, settings: Settings) -> tuple[Problem, list[str]]:
    """The problem of the body (given, or imported from manifests), within this server's
    limits, and notes on what was capped or what the import assumed."""
    capped: list[str] = []
    body = await read_input(
        request, settings, lambda data: capped.extend(_cap_policy(data, settings)))
    problem = body.problem
    notes = [f"import: {w}" for w in body.warnings]
    check_size(problem, settings)
    if "time_limit_seconds" not in problem.policy.model_fields_set:
        policy = problem.policy.model_copy(
            update={"time_limit_seconds": settings.default_time_limit_seconds})
        problem = problem.model_copy(update={"policy": policy})
    return problem, [*capped, *notes]


def _cap_policy(data: Any, settings: Settings) -> list[str]:
    """Cap the requested time limit and solver threads at this server's maxima, before
    validation, so that a limit above the input's own bounds is capped too, not refused."""
    policy = data.get("policy") if isinstance(data, dict) else None
    if not isinstance(policy, dict):
        return []
    notes = []
    for key, most in (("timeLimitSeconds", settings.max_time_limit_seconds),
                      ("workers", settings.max_solver_workers)):
        value = policy.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > most:
            policy[key] = most
            notes.append(f"policy.{key} {value:g} is above this server's maximum of {most:g}: "
                         f"capped to {most:g}")
    return notes


def check_size(problem: Problem, settings: Settings) -> None:
    issues = []
    if len(problem.containers) > settings.max_containers:
        issues.append(FieldIssue("containers", f"{len(problem.containers)} containers; this "
                                 f"server takes at most {settings.max_containers}"))
    fixed = len(problem.nodes)
    pooled = sum(pool.max_count for pool in problem.pools)
    if fixed > settings.max_nodes:
        issues.append(FieldIssue("nodes", f"{fixed} nodes; this server takes at most "
                                 f"{settings.max_nodes}"))
    elif fixed + pooled > settings.max_nodes:
        issues.append(FieldIssue("pools", f"{fixed} nodes plus pools of up to {pooled} nodes; "
                                 f"this server takes at most {settings.max_nodes} in all "
                                 "(lower the pools' maxCount)"))
    if issues:
        raise ApiError(422, "the problem is larger than this server's limits", issues,
                       title="Problem too large")


def with_notes(result: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The server's notes (capped limits) at the head of the plan's `solver.message`."""
    if notes:
        solver = result.get("advised", result)["solver"]
        solver["message"] = "; ".join([*notes, solver["message"]] if solver["message"]
                                      else notes)
    return result
