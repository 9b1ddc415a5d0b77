"""What the importers share: options, results, errors naming file and line, documents and
the objects of Lists, names, node labels and the default node pool."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from advisor.loading import (
    MAX_INPUT_BYTES,
    MAX_YAML_ALIASES,
    _check_events,
    _StrictLoader,
    glued_separator_hint,
)
from models import ProblemError

# Requests assumed for a container whose source sets none (Kubernetes would schedule it as
# needing nothing, which no real container does); flagged as NO_REQUESTS.
DEFAULT_REQUESTS: dict[str, str] = {"cpu": "100m", "memory": "128Mi"}
# Sidecars injected at admission, with the requests their injectors give them by default
# (Istio's proxy: 100m / 128Mi; Dapr's sidecar sets none, so the import assumes these).
INJECTED_REQUESTS: dict[str, dict[str, str]] = {
    "istio-proxy": {"cpu": "100m", "memory": "128Mi"},
    "daprd": {"cpu": "100m", "memory": "250Mi"},
}


@dataclass
class ImportOptions:
    default_requests: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REQUESTS))
    injected_requests: dict[str, dict[str, str]] = field(
        default_factory=lambda: {k: dict(v) for k, v in INJECTED_REQUESTS.items()})
    # Nodes (the `nodes` of a problem) when a node list was given; else a default pool.
    nodes: list[dict[str, Any]] | None = None
    time_limit_seconds: float | None = None


@dataclass
class ImportResult:
    problem: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class ManifestError(ValueError):
    """Input that cannot be imported: names the file and, where known, the line."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source, self.line, self.message = source, line, message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


@dataclass
class Document:
    data: Any
    source: str
    line: int  # 1-based line where the document starts
    # Where each mapping of `data` is introduced, by id: the line of its key when it is the
    # value of one (a Compose service), else its own first line (a List item, a container
    # entry). The mapping is held beside its line so that its id stays its own.
    lines: dict[int, tuple[Any, int]] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, value: object) -> int | None:
        """The line where `value`, a mapping of this document's data, is introduced; None
        for anything else (a copy, or data read without lines, such as JSON)."""
        found = self.lines.get(id(value))
        return found[1] if found is not None and found[0] is value else None


