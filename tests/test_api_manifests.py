"""Manifests and Compose files over the API (/v1/advise, /v1/review, /v1/jobs, /v1/import)
and in batch, with the node list and the import options the CLI takes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api_support import TestClient, assert_problem, serve, wait_job

YAML = {"Content-Type": "application/yaml"}


def _deployment(name: str, replicas: int = 1, requests: dict[str, str] | None = None
                ) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": f"example/{name}:1"}
    if requests:
        container["resources"] = {"requests": requests}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [container]}}}}


def _nodes(count: int) -> dict[str, Any]:
    """`kubectl get nodes -o yaml`: a List of Nodes."""
    return {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": f"worker-{i}",
                      "labels": {"topology.kubernetes.io/zone": f"zone-{i % 2}"}},
         "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}}
        for i in range(count)]}


def _stream(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"},
          "data": {"LOG_LEVEL": "info"}}
APP = [_deployment("web", 2, {"cpu": "250m", "memory": "256Mi"}),
       _deployment("api", 2, {"cpu": "500m", "memory": "512Mi"}),
       _deployment("worker"),  # no requests: the import assumes them
       SERVICE, CONFIG]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with serve(tmp_path) as c:
        yield c


def _node_names(plan: dict[str, Any]) -> set[str]:
    return {p["node"] for p in plan["placements"]}


def test_a_review_of_manifests_with_their_nodes(client: TestClient) -> None:
    response = client.post("/v1/review", content=_stream(*APP, _nodes(3)), headers=YAML)
    assert response.status_code == 200, response.text
    review = response.json()
    assert {p["name"] for p in review["current"]["pods"]} == {"web", "api", "worker"}
    assert _node_names(review["advised"]) <= {"worker-0", "worker-1", "worker-2"}
    assert "NO_REQUESTS" in {f["code"] for f in review["current"]["findings"]}
    assert "import:" in review["advised"]["solver"]["message"]  # what the import assumed


def test_import_answers_the_problem_with_the_options_applied(client: TestClient) -> None:
    response = client.post(
        "/v1/import?defaultRequests=cpu=50m,memory=64Mi", content=_stream(*APP, _nodes(2)),
        headers=YAML)
    assert response.status_code == 200, response.text
    body = response.json()
    containers = {c["name"]: c for c in body["problem"]["containers"]}
    assert containers["worker"]["requests"] == {"cpu": "50m", "memory": "64Mi"}
    assert [n["name"] for n in body["problem"]["nodes"]] == ["worker-0", "worker-1"]
    assert any("ConfigMap" in w for w in body["warnings"])  # skipped: not a workload
    # What /v1/import answers is a problem /v1/advise takes as it is.
    plan = client.post("/v1/advise", json=body["problem"])
    assert plan.status_code == 200, plan.text


def test_manifests_without_nodes_get_the_default_pool(client: TestClient) -> None:
    response = client.post("/v1/advise", content=_stream(*APP), headers=YAML)
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("optimal", "feasible")


def test_a_manifest_job_runs_to_done(client: TestClient) -> None:
    response = client.post("/v1/jobs?kind=review", content=_stream(*APP, _nodes(3)),
                           headers=YAML)
    assert response.status_code == 202, response.text
    assert any(n.startswith("import:") for n in response.json()["notes"])
    job = wait_job(client, response.json()["id"], "done")
    assert _node_names(job["result"]["advised"]) <= {"worker-0", "worker-1", "worker-2"}


def test_a_compose_file_is_advised(client: TestClient) -> None:
    compose = {"services": {"web": {"image": "example/web", "ports": ["8080:80"]},
                            "db": {"image": "postgres:16"}}}
    response = client.post("/v1/advise", content=yaml.safe_dump(compose), headers=YAML)
    assert response.status_code == 200, response.text
    assert {c for p in response.json()["pods"] for c in p["containers"]} == {"web", "db"}


@pytest.mark.parametrize(("query", "field"), [
    ("defaultRequests=cpu", "defaultRequests"),
    ("defaultRequests=cpu=lots", "defaultRequests"),
    ("injectedRequests=nosuch:cpu=1", "injectedRequests"),
])
def test_a_bad_import_option_is_422_naming_it(client: TestClient, query: str,
                                              field: str) -> None:
    response = client.post(f"/v1/advise?{query}", content=_stream(*APP), headers=YAML)
    assert_problem(response, 422, field)


def test_nodes_alone_are_422(client: TestClient) -> None:
    assert_problem(client.post("/v1/import", content=_stream(_nodes(2)), headers=YAML),
                   422, "body")


def test_a_document_that_is_not_an_object_among_manifests_is_422(client: TestClient) -> None:
    body = _stream(*APP, {"containers": [{"name": "x"}]})
    assert_problem(client.post("/v1/advise", content=body, headers=YAML), 422, "body")


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "advisor.cli", *args], capture_output=True,
                          text=True, timeout=180, check=False)


def test_batch_takes_the_node_list_and_import_options(tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text(_stream(*APP))
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(yaml.safe_dump(_nodes(3)))
    result = _cli(["batch", str(app), "--nodes", str(nodes),
                   "--default-requests", "cpu=50m,memory=64Mi", "-t", "3"])
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.splitlines()[0])
    assert line["status"] in ("optimal", "feasible")
    review = line["result"]
    assert _node_names(review["advised"]) <= {"worker-0", "worker-1", "worker-2"}


def test_batch_refuses_a_bad_import_option_before_any_file(tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text(_stream(*APP))
    result = _cli(["batch", str(app), "--default-requests", "cpu"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--default-requests" in result.stderr
