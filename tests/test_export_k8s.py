"""Export of an advised plan as Kubernetes manifests, and the round trip through the importer."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped, unused-ignore]
import pytest
import yaml

from advisor.kube.common import ImportOptions, ImportResult, ManifestError, load_documents
from advisor.kube.detect import import_texts, kind_of, parse_imported, read_input, read_nodes
from advisor.kube.export import dump_manifests, export_k8s
from advisor.solve import advise
from models import Plan, Problem, parse_problem
from models.quantity import parse_quantity
from tests.conftest import EXAMPLES
from tests.support import container, node, problem

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench-data" / "manifests"
# The Kubernetes version whose schemas (from kubernetes-validate) exports must satisfy.
K8S_VERSION = "1.34"
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
NAME = "app.kubernetes.io/name"
POD = "podlayout.io/pod"
NOTE = ("advised layout: merge env, probes, volumes and other settings from the source "
        "workload")
HOST = "kubernetes.io/hostname"
PART_OF = "app.kubernetes.io/part-of"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def solved(data: dict[str, Any]) -> tuple[Problem, Plan]:
    parsed = parse_problem(data)
    plan = advise(parsed)
    assert plan.status in ("optimal", "feasible", "heuristic"), plan.conflicts
    return parsed, plan


def is_problem(name: str) -> bool:
    """Whether an example is a problem file (else manifests or a Compose file)."""
    docs = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d is not None]
    return len(docs) == 1 and kind_of(docs[0]) == "problem"


@cache
def example(name: str) -> tuple[Problem, Plan]:
    """An example solved once for all tests (two workers, as the machine has two cores);
    manifests are imported with examples/nodes.json, as the README runs them."""
    text = (EXAMPLES / name).read_text()
    options = ImportOptions()
    if not is_problem(name):
        options = ImportOptions(nodes=read_nodes((EXAMPLES / "nodes.json").read_text(),
                                                 "nodes.json"))
    parsed, _ = read_input(text, name, options)
    data = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
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
# Problems carry no source workloads: their export is the plain advised layout.
PROBLEM_NAMES = [n for n in EXAMPLE_NAMES if is_problem(n)]


def schema_errors(docs: list[dict[str, Any]]) -> list[str]:
    """What the Kubernetes schemas (strict: no unknown fields) refuse in the documents, one
    line per document that fails; [] when all pass."""
    errors: list[str] = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            errors.append(f"{doc['kind']} {doc['metadata']['name']}: {where}: {exc.message}")
    return errors


def bench_apps() -> list[str]:
    """The applications of the bench data, as paths under BENCH: manifest files, and Compose
    files (with their override, as `docker compose` reads them). Unrendered Helm templates
    are no manifests. One placeholder when the folder is absent, to skip."""
    if not BENCH.is_dir():
        return ["(bench data absent)"]
    found = []
    for path in sorted(BENCH.rglob("*")):
        if (path.suffix not in (".yaml", ".yml") or "override" in path.name
                or "{{" in path.read_text()):
            continue
        found.append(str(path.relative_to(BENCH)))
    return found


def bench_texts(app: str) -> tuple[str, list[tuple[str, str]]]:
    """(importer, [(text, name)]) of a bench application; skips when absent."""
    path = BENCH / app
    if not path.is_file():
        pytest.skip(f"bench data not found: {path}")
    files = [path]
    if path.name.startswith("docker-compose"):
        override = path.with_name(f"docker-compose.override{path.suffix}")
        files += [override] if override.is_file() else []
        return "compose", [(f.read_text(), f.name) for f in files]
    return "k8s", [(path.read_text(), path.name)]


@cache
def bench_solved(app: str) -> tuple[Problem, Plan]:
    """A bench application imported and solved once for all tests; skips one that has no
    workload (Istio's objects alone, say)."""
    kind, texts = bench_texts(app)
    result = import_texts("compose" if kind == "compose" else "k8s", texts, ImportOptions())
    if not result.problem.get("containers"):
        pytest.skip(f"{app}: no workload to export")
    try:
        parsed = parse_imported(result, app)
    except ManifestError as exc:  # pragma: no cover - the importer's own tests cover it
        pytest.fail(str(exc))
    data = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["policy"] = {**data.get("policy", {}), "timeLimitSeconds": 5, "workers": 2}
    return solved(data)


def source_objects(app: str) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    """The objects of a bench manifest file by (kind, name, namespace), as written."""
    _, texts = bench_texts(app)
    found = {}
    for text, _ in texts:
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and "kind" in doc:
                meta = doc.get("metadata", {})
                found[(doc["kind"], meta.get("name"), meta.get("namespace"))] = doc
    return found


# ---- structure of the export ------------------------------------------------------------

@pytest.mark.parametrize("name", PROBLEM_NAMES)
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
        # No source workload: a new one, selecting its own pods by the pod label.
        assert doc["spec"]["selector"] == {"matchLabels": {POD: pod.name}}
        assert pod_template(doc)["metadata"]["labels"] == {
            POD: pod.name, NAME: pod.name, "app.kubernetes.io/part-of": "podlayout-advised"}
        assert doc["metadata"]["annotations"]["podlayout.io/note"] == NOTE
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
                   volumes=["logs", "pvc:data", "pvc-cleaner"]),
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
                                     {"name": "pvc-data", "mountPath": "/mnt/pvc-data"},
                                     {"name": "pvc-cleaner", "mountPath": "/mnt/pvc-cleaner"}]
    assert second["image"] == "REPLACE-ME"
    assert second["volumeMounts"] == [{"name": "logs", "mountPath": "/mnt/logs"}]
    # Only `pvc:` names a claim: a volume that merely starts with pvc- is pod-local.
    assert app["volumes"] == [{"name": "logs", "emptyDir": {}},
                              {"name": "pvc-data", "persistentVolumeClaim": {"claimName": "data"}},
                              {"name": "pvc-cleaner", "emptyDir": {}}]
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
    assert main["resources"]["limits"]["nvidia.com/gpu"] == "1"


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
         sourced("web", "Deployment", namespace="shop"),
         sourced("web-proxy", "Deployment", namespace="edge", critical=False)],
        nodes=[node("n1", cpu="8"), node("n2", cpu="8")],
        hints=[{"type": "adapter", "container": "db-exporter", "main": "db"},
               {"type": "ambassador", "container": "web-proxy", "main": "web"}],
    )


