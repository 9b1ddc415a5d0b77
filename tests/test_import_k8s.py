"""Kubernetes manifests and node lists imported as layout problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup, TyperOption

from advisor.cli import app
from advisor.kube.common import (
    DEFAULT_POOL,
    ImportOptions,
    ImportResult,
    ManifestError,
    load_documents,
)
from advisor.kube.k8s import WORKLOAD_KINDS, import_k8s, is_k8s
from advisor.kube.nodes import import_nodes
from advisor.solve import advise
from models import Problem, parse_problem

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = Path(__file__).resolve().parents[2] / "shared" / "bench-data" / "manifests"


def manifests(relative: str) -> str:
    path = MANIFESTS / relative
    if not path.is_file():
        pytest.skip(f"bench manifests not available: {path}")
    return path.read_text(encoding="utf-8")


def imported(text: str, **options: Any) -> ImportResult:
    """Import YAML text; every import with a workload must be a valid problem."""
    result = import_k8s(load_documents(textwrap.dedent(text), "test.yaml"),
                        ImportOptions(**options))
    if result.problem["containers"]:
        parse_problem(result.problem)
    return result


def docs(*parts: str) -> str:
    """YAML documents, each dedented on its own, as one multi-document text."""
    return "---\n".join(textwrap.dedent(p).strip("\n") + "\n" for p in parts)


def containers(result: ImportResult) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result.problem["containers"]}


def pods(result: ImportResult) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in result.problem["layout"]["pods"]}


def warned(result: ImportResult, *words: str) -> list[str]:
    return [w for w in result.warnings if all(word in w for word in words)]


def quick(problem: dict[str, Any]) -> Problem:
    """A problem made cheap to solve on a busy machine."""
    problem["policy"].update({"timeLimitSeconds": 5.0, "workers": 2, "seed": 0})
    return parse_problem(problem)


def deployment(name: str, *, replicas: int = 1, pod_spec: str = "", template_meta: str = "",
               namespace: str | None = None) -> str:
    """A Deployment with one `app` container unless `pod_spec` gives the pod spec body."""
    spec = textwrap.dedent(pod_spec or """
        containers:
          - name: app
            image: example/app
            resources: {requests: {cpu: 100m, memory: 64Mi}}
        """).strip("\n")
    meta = textwrap.dedent(template_meta or f"labels: {{app: {name}}}").strip("\n")
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}{ns}\n"
            f"spec:\n  replicas: {replicas}\n  template:\n    metadata:\n"
            + textwrap.indent(meta, "      ") + "\n    spec:\n"
            + textwrap.indent(spec, "      ") + "\n")


# --- real applications -------------------------------------------------------------------

BOUTIQUE = ["adservice", "cartservice", "checkoutservice", "currencyservice", "emailservice",
            "frontend", "loadgenerator", "paymentservice", "productcatalogservice",
            "recommendationservice", "redis-cart", "shippingservice"]


def test_online_boutique_imports_its_twelve_services() -> None:
    result = imported(manifests("online-boutique/kubernetes-manifests.yaml"))
    found = containers(result)
    assert sorted(found) == BOUTIQUE
    assert sorted(pods(result)) == BOUTIQUE
    assert all(p["containers"] == [p["name"]] and p["replicas"] == 1
               for p in pods(result).values())
    frontend = found["frontend"]
    assert frontend["requests"] == {"cpu": "100m", "memory": "64Mi"}
    assert frontend["limits"] == {"cpu": "200m", "memory": "128Mi"}
    # The main container carries the pod template's labels and annotations for export.
    assert frontend["source"] == {
        "kind": "Deployment", "workload": "frontend", "container": "server",
        "labels": {"app": "frontend"},
        "annotations": {"sidecar.istio.io/rewriteAppHTTPProbers": "true"},
        "selector": {"matchLabels": {"app": "frontend"}},
        # Where it is written: its document (after `---` on line 20) and its entry.
        "file": "test.yaml", "line": 21, "containerLine": 45}
    assert frontend["image"].endswith("/frontend:v0.10.6")
    assert frontend["ports"] == [8080]
    assert found["redis-cart"]["requests"] == {"cpu": "70m", "memory": "200Mi"}
    assert found["adservice"]["requests"] == {"cpu": "200m", "memory": "180Mi"}
    # loadgenerator's init container requests nothing: its main request stays as written.
    assert found["loadgenerator"]["requests"] == {"cpu": "300m", "memory": "256Mi"}
    assert not any("defaultedRequests" in c for c in found.values())
    assert result.problem["hints"] == []
    assert "pools" in result.problem
    # Each Service selects one workload: nothing to join, and Services are not skipped.
    [skipped] = warned(result, "skipped")
    assert "ServiceAccount (11)" in skipped
    assert "Service (" not in skipped
    assert not any("component" in c for c in found.values())
    assert warned(result, "no node list given")


def test_online_boutique_plan_is_feasible() -> None:
    result = imported(manifests("online-boutique/kubernetes-manifests.yaml"))
    plan = advise(quick(result.problem))
    assert plan.status != "infeasible"
    assert sorted(c for pod in plan.pods for c in pod.containers) == BOUTIQUE


def test_istio_manifests_hold_no_workload() -> None:
    result = imported(manifests("online-boutique/istio-manifests.yaml"))
    assert result.problem["containers"] == []
    assert "layout" not in result.problem
    skipped = warned(result, "skipped")
    assert len(skipped) == 1
    for kind in ("Gateway (1)", "HTTPRoute (1)", "ServiceEntry (2)", "VirtualService (1)"):
        assert kind in skipped[0]
    assert warned(result, "no workload")


SOCK_SHOP_UNREQUESTED = ["carts-db", "catalogue-db", "orders-db", "rabbitmq",
                         "rabbitmq-exporter", "session-db", "user-db"]


def test_sock_shop_keeps_rabbitmq_and_its_exporter_in_one_pod() -> None:
    result = imported(manifests("sock-shop/complete-demo.yaml"))
    assert pods(result)["rabbitmq"]["containers"] == ["rabbitmq", "rabbitmq-exporter"]
    assert {"type": "adapter", "container": "rabbitmq-exporter",
            "main": "rabbitmq"} in result.problem["hints"]
    found = containers(result)
    assert found["rabbitmq"]["replicas"] == 1
    assert "replicas" not in found["rabbitmq-exporter"]
    assert found["rabbitmq"]["ports"] == [15672, 5672]
    assert found["rabbitmq-exporter"]["ports"] == [9090]
    assert found["carts"]["source"]["namespace"] == "sock-shop"
    # Every workload selects beta.kubernetes.io/os=linux, which the assumed pool lacks.
    assert not any("nodeSelector" in c for c in found.values())
    assert warned(result, "beta.kubernetes.io/os=linux", "14 workloads")


def test_sock_shop_databases_without_requests_are_flagged() -> None:
    result = imported(manifests("sock-shop/complete-demo.yaml"))
    found = containers(result)
    defaulted = sorted(n for n, c in found.items() if c.get("defaultedRequests"))
    assert defaulted == SOCK_SHOP_UNREQUESTED
    assert found["carts-db"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert found["carts-db"]["defaultedRequests"] == ["cpu", "memory"]
    assert found["carts"]["requests"] == {"cpu": "100m", "memory": "200Mi"}
    plan = advise(quick(result.problem))
    assert plan.status != "infeasible"
    flagged = {s for f in plan.findings if f.code == "NO_REQUESTS" for s in f.subjects}
    assert set(SOCK_SHOP_UNREQUESTED) <= flagged
    assert "carts" not in flagged


# --- kinds, documents and lists ----------------------------------------------------------

ALL_KINDS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  template:
    spec:
      containers: [{name: web, image: nginx, resources: {requests: {cpu: 200m, memory: 1Gi}}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  template:
    spec:
      containers: [{name: postgres, resources: {requests: {cpu: "1", memory: 2Gi}}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers: [{name: agent, resources: {requests: {cpu: 50m, memory: 32Mi}}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: cache}
spec:
  replicas: 2
  template:
    spec:
      containers: [{name: redis, resources: {requests: {cpu: 100m, memory: 256Mi}}}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  template:
    spec:
      containers: [{name: legacy, resources: {requests: {cpu: 100m, memory: 64Mi}}}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  parallelism: 2
  template:
    spec:
      containers: [{name: migrate, resources: {requests: {cpu: 500m, memory: 128Mi}}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      parallelism: 3
      template:
        spec:
          containers: [{name: report, resources: {requests: {cpu: 250m, memory: 128Mi}}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: cleanup, resources: {requests: {cpu: 10m, memory: 16Mi}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: shell, resources: {requests: {cpu: 10m, memory: 16Mi}}}]
"""


