"""Schemathesis against the API's own OpenAPI document: every operation, with generated and
boundary inputs, must answer without a 5xx and as the document says (a documented status
code, its content type, a body matching its schema, its headers).

The app runs in-process over ASGI, on a temporary job store, with solves capped at a second,
so the whole file stays within a CI budget. Schemathesis's ASGI transport runs the app's
lifespan (the job manager starts there) on the first request of a test, and its pytest plugin
ends it when the test ends.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import settings

from api import Settings, create_app
from bench.generators import generate_problem
from tests.conftest import load_example

FINISHED = {"done", "stopped", "cancelled", "failed", "interrupted"}
WAIT_SECONDS = 20.0
# Fuzzed examples per operation, on top of the examples and the boundary ("coverage") cases
# Schemathesis derives from the document, which it runs in full. Almost every generated
# problem is rejected (422) long before the solver, so examples are cheap; the coverage cases
# of the three problem-posting operations take most of the run time.
MAX_EXAMPLES = 50

CONFIG = schemathesis.Config.from_dict({
    # A fixed seed: CI draws the same cases on every run.
    "seed": 20240611,
    "checks": {
        # Off: a problem valid by the JSON Schema may still be invalid, with a 422 that names
        # the fields: names must be unique, hints must name known containers, resource names
        # must be known or domain-qualified, there must be a node or a pool. The schema cannot
        # say all that, so "schema-valid but rejected" is not a conformance failure here.
        "positive_data_acceptance": {"enabled": False},
        # Schemathesis's default list plus 413: the app rejects a body above
        # `max_body_bytes` before reading it, as it should.
        "negative_data_rejection": {"expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
            "429", "5xx"]},
    },
})


def _settings(store: Path) -> Settings:
    return Settings(
        store_path=store / "jobs.sqlite3",
        workers=1,
        default_time_limit_seconds=0.5,
        max_time_limit_seconds=1.0,  # any longer policy.timeLimitSeconds is capped to this
        max_concurrent_requests=256,  # no 429 from the sync gate: requests come one at a time
        # Boundary cases include bodies of 0.2-0.5 MB (5000 nodes); as YAML each takes
        # seconds to parse. Above this limit they get a quick 413, a documented answer.
        max_body_bytes=64 * 1024,
    )


def _without_discriminators(node: Any) -> Any:
    """The document minus its `discriminator` annotations (validation is their `oneOf`).

    Schemathesis 4.32.5 pins each `oneOf` branch to one discriminator value, the last the
    mapping names for the branch's schema (specs/openapi/converter.py,
    `_pin_discriminator_property`: `ref_to_value = {ref: value for value, ref in mapping}`).
    The hint mapping sends three values to HelperHint and four to GroupHint, so it would take
    every `ambassador`, `adapter`, `samePod`, `sameNode` and `separateNodes` hint for invalid:
    never generate one, and drop the documented examples, which have them."""
    if isinstance(node, list):
        return [_without_discriminators(item) for item in node]
    if not isinstance(node, dict):
        return node
    annotation = isinstance(node.get("discriminator"), dict) and "oneOf" in node
    return {key: _without_discriminators(value) for key, value in node.items()
            if not (annotation and key == "discriminator")}


# The document as the app builds it; the app is not started here (collection must not open a
# job store). test_openapi_document_is_valid checks that the running app serves exactly this.
DOCUMENT: dict[str, Any] = copy.deepcopy(create_app(_settings(Path("never-opened"))).openapi())
# What the cases are drawn from and the answers checked against.
SCHEMA = schemathesis.openapi.from_dict(_without_discriminators(DOCUMENT), config=CONFIG)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """One app (and job store) for the module: the jobs the lifecycle test leaves behind
    give the fuzzed GET /v1/jobs real records to list."""
    return create_app(_settings(tmp_path_factory.mktemp("schemathesis")))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_openapi_document_is_valid(app: FastAPI) -> None:
    served = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    document = served.raw_schema
    assert document["openapi"].startswith("3.")
    # The OpenAPI 3.x meta-schema Schemathesis ships (it picks 3.0/3.1/3.2 by the version).
    served.validate()
    assert document == DOCUMENT
    components = document["components"]["schemas"]
    for name, schema in components.items():
        jsonschema_rs.meta.validate(schema)  # each schema is a valid JSON Schema (2020-12)
        assert "$defs" not in schema, f"{name} keeps nested $defs instead of components"
    for ref in set(_refs(document)):
        prefix, _, name = ref.rpartition("/")
        assert prefix == "#/components/schemas", ref
        assert name in components, f"dangling {ref}"
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert operations == {
        ("post", "/v1/advise"), ("post", "/v1/review"), ("post", "/v1/jobs"),
        ("post", "/v1/import"), ("post", "/v1/whatif"), ("get", "/v1/jobs"),
        ("get", "/v1/jobs/{job_id}"),
        ("delete", "/v1/jobs/{job_id}"),
        ("get", "/v1/schema"), ("get", "/healthz"), ("get", "/readyz")}


def test_bearer_token_is_documented_only_when_required(tmp_path: Path) -> None:
    """A server without PODLAYOUT_API_TOKEN checks no token, and its document says so;
    Schemathesis's auth checks hold it to that (a documented scheme it does not enforce
    fails them)."""
    assert "securitySchemes" not in DOCUMENT["components"]
    guarded = create_app(Settings(store_path=tmp_path / "jobs.sqlite3", api_token="s3cret"))
    document = guarded.openapi()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "security" not in DOCUMENT["paths"][path][method]
            expected: list[dict[str, list[str]]] | None = (
                [{"HTTPBearer": []}] if path.startswith("/v1/") else None)
            assert operation.get("security") == expected, (method, path)


def test_documented_examples_match_their_schemas() -> None:
    """Schemathesis sends the documented request examples, but silently drops one its schema
    rejects; this names the offending values instead."""
    document = DOCUMENT
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                if "example" not in content:
                    continue
                validator = jsonschema_rs.Draft202012Validator(
                    {**content["schema"], "components": document["components"]})
                errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}"
                          for e in validator.iter_errors(content["example"])]
                assert not errors, f"{method.upper()} {path} ({media}) example: {errors[:5]}"
                checked += 1
    assert checked >= 6  # JSON and YAML for advise, review and jobs


def _call(app: FastAPI, method: str, path: str, **case: Any) -> Any:
    """One request through Schemathesis, its answer checked like a generated case's."""
    response = SCHEMA[path][method].Case(**case).call_and_validate(app=app)
    return response.json()