def test_workload_kind_follows_the_main_containers_source() -> None:
    parsed, plan = solved(mixed_sources())
    docs = workloads(export_k8s(parsed, plan))
    assert set(docs) == {"db", "migrate", "report", "web"}
    db = docs["db"]
    assert (db["apiVersion"], db["kind"]) == ("apps/v1", "StatefulSet")
    assert db["spec"]["serviceName"] == "db"
    assert db["spec"]["replicas"] == 2
    assert db["metadata"]["namespace"] == "shop"
    assert "serviceName" in db["metadata"]["annotations"]["podlayout.io/service-name"]
    # The exporter's own Deployment joins the StatefulSet: applying leaves it running.
    assert db["metadata"]["annotations"]["podlayout.io/replaces"].startswith(
        "Deployment shop/db-exporter:")
    assert [c["name"] for c in pod_spec(db)["containers"]] == ["db", "db-exporter"]
    job = docs["migrate"]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert job["spec"]["parallelism"] == 3
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert "selector" not in job["spec"]  # Jobs make their own
    cron = docs["report"]
    assert (cron["apiVersion"], cron["kind"]) == ("batch/v1", "CronJob")
    assert cron["spec"]["schedule"] == "@daily"
    assert "podlayout.io/schedule" in cron["metadata"]["annotations"]
    assert cron["metadata"]["namespace"] == "ops"
    assert pod_spec(cron)["restartPolicy"] == "Never"
    web = docs["web"]
    assert "namespace" not in web["metadata"]  # its containers disagree
    assert "podlayout.io/missing-images" not in web["metadata"]["annotations"]
    assert web["metadata"]["annotations"]["podlayout.io/replaces"].startswith(
        "Deployment edge/web-proxy:")
    for doc in docs.values():
        assert doc["metadata"]["annotations"]["podlayout.io/note"] == NOTE


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
        assert anti[REQUIRED] == [{"labelSelector": {"matchLabels": {POD: pod.name}},
                                   "topologyKey": HOST}]
        assert PREFERRED not in anti
        if spread == "zone":
            assert spec["topologySpreadConstraints"] == [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {POD: pod.name}}}]
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
        "labelSelector": {"matchLabels": {POD: "api"}}, "topologyKey": HOST}}]}
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
        assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {POD: name}}}
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
        return {"labelSelector": {"matchLabels": {POD: name}}, "topologyKey": HOST}

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