def test_every_workload_kind_becomes_one_layout_pod() -> None:
    result = imported(ALL_KINDS)
    replicas = {name: p["replicas"] for name, p in pods(result).items()}
    assert replicas == {"web": 3, "db": 2, "cache": 2, "legacy": 1, "migrate": 2,
                        "report": 3, "cleanup": 1, "debug": 1}
    found = containers(result)
    kinds = {c["source"]["kind"] for c in found.values()}
    # A DaemonSet is per-node overhead, not a pod to place.
    assert kinds == WORKLOAD_KINDS - {"DaemonSet"}
    assert "agent" not in found
    assert found["db"]["source"] == {"kind": "StatefulSet", "workload": "db",
                                     "container": "postgres", "file": "test.yaml",
                                     "line": 11, "containerLine": 18}
    assert found["db"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    # Batch work is not a service: a failure stops nothing that must stay up.
    assert {n for n, c in found.items() if c.get("critical") is False} == {
        "migrate", "report", "cleanup"}
    assert warned(result, "DaemonSets", "per-node overhead", "default-pool (each node): "
                  "cpu 50m, memory 32Mi, pods 1 (agent)")
    assert result.problem["pools"][0]["allocatable"] == {"cpu": "3950m", "memory": "16352Mi",
                                                         "pods": "109"}
    assert not warned(result, "skipped")


def test_a_list_and_a_plain_list_are_flattened() -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
         "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}},
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"},
             "spec": {"containers": [{"name": "b"}]}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}]}]}
    result = imported(json.dumps(listed))
    assert sorted(pods(result)) == ["a", "b"]
    assert not warned(result, "skipped")  # a Service is read (this one selects nothing)
    plain = import_k8s(load_documents(json.dumps(listed["items"]), "list.json"),
                       ImportOptions())
    assert sorted(c["name"] for c in plain.problem["containers"]) == ["a", "b"]


def test_is_k8s_tells_manifests_from_problems() -> None:
    assert is_k8s({"apiVersion": "v1", "kind": "Pod"})
    assert is_k8s({"items": [{"apiVersion": "v1", "kind": "Node"}]})
    assert is_k8s([{"apiVersion": "v1", "kind": "Node"}])
    assert not is_k8s({"containers": [{"name": "web"}]})
    assert not is_k8s({"kind": "Pod"})
    assert not is_k8s({"items": []})
    assert not is_k8s([])
    assert not is_k8s("kind: Pod")
    assert not is_k8s(None)


# --- containers ----------------------------------------------------------------------------

def test_limits_become_requests_and_missing_requests_are_defaulted() -> None:
    result = imported(deployment("app", pod_spec="""
        containers:
          - name: limited
            resources: {limits: {cpu: 500m, memory: 256Mi, nvidia.com/gpu: 1}}
          - name: half
            resources: {requests: {memory: 64Mi}}
          - name: bare
        """), default_requests={"cpu": "50m", "memory": "32Mi"})
    found = containers(result)
    assert found["limited"]["requests"] == {"cpu": "500m", "memory": "256Mi",
                                            "nvidia.com/gpu": "1"}
    assert found["limited"]["limits"] == {"cpu": "500m", "memory": "256Mi",
                                          "nvidia.com/gpu": "1"}
    assert "defaultedRequests" not in found["limited"]
    assert found["half"]["requests"] == {"memory": "64Mi", "cpu": "50m"}
    assert found["half"]["defaultedRequests"] == ["cpu"]
    assert found["bare"]["requests"] == {"cpu": "50m", "memory": "32Mi"}
    assert found["bare"]["defaultedRequests"] == ["cpu", "memory"]
    assert found["limited"]["replicas"] == 1
    assert "replicas" not in found["half"]
    assert "critical" not in found["limited"]


def test_helpers_are_typed_by_name_and_image() -> None:
    result = imported(deployment("shop", replicas=2, pod_spec="""
        containers:
          - {name: shop, image: example/shop}
          - {name: stats, image: prom/statsd-exporter}
          - {name: envoy, image: envoyproxy/envoy}
          - {name: logs, image: fluent/fluent-bit}
        """))
    assert result.problem["hints"] == [
        {"type": "adapter", "container": "stats", "main": "shop"},
        {"type": "ambassador", "container": "envoy", "main": "shop"},
        {"type": "sidecar", "container": "logs", "main": "shop"},
    ]
    assert pods(result)["shop"] == {"name": "shop", "replicas": 2,
                                    "containers": ["shop", "stats", "envoy", "logs"]}


