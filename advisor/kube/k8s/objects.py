"""The objects of Kubernetes documents: Lists walked, metadata and owners read, label
selectors matched, and every value's place in the input kept for error messages."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn

from advisor.kube.common import Document, ManifestError, describe, list_items
from models.problem import MAX_REPLICAS
from models.quantity import QuantityError, parse_quantity

WORKLOAD_KINDS: frozenset[str] = frozenset({
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job",
    "CronJob", "Pod",
})
# A ReplicaSet a Deployment made: `<deployment>-<pod-template-hash>` (safe alphabet).
_REPLICASET_OF_DEPLOYMENT = re.compile(r"(?P<owner>.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}")
_FINISHED = ("Succeeded", "Failed")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_LISTED = 6  # names in a warning before "and N more"

Key = tuple[str, str, str | None]  # kind, name, namespace
Located = tuple[dict[str, Any], Document, int]  # an object, its document, its first line
Objects = list[tuple[dict[str, Any], Document]]


def is_k8s(data: object) -> bool:
    """Kubernetes objects: a mapping with apiVersion and kind, or a List (or list) of them."""
    if isinstance(data, Mapping):
        if isinstance(data.get("apiVersion"), str) and isinstance(data.get("kind"), str):
            return True
        items = data.get("items")
        return isinstance(items, list) and bool(items) and all(is_k8s(i) for i in items)
    if isinstance(data, list):
        return bool(data) and all(is_k8s(i) for i in data)
    return False


class Ctx:
    """Where in the input a value comes from, to raise errors that name it."""

    def __init__(self, doc: Document, what: str) -> None:
        self.doc, self.what = doc, what

    def fail(self, path: str, message: str) -> NoReturn:
        where = f"{self.what}: {path}" if path else self.what
        raise ManifestError(self.doc.source, f"{where}: {message}", self.doc.line)

    def mapping(self, value: object, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping, got {describe(value)}")
        return {str(k): v for k, v in value.items()}

    def seq(self, value: object, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {describe(value)}")
        return value

    def entries(self, value: object, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The mappings of a list, each with its path."""
        for i, item in enumerate(self.seq(value, path)):
            yield f"{path}[{i}]", self.mapping(item, f"{path}[{i}]")

    def text(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(path, f"expected a non-empty string, got {describe(value)}")
        return value

    def strings(self, value: object, path: str) -> dict[str, str]:
        """Labels, annotations, selectors: string values (scalars written bare are taken
        as their text, as `kubectl` would reject them only at apply time)."""
        out: dict[str, str] = {}
        for key, item in self.mapping(value, path).items():
            if isinstance(item, bool):
                out[key] = "true" if item else "false"
            elif isinstance(item, str | int | float):
                out[key] = str(item)
            elif item is None:
                out[key] = ""
            else:
                self.fail(f"{path}.{key}", f"expected a string, got {describe(item)}")
        return out

    def count(self, value: object, path: str) -> int:
        if value is None:
            return 1
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(path, f"expected a whole number >= 0, got {value!r}")
        if value > MAX_REPLICAS:
            self.fail(path, f"{value} replicas is more than this tool supports ({MAX_REPLICAS})")
        return value

    def quantity(self, value: object, path: str) -> Decimal:
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            self.fail(path, str(exc))
        if amount < 0:
            self.fail(path, f"quantity {value!r} is negative")
        return amount


def walk(doc: Document) -> Iterator[dict[str, Any]]:
    """The objects of a document: itself, or the items of a List (nested Lists too)."""
    for obj, _ in walk_located(doc):
        yield obj


def walk_located(doc: Document) -> Iterator[tuple[dict[str, Any], int]]:
    """The objects of a document, each with the line where it starts (the document's own
    for a single object or input read without lines)."""
    ctx = Ctx(doc, "document")
    for value in list_items(doc.data, doc,
                            "a Kubernetes object (a mapping with apiVersion and kind)"):
        kind = value.get("kind")
        if not isinstance(kind, str) or not kind:
            ctx.fail("kind", "not a Kubernetes object: no kind")
        yield {str(k): v for k, v in value.items()}, doc.line_of(value) or doc.line


def located(documents: list[Document]) -> list[Located]:
    """Every object of the documents, in order, with its document and first line."""
    return [(obj, doc, line) for doc in documents for obj, line in walk_located(doc)]


def metadata(obj: dict[str, Any], ctx: Ctx) -> tuple[str, str | None, dict[str, Any]]:
    meta = ctx.mapping(obj.get("metadata"), "metadata")
    name = meta.get("name") or meta.get("generateName")
    name = ctx.text(name, "metadata.name").rstrip("-")
    namespace = meta.get("namespace")
    if namespace is not None:
        namespace = ctx.text(namespace, "metadata.namespace")
    return name, namespace, meta


def _owners(meta: dict[str, Any]) -> list[Mapping[Any, Any]]:
    owners = meta.get("ownerReferences")
    if not isinstance(owners, list):
        return []
    return [o for o in owners if isinstance(o, Mapping) and isinstance(o.get("kind"), str)
            and isinstance(o.get("name"), str)]


def controller_of(meta: dict[str, Any], namespace: str | None) -> Key | None:
    """The controller that made a Pod, when its Pods are alike: a static Pod's mirror is
    owned by its Node, and every one of those is a different Pod."""
    return next(((o["kind"], o["name"], namespace) for o in _owners(meta)
                 if o.get("controller") is True and o["kind"] != "Node"), None)


def in_input(key: Key, present: set[Key]) -> Key | None:
    """The object of the input a reference names: a manifest without a namespace is
    applied to its dependants' namespace too."""
    for candidate in (key, (key[0], key[1], None)):
        if candidate in present:
            return candidate
    return None


@dataclass
class ObjectIndex:
    """What the whole input tells before any workload is read: the workloads present,
    their owners, and the namespaces whose pods Istio injects."""

    present: set[Key] = field(default_factory=set)
    owners: dict[Key, list[Key]] = field(default_factory=dict)
    istio_namespaces: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, objects: list[Located]) -> ObjectIndex:
        index = cls()
        for obj, doc, _ in objects:
            ctx = Ctx(doc, str(obj["kind"]))
            if obj["kind"] == "Namespace":
                name, _, meta = metadata(obj, ctx)
                labels = ctx.strings(meta.get("labels"), "metadata.labels")
                if labels.get("istio-injection") == "enabled":
                    index.istio_namespaces.add(name)
            elif obj["kind"] in WORKLOAD_KINDS:
                name, namespace, meta = metadata(obj, ctx)
                key = (obj["kind"], name, namespace)
                index.present.add(key)
                index.owners[key] = [(o["kind"], o["name"], namespace) for o in _owners(meta)]
        return index

    def owner_in_input(self, key: Key) -> Key | None:
        return next((found for o in self.owners.get(key, [])
                     if (found := in_input(o, self.present))), None)

    def top(self, key: Key) -> Key:
        """The workload a chain of owners in the input ends at (a Pod's ReplicaSet's
        Deployment); a cycle, which no cluster has, ends where it closes."""
        seen = {key}
        while (up := self.owner_in_input(key)) is not None and up not in seen:
            seen.add(up)
            key = up
        return key