def test_plan_of_another_problem_is_refused() -> None:
    _, plan = solved(problem([container("web")], nodes=[node("n1")]))
    other = parse_problem(problem([container("api")], nodes=[node("n1")]))
    with pytest.raises(ValueError, match="containers the problem does not have: web"):
        export_k8s(other, plan)


def test_extended_resources_and_hugepages_get_limits_equal_to_requests() -> None:
    data = problem(
        [container("train", limits={"cpu": "1", "example.com/fpga": "2"},
                   requests={"cpu": "500m", "memory": "1Gi", "example.com/fpga": "1",
                             "hugepages-2Mi": "64Mi", "ephemeral-storage": "1Gi"})],
        nodes=[node("n1", allocatable={"example.com/fpga": "4", "hugepages-2Mi": "1Gi",
                                       "ephemeral-storage": "20Gi"})],
    )
    parsed, plan = solved(data)
    resources = pod_spec(workloads(export_k8s(parsed, plan))["train"])["containers"][0][
        "resources"]
    # Kubernetes refuses them otherwise; cpu, memory and ephemeral-storage may overcommit.
    assert resources["limits"] == {"cpu": "1", "example.com/fpga": "1", "hugepages-2Mi": "64Mi"}
    assert resources["requests"]["example.com/fpga"] == "1"


def source(workload: str, container_: str, kind: str = "Deployment",
           namespace: str | None = "shop", **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "workload": workload, "container": container_,
            "namespace": namespace, **extra}


def labelled() -> dict[str, Any]:
    """web: two containers, the main one not named after the workload; api: one container
    not named after its workload; cache: one named after it, without labels."""
    return problem(
        [container("web-app", replicas=2, image="shop/web:1", source=source(
            "web", "app", labels={"app": "web", "tier": "front", PART_OF: "shop"},
            annotations={"prometheus.io/scrape": "true"},
            selector={"matchLabels": {"app": "web"},
                      "matchExpressions": [{"key": "tier", "operator": "In",
                                            "values": ["front"]}]})),
         container("helper", image="shop/helper:1", source=source("web", "helper")),
         container("api", replicas=2, image="shop/api:1",
                   source=source("api-deploy", "server", labels={"app": "api"})),
         container("cache", image="redis:7", source=source("cache", "redis"))],
        nodes=[node("n1"), node("n2")],
        hints=[{"type": "sidecar", "container": "helper", "main": "web-app"},
               {"type": "separatePods", "containers": ["web-app", "api", "cache"]}],
    )


def test_workloads_keep_source_names_labels_and_selectors() -> None:
    parsed, plan = solved(labelled())
    docs = export_k8s(parsed, plan)
    found = workloads(docs)
    # web and cache update the source workloads; api's one container would re-import
    # under the workload's name, so it keeps the pod's name and says what it replaces.
    assert set(found) == {"web", "api", "cache"}
    web = found["web"]
    assert [c["name"] for c in pod_spec(web)["containers"]] == ["web-app", "helper"]
    # Updated in place: the source's selector exactly (it is immutable), expressions too.
    assert web["spec"]["selector"] == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}
    template = pod_template(web)["metadata"]
    # The source's labels all stay as they were (part-of included); the export's own are
    # added under keys the source does not use.
    assert template["labels"] == {"app": "web", "tier": "front", PART_OF: "shop",
                                  NAME: "web", POD: "web-app"}
    assert template["annotations"] == {"prometheus.io/scrape": "true"}
    assert "podlayout.io/replaces" not in web["metadata"]["annotations"]
    # The workload carries its pods' source labels too (tools find workloads by them).
    assert web["metadata"]["labels"] == {"app": "web", "tier": "front", PART_OF: "shop",
                                         NAME: "web"}
    api = found["api"]
    # A new workload beside the source (which it replaces): it selects its own pods only,
    # and they keep the source's labels, so Services still select them.
    assert api["spec"]["selector"] == {"matchLabels": {POD: "api"}}
    assert pod_template(api)["metadata"]["labels"] == {
        "app": "api", NAME: "api", PART_OF: "podlayout-advised", POD: "api"}
    assert api["metadata"]["annotations"]["podlayout.io/replaces"].startswith(
        "Deployment shop/api-deploy:")
    cache = found["cache"]
    # In place, but neither selector nor labels known: the name label, which it carries.
    assert cache["spec"]["selector"] == {"matchLabels": {NAME: "cache"}}
    assert pod_template(cache)["metadata"]["labels"][NAME] == "cache"
    # Budgets are named after their workload and select the advised pod's replicas only.
    assert budgets(docs)["web"]["spec"]["selector"] == {"matchLabels": {POD: "web-app"}}
    assert budgets(docs)["web"]["metadata"]["namespace"] == "shop"