class _LocatingLoader(_StrictLoader):
    """Strict loading that also notes where each mapping is introduced (Document.lines)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.lines: dict[int, tuple[Any, int]] = {}
        self._key_lines: dict[int, int] = {}  # id of a mapping node -> line of its key

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        # Before the values are built: a mapping under a key is introduced by that key.
        for key_node, value_node in node.value:
            if isinstance(value_node, yaml.MappingNode):
                self._key_lines.setdefault(id(value_node), key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        data = super().construct_object(node, deep=deep)
        if isinstance(node, yaml.MappingNode) and id(data) not in self.lines:
            line = self._key_lines.get(id(node), node.start_mark.line + 1)
            self.lines[id(data)] = (data, line)
        return data

    def take_lines(self) -> dict[int, tuple[Any, int]]:
        """The lines noted for the document just built; the next one starts afresh."""
        lines, self.lines, self._key_lines = self.lines, {}, {}
        return lines


def load_documents(text: str, source: str) -> list[Document]:
    """Every non-empty YAML document of `text` (JSON is YAML too), loaded safely with the
    same limits as problems, each with the line it starts on and those of its mappings."""
    if len(text.encode("utf-8", errors="replace")) > MAX_INPUT_BYTES:
        raise ManifestError(source, f"input is larger than {MAX_INPUT_BYTES} bytes")
    out: list[Document] = []
    try:
        _check_events(text, MAX_YAML_ALIASES, source)
        # One pass: each document's node gives its line, then is built into data.
        loader = _LocatingLoader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                data = loader.construct_document(node)
                lines = loader.take_lines()
                if data is not None:
                    out.append(Document(data, source, node.start_mark.line + 1, lines))
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else None
        raise ManifestError(source, f"invalid YAML: {problem}"
                            + glued_separator_hint(text, line), line) from None
    except ProblemError as exc:
        raise ManifestError(source, "; ".join(i.message for i in exc.issues)) from None
    except ValueError as exc:
        raise ManifestError(source, f"invalid YAML: {exc}") from None
    return out


# Node labels that both the manifests' scheduling rules and node lists speak of.
HOSTNAME_LABEL = "kubernetes.io/hostname"
# A PersistentVolumeClaim mount is the problem volume `pvc:<namespace>/<claim>` (or
# `pvc:<claim>`): the colon cannot appear in a Kubernetes volume name.
CLAIM_PREFIX = "pvc:"
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
_MAX_NESTING = 8


def list_items(value: object, doc: Document, expected: str, depth: int = 0
               ) -> Iterator[Mapping[Any, Any]]:
    """The objects of a document: a single object, the items of a List (`kubectl get -o
    json`; nested Lists too), or a plain list of them. Anything else is not `expected`."""
    if depth > _MAX_NESTING:
        raise ManifestError(doc.source, "Lists nested too deeply", doc.line)
    if isinstance(value, list):
        for item in value:
            yield from list_items(item, doc, expected, depth + 1)
        return
    if not isinstance(value, Mapping):
        raise ManifestError(doc.source, f"expected {expected}, got {describe(value)}", doc.line)
    items, kind = value.get("items"), value.get("kind")
    if isinstance(items, list) and (kind is None or str(kind).endswith("List")):
        for item in items:
            yield from list_items(item, doc, expected, depth + 1)
        return
    yield value


_LABEL = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str) -> str:
    """A DNS-1123 label from any name: lower case, other characters to '-', at most 63."""
    label = _LABEL.sub("-", text.lower()).strip("-")[:63].strip("-")
    return label or "x"


def container_names(entries: list[tuple[str, str, bool]]) -> list[str]:
    """Unique problem names for (workload, container, only container of its workload).

    The only container of a workload takes the workload's name; others keep their own name
    when no other container has it, else become `workload-container`."""
    own = [dns_label(w) if single else dns_label(c) for w, c, single in entries]
    taken: dict[str, int] = {}
    for name in own:
        taken[name] = taken.get(name, 0) + 1
    out: list[str] = []
    used: set[str] = set()
    for (w, c, single), first in zip(entries, own, strict=True):
        base = dns_label(f"{w}-{c}") if not single and taken[first] > 1 else first
        name, n = base, 2
        while name in used:
            name = dns_label(f"{base}-{n}")
            n += 1
        used.add(name)
        out.append(name)
    return out


# Where a problem gets its nodes when no node list is given: an elastic pool of a common
# general-purpose shape, so that advise can still say how to group and how many nodes.
DEFAULT_POOL: dict[str, Any] = {
    "name": "default-pool",
    "allocatable": {"cpu": "4", "memory": "16Gi", "ephemeral-storage": "100Gi", "pods": 110},
    "maxCount": 100,
}


def attach_nodes(problem: dict[str, Any], options: ImportOptions, warnings: list[str]) -> None:
    """The node list given (`--nodes`), else the default pool, with a warning saying so."""
    requested = {r for c in problem.get("containers", []) for r in c.get("requests", {})}
    if options.nodes is not None:
        problem["nodes"] = [_without_unrequested(n, requested) for n in options.nodes]
        return
    problem["pools"] = [_without_unrequested(DEFAULT_POOL, requested)]
    warnings.append("no node list given (--nodes): assuming an elastic pool of 4-cpu / 16Gi "
                    "nodes (100Gi ephemeral storage, at most 100); pass `kubectl get nodes -o "
                    "json` output for yours")


def _droppable(resource: str) -> bool:
    """Node resources left out unless a container asks for them: every node reports them,
    no workload plans by them, and counting them idle would inflate waste (an idle GPU, in
    contrast, is waste worth reporting)."""
    return resource == "ephemeral-storage" or resource.startswith("hugepages-")


def _without_unrequested(node: dict[str, Any], requested: set[str]) -> dict[str, Any]:
    allocatable = {r: v for r, v in node.get("allocatable", {}).items()
                   if r in requested or not _droppable(r)}
    return {**node, "allocatable": allocatable}


def describe(value: object) -> str:
    """How a value of the wrong shape reads in a message: "a list", "a string", "empty"."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
