"""One entry for every input the commands take: a problem, Kubernetes manifests or a
Compose file, told apart by content, and node lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from advisor.kube.common import Document, ImportOptions, ImportResult, ManifestError, load_documents
from advisor.kube.compose import import_compose, is_compose
from advisor.kube.k8s import import_k8s, is_k8s
from advisor.kube.nodes import import_nodes
from advisor.loading import SeveralDocumentsError, load_data
from models import Problem, ProblemError, parse_problem

Kind = Literal["problem", "k8s", "compose"]


def kind_of(data: object) -> Kind:
    if is_k8s(data):
        return "k8s"
    if is_compose(data):
        return "compose"
    return "problem"


def _documents(text: str, source: str) -> list[Document]:
    if text.lstrip()[:1] in ("{", "["):
        # JSON (`kubectl ... -o json`) is one document; read as YAML it takes many times
        # longer, just for a line number.
        try:
            return [Document(load_data(text, source, "json"), source, 1)]
        except ProblemError as exc:
            raise ManifestError(source, "; ".join(i.message for i in exc.issues)) from None
    try:
        return load_documents(text, source)
    except ManifestError as exc:
        if "{{" in text:  # Go template braces: a Helm chart's templates, not manifests
            raise ManifestError(exc.source, exc.message + " (this looks like an unrendered Helm "
                                "template: run `helm template` first)", exc.line) from None
        raise


def import_texts(kind: Literal["k8s", "compose"], texts: list[tuple[str, str]],
                 options: ImportOptions) -> ImportResult:
    """Import (text, source name) pairs, in order, as one application."""
    docs = [d for text, source in texts for d in _documents(text, source)]
    if not docs:
        raise ManifestError(", ".join(s for _, s in texts) or "input", "no document to import")
    return import_k8s(docs, options) if kind == "k8s" else import_compose(docs, options)


def read_nodes(text: str, source: str) -> list[dict[str, Any]]:
    """A node list (`kubectl get nodes -o json`, or YAML of the same) as problem nodes."""
    return import_nodes(_documents(text, source))


def read_input(text: str, source: str, options: ImportOptions) -> tuple[Problem, list[str]]:
    """A problem from a problem file, manifests or a Compose file, and the import warnings.

    A problem is read exactly as `load_problem` reads it; manifests may be several YAML
    documents. Raises ProblemError (a problem's fields) or ManifestError (file and line)."""
    try:
        data = load_data(text, source)
    except SeveralDocumentsError:  # only manifests come that way
        docs = _documents(text, source)
        stray = next((d for d in docs if not is_k8s(d.data)), None)
        if stray is not None:
            raise ManifestError(source, "several YAML documents, so Kubernetes manifests, but "
                                "this one has no apiVersion and kind", stray.line) from None
        kind: Kind = "k8s"
    else:
        kind = kind_of(data)
        if kind == "problem":
            if options.nodes is not None:
                raise ManifestError(source, "--nodes applies to manifests and Compose files; "
                                    "a problem lists its own nodes")
            return parse_problem(data), []
        # JSON is one document, already read; YAML is read again for its line numbers.
        is_json = text.lstrip()[:1] in ("{", "[")
        docs = ([Document(data, source, 1)] if is_json or not isinstance(data, Mapping)
                else _documents(text, source))
    result = import_k8s(docs, options) if kind == "k8s" else import_compose(docs, options)
    return parse_imported(result, source), result.warnings


def parse_imported(result: ImportResult, source: str) -> Problem:
    """An imported problem, checked like any other: a ProblemError here names the field of
    the generated problem, so say where it came from."""
    if not result.problem.get("containers"):
        said = "; ".join(w for w in result.warnings if "--nodes" not in w)
        raise ManifestError(source, "no workload to import" + (f" ({said})" if said else ""))
    try:
        return parse_problem(result.problem)
    except ProblemError as exc:
        raise ManifestError(source, "the imported problem is not valid: " + "; ".join(
            str(i) for i in exc.issues)) from None