def test_rules_select_the_advised_pod_even_when_source_labels_are_shared() -> None:
    shared = {NAME: "shop", "app.kubernetes.io/part-of": "shop"}
    data = problem(
        [container("a", replicas=2, source=source("a", "a", labels={**shared, "c": "a"})),
         container("b", replicas=2, source=source("b", "b", labels={**shared, "c": "b"}))],
        nodes=[node("n1"), node("n2")], hints=[{"type": "separateNodes",
                                                 "containers": ["a", "b"]}],
        spread="zone",
    )
    data["nodes"] = [node("n1", zone="z1"), node("n2", zone="z2"),
                     node("n3", zone="z1"), node("n4", zone="z2")]
    parsed, plan = solved(data)
    found = workloads(export_k8s(parsed, plan))
    for name, other in (("a", "b"), ("b", "a")):
        labels = pod_template(found[name])["metadata"]["labels"]
        # The source's values win, so the source's selector still matches.
        assert labels == {POD: name, NAME: "shop", "app.kubernetes.io/part-of": "shop",
                          "c": name}
        spec = pod_spec(found[name])
        assert spec["affinity"]["podAntiAffinity"][REQUIRED] == [
            {"labelSelector": {"matchLabels": {POD: pod}}, "topologyKey": HOST}
            for pod in (name, other)]
        assert spec["topologySpreadConstraints"][0]["labelSelector"] == {
            "matchLabels": {POD: name}}


def as_reimported(parsed: Problem, docs: list[dict[str, Any]]) -> Problem:
    """The problem with each main container's source as the importer reads the exported
    workloads back: the pod template's labels and annotations, the workload's selector."""
    found = {(d["metadata"].get("namespace"), pod_spec(d)["containers"][0]["name"]): d
             for d in workloads(docs).values()}
    containers = []
    for c in parsed.containers:
        wire = c.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc = found.get((c.source.namespace, c.name)) if c.source else None
        if doc is not None:
            meta = pod_template(doc)["metadata"]
            wire["source"] = {**wire["source"], "labels": meta["labels"],
                              "annotations": meta.get("annotations", {})}
            if "selector" in doc["spec"]:
                wire["source"]["selector"] = doc["spec"]["selector"]
        containers.append(wire)
    data = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    return parse_problem({**data, "containers": containers})


def test_exporting_again_keeps_the_selector() -> None:
    # The selector cannot change: the labels added by the first export stay out of it.
    parsed, plan = solved(labelled())
    first = export_k8s(parsed, plan)
    again = workloads(export_k8s(as_reimported(parsed, first), plan))
    for name, doc in workloads(first).items():
        assert again[name]["spec"]["selector"] == doc["spec"]["selector"]
        assert pod_template(again[name])["metadata"] == pod_template(doc)["metadata"]


def test_injected_sidecars_become_injection_annotations() -> None:
    data = problem(
        [container("web", image="shop/web:1", source=source(
            "web", "web", labels={"app": "web"},
            annotations={"dapr.io/app-id": "web", "dapr.io/app-port": "8080"})),
         container("web-istio-proxy", source=source("web", "istio-proxy", injected_by="istio")),
         container("web-daprd", ports=[3500], source=source("web", "daprd", injected_by="dapr")),
         container("web-mesh", source=source("web", "mesh", injected_by="linkerd"))],
        nodes=[node("n1")],
        hints=[{"type": "sidecar", "container": c, "main": "web"}
               for c in ("web-istio-proxy", "web-daprd", "web-mesh")],
    )
    parsed, plan = solved(data)
    web = workloads(export_k8s(parsed, plan))["web"]
    assert [c["name"] for c in pod_spec(web)["containers"]] == ["web"]
    annotations = pod_template(web)["metadata"]["annotations"]
    assert annotations == {"dapr.io/app-id": "web", "dapr.io/app-port": "8080",
                           "sidecar.istio.io/inject": "true", "dapr.io/enabled": "true"}
    # An injector the export does not know of is named, for the user to enable.
    note = web["metadata"]["annotations"]["podlayout.io/injected-sidecars"]
    assert note.startswith("web-mesh (linkerd):")
    assert "missing-images" not in " ".join(web["metadata"]["annotations"])