def test_native_sidecar_init_container_runs_beside_the_main() -> None:
    result = imported(deployment("api", pod_spec="""
        initContainers:
          - name: setup
            resources: {requests: {cpu: 100m, memory: 64Mi}}
          - name: mesh
            image: example/mesh
            restartPolicy: Always
            resources: {requests: {cpu: 50m, memory: 32Mi}}
            ports: [{containerPort: 15001}]
        containers:
          - name: api
            resources: {requests: {cpu: 200m, memory: 128Mi}}
        """))
    found = containers(result)
    assert sorted(found) == ["api", "mesh"]
    assert "setup" not in str(result.problem["containers"])
    assert found["mesh"]["source"]["container"] == "mesh"
    assert found["mesh"]["ports"] == [15001]
    assert {"type": "sidecar", "container": "mesh", "main": "api"} in result.problem["hints"]
    assert pods(result)["api"]["containers"] == ["api", "mesh"]
    assert found["api"]["requests"] == {"cpu": "200m", "memory": "128Mi"}


def test_init_containers_raise_the_pod_request_as_the_scheduler_does() -> None:
    # Running: app 100m/64Mi + sidecar 50m/32Mi = 150m/96Mi.
    # Init `early` (before the sidecar): 400m/64Mi. Init `late` (after it): 200m + 50m, 100Mi +
    # 32Mi = 250m/132Mi. The pod reserves max(400m, 150m) cpu, max(132Mi, 96Mi) memory.
    result = imported(deployment("batch", pod_spec="""
        initContainers:
          - name: early
            resources: {requests: {cpu: 400m, memory: 64Mi}}
          - name: log
            restartPolicy: Always
            resources: {requests: {cpu: 50m, memory: 32Mi}}
          - name: late
            resources: {limits: {cpu: 200m, memory: 100Mi}}
        containers:
          - name: app
            resources:
              requests: {cpu: 100m, memory: 64Mi}
              limits: {cpu: 500m, memory: 80Mi}
        """))
    found = containers(result)
    assert found["app"]["requests"] == {"cpu": "350m", "memory": "100Mi"}
    assert found["app"]["limits"] == {"cpu": "500m", "memory": "100Mi"}  # not below request
    assert found["log"]["requests"] == {"cpu": "50m", "memory": "32Mi"}
    assert warned(result, "early", "400m", "150m", "raised by 250m")
    assert warned(result, "late", "132Mi", "96Mi", "and its limit")


def test_ports_keep_their_protocol_and_clashes_are_kept_once() -> None:
    result = imported(deployment("dns", pod_spec="""
        containers:
          - name: dns
            ports:
              - {containerPort: 53, protocol: UDP}
              - {containerPort: 53, protocol: TCP}
              - {containerPort: 9153}
          - name: metrics
            ports: [{containerPort: 9153}, {containerPort: 9100}]
        """))
    found = containers(result)
    assert found["dns"]["ports"] == [{"port": 53, "protocol": "UDP"}, 53, 9153]
    assert found["metrics"]["ports"] == [9100]
    assert warned(result, "9153/TCP", "dns")


def test_shared_empty_dir_couples_helpers_and_volumes_are_named() -> None:
    result = imported("""
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
                - name: web
                  volumeMounts: [{name: data, mountPath: /d}, {name: cache, mountPath: /c}]
                - name: shipper
                  volumeMounts: [{name: logs, mountPath: /l}, {name: config, mountPath: /e}]
                - name: rotator
                  volumeMounts: [{name: logs, mountPath: /l}, {name: logs, mountPath: /x}]
                - name: syncer
                  volumeMounts: [{name: cache, mountPath: /c}]
              volumes:
                - {name: data, persistentVolumeClaim: {claimName: shared-files}}
                - {name: logs, emptyDir: {}}
                - {name: cache, emptyDir: {medium: Memory}}
                - {name: config, configMap: {name: web-config}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reader}
        spec:
          template:
            spec:
              containers:
                - name: reader
                  volumeMounts: [{name: files, mountPath: /f}]
              volumes:
                - {name: files, persistentVolumeClaim: {claimName: shared-files}}
        """)
    found = containers(result)
    assert found["web"]["volumes"] == ["pvc:shared-files", "web-cache"]
    assert found["reader"]["volumes"] == ["pvc:shared-files"]
    assert found["shipper"]["volumes"] == ["web-logs", "web-config"]
    assert found["rotator"]["volumes"] == ["web-logs"]
    hints = result.problem["hints"]
    # shipper and rotator serve web but not each other: the emptyDir ties them; web and
    # syncer are tied by the helper hint already.
    assert {"type": "samePod", "containers": ["rotator", "shipper"]} in hints
    assert [h for h in hints if h["type"] == "samePod"] == [
        {"type": "samePod", "containers": ["rotator", "shipper"]}]


# --- scheduling -----------------------------------------------------------------------------

def test_node_selector_affinity_and_tolerations_go_to_every_container() -> None:
    result = imported(deployment("gpu", pod_spec="""
        nodeSelector: {disktype: ssd}
        affinity:
          nodeAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              nodeSelectorTerms:
                - matchExpressions:
                    - {key: accelerator, operator: In, values: [a100]}
            preferredDuringSchedulingIgnoredDuringExecution:
              - weight: 1
                preference: {matchExpressions: [{key: zone, operator: In, values: [a]}]}
        tolerations:
          - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
          - {key: dedicated, value: ml, effect: NoExecute, tolerationSeconds: 60}
          - {operator: Exists}
        containers:
          - name: trainer
          - name: sync
        """))
    for cont in containers(result).values():
        assert cont["nodeSelector"] == {"disktype": "ssd", "accelerator": "a100"}
        assert cont["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute",
             "tolerationSeconds": 60},
            {"operator": "Exists"},
        ]
    assert not warned(result, "nodeAffinity")


def test_node_affinity_beyond_a_selector_is_reported() -> None:
    result = imported(deployment("web", pod_spec="""
        affinity:
          nodeAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              nodeSelectorTerms:
                - matchExpressions:
                    - {key: zone, operator: In, values: [a, b]}
        containers: [{name: web}]
        """))
    assert "nodeSelector" not in containers(result)["web"]
    assert warned(result, "Deployment web", "nodeAffinity", "not modelled")


def test_anti_affinity_on_itself_spreads_over_nodes() -> None:
    anti = """
        affinity:
          podAntiAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              - labelSelector: {matchLabels: {app: web}}
                topologyKey: kubernetes.io/hostname
            preferredDuringSchedulingIgnoredDuringExecution:
              - weight: 100
                podAffinityTerm:
                  labelSelector: {matchLabels: {app: other}}
                  topologyKey: kubernetes.io/hostname
        containers: [{name: web}]
        """
    # A workload of one replica has nothing to spread: it does not hold the policy back.
    result = imported(deployment("web", replicas=3, pod_spec=anti)
                      + "---\n" + deployment("worker"))
    assert result.problem["policy"] == {"spread": "node"}
    assert result.problem["hints"] == []
    assert not warned(result, "spread")
    alone = imported(deployment("web", replicas=3, pod_spec=anti))
    assert alone.problem["policy"]["spread"] == "node"
    assert not warned(alone, "spread")


