"""The main container of an imported pod: the default-container annotation, then a name
like its workload's, then the first container that is no known helper, then order."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from advisor.kube.common import ImportOptions, ImportResult, load_documents
from advisor.kube.export import export_k8s
from advisor.kube.k8s import import_k8s
from advisor.solve import advise
from models import Plan, Problem, parse_problem

ROOT = Path(__file__).resolve().parents[1]
ANNOTATION = "kubectl.kubernetes.io/default-container"
RELOADER = "ghcr.io/jimmidyson/configmap-reload:v0.9.0"


def deployment(name: str, containers: str, *, annotations: dict[str, str] | None = None,
               init: str = "", replicas: int = 2) -> str:
    """A Deployment whose pod spec has `containers` (and `init`), YAML list bodies."""
    meta = f"labels: {{app: {name}}}"
    if annotations:
        meta += "\nannotations:\n" + "".join(f"  {k}: {json.dumps(v)}\n"
                                             for k, v in annotations.items())
    spec = "containers:\n" + textwrap.indent(textwrap.dedent(containers).strip("\n"), "  ")
    if init:
        spec += "\ninitContainers:\n" + textwrap.indent(textwrap.dedent(init).strip("\n"), "  ")
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
            f"spec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n"
            "  template:\n    metadata:\n" + textwrap.indent(meta.strip("\n"), "      ")
            + "\n    spec:\n" + textwrap.indent(spec, "      ") + "\n")


def imported(text: str) -> ImportResult:
    result = import_k8s(load_documents(text, "test.yaml"), ImportOptions())
    parse_problem(result.problem)
    return result


def helper_hints(result: ImportResult) -> dict[str, tuple[str, str]]:
    """helper container -> (hint type, its main)."""
    return {h["container"]: (h["type"], h["main"]) for h in result.problem["hints"]
            if "main" in h}


def main_warnings(result: ImportResult) -> list[str]:
    return [w for w in result.warnings if "main container" in w]


def solved(result: ImportResult) -> tuple[Problem, Plan]:
    result.problem["policy"].update({"timeLimitSeconds": 5.0, "workers": 2, "seed": 0})
    problem = parse_problem(result.problem)
    return problem, advise(problem)


RELOADER_FIRST = f"""
    - name: reload
      image: {RELOADER}
      resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
    - name: server
      image: example/dashboards:1.0
      ports: [{{containerPort: 3000}}]
      resources: {{requests: {{cpu: 200m, memory: 256Mi}}}}
