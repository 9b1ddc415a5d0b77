"""`export k8s --patch`: strategic-merge patches for the workloads whose grouping the plan
keeps, applied here to the source manifests as the API server would, and full manifests for
the others."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.kube.common import ImportOptions, load_documents
from advisor.kube.export import PatchExport, dump_manifests, export_k8s, export_k8s_patches
from advisor.kube.k8s import import_k8s
from models import Plan, Problem
from tests.conftest import EXAMPLES
from tests.test_cli import run
from tests.test_export_k8s import (
    EXAMPLE_NAMES,
    HOST,
    NAME,
    POD,
    PREFERRED,
    REQUIRED,
    bench_apps,
    bench_solved,
    example,
    is_problem,
    pod_spec,
    pod_template,
    schema_errors,
    solved,
    source_objects,
    workloads,
)

Key = tuple[str, str, str | None]
# Lists the API server merges by a key in a strategic-merge patch (the pod spec's
# containers by name); every other list a patch gives replaces the source's.
MERGE_KEYS = {"containers": "name", "initContainers": "name"}
# What a patch may set: the rest of the source must stay as it is.
POD_FIELDS = {"affinity", "topologySpreadConstraints", "containers"}
KEPT = ("env", "envFrom", "command", "args", "livenessProbe", "readinessProbe",
        "startupProbe", "securityContext", "volumeMounts", "image", "ports", "lifecycle")


def strategic_merge(original: Any, patch: Any, key: str = "") -> Any:
    """`patch` applied to `original` as a strategic merge: maps merge recursively and a null
    deletes its key; a list with a `{$patch: replace}` element is replaced by the others;
    containers merge by name; other lists replace."""
    if isinstance(patch, dict):
        if not isinstance(original, dict):
            original = {}
        merged = copy.deepcopy(original)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = strategic_merge(original.get(name), value, name)
        return merged
    if isinstance(patch, list):
        directive = {"$patch": "replace"}
        if directive in patch:
            return [copy.deepcopy(v) for v in patch if v != directive]
        merge_key = MERGE_KEYS.get(key)
        if merge_key is None or not isinstance(original, list):
            return copy.deepcopy(patch)
        merged_list = copy.deepcopy(original)
        for item in patch:
            at = next((i for i, old in enumerate(merged_list)
                       if old.get(merge_key) == item[merge_key]), None)
            if at is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[at] = strategic_merge(merged_list[at], item)
        return merged_list
    return copy.deepcopy(patch)


def key_of(doc: dict[str, Any]) -> Key:
    return doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace")


def template_of(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec.get("template", {})
    return template


def replicas_of(doc: dict[str, Any]) -> int | None:
    if doc["kind"] == "CronJob":
        found = doc["spec"]["jobTemplate"]["spec"].get("parallelism")
    else:
        found = doc["spec"].get("replicas")
    return None if found is None else int(found)


def split(result: PatchExport) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(patches, full manifests) of a patch export, told apart by the comment above each."""
    patches = [d for d, c in zip(result.docs, result.comments, strict=True) if c is None]
    full = [d for d, c in zip(result.docs, result.comments, strict=True) if c is not None]
    return patches, full


def check_patch_shape(patch: dict[str, Any]) -> None:
    """A patch names its target and sets replicas and pod-level scheduling and resources
    only."""
    assert list(patch)[:3] == ["apiVersion", "kind", "metadata"]
    assert set(patch["metadata"]) <= {"name", "namespace"}
    spec = patch["spec"]
    if patch["kind"] == "CronJob":
        assert set(spec) == {"jobTemplate"}
        spec = spec["jobTemplate"]["spec"]
        assert set(spec) == {"parallelism", "template"}
    else:
        assert set(spec) == {"replicas", "template"}
    assert set(spec["template"]) == {"spec"}
    pod = spec["template"]["spec"]
    assert set(pod) <= POD_FIELDS
    assert set(pod["affinity"]) == {"podAffinity", "podAntiAffinity"}  # nodeAffinity stays
    for c in pod.get("containers", []):
        assert set(c) == {"name", "resources"}