def test_spreading_one_workload_never_constrains_another() -> None:
    anti = """
        affinity:
          podAntiAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              - labelSelector: {matchLabels: {app: web}}
                topologyKey: kubernetes.io/hostname
        containers: [{name: web}]
        """
    # worker has 4 replicas and did not ask: one per node for it could be infeasible.
    result = imported(deployment("web", replicas=3, pod_spec=anti)
                      + "---\n" + deployment("worker", replicas=4))
    assert result.problem["policy"]["spread"] == "none"
    assert warned(result, "not enforced", "Deployment web (podAntiAffinity on "
                  "kubernetes.io/hostname)", "Deployment worker did not ask",
                  "modelled as a preference: replicas of critical pods are spread by the SPOF "
                  "objective")
    # More replicas than nodes to keep them apart on: they could not all run.
    nodes = [{"name": f"n{i}", "allocatable": {"cpu": "4", "memory": "16Gi"}}
             for i in (1, 2)]
    crowded = imported(deployment("web", replicas=3, pod_spec=anti), nodes=nodes)
    assert crowded.problem["policy"]["spread"] == "none"
    assert warned(crowded, "not enforced", "Deployment web has 3 replicas and 2 node(s) given "
                  "admit it", "could not all run")
    roomy = imported(deployment("web", replicas=2, pod_spec=anti), nodes=nodes)
    assert roomy.problem["policy"]["spread"] == "node"
    assert not warned(roomy, "spread")


def test_affinity_between_workloads_becomes_node_hints() -> None:
    result = imported(deployment("db-primary", pod_spec="""
        affinity:
          podAntiAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              - labelSelector:
                  matchExpressions: [{key: role, operator: In, values: [db]}]
                topologyKey: kubernetes.io/hostname
        containers: [{name: postgres}]
        """, template_meta="labels: {app: primary, role: db}")
        + "---\n" + deployment("db-replica", pod_spec="""
        containers: [{name: postgres}]
        """, template_meta="labels: {app: replica, role: db}")
        + "---\n" + deployment("app", pod_spec="""
        affinity:
          podAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              - labelSelector: {matchLabels: {app: cache}}
                topologyKey: kubernetes.io/hostname
          podAntiAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              - labelSelector: {matchLabels: {app: nothing-here}}
                topologyKey: kubernetes.io/hostname
        containers: [{name: app}]
        """) + "---\n" + deployment("cache"))
    hints = result.problem["hints"]
    assert {"type": "separateNodes", "containers": ["db-primary", "db-replica"]} in hints
    assert {"type": "sameNode", "containers": ["app", "cache"]} in hints
    assert len(hints) == 2
    # The primary's rule also matches its own labels, but one replica has nothing to spread.
    assert result.problem["policy"]["spread"] == "none"
    assert warned(result, "Deployment app", "podAntiAffinity", "selects no workload")
    # app has no more replicas than cache: sameNode (cache follows app) is the rule.
    assert not warned(result, "does not hold")


def test_affinity_on_a_pod_with_fewer_replicas_is_said_not_to_hold() -> None:
    result = imported(deployment("app", replicas=3, pod_spec="""
        affinity:
          podAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              - labelSelector: {matchLabels: {app: cache}}
                topologyKey: kubernetes.io/hostname
        containers: [{name: app}]
        """) + "---\n" + deployment("cache", replicas=2))
    assert result.problem["hints"] == [{"type": "sameNode", "containers": ["app", "cache"]}]
    assert warned(result, "Deployment app", "podAffinity on Deployment cache",
                  "2 replica(s) of cache beside app", "every one of the 3 replicas of app")


def zone_spread(skew: int = 1) -> str:
    return f"""
        topologySpreadConstraints:
          - maxSkew: {skew}
            topologyKey: topology.kubernetes.io/zone
            whenUnsatisfiable: DoNotSchedule
            labelSelector: {{matchLabels: {{app: web}}}}
          - maxSkew: 1
            topologyKey: kubernetes.io/hostname
            whenUnsatisfiable: ScheduleAnyway
            labelSelector: {{matchLabels: {{app: web}}}}
        containers: [{{name: web}}]
        """


def test_spread_is_the_least_every_replicated_workload_asks_for() -> None:
    api = deployment("api", replicas=2, pod_spec="""
        topologySpreadConstraints:
          - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
             labelSelector: {matchLabels: {app: api}}}
        containers: [{name: api}]
        """)
    result = imported(deployment("web", replicas=3, pod_spec=zone_spread()) + "---\n" + api)
    # Zone spreading also keeps one replica per node: node is what both ask for at least.
    assert result.problem["policy"]["spread"] == "node"
    assert warned(result, "not enforced", "Deployment web (a topology spread constraint over "
                  "zones)", "policy.spread is 'node'")
    assert not warned(result, "Deployment api (")
    zones = imported(deployment("web", replicas=3, pod_spec=zone_spread()))
    assert zones.problem["policy"]["spread"] == "zone"
    assert not warned(zones, "spread")
    # maxSkew 2 allows two replicas of a zone more than another: weaker than a node spread.
    loose = imported(deployment("web", replicas=3, pod_spec=zone_spread(2)) + "---\n" + api)
    assert loose.problem["policy"]["spread"] == "none"
    assert warned(loose, "not enforced", "Deployment api (a topology spread constraint over "
                  "nodes)", "Deployment web (a topology spread constraint over zones with "
                  "maxSkew 2)", "Deployment web did not ask")