def node_of(pod: dict[str, Any]) -> str | None:
    spec = pod.get("spec")
    name = spec.get("nodeName") if isinstance(spec, Mapping) else None
    return name if isinstance(name, str) and name else None


def finished(pod: dict[str, Any]) -> bool:
    """A Pod that ran to its end (a Job's, say): it holds no resources any more."""
    status = pod.get("status")
    return isinstance(status, Mapping) and status.get("phase") in _FINISHED


def written_as(controller: Key, labels: dict[str, str]) -> tuple[str, str]:
    """The workload a user wrote for a Pod's controller: a Deployment, for a ReplicaSet
    named `<deployment>-<pod-template-hash>`; else the controller itself."""
    kind, name, _ = controller
    if kind == "ReplicaSet":
        digest = labels.get("pod-template-hash")
        match = _REPLICASET_OF_DEPLOYMENT.fullmatch(name)
        if digest and name.endswith(f"-{digest}") and len(name) > len(digest) + 1:
            return "Deployment", name[:-len(digest) - 1]
        if match is not None:
            return "Deployment", match["owner"]
    return kind, name


def selects(selector: object, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against pod labels; a malformed
    selector selects nothing, as the API server would have refused it."""
    if not isinstance(selector, Mapping):
        return False
    match = selector.get("matchLabels")
    if match is not None and not (isinstance(match, Mapping) and all(
            labels.get(str(k)) == str(v) for k, v in match.items())):
        return False
    expressions = selector.get("matchExpressions")
    if expressions is None:
        return True
    return isinstance(expressions, list) and all(_holds(e, labels) for e in expressions)


def _holds(expr: object, labels: dict[str, str]) -> bool:
    """One matchExpressions entry against pod labels."""
    if not isinstance(expr, Mapping):
        return False
    key, op = expr.get("key"), expr.get("operator")
    raw = expr.get("values")
    values = [str(v) for v in raw] if isinstance(raw, list) else []
    if not isinstance(key, str) or op not in _OPERATORS:
        return False
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return not (key in labels and labels[key] in values)
    if op == "Exists":
        return key in labels
    return key not in labels


def namespaces_match(term: dict[str, Any], own: str | None, other: str | None) -> bool:
    """Whether an affinity term of a pod in `own` looks at pods in `other`. A workload
    without a namespace is applied to whichever namespace is current: it matches any."""
    if own is None or other is None or term.get("namespaceSelector") is not None:
        return True
    listed = term.get("namespaces")
    if isinstance(listed, list) and listed:
        return other in [str(n) for n in listed]
    return own == other


def plain(value: Any) -> Any:
    """A copy with string keys: the problem shares no object with the documents (nor,
    dumped, aliases)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def listing(names: list[str]) -> str:
    """Names for a warning, the first few only when there are many."""
    if len(names) <= _LISTED:
        return ", ".join(names)
    return ", ".join(names[:_LISTED]) + f" and {len(names) - _LISTED} more"