def _wait(app: FastAPI, job_id: str, *statuses: str, solved: bool = False) -> dict[str, Any]:
    """Poll the job until its status is one of `statuses` (and, with `solved`, it reports an
    objective), checking every answer."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        job: dict[str, Any] = _call(app, "GET", "/v1/jobs/{job_id}",
                                    path_parameters={"job_id": job_id})
        if job["status"] in statuses and not (
                solved and job["status"] == "running" and job["progress"]["objective"] is None):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.02)


def test_answers_with_plans_conform(app: FastAPI) -> None:
    """Generated problems are nearly always invalid, so the answers that carry plans (and
    every job state) are produced here, from real problems, and checked the same way."""
    reference = load_example("reference.yaml")
    review = load_example("reference-review.yaml")
    plan = _call(app, "POST", "/v1/advise", body=reference, media_type="application/json")
    assert plan["status"] in ("optimal", "feasible", "heuristic")
    result = _call(app, "POST", "/v1/review", body=review, media_type="application/json")
    assert set(result) >= {"current", "advised", "comparison"}

    # A long solve keeps the single worker busy, so the next job waits in the queue.
    long = generate_problem(0, containers=100, nodes=20)
    long["policy"]["workers"] = 1
    running = _call(app, "POST", "/v1/jobs", body=long, media_type="application/json")["id"]
    queued = _call(app, "POST", "/v1/jobs", body=review, media_type="application/json",
                   query={"kind": "review"})["id"]
    # While it runs: progress, then (once CP-SAT has a solution) the objective and best plan.
    _wait(app, running, "running", *FINISHED, solved=True)
    waiting = _call(app, "GET", "/v1/jobs/{job_id}", path_parameters={"job_id": queued})
    # The queued job runs only once the long one has ended (it may prove optimal early).
    long_ended = _call(app, "GET", "/v1/jobs/{job_id}",
                       path_parameters={"job_id": running})["status"] in FINISHED
    assert waiting["status"] in {"queued", *FINISHED} or (
        long_ended and waiting["status"] == "running")
    cancelled = _call(app, "DELETE", "/v1/jobs/{job_id}", path_parameters={"job_id": queued})
    stopped = _call(app, "DELETE", "/v1/jobs/{job_id}", path_parameters={"job_id": running})
    assert cancelled["status"] in FINISHED
    assert stopped["status"] in {"running", *FINISHED}
    _wait(app, running, *FINISHED)

    advise_job = _call(app, "POST", "/v1/jobs", body=reference, media_type="application/json")
    review_job = _call(app, "POST", "/v1/jobs", body=review, media_type="application/yaml",
                       query={"kind": "review"})
    assert _wait(app, advise_job["id"], *FINISHED)["result"]["status"] != "infeasible"
    assert "advised" in _wait(app, review_job["id"], *FINISHED)["result"]
    listed = _call(app, "GET", "/v1/jobs", query={"limit": 10})
    assert listed["total"] >= 4


@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None)
def test_every_operation_conforms(case: schemathesis.Case[Any], app: FastAPI) -> None:
    response = case.call_and_validate(app=app)
    # 503 is documented (job store or manager down), but here it would mean the app's
    # lifespan never ran and the job routes went untested.
    assert response.status_code != 503, response.text