def test_claims_are_volumes_written_pvc_colon() -> None:
    data = problem(
        [container("db", source=source("db", "db", kind="StatefulSet"),
                   volumes=["pvc:shop/data", "pvc:ops/audit.log", "pvc:cache", "pvc-cleaner",
                            "db-tmp"])],
        nodes=[node("n1")],
    )
    parsed, plan = solved(data)
    db = workloads(export_k8s(parsed, plan))["db"]
    assert pod_spec(db)["volumes"] == [
        {"name": "pvc-shop-data", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "pvc-ops-audit-log", "persistentVolumeClaim": {"claimName": "audit.log"}},
        {"name": "pvc-cache", "persistentVolumeClaim": {"claimName": "cache"}},
        {"name": "pvc-cleaner", "emptyDir": {}},
        {"name": "db-tmp", "emptyDir": {}}]
    note = db["metadata"]["annotations"]["podlayout.io/claim-namespaces"]
    assert note.startswith("pvc:ops/audit.log: ")


def test_job_templates_drop_the_labels_the_job_controller_adds() -> None:
    labels = {"app": "migrate", "job-name": "migrate", "controller-uid": "1234",
              "batch.kubernetes.io/job-name": "migrate"}
    data = problem(
        [container("migrate", critical=False,
                   source=source("migrate", "migrate", kind="Job", labels=labels))],
        nodes=[node("n1")],
    )
    parsed, plan = solved(data)
    job = workloads(export_k8s(parsed, plan))["migrate"]
    assert "selector" not in job["spec"]
    meta = pod_template(job)["metadata"]
    assert meta["labels"] == {POD: "migrate", NAME: "migrate",
                              "app.kubernetes.io/part-of": "podlayout-advised", "app": "migrate"}
    assert "annotations" not in meta  # no selector to record
    assert pod_spec(job)["restartPolicy"] == "Never"


# ---- schema validation and kubectl apply over the source ----------------------------------

@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_export_valid_manifests(name: str) -> None:
    assert schema_errors(export_k8s(*example(name))) == []


@pytest.mark.parametrize("name", ["labelled", "mixed", "coupled"])
def test_sourced_exports_are_valid_manifests(name: str) -> None:
    data = {"labelled": labelled, "mixed": mixed_sources, "coupled": coupled}[name]()
    assert schema_errors(export_k8s(*solved(data))) == []


def test_schema_check_refuses_what_the_api_server_would() -> None:
    # The check has teeth: a Deployment without its selector, or with a field no version
    # of Kubernetes has, fails it.
    docs = export_k8s(*example("reference.yaml"))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {k: v for k, v in deployment["spec"].items()
                                     if k != "selector"}}
    unknown = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    assert schema_errors([deployment]) == []
    assert len(schema_errors([broken, unknown])) == 2


@pytest.mark.parametrize("app", bench_apps())
def test_bench_applications_export_valid_manifests(app: str) -> None:
    parsed, plan = bench_solved(app)
    docs = export_k8s(parsed, plan)
    assert schema_errors(docs) == []
    assert layout_of(reimported(parsed, plan)) == grouping(plan)


@pytest.mark.parametrize("app", [a for a in bench_apps() if "compose" not in a])
def test_bench_workloads_keep_the_source_selector_and_labels(app: str) -> None:
    """Applying over the source must not change its selector (immutable) nor a label."""
    parsed, plan = bench_solved(app)
    sources = source_objects(app)
    checked = 0
    for doc in workloads(export_k8s(parsed, plan)).values():
        original = sources.get((doc["kind"], doc["metadata"]["name"],
                                doc["metadata"].get("namespace")))
        if original is None:
            continue  # a new workload of the regrouping
        checked += 1
        if doc["kind"] in ("Deployment", "StatefulSet"):
            assert doc["spec"]["selector"] == original["spec"]["selector"]
        labels = pod_template(doc)["metadata"]["labels"]
        for key, value in pod_template(original).get("metadata", {}).get("labels", {}).items():
            assert labels[key] == value
    assert checked >= 1


