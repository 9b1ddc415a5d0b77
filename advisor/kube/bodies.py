"""Import options given as text (CLI options, API query parameters), and one body that may
hold a problem, or manifests or a Compose file with the cluster's Nodes among them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from advisor.kube.common import Document, ImportOptions, ManifestError, load_documents
from advisor.kube.compose import import_compose, is_compose
from advisor.kube.detect import kind_of, parse_imported
from advisor.kube.k8s import import_k8s
from advisor.kube.nodes import import_nodes
from advisor.loading import (
    MAX_EXPANDED_BYTES,
    MAX_YAML_ALIASES,
    Format,
    SeveralDocumentsError,
    load_data,
)
from models import Problem, parse_problem
from models.quantity import parse_quantity


class OptionError(ValueError):
    """An import option that cannot be read; the message names the option."""


def parse_amounts(option: str, text: str) -> dict[str, str]:
    """`cpu=100m,memory=128Mi` as a resource map, each amount a valid quantity."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, amount = part.partition("=")
        if not sep or not name.strip() or not amount.strip():
            raise OptionError(f"{option} {text!r}: write resource=amount pairs, "
                              "e.g. cpu=100m,memory=128Mi")
        try:
            value = parse_quantity(amount.strip())
        except ValueError as exc:
            raise OptionError(f"{option}: {name.strip()}: {exc}") from None
        if value < 0:
            raise OptionError(f"{option}: {name.strip()}: {amount.strip()} is negative")
        out[name.strip()] = amount.strip()
    return out


def import_options(defaults: str | None, injected: list[str] | None,
                   names: tuple[str, str] = ("--default-requests", "--injected-requests"),
                   ) -> ImportOptions:
    """Options from `cpu=100m,memory=128Mi` and `SIDECAR:cpu=...,memory=...` texts; `names`
    are how the caller calls the two (flags, query parameters) in its errors."""
    options = ImportOptions()
    if defaults is not None:
        options.default_requests = parse_amounts(names[0], defaults)
    for item in injected or []:
        sidecar, sep, amounts = item.partition(":")
        if not sep or sidecar.strip() not in options.injected_requests:
            raise OptionError(
                f"{names[1]} {item!r}: write SIDECAR:cpu=...,memory=... with "
                f"SIDECAR one of {', '.join(sorted(options.injected_requests))}")
        options.injected_requests[sidecar.strip()] = parse_amounts(names[1], amounts)
    return options


def _is_nodes(data: object) -> bool:
    """A Node, or a List of them (`kubectl get nodes -o yaml`)."""
    if isinstance(data, Mapping):
        if data.get("kind") in ("Node", "NodeList"):
            return True
        items = data.get("items")
        return data.get("kind") == "List" and isinstance(items, list) and bool(items) and all(
            isinstance(i, Mapping) and i.get("kind") == "Node" for i in items)
    return False


@dataclass
class Body:
    problem: Problem
    warnings: list[str]  # what an import assumed or left out
    data: dict[str, Any]  # the problem as written or imported, before validation


def read_body(text: str, source: str, options: ImportOptions, fmt: Format = "auto",
              max_aliases: int = MAX_YAML_ALIASES,
              max_expanded_bytes: int = MAX_EXPANDED_BYTES,
              adjust: Callable[[Any], None] | None = None) -> Body:
    """A problem, or manifests or a Compose file imported as the CLI imports them, and the
    import warnings. Node documents in the stream (as `kubectl get nodes -o yaml` prints
    them) are the cluster's node list, as `--nodes` is on the command line.

    `adjust` may change a given problem's data before it is validated (a server capping
    limits). Raises ProblemError (unreadable text, a problem's fields, a limit) or
    ManifestError."""
    try:
        data: Any = load_data(text, source, fmt, max_aliases, max_expanded_bytes)
    except SeveralDocumentsError:  # the limits held over the whole stream: read it again
        docs = load_documents(text, source)
        if not any(kind_of(d.data) != "problem" for d in docs):
            raise  # several documents, none of them manifests: not one problem either
    else:
        if kind_of(data) == "problem" and not _is_nodes(data):
            if adjust is not None:
                adjust(data)
            return Body(parse_problem(data), [], data)
        docs = [Document(data, source, 1)]
    node_docs = [d for d in docs if _is_nodes(d.data)]
    docs = [d for d in docs if not _is_nodes(d.data)]
    if node_docs:
        options.nodes = import_nodes(node_docs)
    if not docs:
        raise ManifestError(source, "only Nodes: send the workloads' manifests (or a Compose "
                                    "file) with them")
    stray = next((d for d in docs if kind_of(d.data) == "problem"), None)
    if stray is not None:
        raise ManifestError(source, "a document that is neither a Kubernetes object nor a "
                                    "Compose file among the others", stray.line)
    if len(docs) == 1 and is_compose(docs[0].data):
        result = import_compose(docs, options)
    else:
        result = import_k8s(docs, options)
    return Body(parse_imported(result, source), result.warnings, result.problem)
