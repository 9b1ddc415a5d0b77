"""deploy/api.yaml: valid Kubernetes 1.34 objects, two replicas on a store from a Secret,
probes on the routes that exist, and only settings the server knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped, unused-ignore]
import yaml

from api.settings import Settings
from tests.api_support import serve
from tests.test_export_k8s import K8S_VERSION

MANIFEST = Path(__file__).resolve().parent.parent / "deploy" / "api.yaml"


def documents() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    by_kind = {d["kind"]: d for d in docs}
    assert len(by_kind) == len(docs)
    return by_kind


def test_every_document_is_valid_for_kubernetes() -> None:
    for doc in documents().values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_two_replicas_share_the_store_named_by_a_secret() -> None:
    deployment = documents()["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["PODLAYOUT_STORE_URL"]["valueFrom"]["secretKeyRef"]["key"]
    assert "value" not in env["PODLAYOUT_STORE_URL"]  # never in the manifest itself
    known = {f"PODLAYOUT_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["requests"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_probes_and_service_reach_the_server(tmp_path: Path) -> None:
    docs = documents()
    pod = docs["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port_names = {p["name"] for p in container["ports"]}
    with serve(tmp_path) as client:
        for probe in ("readinessProbe", "livenessProbe"):
            assert client.get(container[probe]["httpGet"]["path"]).status_code == 200
            assert container[probe]["httpGet"]["port"] in port_names
    args = container["args"]
    assert str(container["ports"][0]["containerPort"]) == args[args.index("--port") + 1]
    service = docs["Service"]["spec"]
    labels = pod["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service["ports"]} <= port_names
    budget = docs["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["minAvailable"] < docs["Deployment"]["spec"]["replicas"]