IMPORTED_SELECTOR = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: track, operator: In, values: [stable, canary]}]
  template:
    metadata:
      labels: {app: web, track: stable, app.kubernetes.io/name: storefront,
               app.kubernetes.io/part-of: shop}
    spec:
      containers:
      - {name: web, image: shop/web:1, resources: {requests: {cpu: 200m, memory: 256Mi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata:
      labels: {app: api, app.kubernetes.io/part-of: shop}
    spec:
      containers:
      - {name: api, image: shop/api:1, resources: {requests: {cpu: 200m, memory: 256Mi}}}
"""


def test_import_carries_the_selector_and_export_keeps_it() -> None:
    imported = importer()(load_documents(IMPORTED_SELECTOR, "shop.yaml"), ImportOptions())
    data = imported.problem
    by_name = {c["name"]: c for c in data["containers"]}
    assert by_name["web"]["source"]["selector"] == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]}]}
    assert by_name["api"]["source"]["selector"] == {"matchLabels": {"app": "api"}}
    data["policy"] = {**data.get("policy", {}), "timeLimitSeconds": 5, "workers": 2}
    parsed, plan = solved(data)
    docs = export_k8s(parsed, plan)
    assert schema_errors(docs) == []
    found = workloads(docs)
    web = found["web"]
    # Narrower than the labels, with an expression: kept as it was, not widened to them.
    assert web["spec"]["selector"] == by_name["web"]["source"]["selector"]
    # The source's name and part-of labels win over the export's own, in the template and
    # on the workload.
    assert pod_template(web)["metadata"]["labels"] == {
        "app": "web", "track": "stable", NAME: "storefront", PART_OF: "shop", POD: "web"}
    assert web["metadata"]["labels"][NAME] == "storefront"
    assert web["metadata"]["labels"][PART_OF] == "shop"
    assert found["api"]["spec"]["selector"] == {"matchLabels": {"app": "api"}}
    assert pod_template(found["api"])["metadata"]["labels"][PART_OF] == "shop"


def test_a_pod_label_from_an_earlier_export_is_kept() -> None:
    # A source exported before carries the pod label (its selector may hold it): it stays,
    # and the rules select on it; a new pod whose name it is gets another value.
    data = problem(
        [container("a", replicas=2, source=source(
            "a", "a", labels={POD: "b"}, selector={"matchLabels": {POD: "b"}})),
         container("b", replicas=2)],
        nodes=[node("n1"), node("n2")], spread="node",
    )
    parsed, plan = solved(data)
    docs = export_k8s(parsed, plan)
    assert schema_errors(docs) == []
    found = workloads(docs)
    assert found["a"]["spec"]["selector"] == {"matchLabels": {POD: "b"}}
    assert pod_template(found["a"])["metadata"]["labels"][POD] == "b"
    own = pod_template(found["b"])["metadata"]["labels"][POD]
    assert own != "b"
    assert found["b"]["spec"]["selector"] == {"matchLabels": {POD: own}}
    for name, value in (("a", "b"), ("b", own)):
        anti = pod_spec(found[name])["affinity"]["podAntiAffinity"][REQUIRED]
        assert anti == [{"labelSelector": {"matchLabels": {POD: value}}, "topologyKey": HOST}]
        assert budgets(docs)[name]["spec"]["selector"] == {"matchLabels": {POD: value}}


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
    # Each workload keeps the name of the one it came from, so applying updates it.
    assert set(docs) <= {c.source.workload for c in parsed.containers if c.source}


def test_round_trip_keeps_source_names_and_selectors() -> None:
    parsed, plan = solved(labelled())
    first = export_k8s(parsed, plan)
    back = reimported(parsed, plan)
    assert layout_of(back) == grouping(plan)
    assert {c["name"] for c in back["containers"]} == {c.name for c in parsed.containers}
    # Exported again, each workload keeps the selector it was applied with.
    back["policy"] = {**back.get("policy", {}), "timeLimitSeconds": 5, "workers": 2}
    again_problem, again_plan = solved(back)
    again = workloads(export_k8s(again_problem, again_plan))
    for name, doc in workloads(first).items():
        assert again[name]["spec"]["selector"] == doc["spec"]["selector"]


MESHED = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {dapr.io/enabled: "true", dapr.io/app-id: web}
    spec:
      containers:
      - {name: web, image: shop/web:1, resources: {requests: {cpu: 200m, memory: 256Mi}}}
"""


def test_round_trip_keeps_injected_sidecars() -> None:
    imported = importer()(load_documents(MESHED, "meshed.yaml"), ImportOptions()).problem
    imported["policy"] = {**imported.get("policy", {}), "timeLimitSeconds": 5, "workers": 2}
    parsed, plan = solved(imported)
    assert any(c.source and c.source.injected_by for c in parsed.containers)
    web = workloads(export_k8s(parsed, plan))["web"]
    assert [c["name"] for c in pod_spec(web)["containers"]] == ["web"]
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    # The sidecars come back from the annotations, under the same names.
    assert layout_of(reimported(parsed, plan)) == grouping(plan)


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