NODES: list[dict[str, Any]] = [
    {"name": "n1", "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
     "labels": {"kubernetes.io/os": "linux"}},
    {"name": "n2", "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
     "labels": {"kubernetes.io/os": "linux"},
     "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
    {"name": "n3", "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
     "labels": {"kubernetes.io/os": "linux"},
     "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
    {"name": "n4", "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
     "labels": {"kubernetes.io/os": "windows"}},
]


def daemonset(name: str, pod_spec: str) -> str:
    return (f"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: {name}}}\nspec:\n"
            "  template:\n    spec:\n"
            + textwrap.indent(textwrap.dedent(pod_spec).strip("\n"), "      ") + "\n")


def test_daemonsets_are_overhead_on_every_node_they_admit() -> None:
    agent = daemonset("agent", """
        nodeSelector: {kubernetes.io/os: linux}
        containers: [{name: agent, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
        """)
    # gpu-logs tolerates dedicated=gpu; its init container needs more cpu than it runs with.
    logs = daemonset("gpu-logs", """
        tolerations: [{key: dedicated, operator: Equal, value: gpu}]
        initContainers: [{name: setup, resources: {requests: {cpu: 300m}}}]
        containers: [{name: logs, resources: {requests: {cpu: 50m, memory: 64Mi}}}]
        """)
    result = imported(docs(agent, logs, deployment("web")), nodes=NODES, time_limit_seconds=7)
    assert sorted(pods(result)) == ["web"]
    assert sorted(containers(result)) == ["web"]
    alloc = {n["name"]: n["allocatable"] for n in result.problem["nodes"]}
    # n1, n2 (the cordon taint is tolerated by every DaemonSet): both; n3: gpu-logs only
    # (its taint keeps agent away); n4: gpu-logs only (not linux).
    assert alloc["n1"] == {"cpu": "3600m", "memory": "16192Mi", "pods": "108"}
    assert alloc["n2"] == alloc["n1"]
    assert alloc["n3"] == {"cpu": "3700m", "memory": "16320Mi", "pods": "109"}
    assert alloc["n4"] == alloc["n3"]
    assert NODES[0]["allocatable"]["cpu"] == "4"  # the caller's list is not changed
    assert result.problem["policy"] == {"spread": "none", "timeLimitSeconds": 7.0}
    overhead = warned(result, "DaemonSets", "per-node overhead")
    assert len(overhead) == 1
    assert "n1, n2: cpu 400m, memory 192Mi, pods 2 (agent, gpu-logs)" in overhead[0]
    assert "n3, n4: cpu 300m, memory 64Mi, pods 1 (gpu-logs)" in overhead[0]
    # Without a node list, the assumed pool's nodes carry it (the selector on the OS label
    # is dropped, as the pool has no labels).
    alone = imported(docs(agent, deployment("web")))
    assert alone.problem["pools"][0]["allocatable"]["cpu"] == "3900m"
    assert alone.problem["pools"][0]["allocatable"]["pods"] == "109"
    assert DEFAULT_POOL["allocatable"]["cpu"] == "4"
    assert warned(alone, "default-pool (each node): cpu 100m, memory 128Mi, pods 1 (agent)")


def test_daemonset_overhead_beyond_a_node_is_clamped() -> None:
    big = daemonset("big", """
        containers: [{name: big, resources: {requests: {cpu: "6", memory: 1Gi}}}]
        """)
    nowhere = daemonset("picky", """
        nodeSelector: {disktype: nvme}
        containers: [{name: picky}]
        """)
    result = imported(docs(big, nowhere, deployment("web")), nodes=NODES[:1])
    assert result.problem["nodes"][0]["allocatable"] == {"cpu": "0", "memory": "15Gi",
                                                         "pods": "109"}
    assert warned(result, "clamped at 0", "n1 (cpu)")
    assert warned(result, "DaemonSet picky", "no node given admits it")
    parse_problem(result.problem)


# --- injected sidecars ----------------------------------------------------------------------

def test_istio_sidecar_by_annotation_and_by_namespace_label() -> None:
    result = imported(docs(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: mesh, labels: {istio-injection: enabled}}
        """,
        deployment("web", namespace="mesh"),
        deployment("opt-out", namespace="mesh",
                   template_meta='annotations: {sidecar.istio.io/inject: "false"}'),
        deployment("tuned", template_meta="""
            annotations:
              sidecar.istio.io/inject: "true"
              sidecar.istio.io/proxyCPU: 250m
            """)), injected_requests={"istio-proxy": {"cpu": "10m", "memory": "40Mi"}})
    found = containers(result)
    assert sorted(found) == ["opt-out", "tuned", "tuned-istio-proxy", "web",
                             "web-istio-proxy"]
    proxy = found["web-istio-proxy"]
    assert proxy["requests"] == {"cpu": "10m", "memory": "40Mi"}
    assert proxy["defaultedRequests"] == ["cpu", "memory"]
    # Not written in the manifests: located at its workload only.
    assert proxy["source"] == {"kind": "Deployment", "workload": "web",
                               "container": "istio-proxy", "namespace": "mesh",
                               "injectedBy": "istio", "file": "test.yaml", "line": 5}
    assert found["tuned-istio-proxy"]["requests"] == {"cpu": "250m", "memory": "40Mi"}
    assert found["tuned-istio-proxy"]["defaultedRequests"] == ["memory"]
    assert {"type": "sidecar", "container": "web-istio-proxy", "main": "web"} in (
        result.problem["hints"])
    assert pods(result)["web"]["containers"] == ["web", "web-istio-proxy"]
    assert warned(result, "Namespace (1)")


def test_dapr_sidecar_reads_its_annotations() -> None:
    result = imported(deployment("orders", template_meta="""
        annotations:
          dapr.io/enabled: "true"
          dapr.io/app-id: orders
          dapr.io/sidecar-cpu-request: 50m
          dapr.io/sidecar-memory-request: 64Mi
        """) + "---\n" + deployment("basket", template_meta="""
        annotations: {dapr.io/enabled: "true"}
        """))
    found = containers(result)
    daprd = found["orders-daprd"]
    assert daprd["requests"] == {"cpu": "50m", "memory": "64Mi"}
    assert "defaultedRequests" not in daprd
    assert daprd["ports"] == [3500, 50001]
    assert daprd["source"]["container"] == "daprd"
    assert daprd["source"]["injectedBy"] == "dapr"
    # Only the main container carries the template's annotations, which turn dapr on.
    assert found["orders"]["source"]["annotations"]["dapr.io/enabled"] == "true"
    assert "annotations" not in daprd["source"]
    assert found["basket-daprd"]["requests"] == {"cpu": "100m", "memory": "250Mi"}
    assert found["basket-daprd"]["defaultedRequests"] == ["cpu", "memory"]
    assert {"type": "sidecar", "container": "basket-daprd", "main": "basket"} in (
        result.problem["hints"])


# --- names and skipping ---------------------------------------------------------------------

def test_clashing_workload_names_are_made_unique() -> None:
    result = imported(deployment("api", namespace="a") + "---\n"
                      + deployment("api", namespace="b") + "---\n"
                      + "apiVersion: v1\nkind: Pod\nmetadata: {name: API_v2}\n"
                        "spec:\n  containers: [{name: x}, {name: y}]\n")
    assert list(pods(result)) == ["api", "api-b", "api-v2"]
    assert pods(result)["api-b"]["containers"] == ["api-b"]
    assert pods(result)["api-v2"]["containers"] == ["x", "y"]
    assert containers(result)["api-b"]["source"] == {
        "kind": "Deployment", "workload": "api", "container": "app", "namespace": "b",
        "labels": {"app": "api"}, "file": "test.yaml", "line": 17, "containerLine": 29}


def test_owned_and_idle_objects_and_unknown_kinds_are_skipped() -> None:
    result = imported(docs(deployment("web"), """
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: web-5d4f
          ownerReferences: [{kind: Deployment, name: web, apiVersion: apps/v1, uid: x}]
        spec:
          replicas: 1
          template: {spec: {containers: [{name: app}]}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: old}
        spec:
          replicas: 0
          template: {spec: {containers: [{name: app}]}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: a}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: b}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        """))
    assert list(pods(result)) == ["web"]
    assert warned(result, "skipped 3", "ConfigMap (1)", "VirtualService (2)")
    assert warned(result, "owner", "ReplicaSet web-5d4f")
    assert warned(result, "scaled to 0", "Deployment old")


# --- malformed input -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "line", "words"), [
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n"
     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: empty}\n"
     "spec: {template: {spec: {containers: []}}}\n", 5,
     ["Deployment empty", "spec.template.spec.containers", "at least one container"]),
    ("- just\n- strings\n", 1, ["expected a Kubernetes object"]),
    ("apiVersion: v1\nmetadata: {name: x}\n", 1, ["no kind"]),
    ("\n\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
     "spec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}\n", 3,
     ["Pod p", "spec.containers[0].resources.requests.cpu", "not a Kubernetes quantity"]),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
     "spec: {containers: [{name: c, resources: {requests: {cpu: 2}, limits: {cpu: 1}}}]}\n",
     1, ["Pod p", "requests.cpu", "above its limit"]),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
     "spec: {replicas: three, template: {spec: {containers: [{name: c}]}}}\n", 1,
     ["Deployment d", "spec.replicas"]),
    ("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
     "spec: {parallelism: 20000, template: {spec: {containers: [{name: c}]}}}\n", 1,
     ["Job j", "spec.parallelism", "10000"]),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2}\n", 1,
     ["Deployment d", "spec.template", "pod template"]),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
     "spec: {template: {spec: {containers: {name: c}}}}\n", 1,
     ["spec.template.spec.containers", "expected a list"]),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
     "spec: {containers: [{name: c, ports: [{containerPort: http}]}]}\n", 1,
     ["spec.containers[0].ports[0].containerPort"]),
    ("apiVersion: v1\nkind: Pod\nmetadata: {labels: {a: b}}\nspec: {containers: [{name: c}]}\n",
     1, ["Pod", "metadata.name"]),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
     "spec: {containers: [{name: c}], tolerations: [{operator: Maybe}]}\n", 1,
     ["spec.tolerations[0].operator"]),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
     "spec: {containers: [{name: c}, {name: c}]}\n", 1, ["'c'", "2 times"]),
])
def test_malformed_manifests_name_the_file_line_and_field(text: str, line: int,
                                                          words: list[str]) -> None:
    with pytest.raises(ManifestError) as caught:
        import_k8s(load_documents(text, "bad.yaml"), ImportOptions())
    error = caught.value
    assert (error.source, error.line) == ("bad.yaml", line)
    assert str(error).startswith(f"bad.yaml:{line}: ")
    for word in words:
        assert word in error.message


# --- nodes -------------------------------------------------------------------------------------

NODE_LIST = {
    "apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": "ip-10-0-1-5.ec2.internal",
                      "labels": {"topology.kubernetes.io/zone": "us-east-1a",
                                 "kubernetes.io/os": "linux", "disktype": "ssd"}},
         "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule",
                              "timeAdded": None}]},
         "status": {"capacity": {"cpu": "4", "memory": "16Gi"},
                    "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110",
                                    "ephemeral-storage": "47060071478", "hugepages-1Gi": "0",
                                    "hugepages-2Mi": "512Mi", "nvidia.com/gpu": "1",
                                    "attachable-volumes-aws-ebs": "25"}}},
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": "Worker_B",
                      "labels": {"failure-domain.beta.kubernetes.io/zone": "us-east-1b"}},
         "status": {"allocatable": {"cpu": 8, "memory": "32Gi", "pods": 110}}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cordoned"},
         "spec": {"unschedulable": True},
         "status": {"allocatable": {"cpu": "4", "memory": "16Gi"}}},
    ],
}


def test_node_list_becomes_problem_nodes() -> None:
    nodes = import_nodes(load_documents(json.dumps(NODE_LIST), "nodes.json"))
    assert nodes == [
        {"name": "ip-10-0-1-5.ec2.internal",
         "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110",
                         "ephemeral-storage": "47060071478", "hugepages-2Mi": "512Mi",
                         "nvidia.com/gpu": "1"},
         "zone": "us-east-1a",
         "labels": {"topology.kubernetes.io/zone": "us-east-1a", "kubernetes.io/os": "linux",
                    "disktype": "ssd"},
         "taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]},
        {"name": "worker-b", "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
         "zone": "us-east-1b",
         "labels": {"failure-domain.beta.kubernetes.io/zone": "us-east-1b"}},
    ]
    # A single Node, and a plain list, are read too.
    single = import_nodes(load_documents(json.dumps(NODE_LIST["items"][1]), "node.json"))
    assert [n["name"] for n in single] == ["worker-b"]
    listed = import_nodes(load_documents(json.dumps(NODE_LIST["items"]), "nodes.json"))
    assert [n["name"] for n in listed] == ["ip-10-0-1-5.ec2.internal", "worker-b"]
    # The nodes make a valid problem with imported manifests, which keep their selectors.
    result = imported(deployment("db", pod_spec="""
        nodeSelector: {kubernetes.io/os: linux, beta.kubernetes.io/os: linux}
        tolerations: [{key: dedicated, value: db, effect: NoSchedule}]
        containers: [{name: db, resources: {requests: {cpu: "1", memory: 4Gi}}}]
        """), nodes=nodes)
    problem = parse_problem(result.problem)
    assert [n.name for n in problem.nodes] == ["ip-10-0-1-5.ec2.internal", "worker-b"]
    assert problem.nodes[0].taints[0].key == "dedicated"
    assert problem.containers[0].node_selector == {"kubernetes.io/os": "linux"}
    assert warned(result, "beta.kubernetes.io/os=linux", "the nodes given carry")
    plan = advise(quick(result.problem))
    assert [p.node for p in plan.placements] == ["ip-10-0-1-5.ec2.internal"]


@pytest.mark.parametrize(("data", "words"), [
    ({"apiVersion": "v1", "kind": "List", "items": []}, ["no Node found"]),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}, ["no Node found"]),
    ({"apiVersion": "v1", "kind": "List", "items": [NODE_LIST["items"][2]]},
     ["cordoned"]),
    ({"kind": "Node", "metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "x"}}},
     ["Node n", "status.allocatable.cpu"]),
    ({"kind": "Node", "metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "1"}},
      "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}},
     ["Node n", "spec.taints[0].effect"]),
    ({"kind": "Node", "metadata": {"name": 7}}, ["metadata.name"]),
    ({"kind": "Node", "metadata": {"name": "n"}, "status": "Ready"}, ["Node n", "status"]),
])
def test_bad_node_lists_are_reported(data: object, words: list[str]) -> None:
    with pytest.raises(ManifestError) as caught:
        import_nodes(load_documents(json.dumps(data), "nodes.json"))
    assert caught.value.source == "nodes.json"
    for word in words:
        assert word in caught.value.message


# --- autoscalers, Jobs, claims --------------------------------------------------------------

def autoscaler(target: str, minimum: int | None, *, kind: str = "Deployment",
               version: str = "autoscaling/v2") -> str:
    least = f"\n  minReplicas: {minimum}" if minimum is not None else ""
    return (f"apiVersion: {version}\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {target}}}\n"
            f"spec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: {kind}, name: {target}}}"
            f"{least}\n  maxReplicas: 10\n")


def test_autoscaler_raises_its_target_to_min_replicas() -> None:
    result = imported(docs(deployment("web", replicas=1), autoscaler("web", 3),
                           deployment("api", replicas=5),
                           autoscaler("api", 2, version="autoscaling/v1"),
                           deployment("lone"), autoscaler("gone", 4)))
    replicas = {name: p["replicas"] for name, p in pods(result).items()}
    assert replicas == {"web": 3, "api": 5, "lone": 1}
    assert warned(result, "HorizontalPodAutoscaler web scales Deployment web between 3 and 10",
                  "modelled at 3", "its 1 replica(s) and minReplicas")
    assert warned(result, "HorizontalPodAutoscaler api", "modelled at 5")
    assert warned(result, "HorizontalPodAutoscaler gone", "Deployment gone", "left out")
    assert not warned(result, "skipped")


def test_job_runs_no_more_pods_than_completions() -> None:
    def job(name: str, spec: str) -> str:
        return (f"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\n"
                f"spec: {{{spec}, template: {{spec: {{containers: [{{name: c}}]}}}}}}\n")
    result = imported(docs(job("wide", "parallelism: 5, completions: 2"),
                           job("narrow", "parallelism: 2, completions: 8"),
                           job("single", "completions: 3"),
                           job("free", "parallelism: 4"),
                           job("none", "parallelism: 3, completions: 0")))
    replicas = {name: p["replicas"] for name, p in pods(result).items()}
    assert replicas == {"wide": 2, "narrow": 2, "single": 1, "free": 4}
    assert warned(result, "scaled to 0", "Job none")


def test_claims_are_named_apart_from_pod_volumes() -> None:
    def mounting(name: str, namespace: str | None, volume: str) -> str:
        return deployment(name, namespace=namespace, pod_spec=f"""
            containers:
              - name: {name}
                volumeMounts: [{{name: data, mountPath: /d}}]
            volumes: [{volume}]
            """)
    result = imported(docs(
        mounting("writer", "shop", "{name: data, persistentVolumeClaim: {claimName: files}}"),
        mounting("reader", None, "{name: data, persistentVolumeClaim: {claimName: files}}"),
        # A workload named like a claim keeps a pod-local volume all the same.
        mounting("pvc-cleaner", None, "{name: data, emptyDir: {}}")))
    found = containers(result)
    assert found["writer"]["volumes"] == ["pvc:shop/files"]
    assert found["reader"]["volumes"] == ["pvc:files"]
    assert found["pvc-cleaner"]["volumes"] == ["pvc-cleaner-data"]


# --- Pods read from a cluster ------------------------------------------------------------------

def running_pod(name: str, owner: tuple[str, str] | None, node: str | None, *,
                labels: dict[str, str] | None = None, phase: str = "Running",
                annotations: dict[str, str] | None = None,
                containers_: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Pod as `kubectl get pods -o json` shows it."""
    meta: dict[str, Any] = {"name": name, "namespace": "shop",
                            "labels": labels or {"app": "web", "pod-template-hash": "5d9f8c7b6"},
                            "annotations": annotations or {}}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0],
                                    "name": owner[1], "uid": "u", "controller": True}]
    spec: dict[str, Any] = {"containers": containers_ or [
        {"name": "web", "image": "example/web",
         "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}}}]}
    if node is not None:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": phase}}


def pod_list(*items: dict[str, Any]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)})


def test_pods_of_one_controller_become_one_workload_placed_where_they_run() -> None:
    web = ("ReplicaSet", "web-5d9f8c7b6")
    result = imported(pod_list(
        running_pod("web-5d9f8c7b6-abcde", web, "n1",
                    labels={"app": "web", "pod-template-hash": "5d9f8c7b6", "tier": "front"},
                    annotations={"prometheus.io/scrape": "true",
                                 "cni.projectcalico.org/podIP": "10.0.0.5/32"}),
        running_pod("web-5d9f8c7b6-fghij", web, "n2"),
        running_pod("web-5d9f8c7b6-klmno", web, "n1"),
        running_pod("web-5d9f8c7b6-done1", web, "n3", phase="Succeeded"),
        # No hash label: the ReplicaSet's name still reads as `<deployment>-<hash>`.
        running_pod("api-7c9b5d4f8-pqrst", ("ReplicaSet", "api-7c9b5d4f8"), "n2",
                    labels={"app": "api"}),
        running_pod("api-7c9b5d4f8-uvwxy", ("ReplicaSet", "api-7c9b5d4f8"), None,
                    labels={"app": "api"}),
        running_pod("db-0", ("StatefulSet", "db"), "n9", labels={"app": "db"}),
        running_pod("debug", None, "n2", labels={"app": "debug"})), nodes=NODES[:3])
    assert pods(result) == {
        "web": {"name": "web", "containers": ["web"], "replicas": 3},
        "api": {"name": "api", "containers": ["api"], "replicas": 2},
        "db": {"name": "db", "containers": ["db"], "replicas": 1},
        "debug": {"name": "debug", "containers": ["debug"], "replicas": 1}}
    found = containers(result)
    # Labels that every Pod shares, but not the controller's hash; no runtime annotations.
    # JSON on one line: everything is on line 1.
    assert found["web"]["source"] == {
        "kind": "Deployment", "workload": "web", "container": "web", "namespace": "shop",
        "labels": {"app": "web"}, "annotations": {"prometheus.io/scrape": "true"},
        "file": "test.yaml", "line": 1, "containerLine": 1}
    assert found["api"]["source"]["kind"] == "Deployment"
    assert found["db"]["source"]["kind"] == "StatefulSet"
    assert found["debug"]["source"]["kind"] == "Pod"
    # api has a Pod not yet on a node, db runs on a node not given: review places those.
    assert result.problem["layout"]["placements"] == [
        {"pod": "web", "replica": 0, "node": "n1"}, {"pod": "web", "replica": 1, "node": "n2"},
        {"pod": "web", "replica": 2, "node": "n1"}, {"pod": "debug", "replica": 0, "node": "n2"}]
    assert warned(result, "not every replica of api, db runs on a node given")
    assert warned(result, "skipped 1 Pod(s) that have finished")
    problem = parse_problem(result.problem)
    assert problem.layout is not None
    assert len(problem.layout.placements) == 4
    # Without a node list there is nothing to place them on.
    alone = imported(pod_list(running_pod("web-5d9f8c7b6-abcde", web, "n1")))
    assert "placements" not in alone.problem["layout"]
    assert warned(alone, "spec.nodeName", "pass --nodes")


def test_kubectl_get_all_places_a_deployment_through_its_replicaset() -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": "web-5d9f8c7b6", "namespace": "shop", "ownerReferences": [
              {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d",
               "controller": True}]},
          "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web"}]}}}}
    web = ("ReplicaSet", "web-5d9f8c7b6")
    result = imported(pod_list(
        yaml_object(deployment("web", replicas=2, namespace="shop")), rs,
        running_pod("web-5d9f8c7b6-abcde", web, "n1"),
        running_pod("web-5d9f8c7b6-fghij", web, "n2")), nodes=NODES[:2])
    assert list(pods(result)) == ["web"]
    assert result.problem["layout"]["placements"] == [
        {"pod": "web", "replica": 0, "node": "n1"}, {"pod": "web", "replica": 1, "node": "n2"}]
    assert warned(result, "owner is in the input", "ReplicaSet web-5d9f8c7b6",
                  "Pod web-5d9f8c7b6-abcde")
    # `kubectl get deployments,pods`: no ReplicaSet between them, the name says whose.
    direct = imported(pod_list(
        yaml_object(deployment("web", replicas=2, namespace="shop")),
        running_pod("web-5d9f8c7b6-abcde", web, "n1"),
        running_pod("web-5d9f8c7b6-fghij", web, "n2")), nodes=NODES[:2])
    assert list(pods(direct)) == ["web"]
    assert direct.problem["layout"]["placements"] == result.problem["layout"]["placements"]