def check_applied(patch: dict[str, Any], source: dict[str, Any], plan: Plan,
                  problem: Problem) -> dict[str, Any]:
    """The patch applied to its source: it keeps everything but what a patch may change,
    takes the advised replicas, resources and rules, and is a valid object."""
    merged: dict[str, Any] = strategic_merge(source, patch)
    assert schema_errors([merged]) == []
    assert merged["metadata"] == source["metadata"]
    assert merged["spec"].get("selector") == source["spec"].get("selector")
    before, after = template_of(source), template_of(merged)
    assert after.get("metadata") == before.get("metadata")  # labels, annotations
    spec_before, spec_after = before["spec"], after["spec"]
    for name in set(spec_before) | set(spec_after):
        if name not in POD_FIELDS:
            assert spec_after.get(name) == spec_before.get(name), name
    # The pod's node affinity is the source's; its pod rules are the advice's.
    affinity = pod_spec_patch(patch)["affinity"]
    node_affinity = spec_before.get("affinity", {}).get("nodeAffinity")
    assert spec_after.get("affinity", {}).get("nodeAffinity") == node_affinity
    for part in ("podAffinity", "podAntiAffinity"):
        wanted = {k: v for k, v in (affinity[part] or {}).items() if v is not None}
        assert spec_after["affinity"].get(part, {}) == wanted
    # Containers: same ones, in the same order, with all their settings but resources.
    names = [c["name"] for c in spec_before["containers"]]
    assert [c["name"] for c in spec_after["containers"]] == names
    by_source = {(c.source.container if c.source else c.name): c for c in problem.containers
                 if c.source and (c.source.kind, c.source.workload, c.source.namespace)
                 == key_of(source) and not c.source.injected_by}
    for old, new in zip(spec_before["containers"], spec_after["containers"], strict=True):
        for name in KEPT:
            assert new.get(name) == old.get(name), (old["name"], name)
        advised = by_source[old["name"]]
        requests = new.get("resources", {}).get("requests", {})
        assert set(requests) >= {k for k in advised.requests if k != "pods"}
    pod = next(p for p in plan.pods if any(
        c in p.containers for c in (x.name for x in by_source.values())))
    assert replicas_of(merged) == pod.replicas
    return merged


