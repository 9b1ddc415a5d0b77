"""A cluster's node list (`kubectl get nodes -o json`) as the nodes of a problem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.kube.common import ZONE_LABELS, Document, ManifestError, dns_label, list_items
from models.problem import DNS_SUBDOMAIN, KNOWN_RESOURCES
from models.quantity import QuantityError, parse_quantity

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _fail(doc: Document, name: str, path: str, message: str) -> ManifestError:
    return ManifestError(doc.source, f"Node {name}: {path}: {message}", doc.line)


def _mapping(value: object, doc: Document, name: str, path: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(doc, name, path, "expected a mapping")
    return value


def _allocatable(status: Mapping[Any, Any], doc: Document, name: str) -> dict[str, str]:
    """What the node offers pods. Zero hugepages (every node lists them) and bare resource
    names a problem does not know (such as old attachable-volumes-*) are left out."""
    field = "allocatable" if status.get("allocatable") else "capacity"
    raw = _mapping(status.get(field), doc, name, f"status.{field}")
    out: dict[str, str] = {}
    for key, value in raw.items():
        resource = str(key)
        if "/" not in resource and resource not in KNOWN_RESOURCES and not resource.startswith(
                "hugepages-"):
            continue
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            raise _fail(doc, name, f"status.{field}.{resource}", str(exc)) from None
        if amount < 0:
            raise _fail(doc, name, f"status.{field}.{resource}", "negative")
        if resource.startswith("hugepages-") and amount == 0:
            continue
        out[resource] = value if isinstance(value, str) else str(value)
    if not out:
        raise _fail(doc, name, "status.allocatable", "missing: the node offers no resources")
    return out


def _taints(spec: Mapping[Any, Any], doc: Document, name: str) -> list[dict[str, str]]:
    raw = spec.get("taints")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail(doc, name, "spec.taints", "expected a list")
    out: list[dict[str, str]] = []
    for i, item in enumerate(raw):
        path = f"spec.taints[{i}]"
        taint = _mapping(item, doc, name, path)
        key, effect, value = taint.get("key"), taint.get("effect") or "NoSchedule", taint.get(
            "value")
        if not isinstance(key, str) or not key:
            raise _fail(doc, name, f"{path}.key", "expected a non-empty string")
        if effect not in TAINT_EFFECTS:
            raise _fail(doc, name, f"{path}.effect", f"expected one of {', '.join(TAINT_EFFECTS)}")
        entry = {"key": key, "effect": str(effect)}
        if value not in (None, ""):
            entry["value"] = str(value)
        out.append(entry)
    return out


def _node_name(raw: str, used: set[str]) -> str:
    name = raw if len(raw) <= 253 and DNS_SUBDOMAIN.match(raw) else dns_label(raw)
    base, n = name, 2
    while name in used:
        name, n = dns_label(f"{base}-{n}"), n + 1
    used.add(name)
    return name


def import_nodes(documents: list[Document]) -> list[dict[str, Any]]:
    """Problem nodes from `kubectl get nodes -o json` (a List of Nodes), a single Node, or a
    plain list of Nodes, in JSON or YAML.

    Each node keeps its name (made a DNS name if it is not one), its allocatable resources,
    its zone (topology.kubernetes.io/zone, or the older failure-domain label), labels and
    taints. Cordoned nodes (spec.unschedulable) take no new pods and are left out, without a
    warning: the list returned is what a plan can use. Objects of other kinds are ignored.
    Raises ManifestError when no schedulable Node is found, or a Node is malformed."""
    nodes: list[dict[str, Any]] = []
    used: set[str] = set()
    found = cordoned = 0
    for doc in documents:
        for obj in list_items(doc.data, doc, "Node objects (`kubectl get nodes -o json`)"):
            kind = obj.get("kind")
            if kind != "Node" and not (kind is None and "metadata" in obj):
                continue
            found += 1
            meta = _mapping(obj.get("metadata"), doc, "?", "metadata")
            raw_name = meta.get("name")
            if not isinstance(raw_name, str) or not raw_name:
                raise ManifestError(doc.source, "Node: metadata.name: expected a non-empty "
                                    "string", doc.line)
            spec = _mapping(obj.get("spec"), doc, raw_name, "spec")
            if spec.get("unschedulable") is True:
                cordoned += 1
                continue
            status = _mapping(obj.get("status"), doc, raw_name, "status")
            labels_raw = _mapping(meta.get("labels"), doc, raw_name, "metadata.labels")
            labels = {str(k): "" if v is None else str(v) for k, v in labels_raw.items()
                      if not isinstance(v, Mapping | list)}
            node: dict[str, Any] = {"name": _node_name(raw_name, used),
                                    "allocatable": _allocatable(status, doc, raw_name)}
            zone = next((labels[z] for z in ZONE_LABELS if labels.get(z)), None)
            if zone is not None:
                node["zone"] = zone
            if labels:
                node["labels"] = labels
            taints = _taints(spec, doc, raw_name)
            if taints:
                node["taints"] = taints
            nodes.append(node)
    if not nodes:
        source = ", ".join(sorted({d.source for d in documents})) or "input"
        message = (f"all {found} Node(s) are cordoned (spec.unschedulable)" if cordoned
                   else "no Node found (expected `kubectl get nodes -o json` output)")
        raise ManifestError(source, message, documents[0].line if documents else None)
    return nodes
