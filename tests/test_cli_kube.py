"""The Kubernetes side of the command line: import, export, and advise/review reading
manifests and Compose files directly; bad input exits 2 naming the file (and line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from advisor.kube.common import ImportOptions, load_documents
from advisor.kube.k8s import import_k8s
from models import parse_problem
from tests.conftest import EXAMPLES
from tests.test_cli import run
from tests.validator import validate

MANIFESTS = Path(__file__).resolve().parents[2] / "shared" / "bench-data" / "manifests"
NODES = str(EXAMPLES / "nodes.json")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: example/web:1
          resources: {requests: {cpu: 250m, memory: 256Mi}}
          ports: [{containerPort: 8080}]
        - name: log-shipper
          image: example/shipper:1
          resources: {requests: {cpu: 50m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_import_k8s_prints_a_problem_that_advises(tmp_path: Path) -> None:
    manifests = _write(tmp_path, "web.yaml", DEPLOYMENT)
    result = run(["import", "k8s", manifests, "--nodes", NODES])
    assert result.returncode == 0, result.stderr
    problem = yaml.safe_load(result.stdout)
    assert [c["name"] for c in problem["containers"]] == ["web-app", "web-log-shipper"] or \
        [c["name"] for c in problem["containers"]] == ["app", "log-shipper"]
    assert problem["layout"]["pods"][0]["replicas"] == 2
    assert len(problem["nodes"]) == 3
    assert "skipped" not in result.stderr  # the Service is read: it selects no pod
    parsed = parse_problem(problem)
    assert {h.type for h in parsed.hints} == {"sidecar"}
    as_json = run(["import", "k8s", manifests, "--nodes", NODES, "--format", "json"])
    assert json.loads(as_json.stdout) == problem


def test_advise_and_review_read_manifests_directly(tmp_path: Path) -> None:
    manifests = _write(tmp_path, "web.yaml", DEPLOYMENT)
    advised = run(["advise", manifests, "--nodes", NODES, "-t", "5"])
    assert advised.returncode == 0, advised.stderr
    plan = json.loads(advised.stdout)
    problem = parse_problem(yaml.safe_load(run(["import", "k8s", manifests, "--nodes",
                                                     NODES]).stdout))
    assert validate(problem, plan) == []
    reviewed = run(["review", manifests, "--nodes", NODES, "-t", "5"])
    assert reviewed.returncode == 0, reviewed.stderr
    review = json.loads(reviewed.stdout)
    assert review["current"]["pods"][0]["containers"] == review["advised"]["pods"][0]["containers"]


def test_export_round_trip_keeps_the_advised_grouping(tmp_path: Path) -> None:
    manifests = _write(tmp_path, "web.yaml", DEPLOYMENT)
    advised = run(["advise", manifests, "--nodes", NODES, "-t", "5"])
    plan_file = _write(tmp_path, "plan.json", advised.stdout)
    exported = run(["export", "k8s", plan_file, "--problem", manifests, "--nodes", NODES])
    assert exported.returncode == 0, exported.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(exported.stdout)]
    assert "Deployment" in kinds
    again = import_k8s(load_documents(exported.stdout, "export"), ImportOptions())
    pods = {frozenset(p["containers"]): p["replicas"] for p in again.problem["layout"]["pods"]}
    plan = json.loads(advised.stdout)
    assert pods == {frozenset(p["containers"]): p["replicas"] for p in plan["pods"]}
    # A review's output exports its advised plan.
    reviewed = _write(tmp_path, "review.json",
                      run(["review", manifests, "--nodes", NODES, "-t", "5"]).stdout)
    assert run(["export", "k8s", reviewed, "--problem", manifests]).returncode == 0


def test_export_refuses_a_plan_from_another_problem(tmp_path: Path) -> None:
    manifests = _write(tmp_path, "web.yaml", DEPLOYMENT)
    plan = run(["advise", str(EXAMPLES / "reference.yaml")])
    plan_file = _write(tmp_path, "plan.json", plan.stdout)
    result = run(["export", "k8s", plan_file, "--problem", manifests])
    assert result.returncode == 2
    assert "--problem" in result.stderr
    not_a_plan = _write(tmp_path, "x.json", '{"containers": []}')
    result = run(["export", "k8s", not_a_plan, "--problem", manifests])
    assert result.returncode == 2
    assert "not a plan" in result.stderr


@pytest.mark.parametrize(("text", "needle"), [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n"
     "    spec: {containers: [\n", "7"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", "no workload"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: "
     "{containers: []}}}\n", "x"),
])
def test_bad_manifests_exit_2_naming_the_file(tmp_path: Path, text: str, needle: str) -> None:
    bad = _write(tmp_path, "bad.yaml", text)
    for args in (["import", "k8s", bad], ["advise", bad], ["review", bad]):
        result = run(args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "bad.yaml" in result.stderr
        assert needle in result.stderr.replace(str(tmp_path), "")
        assert "Traceback" not in result.stderr


def test_bad_node_list_and_nodes_with_a_problem_exit_2(tmp_path: Path) -> None:
    manifests = _write(tmp_path, "web.yaml", DEPLOYMENT)
    nodes = _write(tmp_path, "nodes.json", '{"kind": "List", "items": []}')
    result = run(["advise", manifests, "--nodes", nodes])
    assert result.returncode == 2
    assert "nodes.json" in result.stderr
    result = run(["advise", str(EXAMPLES / "reference.yaml"), "--nodes", NODES])
    assert result.returncode == 2
    assert "--nodes" in result.stderr


def test_import_compose_with_override(tmp_path: Path) -> None:
    base = _write(tmp_path, "docker-compose.yml", (
        "services:\n  api:\n    image: example/api\n    deploy: {replicas: 2, resources: "
        "{reservations: {cpus: '0.5', memory: 256M}}}\n  api-dapr:\n    image: daprio/daprd\n"
        "    network_mode: 'service:api'\n    depends_on: [api]\n"))
    override = _write(tmp_path, "docker-compose.override.yml",
                      "services:\n  api:\n    ports: ['8080:80']\n")
    result = run(["import", "compose", base, override])
    assert result.returncode == 0, result.stderr
    problem = yaml.safe_load(result.stdout)
    pods = problem["layout"]["pods"]
    assert [sorted(p["containers"]) for p in pods] == [["api", "api-dapr"]]
    assert problem["containers"][0]["ports"] == [80]
    assert "pool" in result.stderr  # no --nodes: the default pool, said on stderr


@pytest.mark.skipif(not MANIFESTS.is_dir(), reason="bench-data is not beside the checkout")
@pytest.mark.parametrize("app", ["online-boutique/kubernetes-manifests.yaml",
                                 "sock-shop/complete-demo.yaml",
                                 "eShopOnDapr/docker-compose.yml"])
def test_review_real_applications(app: str) -> None:
    result = run(["review", str(MANIFESTS / app), "--nodes", NODES, "-t", "10", "--workers", "2"])
    assert result.returncode == 0, result.stderr
    review = json.loads(result.stdout)
    imported = run(["import", "compose" if "compose" in app else "k8s", str(MANIFESTS / app),
                    "--nodes", NODES])
    problem = parse_problem(yaml.safe_load(imported.stdout))
    assert validate(problem, review["advised"]) == []
    codes = {f["code"] for f in review["current"]["findings"]}
    assert "SINGLE_REPLICA" in codes  # every service of these demos runs one replica
    if "sock-shop" in app:
        flagged = {s for f in review["current"]["findings"] if f["code"] == "NO_REQUESTS"
                   for s in f["subjects"]}
        assert {"carts-db", "orders-db", "user-db"} <= flagged
        together = [p["containers"] for p in review["advised"]["pods"]
                    if "rabbitmq" in p["containers"]]
        assert together == [["rabbitmq", "rabbitmq-exporter"]]
    if "eShop" in app:
        pairs = [p for p in review["advised"]["pods"] if len(p["containers"]) == 2]
        assert len(pairs) == 7
        assert all(p["containers"][1].endswith("dapr") for p in pairs)