def yaml_object(text: str) -> dict[str, Any]:
    loaded = load_documents(text, "x.yaml")[0].data
    assert isinstance(loaded, dict)
    return loaded


def test_injected_sidecars_of_running_pods_and_daemonset_pods() -> None:
    meshed = running_pod(
        "web-5d9f8c7b6-abcde", ("ReplicaSet", "web-5d9f8c7b6"), "n1",
        annotations={"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'},
        containers_=[
            {"name": "istio-proxy", "resources": {"requests": {"cpu": "100m",
                                                               "memory": "128Mi"}}},
            {"name": "web", "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}}}])
    agents = [running_pod(f"agent-{n}", ("DaemonSet", "agent"), n, labels={"app": "agent"},
                          containers_=[{"name": "agent", "resources": {
                              "requests": {"cpu": "100m", "memory": "64Mi"}}}])
              for n in ("n1", "n3")]
    result = imported(pod_list(meshed, *agents), nodes=NODES)
    found = containers(result)
    # The webhook's proxy follows the workload's own container, and is marked as injected.
    assert pods(result)["web"]["containers"] == ["web", "web-istio-proxy"]
    assert found["web-istio-proxy"]["source"]["injectedBy"] == "istio"
    assert "annotations" not in found["web"]["source"]  # the injection status stays behind
    assert {"type": "sidecar", "container": "web-istio-proxy", "main": "web"} in (
        result.problem["hints"])
    # The DaemonSet's Pods say where it runs: only there is its pod reserved.
    alloc = {n["name"]: n["allocatable"]["cpu"] for n in result.problem["nodes"]}
    assert alloc == {"n1": "3900m", "n2": "4", "n3": "3900m", "n4": "4"}


def test_document_lines_survive_empty_and_null_documents() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c}]}\n"
            "---\n---\n# nothing here\n--- null\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\n"
            "spec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}\n")
    documents = load_documents(text, "bad.yaml")
    assert [d.line for d in documents] == [1, 10]
    with pytest.raises(ManifestError) as caught:
        import_k8s(documents, ImportOptions())
    assert (caught.value.line, "Pod bad" in caught.value.message) == (10, True)