def pod_spec_patch(patch: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = template_of(patch)["spec"]
    return spec


# ---- the merge used to check them ---------------------------------------------------------

def test_strategic_merge_follows_the_api_servers_rules() -> None:
    source = {"spec": {"replicas": 1, "template": {"spec": {
        "containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                       {"name": "b", "image": "b:1"}],
        "affinity": {"nodeAffinity": {"n": 1}, "podAntiAffinity": {"p": [1, 2]}},
        "topologySpreadConstraints": [{"topologyKey": "h"}]}}}}
    patch = {"spec": {"replicas": 3, "template": {"spec": {
        "containers": [{"name": "b", "resources": {"requests": {"cpu": "1"}}}],
        "affinity": {"podAntiAffinity": {"p": [3]}, "podAffinity": None},
        "topologySpreadConstraints": [{"$patch": "replace"}, {"topologyKey": "z"}]}}}}
    assert strategic_merge(source, patch) == {"spec": {"replicas": 3, "template": {"spec": {
        "containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                       {"name": "b", "image": "b:1", "resources": {"requests": {"cpu": "1"}}}],
        "affinity": {"nodeAffinity": {"n": 1}, "podAntiAffinity": {"p": [3]}},
        "topologySpreadConstraints": [{"topologyKey": "z"}]}}}}


# ---- a hand-written application -------------------------------------------------------------

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {team: storefront}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, app.kubernetes.io/part-of: shop}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      serviceAccountName: web
      securityContext: {runAsNonRoot: true}
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 10
            preference: {matchExpressions: [{key: disk, operator: In, values: [ssd]}]}
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 5
            podAffinityTerm:
              labelSelector: {matchLabels: {app: web}}
              topologyKey: kubernetes.io/hostname
      topologySpreadConstraints:
      - {maxSkew: 2, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
         labelSelector: {matchLabels: {app: web}}}
      containers:
      - name: server
        image: shop/web:1
        env: [{name: MODE, value: prod}]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}}
        livenessProbe: {httpGet: {path: /live, port: 8080}, periodSeconds: 5}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
        resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 512Mi}}
        volumeMounts: [{name: config, mountPath: /etc/web}]
      - name: envoy
        image: envoyproxy/envoy:v1.30
        args: [--config-path, /etc/envoy/envoy.yaml]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
      volumes:
      - name: config
        configMap: {name: web-config}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: postgres
        image: postgres:16
        env: [{name: PGDATA, value: /var/lib/postgresql/data/pg}]
        resources: {requests: {cpu: 500m, memory: 1Gi}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: shop/report:1
            command: [/report, --all]
            resources: {requests: {cpu: 100m, memory: 128Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: shop/api:1
        env: [{name: DB, value: db}]
        resources: {requests: {cpu: 200m, memory: 256Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
      - name: worker
        image: shop/worker:1
        resources: {requests: {cpu: 200m}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: migrate, image: shop/migrate:1, resources: {requests: {cpu: 100m, memory: 64Mi}}}
"""


def app_sources() -> dict[Key, dict[str, Any]]:
    return {key_of(d): d for d in yaml.safe_load_all(APP)}


def app_solved() -> tuple[Problem, Plan]:
    """APP on four nodes in two zones, spread over zones, with api and worker made to share a
    pod (a regrouping the patches cannot express) and 3 replicas of web (a change they can)."""
    data = import_k8s(load_documents(APP, "app.yaml"), ImportOptions()).problem
    for c in data["containers"]:
        if c["source"]["workload"] == "web" and "replicas" in c:  # its main container
            c["replicas"] = 3
    data["hints"] = [*data["hints"], {"type": "samePod", "containers": ["api", "worker"]}]
    data["nodes"] = [{"name": f"n{i}", "zone": f"z{i % 2}",
                      "allocatable": {"cpu": "4", "memory": "8Gi"}} for i in range(4)]
    data.pop("pools", None)
    data["policy"] = {**data.get("policy", {}), "spread": "zone", "timeLimitSeconds": 5,
                      "workers": 2}
    return solved(data)


def test_unchanged_workloads_become_patches_that_keep_the_rest() -> None:
    parsed, plan = app_solved()
    result = export_k8s_patches(parsed, plan)
    patches, full = split(result)
    sources = app_sources()
    assert {key_of(p) for p in patches} == {("Deployment", "web", "shop"),
                                           ("StatefulSet", "db", "shop"),
                                           ("CronJob", "report", "shop")}
    for patch in patches:
        check_patch_shape(patch)
        check_applied(patch, sources[key_of(patch)], plan, parsed)
    web = strategic_merge(sources[("Deployment", "web", "shop")],
                          next(p for p in patches if p["metadata"]["name"] == "web"))
    spec = template_of(web)["spec"]
    assert web["spec"]["replicas"] == 3
    # Containers are matched by their source names, and keep their settings.
    assert [c["name"] for c in spec["containers"]] == ["server", "envoy"]
    assert spec["containers"][0]["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    assert spec["containers"][1]["args"] == ["--config-path", "/etc/envoy/envoy.yaml"]
    # The rules select the pods by the workload's selector: a patch cannot add a label.
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": HOST}
    assert spec["affinity"]["podAntiAffinity"] == {REQUIRED: [term]}  # the preference is gone
    assert spec["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]
    assert spec["affinity"]["nodeAffinity"] == template_of(
        sources[("Deployment", "web", "shop")])["spec"]["affinity"]["nodeAffinity"]
    assert spec["serviceAccountName"] == "web"
    assert spec["volumes"] == [{"name": "config", "configMap": {"name": "web-config"}}]
    # The problem names db's one container after its workload; the patch, as the source.
    assert "db" in {c.name for c in parsed.containers}
    db_patch = next(p for p in patches if p["kind"] == "StatefulSet")
    assert [c["name"] for c in pod_spec_patch(db_patch)["containers"]] == ["postgres"]
    report = strategic_merge(sources[("CronJob", "report", "shop")],
                             next(p for p in patches if p["kind"] == "CronJob"))
    assert report["spec"]["schedule"] == "0 3 * * *"
    assert template_of(report)["spec"]["restartPolicy"] == "OnFailure"
    # The source's spread constraint is replaced, not merged with by topologyKey.
    web_patch = next(p for p in patches if p["metadata"]["name"] == "web")
    assert pod_spec_patch(web_patch)["topologySpreadConstraints"][0] == {"$patch": "replace"}
    assert full  # the regrouped and the Job, below
    assert schema_errors(full) == []


def test_changed_grouping_and_jobs_stay_full_manifests() -> None:
    parsed, plan = app_solved()
    pods = {frozenset(p.containers) for p in plan.pods}
    assert frozenset({"api", "worker"}) in pods
    result = export_k8s_patches(parsed, plan)
    _, full = split(result)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in full}
    merged = next(d for d in full if d["kind"] == "Deployment")
    assert sorted(c["name"] for c in pod_spec(merged)["containers"]) == ["api", "worker"]
    assert ("Job", "migrate") in kinds
    # Budgets are new objects; a patched workload's selects its pods by its selector.
    budgets = {d["metadata"]["name"]: d for d in full if d["kind"] == "PodDisruptionBudget"}
    assert budgets["web"]["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert budgets[merged["metadata"]["name"]]["spec"]["selector"] == {
        "matchLabels": {POD: pod_template(merged)["metadata"]["labels"][POD]}}
    # Each full manifest says so above it, and on stderr.
    for doc, comment in zip(result.docs, result.comments, strict=True):
        if doc in full:
            assert comment is not None
            assert "not a patch" in comment
    named = " ".join(result.notes)
    assert f"Deployment shop/{merged['metadata']['name']}" in named
    assert "Job shop/migrate" in named
    text = dump_manifests(result.docs, result.comments)
    assert list(yaml.safe_load_all(text)) == result.docs
    assert text.count("# podlayout: full manifest, not a patch") == len(full)


def test_without_patch_the_export_is_unchanged() -> None:
    # The same plan without --patch: full manifests for every workload, as before.
    parsed, plan = app_solved()
    docs = export_k8s(parsed, plan)
    assert schema_errors(docs) == []
    found = workloads(docs)
    assert found["web"]["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    labels = pod_template(found["web"])["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "shop"
    assert labels[NAME] == "web"
    term = {"labelSelector": {"matchLabels": {POD: labels[POD]}}, "topologyKey": HOST}
    assert pod_spec(found["web"])["affinity"]["podAntiAffinity"] == {REQUIRED: [term]}
    assert PREFERRED not in pod_spec(found["web"])["affinity"]["podAntiAffinity"]


# ---- real applications ----------------------------------------------------------------------

@pytest.mark.parametrize("app", [a for a in bench_apps() if "compose" not in a])
def test_bench_patches_apply_over_the_sources(app: str) -> None:
    parsed, plan = bench_solved(app)
    sources = source_objects(app)
    result = export_k8s_patches(parsed, plan)
    patches, full = split(result)
    assert patches, "nothing the plan keeps as it was"
    for patch in patches:
        check_patch_shape(patch)
        check_applied(patch, sources[key_of(patch)], plan, parsed)
    assert schema_errors(full) == []


@pytest.mark.parametrize("name", [n for n in EXAMPLE_NAMES if not is_problem(n)]
                         or ["(no manifest example)"])
def test_example_patches_apply_over_the_sources(name: str) -> None:
    if not (EXAMPLES / name).is_file():
        pytest.skip("no example is a manifest file")
    parsed, plan = example(name)
    sources = {key_of(d): d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d}
    patches, full = split(export_k8s_patches(parsed, plan))
    for patch in patches:
        check_patch_shape(patch)
        check_applied(patch, sources[key_of(patch)], plan, parsed)
    assert schema_errors(full) == []


# ---- the command --------------------------------------------------------------------------

def test_export_patch_command(tmp_path: Path) -> None:
    manifests = tmp_path / "app.yaml"
    manifests.write_text(APP)
    problem_file = tmp_path / "problem.json"
    parsed, plan = app_solved()
    problem_file.write_text(parsed.model_dump_json(by_alias=True, exclude_none=True))
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan.model_dump(mode="json", by_alias=True)))
    done = run(["export", "k8s", str(plan_file), "--problem", str(problem_file), "--patch"])
    assert done.returncode == 0, done.stderr
    docs = list(yaml.safe_load_all(done.stdout))
    assert docs == export_k8s_patches(parsed, plan).docs
    assert "# podlayout: full manifest, not a patch" in done.stdout
    assert "Job shop/migrate" in done.stderr
    sources = app_sources()
    web = next(d for d in docs if d["metadata"]["name"] == "web" and d["kind"] == "Deployment")
    check_applied(web, sources[key_of(web)], plan, parsed)
    # Without --patch, the same plan exports full manifests only.
    plain = run(["export", "k8s", str(plan_file), "--problem", str(problem_file)])
    assert plain.returncode == 0, plain.stderr
    assert "#" not in plain.stdout.split("---", 1)[0]
    assert list(yaml.safe_load_all(plain.stdout)) == export_k8s(parsed, plan)
