"""The REST API end to end, in process: every route, every error answer, jobs across restarts.

Plans the API returns are checked by the independent oracle (tests/validator.py) and against
the core called directly on the same problem.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from advisor.solve import SolveControl, advise
from api import Settings, create_app
from api.jobs import JobManager
from api.store import JobRecord, JobStore, StoreError
from models import Plan, Problem, parse_problem
from tests.api_support import (
    PROBLEM_JSON,
    TestClient,
    assert_problem,
    assert_valid_plan,
    grouping,
    json_of,
    long_problem,
    occupy,
    serve,
    settings,
    small_problem,
    submit,
    wait_job,
    wait_searching,
)
from tests.conftest import EXAMPLES, load_example
from tests.support import container, node, problem
from tests.validator import validate

CAPPED = "X-Podlayout-Time-Limit-Capped"


@pytest.fixture(autouse=True)
def _no_server_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets what it needs; PODLAYOUT_* variables of the shell must not leak in."""
    for name in list(os.environ):
        if name.upper().startswith("PODLAYOUT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with serve(tmp_path) as c:
        yield c


# ---- POST /v1/advise and /v1/review ------------------------------------------------------


def test_advise_json_matches_the_core(client: TestClient, reference: dict[str, Any]) -> None:
    response = client.post("/v1/advise", json=reference)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert CAPPED not in response.headers
    plan = json_of(response)
    assert_valid_plan(reference, plan)
    core = advise(parse_problem(reference)).to_wire()
    # The reference is proven optimal: the same grouping, scores and objective; placements
    # may differ only between plans of equal objective.
    assert plan["status"] == core["status"] == "optimal"
    assert grouping(plan) == grouping(core)
    assert plan["scores"] == core["scores"]
    assert plan["solver"]["objective"] == core["solver"]["objective"]
    assert plan["solver"]["gap"] == 0


@pytest.mark.parametrize("content_type", [
    "application/yaml", "application/x-yaml", "text/yaml", "application/yaml; charset=utf-8",
    "text/plain", "application/x-www-form-urlencoded",  # no YAML type: told apart by the text
])
def test_advise_yaml_body_gives_the_same_plan(client: TestClient, reference: dict[str, Any],
                                              content_type: str) -> None:
    text = (EXAMPLES / "reference.yaml").read_bytes()
    response = client.post("/v1/advise", content=text, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    plan = json_of(response)
    assert_valid_plan(reference, plan)
    core = advise(parse_problem(reference)).to_wire()
    assert grouping(plan) == grouping(core)
    assert plan["scores"] == core["scores"]
    assert plan["solver"]["objective"] == core["solver"]["objective"]


def test_review_of_the_reference_monolith(client: TestClient,
                                          reference_review: dict[str, Any]) -> None:
    text = (EXAMPLES / "reference-review.yaml").read_bytes()
    response = client.post("/v1/review", content=text,
                           headers={"Content-Type": "application/yaml"})
    assert response.status_code == 200, response.text
    result = json_of(response)
    assert set(result) == {"current", "advised", "comparison", "whatIf", "migration"}
    assert result["current"]["scores"]["spof"]["score"] == 100.0
    assert "CRITICAL_COMPONENTS_BUNDLED" in {f["code"] for f in result["current"]["findings"]}
    advised = result["advised"]
    assert_valid_plan(reference_review, advised)
    assert advised["status"] == "optimal"
    assert advised["scores"]["spof"]["score"] == 0.0
    assert result["comparison"]["spofDelta"] < 0
    assert result["comparison"]["wasteDelta"] < 0


def test_review_without_layout_is_422_naming_layout(client: TestClient,
                                                    reference: dict[str, Any]) -> None:
    assert_problem(client.post("/v1/review", json=reference), 422, "layout")
    assert_problem(client.post("/v1/jobs", json=reference, params={"kind": "review"}),
                   422, "layout")
    assert json_of(client.get("/v1/jobs"))["total"] == 0  # nothing was queued


# ---- jobs -------------------------------------------------------------------------------


def test_advise_job_runs_to_done_with_result_and_best_plan(
        client: TestClient, reference: dict[str, Any]) -> None:
    response = client.post("/v1/jobs", json=reference)
    assert response.status_code == 202, response.text
    accepted = json_of(response)
    assert accepted["status"] == "queued"
    assert accepted["notes"] == []
    job_id = accepted["id"]
    assert response.headers["location"] == f"/v1/jobs/{job_id}"

    job = wait_job(client, job_id, "done")
    assert client.get(response.headers["location"]).json() == job
    assert job["id"] == job_id
    assert job["kind"] == "advise"
    assert job["attempts"] == 1
    assert job["stopRequested"] is False
    assert job["timeLimitSeconds"] == 5
    assert job["error"] is None
    assert job["createdAt"] <= job["startedAt"] <= job["finishedAt"]
    result = job["result"]
    assert_valid_plan(reference, result)
    assert job["bestPlan"] == result
    assert result["solver"]["interrupted"] is False
    core = advise(parse_problem(reference)).to_wire()
    assert grouping(result) == grouping(core)
    assert result["solver"]["objective"] == core["solver"]["objective"]
    # Progress is what the solver reported with its last solution: the final objective, and
    # the bound as it stood then (optimality may be proven after it).
    progress = job["progress"]
    assert progress["objective"] == result["solver"]["objective"]
    assert progress["bound"] <= progress["objective"]
    assert progress["gap"] is not None
    assert progress["solutions"] >= 1
    assert progress["elapsedSeconds"] >= 0


def test_review_job(client: TestClient, reference_review: dict[str, Any]) -> None:
    job = wait_job(client, submit(client, reference_review, kind="review"), "done")
    assert job["kind"] == "review"
    result = job["result"]
    assert set(result) == {"current", "advised", "comparison", "whatIf", "migration"}
    assert_valid_plan(reference_review, result["advised"])
    assert result["current"]["scores"]["spof"]["score"] == 100.0
    assert job["bestPlan"] == result["advised"]


def test_job_kind_must_be_advise_or_review(client: TestClient) -> None:
    response = client.post("/v1/jobs", json=small_problem(), params={"kind": "optimise"})
    assert_problem(response, 422, "query.kind")


def test_jobs_list_newest_first_with_paging_and_status_filter(client: TestClient) -> None:
    ids = [submit(client, small_problem(seed=i)) for i in range(3)]
    for job_id in ids:
        wait_job(client, job_id, "done")
    newest_first = ids[::-1]

    page = json_of(client.get("/v1/jobs"))
    assert [j["id"] for j in page["jobs"]] == newest_first
    assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
    assert {j["status"] for j in page["jobs"]} == {"done"}
    assert "result" not in page["jobs"][0]  # the list carries summaries, not plans

    page = json_of(client.get("/v1/jobs", params={"limit": 2}))
    assert [j["id"] for j in page["jobs"]] == newest_first[:2]
    assert page["total"] == 3
    page = json_of(client.get("/v1/jobs", params={"limit": 1, "offset": 1}))
    assert [j["id"] for j in page["jobs"]] == newest_first[1:2]
    page = json_of(client.get("/v1/jobs", params={"offset": 5}))
    assert (page["jobs"], page["total"]) == ([], 3)

    page = json_of(client.get("/v1/jobs", params={"status": "done"}))
    assert [j["id"] for j in page["jobs"]] == newest_first
    page = json_of(client.get("/v1/jobs", params={"status": "queued"}))
    assert (page["jobs"], page["total"]) == ([], 0)


def test_delete_of_a_queued_job_cancels_it(tmp_path: Path) -> None:
    with serve(tmp_path, workers=1) as client:
        busy = occupy(client)
        queued = submit(client, small_problem())
        assert json_of(client.get(f"/v1/jobs/{queued}"))["status"] == "queued"

        response = client.delete(f"/v1/jobs/{queued}")
        assert response.status_code == 200, response.text
        job = json_of(response)
        assert job["status"] == "cancelled"
        assert job["stopRequested"] is True
        assert job["finishedAt"] is not None
        assert (job["result"], job["bestPlan"], job["progress"]) == (None, None, None)
        assert json_of(client.get(f"/v1/jobs/{queued}")) == job
        cancelled = json_of(client.get("/v1/jobs", params={"status": "cancelled"}))
        assert [j["id"] for j in cancelled["jobs"]] == [queued]
        running = json_of(client.get("/v1/jobs", params={"status": "running"}))
        assert [j["id"] for j in running["jobs"]] == [busy]


def test_delete_of_a_running_job_stops_it_and_keeps_the_best_plan(tmp_path: Path) -> None:
    data = long_problem()
    with serve(tmp_path, workers=1) as client:
        job_id = occupy(client)
        asked = time.monotonic()
        response = client.delete(f"/v1/jobs/{job_id}")
        took = time.monotonic() - asked
        # 200, not 202: the job handed in its plan within the route's wait (5 s).
        assert response.status_code == 200, response.text
        assert took < 10
        job = json_of(response)
        assert job["status"] == "stopped"
        assert job["stopRequested"] is True
        assert job["result"]["solver"]["interrupted"] is True
        assert "stopped early" in job["result"]["solver"]["message"]
        assert job["result"]["status"] in ("feasible", "heuristic")
        assert_valid_plan(data, job["result"])
        assert job["bestPlan"] is not None
        assert_valid_plan(data, job["bestPlan"])
        assert job["progress"]["elapsedSeconds"] < 10
        assert json_of(client.get(f"/v1/jobs/{job_id}"))["status"] == "stopped"


def test_delete_right_after_a_job_starts_stops_it_early(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real_advise = advise  # what api.jobs calls

    def slow_start(problem: Problem, control: SolveControl) -> Plan:
        # Hold the job in its preparation until the DELETE has asked it to stop, so that the
        # stop lands before CP-SAT starts, every time.
        deadline = time.monotonic() + 10
        while not control.stopped and time.monotonic() < deadline:
            time.sleep(0.01)
        return real_advise(problem, control)

    monkeypatch.setattr("api.jobs.advise", slow_start)
    with serve(tmp_path, workers=1) as client:
        job_id = submit(client, long_problem(time_limit=3))
        wait_job(client, job_id, "running")
        client.delete(f"/v1/jobs/{job_id}")
        job = wait_job(client, job_id, "stopped")
        assert job["result"]["solver"]["interrupted"] is True
        assert job["result"]["solver"]["wallTimeSeconds"] < 1.5  # not the 3 s time limit


def test_delete_of_a_finished_job_leaves_it_as_it_is(client: TestClient) -> None:
    job_id = submit(client, small_problem())
    before = wait_job(client, job_id, "done")
    response = client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    assert json_of(response) == before
    assert json_of(client.get(f"/v1/jobs/{job_id}")) == before
    assert before["stopRequested"] is False


def test_unknown_job_is_404(client: TestClient) -> None:
    for method in ("GET", "DELETE"):
        body = assert_problem(client.request(method, "/v1/jobs/no-such-job"), 404)
        assert "no-such-job" in body["detail"]


def test_full_queue_answers_429_with_retry_after(tmp_path: Path) -> None:
    with serve(tmp_path, workers=1, max_queued_jobs=1) as client:
        occupy(client)  # running jobs do not count against the queue
        waiting = submit(client, small_problem())
        response = client.post("/v1/jobs", json=small_problem())
        assert_problem(response, 429)
        assert int(response.headers["retry-after"]) > 0
        assert json_of(client.get("/v1/jobs", params={"status": "queued"}))["total"] == 1
        client.delete(f"/v1/jobs/{waiting}")  # room again
        assert client.post("/v1/jobs", json=small_problem()).status_code == 202


# ---- limits the server sets -------------------------------------------------------------


def test_time_limit_above_the_maximum_is_capped_for_sync_solves(tmp_path: Path) -> None:
    data = long_problem(time_limit=60)
    review_data = load_example("reference-review.yaml")
    with serve(tmp_path, max_time_limit_seconds=1, default_time_limit_seconds=1) as client:
        response = client.post("/v1/advise", json=data)
        assert response.status_code == 200, response.text
        assert response.headers[CAPPED] == "1"
        plan = json_of(response)
        assert "capped to 1" in plan["solver"]["message"]
        assert plan["solver"]["wallTimeSeconds"] < 10  # not the 60 s asked for
        assert_valid_plan(data, plan)

        response = client.post("/v1/review", json=review_data)
        assert response.status_code == 200, response.text
        assert response.headers[CAPPED] == "1"
        assert "capped to 1" in json_of(response)["advised"]["solver"]["message"]

        response = client.post("/v1/advise", json=small_problem(timeLimitSeconds=1))
        assert CAPPED not in response.headers
        assert "capped" not in json_of(response)["solver"]["message"]


def test_time_limit_above_the_maximum_is_capped_for_jobs(tmp_path: Path) -> None:
    data = long_problem(time_limit=60)
    with serve(tmp_path, max_time_limit_seconds=1, default_time_limit_seconds=1) as client:
        response = client.post("/v1/jobs", json=data)
        assert response.status_code == 202, response.text
        accepted = json_of(response)
        assert len(accepted["notes"]) == 1
        assert "capped to 1" in accepted["notes"][0]
        job = wait_job(client, accepted["id"], "done")
        assert job["notes"] == accepted["notes"]
        assert job["timeLimitSeconds"] == 1
        assert job["result"]["solver"]["wallTimeSeconds"] < 10  # the solve used the cap
        assert_valid_plan(data, job["result"])


def test_solver_workers_above_the_maximum_are_capped(tmp_path: Path) -> None:
    data = small_problem(workers=8)
    with serve(tmp_path, max_solver_workers=2) as client:
        response = client.post("/v1/advise", json=data)
        assert response.status_code == 200, response.text
        assert CAPPED not in response.headers  # the header is for the time limit only
        plan = json_of(response)
        assert "policy.workers 8" in plan["solver"]["message"]
        assert "capped to 2" in plan["solver"]["message"]
        assert_valid_plan(data, plan)

        accepted = json_of(client.post("/v1/jobs", json=data))
        assert len(accepted["notes"]) == 1
        assert "policy.workers 8" in accepted["notes"][0]
        job = wait_job(client, accepted["id"], "done")
        assert job["notes"] == accepted["notes"]

        both = json_of(client.post("/v1/jobs", json=small_problem(workers=8,
                                                                   timeLimitSeconds=3600)))
        assert len(both["notes"]) == 2  # one note per cap
        wait_job(client, both["id"], "done")


def test_server_default_time_limit_applies_when_the_policy_sets_none(tmp_path: Path) -> None:
    data = long_problem(time_limit=None)
    with serve(tmp_path, default_time_limit_seconds=1) as client:
        response = client.post("/v1/jobs", json=data)
        assert json_of(response)["notes"] == []
        job = wait_job(client, json_of(response)["id"], "done")
        assert job["timeLimitSeconds"] == 1
        assert job["result"]["solver"]["wallTimeSeconds"] < 10  # not the policy default 10 s
        assert_valid_plan(data, job["result"])


def test_sync_gate_full_answers_429(tmp_path: Path, reference: dict[str, Any]) -> None:
    with serve(tmp_path, max_concurrent_requests=2) as client:
        gate = client.app.state.gate  # type: ignore[attr-defined]  # the FastAPI app
        assert gate.acquire(blocking=False)
        assert client.post("/v1/advise", json=reference).status_code == 200  # one left
        assert gate.acquire(blocking=False)
        try:
            for path in ("/v1/advise", "/v1/review"):
                response = client.post(path, json=load_example("reference-review.yaml"))
                assert_problem(response, 429)
                assert int(response.headers["retry-after"]) > 0
            # Jobs do not go through the gate.
            assert client.post("/v1/jobs", json=small_problem()).status_code == 202
        finally:
            gate.release()
            gate.release()
        assert client.post("/v1/advise", json=reference).status_code == 200


def test_too_many_containers_is_422(tmp_path: Path, reference: dict[str, Any]) -> None:
    with serve(tmp_path, max_containers=3) as client:
        for path in ("/v1/advise", "/v1/jobs"):
            body = assert_problem(client.post(path, json=reference), 422, "containers")
            assert "at most 3" in body["errors"][0]["message"]
        small = {**reference, "containers": reference["containers"][:3], "hints": []}
        assert client.post("/v1/advise", json=small).status_code == 200


def test_too_many_nodes_is_422(tmp_path: Path, reference: dict[str, Any]) -> None:
    with serve(tmp_path, max_nodes=1) as client:
        body = assert_problem(client.post("/v1/advise", json=reference), 422, "nodes")
        assert "at most 1" in body["errors"][0]["message"]


def test_pool_max_count_counts_against_max_nodes(tmp_path: Path) -> None:
    data = problem([container("web")], pools=[
        {"name": "general", "allocatable": {"cpu": "4", "memory": "8Gi"}, "maxCount": 50}])
    with serve(tmp_path, max_nodes=10) as client:
        assert_problem(client.post("/v1/advise", json=data), 422, "pools")


def alias_yaml(aliases: int) -> str:
    users = "".join(f"  - {{name: c{i}, requests: *small}}\n" for i in range(aliases))
    return ("containers:\n  - {name: base, requests: &small {cpu: 100m, memory: 128Mi}}\n"
            + users + "nodes: [{name: node-1, allocatable: {cpu: '4', memory: 8Gi}}]\n"
            "policy: {timeLimitSeconds: 5, workers: 1}\n")


def test_yaml_with_too_many_aliases_is_422(tmp_path: Path) -> None:
    headers = {"Content-Type": "application/yaml"}
    with serve(tmp_path, max_yaml_aliases=2) as client:
        body = assert_problem(client.post("/v1/advise", content=alias_yaml(3), headers=headers),
                              422, "body")
        assert "more than 2 aliases" in body["errors"][0]["message"]
        response = client.post("/v1/advise", content=alias_yaml(2), headers=headers)
        assert response.status_code == 200, response.text


def test_body_over_the_limit_is_413(tmp_path: Path, reference: dict[str, Any]) -> None:
    body = json.dumps(reference, indent=2).encode()
    assert len(body) > 1024
    headers = {"Content-Type": "application/json"}
    with serve(tmp_path, max_body_bytes=1024) as client:
        response = client.post("/v1/advise", content=body, headers=headers)
        assert response.request.headers["content-length"] == str(len(body))
        assert "is 1" in assert_problem(response, 413)["detail"]  # told by Content-Length

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 100):
                yield body[start:start + 100]

        response = client.post("/v1/advise", content=chunks(), headers=headers)
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert "over the limit" in assert_problem(response, 413)["detail"]  # counted
        assert_problem(client.post("/v1/jobs", content=body, headers=headers), 413)
        assert json_of(client.get("/v1/jobs"))["total"] == 0

    with serve(tmp_path) as client:  # the same chunked body within the default limit
        response = client.post("/v1/advise", content=chunks(), headers=headers)
        assert response.status_code == 200, response.text
        assert_valid_plan(reference, json_of(response))


# ---- unreadable and invalid input -------------------------------------------------------


@pytest.mark.parametrize(("content", "content_type", "detail"), [
    (b'{"containers": [', "application/json", "invalid JSON"),
    (b'{"containers": [}', None, "invalid JSON"),  # no type: JSON by its first character
    (b'{"containers": [], "containers": []}', "application/json", "duplicate key"),
    (b"containers: [a, b\nnodes: {", "application/yaml", "invalid YAML"),
    (b"containers: []\ncontainers: []\n", "application/yaml", "duplicate key"),
    (b"a: 1\n---\nb: 2\n", "application/yaml", "one YAML document"),
    (b"  \n", "application/json", "empty"),
])
def test_unreadable_body_is_400(client: TestClient, content: bytes, content_type: str | None,
                                detail: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/v1/advise", "/v1/review", "/v1/jobs"):
        body = assert_problem(client.post(path, content=content, headers=headers), 400, "body")
        assert detail in body["detail"]


def test_body_that_is_not_utf8_is_400(client: TestClient) -> None:
    response = client.post("/v1/advise", content=b'{"containers": "\xff"}',
                           headers={"Content-Type": "application/json"})
    assert "UTF-8" in assert_problem(response, 400)["detail"]


@pytest.mark.parametrize("content_type", ["application/xml", "text/html", "multipart/form-data"])
def test_unsupported_content_type_is_415(client: TestClient, reference: dict[str, Any],
                                         content_type: str) -> None:
    for path in ("/v1/advise", "/v1/review", "/v1/jobs"):
        response = client.post(path, content=json.dumps(reference),
                               headers={"Content-Type": content_type})
        assert_problem(response, 415, "Content-Type")


def test_invalid_quantity_is_422_naming_the_field(client: TestClient,
                                                  reference: dict[str, Any]) -> None:
    data = json.loads(json.dumps(reference))
    data["containers"][0]["requests"]["cpu"] = "a lot"
    for path in ("/v1/advise", "/v1/review", "/v1/jobs"):
        body = assert_problem(client.post(path, json=data), 422, "containers[0].requests.cpu")
        assert "a lot" in body["errors"][0]["message"]
    assert json_of(client.get("/v1/jobs"))["total"] == 0


@pytest.mark.parametrize(("data", "field"), [
    ("null", ""), ("42", ""), ("[]", ""), ('"just text"', ""),  # not a mapping: the whole body
    ({"containers": 5}, "containers"),
    ({"containers": [{"name": "Web_1", "requests": {"cpu": "1"}}],
      "nodes": [{"name": "n", "allocatable": {"cpu": "4"}}]}, "containers[0].name"),
    ({"containers": [{"name": "web", "requests": {"cpu": "1"}}], "colour": "blue",
      "nodes": [{"name": "n", "allocatable": {"cpu": "4"}}]}, "colour"),
])
def test_invalid_problem_is_422_never_5xx(client: TestClient, data: Any, field: str) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    response = client.post("/v1/advise", content=text,
                           headers={"Content-Type": "application/json"})
    assert_problem(response, 422, field)


@pytest.mark.parametrize(("query", "field"), [
    ({"limit": "0"}, "query.limit"),
    ({"limit": "abc"}, "query.limit"),
    ({"limit": "501"}, "query.limit"),
    ({"offset": "-1"}, "query.offset"),
    ({"status": "finished"}, "query.status[0]"),
])
def test_bad_query_parameter_is_422(client: TestClient, query: dict[str, str],
                                    field: str) -> None:
    assert_problem(client.get("/v1/jobs", params=query), 422, field)


def test_unknown_route_is_404(client: TestClient) -> None:
    for path in ("/v2/advise", "/v1/nothing", "/"):
        body = assert_problem(client.get(path), 404)
        assert path in body["detail"]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/v1/advise", "POST"),
    ("GET", "/v1/review", "POST"),
    ("PATCH", "/v1/jobs/some-id", "GET, DELETE"),
    ("DELETE", "/v1/jobs", "POST, GET"),
    ("POST", "/healthz", "GET"),
])
def test_wrong_method_is_405(client: TestClient, method: str, path: str, allowed: str) -> None:
    response = client.request(method, path)
    assert_problem(response, 405)
    # Starlette names only the methods of the first route that matched the path, so `Allow`
    # can miss some (GET /v1/jobs/{id} answers PATCH with `Allow: GET`, not `GET, DELETE`).
    named = set(response.headers["allow"].split(", "))
    assert named
    assert named <= set(allowed.split(", "))


def test_internal_error_is_500_without_details(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               reference: dict[str, Any]) -> None:
    def explode(problem: Problem) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("api.routes.solve.run_advise", explode)
    app = create_app(settings(tmp_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/advise", json=reference)
        body = assert_problem(response, 500)
        assert "secret" not in response.text
        assert "Traceback" not in response.text
        assert body["errors"] == []
        # The gate was released: the next request is not turned away as busy.
        monkeypatch.undo()
        assert client.post("/v1/advise", json=reference).status_code == 200


def test_a_job_whose_solve_raises_is_failed(client: TestClient, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    def explode(problem: Problem, control: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("api.jobs.advise", explode)
    job = wait_job(client, submit(client, small_problem()), "failed")
    assert job["error"]["status"] == 500
    assert "RuntimeError" in job["error"]["detail"]
    assert "secret" not in json.dumps(job)
    assert job["result"] is None
    monkeypatch.undo()
    # The worker survived.
    assert wait_job(client, submit(client, small_problem()), "done")["result"] is not None


def test_store_failure_is_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise StoreError("disk on fire")

    store = client.app.state.manager.store  # type: ignore[attr-defined]  # the FastAPI app
    monkeypatch.setattr(store, "page", broken)
    monkeypatch.setattr(store, "get", broken)
    for response in (client.get("/v1/jobs"), client.get("/v1/jobs/some-id")):
        body = assert_problem(response, 503)
        assert "fire" not in body["detail"]
        assert int(response.headers["retry-after"]) > 0


def test_job_routes_outside_the_lifespan_are_503(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path)))  # no `with`: no job manager
    try:
        assert_problem(client.get("/v1/jobs"), 503)
        assert_problem(client.post("/v1/jobs", json=small_problem()), 503)
        assert client.get("/healthz").status_code == 200
    finally:
        client.close()


# ---- schema, health, OpenAPI, docs ------------------------------------------------------


def test_schema_is_the_input_json_schema(client: TestClient) -> None:
    response = client.get("/v1/schema")
    assert response.status_code == 200
    schema = json_of(response)
    assert schema == Problem.model_json_schema(by_alias=True)
    assert {"containers", "nodes", "pools", "hints", "policy", "layout"} <= set(
        schema["properties"])


def test_health_and_readiness(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        assert json_of(client.get("/healthz"))["status"] == "ok"
        assert json_of(client.get("/readyz"))["status"] == "ready"
        (tmp_path / "jobs.sqlite3").unlink()
        response = client.get("/readyz")
        body = assert_problem(response, 503)
        assert body["detail"] == "the job store is unavailable"  # the path stays in the log
        assert int(response.headers["retry-after"]) > 0
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        assert client.head("/healthz").status_code == 200
        assert client.head("/readyz").status_code == 503
        # A job the store cannot keep is refused, never accepted and lost.
        assert_problem(client.post("/v1/jobs", json=small_problem()), 503)


def test_openapi_documents_the_problem_body_and_problem_json_errors(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = json_of(response)
    reference = load_example("reference.yaml")
    reference_review = load_example("reference-review.yaml")
    for path, example in (("/v1/advise", reference), ("/v1/review", reference_review),
                          ("/v1/jobs", reference)):
        content = spec["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "application/yaml"}
        for media in content.values():
            assert media["example"] == example
            assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "Problem" in spec["components"]["schemas"]
    assert {"/v1/jobs/{job_id}", "/v1/schema", "/healthz", "/readyz"} <= set(spec["paths"])
    for operations in spec["paths"].values():
        for operation in operations.values():
            for code, answer in operation["responses"].items():
                if code[0] in "45":
                    assert set(answer.get("content", {PROBLEM_JSON: {}})) == {PROBLEM_JSON}


def test_docs_are_html(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


# ---- bearer token -----------------------------------------------------------------------

V1_ROUTES = [
    ("POST", "/v1/advise"), ("POST", "/v1/review"), ("POST", "/v1/jobs"), ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/some-id"), ("DELETE", "/v1/jobs/some-id"), ("GET", "/v1/schema"),
]


@pytest.mark.parametrize("authorization", [
    None, "Bearer wrong", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret",
])
def test_token_guards_every_v1_route(tmp_path: Path, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with serve(tmp_path, api_token=SecretStr("s3cret")) as client:
        for method, path in V1_ROUTES:
            response = client.request(method, path, headers=headers,
                                      json=load_example("reference-review.yaml"))
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "s3cret" not in response.text
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert json_of(client.get("/v1/jobs", headers={"Authorization": "Bearer s3cret"})
                       )["total"] == 0  # the refused POST queued nothing


def test_token_opens_every_v1_route(tmp_path: Path, reference_review: dict[str, Any]) -> None:
    auth = {"Authorization": "Bearer s3cret"}
    with serve(tmp_path, api_token=SecretStr("s3cret")) as client:
        assert client.post("/v1/advise", json=reference_review, headers=auth).status_code == 200
        assert client.post("/v1/review", json=reference_review, headers=auth).status_code == 200
        response = client.post("/v1/jobs", json=small_problem(), headers=auth)
        assert response.status_code == 202
        job_id = json_of(response)["id"]
        assert json_of(client.get("/v1/jobs", headers=auth))["total"] == 1
        wait_job(client, job_id, "done", headers=auth)
        assert client.delete(f"/v1/jobs/{job_id}", headers=auth).status_code == 200
        assert client.get("/v1/schema", headers=auth).status_code == 200
        assert client.get("/v1/jobs/nope", headers=auth).status_code == 404  # past the token


# ---- restarts ---------------------------------------------------------------------------


def stop_rerun(client: TestClient, job_id: str) -> dict[str, Any]:
    """Stop a job that runs again after a restart, however far its new run has got.

    From outside, a re-run cannot be told from its previous run (the record keeps the old
    run's progress until the new search reports), and a stop asked before CP-SAT starts is
    lost (see test_delete_right_after_a_job_starts_stops_it_early): ask again until it holds.
    """
    deadline = time.monotonic() + 30
    while True:
        response = client.delete(f"/v1/jobs/{job_id}")  # waits up to 5 s for the stop
        if response.status_code == 200:
            return json_of(response)
        assert response.status_code == 202, response.text
        assert time.monotonic() < deadline, f"job {job_id} does not stop"


def test_queued_job_survives_a_restart(tmp_path: Path) -> None:
    busy_problem = long_problem()
    with serve(tmp_path, workers=1) as client:
        busy = occupy(client)
        waiting = submit(client, small_problem())
        assert json_of(client.get(f"/v1/jobs/{waiting}"))["status"] == "queued"
    # Closed: the running solve was stopped and put back, the queued job kept.
    with serve(tmp_path, workers=2) as client:
        job = wait_job(client, waiting, "done")
        assert job["attempts"] == 1
        assert_valid_plan(small_problem(), job["result"])
        # The job the shutdown stopped runs again; the clean shutdown cost it no attempt.
        again = wait_job(client, busy, "running")
        assert again["attempts"] == 1
        stopped = stop_rerun(client, busy)
        assert (stopped["status"], stopped["attempts"]) == ("stopped", 1)
        assert_valid_plan(busy_problem, stopped["result"])


def crashed_store(tmp_path: Path, claims: int, **options: Any) -> str:
    """A store as a crash leaves it: one job `running` after `claims` runs started."""
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add("crashed", "advise", small_problem(), 5.0, [])
    for attempt in range(1, claims + 1):
        record = store.claim_next()
        assert record is not None
        assert (record.id, record.status, record.attempts) == ("crashed", "running", attempt)
        if attempt < claims:
            store.recover(max_attempts=10)  # the crash before this one
    if options.get("best") is not None:
        store.save_progress("crashed", {"objective": 1.0, "bound": 0.0, "gap": 1.0,
                                        "solutions": 1}, options["best"])
    if options.get("stop"):
        store.request_stop("crashed")
    store.close()
    return "crashed"


def assert_cut_short(kept: dict[str, Any], saved: dict[str, Any], run: int) -> None:
    """The plan a crash left is the one saved, marked as cut short rather than running."""
    assert kept["solver"]["interrupted"] is True
    assert f"the server stopped during run {run}" in kept["solver"]["message"]
    same = {k: v for k, v in kept.items() if k != "solver"}
    assert same == {k: v for k, v in saved.items() if k != "solver"}
    assert kept["solver"]["objective"] == saved["solver"]["objective"]


def test_job_left_running_by_a_crash_runs_again(tmp_path: Path) -> None:
    job_id = crashed_store(tmp_path, claims=1)
    with serve(tmp_path, max_attempts=2) as client:
        job = wait_job(client, job_id, "done")
        assert job["attempts"] == 2
        assert_valid_plan(small_problem(), job["result"])


def test_job_out_of_attempts_is_interrupted_keeping_its_best_plan(tmp_path: Path) -> None:
    best = advise(parse_problem(small_problem())).to_wire()
    job_id = crashed_store(tmp_path, claims=2, best=best)
    with serve(tmp_path, max_attempts=2) as client:
        # Recovery runs before the app answers: no polling needed.
        job = json_of(client.get(f"/v1/jobs/{job_id}"))
        assert job["status"] == "interrupted"
        assert job["attempts"] == 2
        assert_cut_short(job["bestPlan"], best, run=2)
        assert validate(parse_problem(small_problem()), job["bestPlan"]) == []
        assert job["result"] is None
        assert job["finishedAt"] is not None
        assert job["progress"]["objective"] == 1.0
        listed = json_of(client.get("/v1/jobs", params={"status": "interrupted"}))
        assert [j["id"] for j in listed["jobs"]] == [job_id]


def test_job_left_running_with_a_stop_asked_is_stopped(tmp_path: Path) -> None:
    best = advise(parse_problem(small_problem())).to_wire()
    job_id = crashed_store(tmp_path, claims=1, best=best, stop=True)
    with serve(tmp_path) as client:
        job = json_of(client.get(f"/v1/jobs/{job_id}"))
        assert (job["status"], job["attempts"], job["stopRequested"]) == ("stopped", 1, True)
        assert_cut_short(job["bestPlan"], best, run=1)


def test_stored_job_with_an_invalid_problem_fails_with_422(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    bad = problem([container("web", cpu="lots")], [node("node-1")])
    store.add("bad", "advise", bad, 5.0, [])
    store.close()
    with serve(tmp_path) as client:
        job = wait_job(client, "bad", "failed")
        assert job["error"]["status"] == 422
        assert "containers[0].requests.cpu" in {e["field"] for e in job["error"]["errors"]}


def test_finished_jobs_are_purged_after_their_retention(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        finished = wait_job(client, submit(client, small_problem()), "done")
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add("waiting", "advise", small_problem(), 5.0, [])
    store.close()
    while time.time() <= finished["finishedAt"] + 0.05:  # the clock passes the retention
        time.sleep(0.01)
    with serve(tmp_path, retention_hours=0.05 / 3600) as client:
        assert_problem(client.get(f"/v1/jobs/{finished['id']}"), 404)
        assert wait_job(client, "waiting", "done")["attempts"] == 1  # unfinished jobs stay


def test_a_second_app_on_the_same_store_refuses_to_start(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        with pytest.raises(StoreError, match="another podlayout server"), serve(tmp_path):
            pass
        assert client.get("/readyz").status_code == 200  # the first one goes on


# ---- settings ---------------------------------------------------------------------------


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PODLAYOUT_STORE_PATH", str(tmp_path / "env.sqlite3"))
    monkeypatch.setenv("PODLAYOUT_WORKERS", "3")
    monkeypatch.setenv("PODLAYOUT_API_TOKEN", "s3cret")
    monkeypatch.setenv("PODLAYOUT_MAX_TIME_LIMIT_SECONDS", "20")
    monkeypatch.setenv("PODLAYOUT_DEFAULT_TIME_LIMIT_SECONDS", "5")
    read = Settings()
    assert read.store_path == tmp_path / "env.sqlite3"
    assert read.workers == 3
    assert read.api_token is not None
    assert read.api_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(read)
    assert (read.default_time_limit_seconds, read.max_time_limit_seconds) == (5, 20)


@pytest.mark.parametrize("env", [
    {"PODLAYOUT_DEFAULT_TIME_LIMIT_SECONDS": "30", "PODLAYOUT_MAX_TIME_LIMIT_SECONDS": "20"},
    {"PODLAYOUT_API_TOKEN": ""},
    {"PODLAYOUT_WORKERS": "0"},
    {"PODLAYOUT_WORKERS": "many"},
    {"PODLAYOUT_MAX_BODY_BYTES": "10"},
    {"PODLAYOUT_MAX_TIME_LIMIT_SECONDS": "7200"},
    {"PODLAYOUT_MAX_CONTAINERS": "100000"},
    {"PODLAYOUT_MAX_ATTEMPTS": "0"},
])
def test_invalid_settings_raise(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_settings_reject_a_default_above_the_maximum(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"(?i)default_time_limit_seconds is above"):
        settings(tmp_path, default_time_limit_seconds=30, max_time_limit_seconds=20)
    with pytest.raises(ValidationError, match=r"(?i)api_token is empty"):
        settings(tmp_path, api_token=SecretStr(""))


def test_delete_between_claim_and_start_is_not_lost(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real_claim = JobStore.claim_next

    def claim_then_delete(self: JobStore) -> JobRecord | None:
        # A DELETE that lands after the worker claimed the job but before it registered
        # its run: the DELETE finds no run to stop, only the stored flag.
        record = real_claim(self)
        if record is not None:
            self.request_stop(record.id)
        return record

    monkeypatch.setattr(JobStore, "claim_next", claim_then_delete)
    with serve(tmp_path, workers=1) as client:
        job_id = submit(client, long_problem(time_limit=20))
        job = wait_job(client, job_id, "stopped")
        assert job["result"]["solver"]["interrupted"] is True
        assert job["result"]["solver"]["wallTimeSeconds"] < 5  # not the 20 s time limit


def test_a_rerun_starts_with_no_progress_of_the_run_before(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add("j1", "advise", small_problem(), 5.0, [])
    claimed = store.claim_next()
    assert claimed is not None
    store.save_progress("j1", {"objective": 1.0, "bound": 1.0, "gap": 0.0, "solutions": 3}, None)
    assert store.recover(max_attempts=2) == {"j1": "queued"}
    record = store.get("j1")
    assert record is not None
    assert record.status == "queued"
    assert record.progress is None
    store.close()


@pytest.mark.parametrize(("body", "content_type"), [
    ("[" * 100_000 + "]" * 100_000, "application/json"),
    ('{"containers": ' + "[" * 5000 + "]" * 5000 + "}", "application/json"),
    ("a: " + "[" * 100_000 + "]" * 100_000, "application/yaml"),
    ("a: " + "{b: " * 70 + "1" + "}" * 70, "application/yaml"),
])
def test_deeply_nested_body_is_422_and_the_server_lives_on(client: TestClient, body: str,
                                                            content_type: str) -> None:
    response = client.post("/v1/advise", content=body, headers={"Content-Type": content_type})
    problem_body = assert_problem(response, 422, "body")
    assert "nested more than" in problem_body["errors"][0]["message"]
    assert client.get("/healthz").status_code == 200


def test_a_rerun_never_shows_a_worse_plan_than_the_run_before_saved(tmp_path: Path) -> None:
    data = long_problem(time_limit=30)
    saved = advise(parse_problem({**data, "policy": {**data["policy"],
                                                     "timeLimitSeconds": 1}})).to_wire()
    saved["solver"]["objective"] = 0.0  # better than anything the rerun can find
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add("rerun", "advise", data, 30.0, [])
    assert store.claim_next() is not None
    store.save_progress("rerun", None, saved)
    store.close()  # as a crash leaves it: `running`, with a best plan saved
    with serve(tmp_path, max_attempts=3) as client:
        job = wait_searching(client, "rerun")
        assert job["attempts"] == 2
        assert job["bestPlan"]["solver"]["objective"] == 0.0  # still the earlier run's plan
        stopped = json_of(client.delete("/v1/jobs/rerun"))
        assert stopped["status"] == "stopped"
        assert_valid_plan(data, stopped["result"])


def test_jobs_filter_by_several_statuses_and_kind(client: TestClient) -> None:
    advised = submit(client, small_problem())
    reviewed = submit(client, load_example("reference-review.yaml"), kind="review")
    wait_job(client, advised, "done")
    wait_job(client, reviewed, "done")
    listed = json_of(client.get("/v1/jobs", params={"kind": "review"}))
    assert [j["id"] for j in listed["jobs"]] == [reviewed]
    params: list[tuple[str, str]] = [("status", "done"), ("status", "failed")]
    listed = json_of(client.get("/v1/jobs", params=params))
    assert {j["id"] for j in listed["jobs"]} == {advised, reviewed}
    assert listed["total"] == 2
    assert json_of(client.get("/v1/jobs", params={"status": "failed"}))["total"] == 0


def test_a_broken_kubernetes_manifest_is_named_as_such(client: TestClient) -> None:
    # Manifests are imported (tests/test_api_manifests.py); one that cannot be says which.
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {}}
    body = assert_problem(client.post("/v1/advise", json=manifest), 422, "body")
    assert "Deployment web" in body["errors"][0]["message"]


def test_yaml_sent_as_a_form_gets_a_hint(client: TestClient) -> None:
    flattened = "containers:  - name: web    requests: {cpu: 100m}"  # curl -d drops newlines
    response = client.post("/v1/advise", content=flattened,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    body = assert_problem(response, 400, "body")
    assert "--data-binary" in body["detail"]


def test_405_names_the_allowed_methods(client: TestClient) -> None:
    body = assert_problem(client.put("/v1/jobs/x"), 405)
    assert body["detail"] == "PUT is not allowed here; use DELETE, GET"


def test_a_store_error_around_a_run_fails_the_job_and_keeps_the_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = JobManager._stop_asked
    calls: list[str] = []

    def flaky(self: JobManager, job_id: str) -> bool:
        calls.append(job_id)
        if len(calls) == 1:
            raise StoreError("disk I/O error")
        return real(self, job_id)

    monkeypatch.setattr(JobManager, "_stop_asked", flaky)
    with serve(tmp_path, workers=1) as client:
        first = submit(client, small_problem())
        failed = wait_job(client, first, "failed")
        assert failed["error"]["status"] == 500
        second = submit(client, small_problem())  # the one worker is still there
        assert wait_job(client, second, "done")["result"]["status"] == "optimal"


@pytest.mark.parametrize(("policy", "note"), [
    ({"timeLimitSeconds": 86_400}, "policy.timeLimitSeconds 86400 is above"),
    ({"workers": 100}, "policy.workers 100 is above"),
])
def test_limits_beyond_the_input_bounds_are_capped_not_refused(
        tmp_path: Path, policy: dict[str, Any], note: str) -> None:
    data = small_problem()
    data["policy"] = {**data.get("policy", {}), **policy}
    with serve(tmp_path, max_time_limit_seconds=2, default_time_limit_seconds=1) as client:
        response = client.post("/v1/advise", json=data)
        assert response.status_code == 200, response.text
        assert note in json_of(response)["solver"]["message"]