# --- documents glued onto one line (`cat a.yaml b.yaml`, a lacking its final newline) ---

GLUE_HINT = "`---` must start its own line; a file probably lacks its final newline"
SECOND = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"


@pytest.mark.parametrize(("first", "glued_line"), [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {}", 4),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {app: a}}", 3),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  key: value", 6),
    ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
     "  metadata: {name: a}", 6),
])
def test_a_separator_glued_to_the_previous_line_is_explained(first: str,
                                                             glued_line: int) -> None:
    with pytest.raises(ManifestError) as caught:
        load_documents(first + "---\n" + SECOND, "app.yaml")
    assert caught.value.message.startswith("invalid YAML: ")
    assert f"line {glued_line} ends with `---`: {GLUE_HINT}" in caught.value.message
    # The same documents, the separator on its own line: read as two.
    assert len(load_documents(first + "\n---\n" + SECOND, "app.yaml")) == 2


def test_a_value_ending_in_dashes_is_valid_yaml_and_no_error() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  rule: a---\n  b: c\n"
    (document,) = load_documents(text, "app.yaml")
    assert document.data["data"] == {"rule": "a---", "b": "c"}


def test_other_yaml_errors_get_no_separator_hint() -> None:
    with pytest.raises(ManifestError) as caught:
        load_documents("apiVersion: v1\nkind: [ConfigMap\nmetadata: {name: a}\n", "app.yaml")
    assert "---" not in caught.value.message


def test_json_with_yaml_glued_on_is_explained_by_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "a"}}) + "---\n" + SECOND,
                    encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "advisor.cli", "import", "k8s", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert run.returncode == 2
    assert f"line 1 ends with `---`: {GLUE_HINT}" in " ".join(run.stderr.split())


# --- the CLI's help ----------------------------------------------------------------------

def test_help_is_not_cut_at_eighty_columns() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TERMINAL_WIDTH"}
    env["COLUMNS"] = "80"
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    for name in ("advise", "review"):
        run = subprocess.run([sys.executable, "-m", "advisor.cli", name, "--help"],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
                             check=False)
        assert run.returncode == 0, run.stderr
        assert "…" not in run.stdout
        shown = " ".join(run.stdout.replace("│", " ").split())
        helps = [p.help for p in command.commands[name].params
                 if isinstance(p, TyperOption) and p.help]
        assert any("--injected-requests" in p.opts for p in command.commands[name].params)
        for text in helps:
            assert " ".join(text.split()) in shown