"""


def test_the_annotation_names_the_main_even_behind_a_reloader() -> None:
    text = deployment("dashboards", RELOADER_FIRST, annotations={ANNOTATION: "server"},
                      init="""
        - name: migrate
          image: example/migrate:1.0
          resources: {requests: {cpu: "1", memory: 64Mi}}
        """)
    result = imported(text)
    assert helper_hints(result) == {"reload": ("sidecar", "server")}
    first, second = result.problem["containers"]
    # The main comes first, carries the replicas, the template's metadata, and the init
    # container's extra request (1 cpu needed, 210m running: 790m more on the main).
    assert (first["name"], second["name"]) == ("server", "reload")
    assert first["replicas"] == 2
    assert "replicas" not in second
    assert first["source"]["annotations"] == {ANNOTATION: "server"}
    assert first["requests"]["cpu"] == "990m"
    assert second["requests"]["cpu"] == "10m"
    assert any("server's request" in w for w in result.warnings)
    assert main_warnings(result) == []  # the annotation said it: nothing to warn about
    problem, plan = solved(result)
    assert [(p.name, sorted(p.containers)) for p in plan.pods] == [
        ("server", ["reload", "server"])]
    # Export writes the workload again under its own name, the main first.
    (workload, *_) = export_k8s(problem, plan)
    assert workload["metadata"]["name"] == "dashboards"
    names = [c["name"] for c in workload["spec"]["template"]["spec"]["containers"]]
    assert names == ["server", "reload"]


def test_a_container_named_like_its_workload_is_the_main() -> None:
    text = deployment("payment-service", """
        - name: config-watcher
          image: quay.io/prometheus-operator/prometheus-config-reloader:v0.70.0
          resources: {requests: {cpu: 10m, memory: 16Mi}}
        - name: payment
          image: example/payment:2.1
          resources: {requests: {cpu: 300m, memory: 128Mi}}
        - name: payment-exporter
          image: example/payment-metrics:2.1
          resources: {requests: {cpu: 10m, memory: 16Mi}}
        """)
    result = imported(text)
    assert helper_hints(result) == {"config-watcher": ("sidecar", "payment"),
                                    "payment-exporter": ("adapter", "payment")}
    (said,) = main_warnings(result)
    assert said.startswith("Deployment payment-service: main container `payment` chosen")
    assert "named like its workload" in said
    assert f"no {ANNOTATION} annotation" in said
    _, plan = solved(result)
    assert [p.name for p in plan.pods] == ["payment"]


def test_name_matches_whole_parts_only() -> None:
    # `webhook` is not named like `web`; `web-app` is, though listed second.
    text = deployment("web", """
        - name: webhook
          image: example/hook:1
          resources: {requests: {cpu: 50m, memory: 32Mi}}
        - name: web-app
          image: example/site:1
          resources: {requests: {cpu: 100m, memory: 64Mi}}
        """)
    result = imported(text)
    assert helper_hints(result) == {"webhook": ("sidecar", "web-app")}
    (said,) = main_warnings(result)
    assert "`web-app`" in said
    assert "named like its workload" in said


def test_the_first_container_that_is_no_known_helper_is_the_main() -> None:
    # Neither name says anything: the helpers are known by their images.
    text = deployment("api", f"""
        - name: watcher
          image: {RELOADER}
          resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
        - name: logs
          image: cr.fluentbit.io/fluent/fluent-bit:3.0@sha256:{"0" * 64}
          resources: {{requests: {{cpu: 20m, memory: 32Mi}}}}
        - name: server
          image: example/server:1.4
          resources: {{requests: {{cpu: 250m, memory: 256Mi}}}}
        """)
    result = imported(text)
    assert helper_hints(result) == {"watcher": ("sidecar", "server"),
                                    "logs": ("sidecar", "server")}
    assert [c["name"] for c in result.problem["containers"]] == ["server", "watcher", "logs"]
    (said,) = main_warnings(result)
    assert said.startswith("Deployment api: main container `server` chosen because it is "
                           "the first that is not a known helper")
    assert "`watcher` is a config reloader" in said
    assert "`logs` is a log shipper" in said
    _, plan = solved(result)
    assert [p.name for p in plan.pods] == ["server"]


def test_when_nothing_decides_order_does_with_a_warning() -> None:
    text = deployment("worker", """
        - name: alpha
          image: example/alpha:1
          resources: {requests: {cpu: 100m, memory: 64Mi}}
        - name: beta
          image: example/beta:1
          resources: {requests: {cpu: 100m, memory: 64Mi}}
        """)
    result = imported(text)
    assert helper_hints(result) == {"beta": ("sidecar", "alpha")}
    (said,) = main_warnings(result)
    assert "main container `alpha` chosen because it is listed first" in said
    _, plan = solved(result)
    assert [p.name for p in plan.pods] == ["alpha"]


def test_an_annotation_naming_no_container_is_said_and_left_aside() -> None:
    text = deployment("dashboards", RELOADER_FIRST, annotations={ANNOTATION: "grafana"})
    result = imported(text)
    assert helper_hints(result) == {"reload": ("sidecar", "server")}
    (said,) = main_warnings(result)
    assert "`server`" in said
    assert "not a known helper" in said
    assert "names `grafana`, which is no container of the pod" in said


def test_a_single_container_needs_no_choice() -> None:
    result = imported(deployment("solo", """
        - name: reload
          image: example/reloader:1
          resources: {requests: {cpu: 10m, memory: 16Mi}}
        """))
    assert main_warnings(result) == []
    assert [c["name"] for c in result.problem["containers"]] == ["solo"]


def test_injected_sidecars_are_named_after_the_chosen_main() -> None:
    text = deployment("dashboards", RELOADER_FIRST, annotations={
        ANNOTATION: "server", "sidecar.istio.io/inject": "true"})
    result = imported(text)
    assert helper_hints(result) == {"reload": ("sidecar", "server"),
                                    "server-istio-proxy": ("sidecar", "server")}


def test_cli_advise_names_the_pod_after_the_main(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(deployment("dashboards", RELOADER_FIRST,
                               annotations={ANNOTATION: "server"}), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "advisor.cli", "advise", str(path),
                          "--time-limit", "5", "--workers", "2"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    plan: dict[str, Any] = json.loads(run.stdout)
    assert [(p["name"], p["containers"][0]) for p in plan["pods"]] == [("server", "server")]
