"""Export of an advised plan as Kubernetes manifests, and the round trip through the importer."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.kube.common import ImportOptions, ImportResult, load_documents
from advisor.kube.export import dump_manifests, export_k8s
from advisor.solve import advise
from models import Plan, Problem, parse_problem
from models.quantity import parse_quantity
from tests.conftest import EXAMPLES
from tests.support import container, node, problem

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench-data" / "manifests"
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
NAME = "app.kubernetes.io/name"
HOST = "kubernetes.io/hostname"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def solved(data: dict[str, Any]) -> tuple[Problem, Plan]:
    parsed = parse_problem(data)
    plan = advise(parsed)
    assert plan.status in ("optimal", "feasible", "heuristic"), plan.conflicts
    return parsed, plan


@cache
def example(name: str) -> tuple[Problem, Plan]:
    """An example solved once for all tests (two workers, as the machine has two cores)."""
    data = yaml.safe_load((EXAMPLES / name).read_text())
    data["policy"] = {**data.get("policy", {}), "workers": 2, "timeLimitSeconds": 3}
    return solved(data)


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in WORKLOADS}


def budgets(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "PodDisruptionBudget"}


def pod_template(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]
    return template


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = pod_template(doc)["spec"]
    return spec


def replicas_of(doc: dict[str, Any]) -> int:
    if doc["kind"] == "Job":
        return int(doc["spec"]["parallelism"])
    if doc["kind"] == "CronJob":
        return int(doc["spec"]["jobTemplate"]["spec"]["parallelism"])
    return int(doc["spec"]["replicas"])


def grouping(plan: Plan) -> dict[frozenset[str], int]:
    return {frozenset(p.containers): p.replicas for p in plan.pods}


EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


# ---- structure of the export ------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_export_one_workload_per_pod(name: str) -> None:
    parsed, plan = example(name)
    docs = export_k8s(parsed, plan)
    for doc in docs:
        assert doc["apiVersion"]
        assert doc["kind"]
        assert doc["metadata"]["name"]
        assert list(doc)[:3] == ["apiVersion", "kind", "metadata"]
    found = workloads(docs)
    assert len(found) == len([d for d in docs if d["kind"] in WORKLOADS]) == len(plan.pods)
    by_name = {c.name: c for c in parsed.containers}
    for pod in plan.pods:
        doc = found[pod.name]
        assert doc["kind"] == "Deployment"  # no source: nothing says otherwise
        assert replicas_of(doc) == pod.replicas
        names = [c["name"] for c in pod_spec(doc)["containers"]]
        assert names[0] == pod.name  # the main container leads
        assert sorted(names) == sorted(pod.containers)
        assert doc["spec"]["selector"] == {"matchLabels": {NAME: pod.name}}
        assert pod_template(doc)["metadata"]["labels"][NAME] == pod.name
        placed = {p.node for p in plan.placements if p.pod == pod.name}
        advised = doc["metadata"]["annotations"]["podlayout.io/advised-nodes"]
        assert set(advised.split(",")) == placed
        for c in pod_spec(doc)["containers"]:
            source = by_name[c["name"]]
            assert c["image"] == "REPLACE-ME"
            wanted = {k: v for k, v in source.requests.items() if k != "pods"}
            got = c.get("resources", {}).get("requests", {})
            assert {k: parse_quantity(v) for k, v in got.items()} == wanted
            assert [p["containerPort"] for p in c.get("ports", [])] == [
                p.port for p in source.ports]
        missing = doc["metadata"]["annotations"]["podlayout.io/missing-images"]
        assert sorted(missing.split(",")) == sorted(pod.containers)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_dump_loads_back_to_the_same_documents(name: str) -> None:
    docs = export_k8s(*example(name))
    text = dump_manifests(docs)
    assert text.startswith("---\n")
    assert "&id" not in text
    assert "*id" not in text
    assert "{" not in text.replace("{}", "")  # block style, bar the empty emptyDir
    assert list(yaml.safe_load_all(text)) == docs


def test_dump_writes_no_aliases_for_shared_objects() -> None:
    labels = {NAME: "web"}
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "web", "labels": labels, "annotations": labels}}
    text = dump_manifests([doc, doc])
    assert "&" not in text
    assert "*" not in text
    assert text.index("apiVersion") < text.index("kind") < text.index("metadata")
    assert list(yaml.safe_load_all(text)) == [doc, doc]


def test_resources_ports_and_volumes() -> None:
    data = problem(
        [container("app", cpu="0.5", memory="1e9", replicas=2, image="shop/app:1.2",
                   limits={"cpu": "1", "memory": "2Gi", "ephemeral-storage": "2Gi"},
                   ports=[8080, {"port": 53, "protocol": "UDP"}],
                   volumes=["logs", "pvc-data"]),
         container("shipper", critical=False, volumes=["logs"]),
         container("cache", cpu="250m", memory="256Mi", volumes=["scratch"])],
        nodes=[node(n, allocatable={"ephemeral-storage": "20Gi"}) for n in ("n1", "n2")],
        hints=[{"type": "sidecar", "container": "shipper", "main": "app"}],
    )
    parsed, plan = solved(data)
    docs = workloads(export_k8s(parsed, plan))
    app = pod_spec(docs["app"])
    first, second = app["containers"]
    assert first["name"] == "app"
    assert second["name"] == "shipper"
    assert first["image"] == "shop/app:1.2"
    assert first["resources"] == {
        "requests": {"cpu": "500m", "memory": "1G", "ephemeral-storage": "2Gi"},
        "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "2Gi"},
    }
    assert first["ports"] == [{"containerPort": 8080, "protocol": "TCP"},
                              {"containerPort": 53, "protocol": "UDP"}]
    assert first["volumeMounts"] == [{"name": "logs", "mountPath": "/mnt/logs"},
                                     {"name": "pvc-data", "mountPath": "/mnt/pvc-data"}]
    assert second["image"] == "REPLACE-ME"
    assert second["volumeMounts"] == [{"name": "logs", "mountPath": "/mnt/logs"}]
    assert app["volumes"] == [{"name": "logs", "emptyDir": {}},
                              {"name": "pvc-data", "persistentVolumeClaim": {"claimName": "data"}}]
    annotations = docs["app"]["metadata"]["annotations"]
    assert annotations["podlayout.io/missing-images"] == "shipper"
    assert pod_spec(docs["cache"])["volumes"] == [{"name": "scratch", "emptyDir": {}}]


def test_node_selector_and_tolerations_are_kept() -> None:
    parsed, plan = example("gpu.yaml")
    spec = pod_spec(workloads(export_k8s(parsed, plan))["inference"])
    assert spec["nodeSelector"] == {"accelerator": "a100"}
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    main = spec["containers"][0]
    assert main["resources"]["requests"]["nvidia.com/gpu"] == "1"


def sourced(name: str, kind: str, namespace: str | None = "shop", **extra: Any
            ) -> dict[str, Any]:
    source = {"kind": kind, "workload": name, "container": name, "namespace": namespace}
    return container(name, image=f"example/{name}:1", source=source, **extra)


def mixed_sources() -> dict[str, Any]:
    return problem(
        [sourced("db", "StatefulSet", replicas=2),
         sourced("db-exporter", "Deployment", critical=False),
         sourced("migrate", "Job", replicas=3, critical=False),
         sourced("report", "CronJob", namespace="ops"),
         sourced("agent", "DaemonSet", replicas=2, namespace="ops"),
         sourced("web", "Deployment", namespace="shop"),
         sourced("web-proxy", "Deployment", namespace="edge", critical=False)],
        nodes=[node("n1", cpu="8"), node("n2", cpu="8")],
        hints=[{"type": "adapter", "container": "db-exporter", "main": "db"},
               {"type": "ambassador", "container": "web-proxy", "main": "web"}],
    )


def test_workload_kind_follows_the_main_containers_source() -> None:
    parsed, plan = solved(mixed_sources())
    docs = workloads(export_k8s(parsed, plan))
    assert set(docs) == {"db", "migrate", "report", "agent", "web"}
    db = docs["db"]
    assert (db["apiVersion"], db["kind"]) == ("apps/v1", "StatefulSet")
    assert db["spec"]["serviceName"] == "db"
    assert db["spec"]["replicas"] == 2
    assert db["metadata"]["namespace"] == "shop"
    assert [c["name"] for c in pod_spec(db)["containers"]] == ["db", "db-exporter"]
    job = docs["migrate"]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert job["spec"]["parallelism"] == 3
    assert pod_spec(job)["restartPolicy"] == "OnFailure"
    assert "selector" not in job["spec"]  # Jobs make their own
    cron = docs["report"]
    assert (cron["apiVersion"], cron["kind"]) == ("batch/v1", "CronJob")
    assert cron["spec"]["schedule"] == "@daily"
    assert "podlayout.io/schedule" in cron["metadata"]["annotations"]
    assert cron["metadata"]["namespace"] == "ops"
    assert pod_spec(cron)["restartPolicy"] == "OnFailure"
    agent = docs["agent"]
    assert agent["kind"] == "Deployment"
    assert agent["spec"]["replicas"] == 2
    assert "DaemonSet" in agent["metadata"]["annotations"]["podlayout.io/source-kind"]
    web = docs["web"]
    assert "namespace" not in web["metadata"]  # its containers disagree
    assert "podlayout.io/missing-images" not in web["metadata"]["annotations"]


@pytest.mark.parametrize("spread", ["node", "zone"])
def test_spread_policy_becomes_hard_rules(spread: str) -> None:
    data = problem(
        [container("api", replicas=3), container("worker", replicas=2, critical=False)],
        nodes=[node(f"n{i}", zone=f"z{i % 3}") for i in range(6)], spread=spread,
    )
    parsed, plan = solved(data)
    docs = workloads(export_k8s(parsed, plan))
    for pod in plan.pods:
        spec = pod_spec(docs[pod.name])
        anti = spec["affinity"]["podAntiAffinity"]
        assert anti[REQUIRED] == [{"labelSelector": {"matchLabels": {NAME: pod.name}},
                                   "topologyKey": HOST}]
        assert PREFERRED not in anti
        if spread == "zone":
            assert spec["topologySpreadConstraints"] == [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {NAME: pod.name}}}]
        else:
            assert "topologySpreadConstraints" not in spec


def test_spread_none_prefers_keeping_a_spread_critical_pod_apart() -> None:
    data = problem(
        # Each node holds one api replica only: the plan must use both.
        [container("api", cpu="600m", replicas=2), container("batch", replicas=2, critical=False),
         container("solo")],
        nodes=[node("n1", cpu="1"), node("n2", cpu="1")],
    )
    parsed, plan = solved(data)
    docs = export_k8s(parsed, plan)
    found = workloads(docs)
    api = pod_spec(found["api"])["affinity"]["podAntiAffinity"]
    assert api == {PREFERRED: [{"weight": 100, "podAffinityTerm": {
        "labelSelector": {"matchLabels": {NAME: "api"}}, "topologyKey": HOST}}]}
    assert "affinity" not in pod_spec(found["batch"])  # not critical
    assert "affinity" not in pod_spec(found["solo"])  # one replica
    assert set(budgets(docs)) == {"api"}


def test_budget_only_for_replicated_critical_pods() -> None:
    parsed, plan = example("reference.yaml")
    docs = export_k8s(parsed, plan)
    wanted = {p.name for p in plan.pods if p.replicas >= 2
              and any(c.critical for c in parsed.containers if c.name in p.containers)}
    assert wanted == {"frontend", "backend", "database"}
    found = budgets(docs)
    assert set(found) == wanted
    for name, pdb in found.items():
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {NAME: name}}}
    # Workloads first, then their budgets.
    kinds = [d["kind"] for d in docs]
    assert kinds.index("PodDisruptionBudget") == len(plan.pods)


def coupled() -> dict[str, Any]:
    return problem(
        [container("app", replicas=2), container("cache", replicas=1),
         container("primary"), container("replica"), container("left"), container("right")],
        nodes=[node("n1"), node("n2"), node("n3")],
        hints=[{"type": "sameNode", "containers": ["cache", "app"]},
               {"type": "sameNode", "containers": ["left", "right"]},
               {"type": "separatePods", "containers": ["left", "right"]},
               {"type": "separateNodes", "containers": ["primary", "replica"]}],
    )


def test_same_node_and_separate_nodes_hints_become_affinity() -> None:
    parsed, plan = solved(coupled())
    pods = {p.name: p.containers for p in plan.pods}
    assert {"app", "cache", "primary", "replica", "left", "right"} <= set(pods)
    docs = workloads(export_k8s(parsed, plan))

    def affinity(name: str) -> dict[str, Any]:
        found: dict[str, Any] = pod_spec(docs[name]).get("affinity", {})
        return found

    def term(name: str) -> dict[str, Any]:
        return {"labelSelector": {"matchLabels": {NAME: name}}, "topologyKey": HOST}

    # The pod with fewer replicas follows; never both ways (neither could start first).
    assert affinity("cache")["podAffinity"] == {REQUIRED: [term("app")]}
    assert "podAffinity" not in affinity("app")
    # Equal replica counts: exactly one of the two follows the other.
    followers = [n for n in ("left", "right") if "podAffinity" in affinity(n)]
    assert len(followers) == 1
    leader = "right" if followers == ["left"] else "left"
    assert affinity(followers[0])["podAffinity"] == {REQUIRED: [term(leader)]}
    assert affinity("primary")["podAntiAffinity"] == {REQUIRED: [term("replica")]}
    assert affinity("replica")["podAntiAffinity"] == {REQUIRED: [term("primary")]}


def test_infeasible_plan_is_refused() -> None:
    parsed = parse_problem(problem([container("big", cpu="16")], nodes=[node("n1")]))
    plan = advise(parsed)
    assert plan.status == "infeasible"
    with pytest.raises(ValueError, match="no pods"):
        export_k8s(parsed, plan)


# ---- round trip through the importer ------------------------------------------------------

Importer = Callable[[list[Any], ImportOptions], ImportResult]


def importer() -> Importer:
    if importlib.util.find_spec("advisor.kube.k8s") is None:
        pytest.skip("advisor/kube/k8s.py (the importer) is not there")
    found: Importer | None = getattr(importlib.import_module("advisor.kube.k8s"),
                                     "import_k8s", None)
    if found is None:
        pytest.skip("advisor.kube.k8s has no import_k8s")
    return found


def reimported(problem_: Problem, plan: Plan) -> dict[str, Any]:
    """The problem the importer reads back from the exported manifests."""
    docs = load_documents(dump_manifests(export_k8s(problem_, plan)), "x")
    data: dict[str, Any] = importer()(docs, ImportOptions()).problem
    return data


def layout_of(data: dict[str, Any]) -> dict[frozenset[str], int]:
    return {frozenset(p["containers"]): p.get("replicas", 1) for p in data["layout"]["pods"]}


def node_hints(hints: list[Any]) -> set[tuple[str, frozenset[str]]]:
    wire = [h if isinstance(h, dict) else h.model_dump(by_alias=True) for h in hints]
    return {(h["type"], frozenset(h["containers"])) for h in wire
            if h["type"] in ("sameNode", "separateNodes")}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_round_trip_keeps_the_advised_grouping(name: str) -> None:
    parsed, plan = example(name)
    back = reimported(parsed, plan)
    assert layout_of(back) == grouping(plan)
    # The rules that enforce the plan read back as the policy and hints they came from.
    assert back["policy"]["spread"] == parsed.policy.spread.value
    assert node_hints(back["hints"]) == node_hints(parsed.hints)


@pytest.mark.parametrize("path", ["online-boutique/kubernetes-manifests.yaml",
                                  "sock-shop/complete-demo.yaml"])
def test_round_trip_of_real_applications(path: str) -> None:
    source = BENCH / path
    if not source.is_file():
        pytest.skip(f"bench data not found: {source}")
    imported = importer()(load_documents(source.read_text(), source.name), ImportOptions())
    data = imported.problem
    data["policy"] = {**data.get("policy", {}), "timeLimitSeconds": 5, "workers": 2}
    parsed, plan = solved(data)
    assert layout_of(reimported(parsed, plan)) == grouping(plan)
    # The images and namespaces of the real manifests survive the export.
    docs = workloads(export_k8s(parsed, plan))
    images = {c.name: c.image for c in parsed.containers}
    for doc in docs.values():
        for c in pod_spec(doc)["containers"]:
            assert c["image"] == (images[c["name"]] or "REPLACE-ME")


def test_round_trip_keeps_node_level_hints() -> None:
    parsed, plan = solved(coupled())
    back = reimported(parsed, plan)
    assert layout_of(back) == grouping(plan)
    assert node_hints(back["hints"]) == node_hints(parsed.hints)


def test_round_trip_keeps_kinds_images_and_namespaces() -> None:
    parsed, plan = solved(mixed_sources())
    back = reimported(parsed, plan)
    assert layout_of(back) == grouping(plan)
    found = {c["name"]: c for c in back["containers"]}
    assert found["db"]["source"]["kind"] == "StatefulSet"
    assert found["migrate"]["source"]["kind"] == "Job"
    assert found["report"]["source"]["kind"] == "CronJob"
    assert found["report"]["source"]["namespace"] == "ops"
    assert {name: c["image"] for name, c in found.items()} == {
        c.name: c.image for c in parsed.containers}
