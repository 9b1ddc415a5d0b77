"""Export an advised plan as Kubernetes manifests: one workload per advised pod, with the
affinity rules, spreading and disruption budgets that make the scheduler keep the plan.

What it writes is the advised layout, not a copy of the source workloads: which containers
share a pod, the replica count, each container's image, requests, limits and ports, node
selectors and tolerations, spreading and budgets. Env, command and args, probes,
securityContext, serviceAccountName, configMap and secret volumes, init containers and
mount paths are not in the problem; every workload carries a `podlayout.io/note` saying to
merge them from the source workload before applying.

Names and labels are chosen so that applying updates the source workloads instead of adding
copies beside them:

- A pod that keeps a source workload's main container takes that workload's name, when the
  re-import would give its containers the same names: it has two or more containers, or
  its one container is named after the workload (the importer names the only container of
  a workload after the workload). Otherwise it keeps the pod's name, and the source
  workloads whose containers it now runs are listed in `podlayout.io/replaces`.
- The pod template keeps the source's pod-template labels, so that existing Services still
  select the pods, and its annotations. The export's own labels (app.kubernetes.io/name,
  app.kubernetes.io/part-of, podlayout.io/pod) are added only where the source has no
  label of that key: a source label is never overwritten or dropped (bar the ones the Job
  controller adds, which a new Job refuses).
- The selector is immutable in Kubernetes: a workload updated in place keeps the source's
  exactly as it was (the import carries it in the main container's source). A workload
  the regrouping creates selects on its own `podlayout.io/pod` label only. For sources whose
  selector is unknown (Pods read from a cluster, problems imported before it was carried),
  the selector is the one an earlier export recorded (`podlayout.io/selector`), else the
  source's pod-template labels.
- Rules between advised pods (affinity, spreading, default budgets) select on
  `podlayout.io/pod`, which only that pod's replicas carry: source labels may be shared by
  several workloads.
- The problem's disruption budgets are written as they were where their pods keep their
  grouping and labels, else one per advised pod on the workload's selector (see
  `advisor.kube.budgets`); each other replicated critical pod gets a default one.

`export_k8s_patches` writes, for each workload whose grouping the plan keeps (the same
containers in one pod as in the source workload, updated in place), a strategic-merge patch
that sets only the replica count, the pod affinity and anti-affinity, the topology spread
constraints and the containers' resources (containers matched by their source name): env,
probes, securityContext, volumes and the rest of the source stay as they are. The patch
cannot add the `podlayout.io/pod` label, so rules select such a workload's pods by its
selector. Workloads whose grouping changed, and budgets that are new or changed, are full
manifests; a budget kept as it was is left out.

Sidecars an admission webhook adds (Istio's proxy, Dapr's daprd) are not written as
containers: the pod template asks for the injection instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from advisor.kube.budgets import BudgetDoc, BudgetPod, budget_docs
from advisor.kube.common import CLAIM_PREFIX, HOSTNAME_LABEL, ZONE_LABELS, dns_label
from advisor.kube.k8s import WORKLOAD_KINDS
from models import Container, Plan, PlannedPod, Problem, Spread
from models.problem import DNS_SUBDOMAIN, ContainerSource
from models.quantity import format_quantity

NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "podlayout-advised"
ANNOTATION = "podlayout.io/"
POD_LABEL = f"{ANNOTATION}pod"
SELECTOR_ANNOTATION = f"{ANNOTATION}selector"
NOTE = "advised layout: merge env, probes, volumes and other settings from the source workload"
MISSING_IMAGE = "REPLACE-ME"
DEFAULT_SCHEDULE = "@daily"
# What asks an admission webhook to add its sidecar to a pod.
INJECTION: dict[str, dict[str, str]] = {
    "istio": {"sidecar.istio.io/inject": "true"},
    "dapr": {"dapr.io/enabled": "true"},
}
# Resources Kubernetes lets a container overcommit; for any other (extended resources,
# hugepages-*) it requires the limit to equal the request.
OVERCOMMITTABLE = frozenset({"cpu", "memory", "ephemeral-storage"})
# The kinds written out: a source of one of them with the same name is the workload itself.
EXPORTED_KINDS = frozenset({"Deployment", "StatefulSet", "Job", "CronJob"})
# Labels the Job controller adds to its pod template: copied into a new Job they no longer
# match the selector it generates, and the API server refuses the Job.
JOB_LABELS = frozenset({"controller-uid", "job-name", "batch.kubernetes.io/controller-uid",
                        "batch.kubernetes.io/job-name"})

# The kinds a patch may update: a Job's pod template cannot change once it is created.
PATCHABLE_KINDS = frozenset({"Deployment", "StatefulSet", "CronJob"})
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"

SourceKey = tuple[str, str, str | None]  # kind, workload, namespace


@dataclass
class PatchExport:
    """What `export k8s --patch` prints: patches and full manifests, each document with the
    comment written above it (None for a patch), and notes for stderr."""

    docs: list[dict[str, Any]]
    comments: list[str | None]
    notes: list[str]


def export_k8s(problem: Problem, plan: Plan) -> list[dict[str, Any]]:
    """Manifests for the plan's pods: workloads, then their PodDisruptionBudgets."""
    pods, nodes, rules, updated = _prepare(problem, plan, patch=False)
    workloads = [_workload(problem, pod, nodes.get(pod.plan.name, []),
                           rules.get(pod.plan.name, _Rules()), updated, pods)
                 for pod in pods]
    return workloads + [b.doc for b in _budgets(problem, pods, updated)]


def export_k8s_patches(problem: Problem, plan: Plan) -> PatchExport:
    """Strategic-merge patches for the workloads whose grouping the plan keeps; full
    manifests for the others, and for the budgets that are new or changed."""
    pods, nodes, rules, updated = _prepare(problem, plan, patch=True)
    docs: list[dict[str, Any]] = []
    comments: list[str | None] = []
    notes: list[str] = []
    for pod in pods:
        on = nodes.get(pod.plan.name, [])
        rule = rules.get(pod.plan.name, _Rules())
        if pod.patched:
            docs.append(_patch(problem, pod, on, rule, pods))
            comments.append(None)
            assumed = [c.name for c in pod.containers if c.defaulted_requests]
            if assumed:
                notes.append(f"{_kind_name(pod)}: the patch sets requests the import assumed "
                             f"for {', '.join(assumed)}: check them")
            continue
        why = _why_full(pod, updated)
        docs.append(_workload(problem, pod, on, rule, updated, pods))
        comments.append(f"podlayout: full manifest, not a patch: {why}")
        notes.append(f"{_kind_name(pod)}: full manifest, not a patch: {why}")
    for budget in _budgets(problem, pods, updated):
        if budget.kept:
            continue  # the source's, unchanged: nothing to apply
        docs.append(budget.doc)
        comments.append(f"podlayout: full manifest, not a patch: {budget.reason}")
        notes.extend(budget.notes)
    return PatchExport(docs, comments, notes)


def _kind_name(pod: _Pod) -> str:
    kind = _kind(pod)
    where = f"{pod.namespace}/" if pod.namespace else ""
    return f"{kind} {where}{pod.name}"


def _why_full(pod: _Pod, updated: set[SourceKey]) -> str:
    source = pod.main.source
    if source is None or _key(source) not in updated:
        return "a new workload (its grouping differs from every source workload's)"
    if source.kind not in PATCHABLE_KINDS:
        return (f"a {source.kind}'s pod template cannot change: delete it and apply this "
                "once it has finished")
    return "its grouping changed: merge env, probes and the rest from the source workload"


def _needs_budget(pod: _Pod) -> bool:
    return pod.plan.replicas >= 2 and any(c.critical for c in pod.members)


def _budgets(problem: Problem, pods: list[_Pod], updated: set[SourceKey]) -> list[BudgetDoc]:
    """The PodDisruptionBudgets, given each workload as it will run: its pods' labels (a
    patched one keeps the source's template), its selector and its grouping."""
    groups: dict[SourceKey, set[str]] = {}
    for c in problem.containers:
        if c.source:
            groups.setdefault(_key(c.source), set()).add(c.name)
    seen: list[BudgetPod] = []
    for pod in pods:
        source = pod.main.source
        selector = _workload_selector(pod, updated)
        if pod.patched and source is not None:
            labels = dict(source.labels)
        else:
            batch = _kind(pod) in ("Job", "CronJob")
            labels = _template_metadata(pod, batch, selector)["labels"]
        regrouped = source is None or groups.get(_key(source)) != set(pod.plan.containers)
        seen.append(BudgetPod(
            key=pod.plan.name, name=pod.name, namespace=pod.namespace,
            containers=frozenset(pod.plan.containers), replicas=pod.plan.replicas,
            labels=labels, selector=copy.deepcopy(selector or pod.match),
            match=copy.deepcopy(pod.match),
            meta_labels={NAME_LABEL: pod.label, PART_OF_LABEL: PART_OF},
            regrouped=regrouped, default=_needs_budget(pod)))
    return budget_docs(problem.disruption_budgets, seen)


def _kind(pod: _Pod) -> str:
    source = pod.main.source
    return source.kind if source and source.kind in EXPORTED_KINDS else "Deployment"


def _workload_selector(pod: _Pod, updated: set[SourceKey]) -> dict[str, Any] | None:
    """The workload's `spec.selector`: in place, the source's (immutable); a new workload
    selects its own pods. None for Jobs and CronJobs, which make their own."""
    if _kind(pod) in ("Job", "CronJob"):
        return None
    source = pod.main.source
    if source and _key(source) in updated:
        return _source_selector(pod)
    return {"matchLabels": {POD_LABEL: pod.pod_label}}


def _prepare(problem: Problem, plan: Plan, *, patch: bool
             ) -> tuple[list[_Pod], dict[str, list[str]], dict[str, _Rules], set[SourceKey]]:
    """The advised pods, named and labelled, their nodes, the rules between them, and the
    source workloads applying updates in place."""
    if plan.status == "infeasible" or not plan.pods:
        raise ValueError("the plan has no pods to export (an infeasible problem has no layout)")
    by_name = {c.name: c for c in problem.containers}
    unknown = sorted({c for pod in plan.pods for c in pod.containers} - set(by_name))
    if unknown:
        raise ValueError(f"pods name containers the problem does not have: {', '.join(unknown)}")
    pod_of = {c: pod.name for pod in plan.pods for c in pod.containers}
    nodes: dict[str, list[str]] = {}
    for placed in sorted(plan.placements, key=lambda p: (p.pod, p.replica)):
        seen = nodes.setdefault(placed.pod, [])
        if placed.node not in seen:
            seen.append(placed.node)
    rules = _hint_rules(problem, plan, pod_of, nodes)
    pods = [_advised(pod, by_name) for pod in plan.pods]
    updated = _name_workloads(problem, pods)
    _label_pods(pods)
    for pod in pods:
        pod.patched = patch and _unchanged(problem, pod, updated)
        # A patch cannot add the pod label: the rules select a patched workload's pods by
        # its own selector, which only they match.
        pod.match = (_source_selector(pod) if pod.patched
                     else {"matchLabels": {POD_LABEL: pod.pod_label}})
    return pods, nodes, rules, updated


def _label_pods(pods: list[_Pod]) -> None:
    """Each pod's `podlayout.io/pod` value: the source's, when an earlier export set it (a
    selector may hold it), else the pod's name, made unique."""
    taken: set[str] = set()
    for pod in pods:
        source = pod.main.source
        kept = source.labels.get(POD_LABEL) if source else None
        if kept:
            pod.pod_label = kept
            taken.add(kept)
    for pod in pods:
        if pod.pod_label:
            continue
        value, n = pod.plan.name, 2
        while value in taken:
            value = f"{pod.plan.name[:59].rstrip('-')}-{n}"
            n += 1
        pod.pod_label = value
        taken.add(value)


def _unchanged(problem: Problem, pod: _Pod, updated: set[SourceKey]) -> bool:
    """Whether the pod is its source workload, updated in place, with the same containers:
    what a patch can express."""
    source = pod.main.source
    if source is None or _key(source) not in updated or source.kind not in PATCHABLE_KINDS:
        return False
    same = {c.name for c in problem.containers if c.source and _key(c.source) == _key(source)}
    return same == set(pod.plan.containers)


class _NoAliasDumper(yaml.SafeDumper):
    """SafeDumper that writes a repeated object out again instead of an anchor and alias:
    manifests are read by tools that do not all resolve aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_manifests(docs: list[dict[str, Any]], comments: list[str | None] | None = None
                   ) -> str:
    """Multi-document YAML, block style, keys in the order they were built; each document
    after its comment, if any (a `#` line above its `---`)."""
    parts: list[str] = []
    for i, doc in enumerate(docs):
        comment = comments[i] if comments is not None and i < len(comments) else None
        if comment:
            parts.extend(f"# {line}\n" for line in comment.splitlines())
        text: str = yaml.dump(doc, Dumper=_NoAliasDumper, default_flow_style=False,
                              sort_keys=False, explicit_start=True, allow_unicode=True,
                              width=4096)  # long annotations stay on one line
        parts.append(text)
    return "".join(parts)


@dataclass
class _Pod:
    """An advised pod as the export writes it."""

    plan: PlannedPod
    members: list[Container]  # the main container first; injected sidecars included
    containers: list[Container]  # those written out: not the injected sidecars
    namespace: str | None
    name: str = ""  # the workload's name, given once every pod is known
    pod_label: str = ""  # its replicas' podlayout.io/pod label
    patched: bool = False  # written as a patch of its source workload
    match: dict[str, Any] = field(default_factory=dict)  # the selector rules use for it

    @property
    def main(self) -> Container:
        return self.members[0]

    @property
    def label(self) -> str:
        """The workload's name as a label value (at most 63 characters)."""
        return self.name if len(self.name) <= 63 else self.plan.name


def _injected_by(c: Container) -> str | None:
    return c.source.injected_by if c.source else None


def _advised(pod: PlannedPod, by_name: dict[str, Container]) -> _Pod:
    found = [by_name[c] for c in pod.containers]
    own = [c for c in found if not _injected_by(c)] or found
    # A pod is named after its main container; helpers may precede it in problem order.
    main = next((c for c in own if c.name == pod.name), own[0])
    members = [main, *(c for c in found if c is not main)]
    containers = [c for c in members if not _injected_by(c)] or members
    return _Pod(pod, members, containers, _namespace(members))


def _key(source: ContainerSource) -> SourceKey:
    return source.kind, source.workload, source.namespace


def _name_workloads(problem: Problem, pods: list[_Pod]) -> set[SourceKey]:
    """Name each pod's workload; return the source workloads that applying updates in place.

    A pod keeping a source workload's main container (its first in the problem) takes the
    workload's name when the re-import would name its containers as the problem does, and
    no other advised pod is named so; else it keeps the pod's name."""
    first: dict[SourceKey, str] = {}
    for c in problem.containers:
        if c.source and not c.source.injected_by:
            first.setdefault(_key(c.source), c.name)
    pod_names = {p.plan.name for p in pods}
    taken: set[str] = set()
    updated: set[SourceKey] = set()
    for pod in pods:
        pod.name = pod.plan.name
        source = pod.main.source
        if (source is not None and source.kind in EXPORTED_KINDS
                and first.get(_key(source)) == pod.main.name
                and (len(pod.containers) >= 2 or pod.main.name == dns_label(source.workload))
                and len(source.workload) <= 253 and DNS_SUBDOMAIN.match(source.workload)
                and source.workload not in (pod_names - {pod.plan.name}) | taken):
            pod.name = source.workload
            updated.add(_key(source))
        taken.add(pod.name)
    return updated


@dataclass
class _Rules:
    """Pod-to-pod rules coming from sameNode / separateNodes hints."""

    with_pods: list[str] = field(default_factory=list)  # required podAffinity
    apart_from: list[str] = field(default_factory=list)  # required podAntiAffinity


def _hint_rules(problem: Problem, plan: Plan, pod_of: dict[str, str],
                nodes: dict[str, list[str]]) -> dict[str, _Rules]:
    replicas = {pod.name: pod.replicas for pod in plan.pods}
    rules: dict[str, _Rules] = {}
    for hint in problem.hints:
        if hint.type not in ("sameNode", "separateNodes"):
            continue
        pods = list(dict.fromkeys(pod_of[c] for c in hint.containers if c in pod_of))
        for i, one in enumerate(pods):
            for two in pods[i + 1:]:
                if hint.type == "separateNodes":
                    _add(rules.setdefault(one, _Rules()).apart_from, two)
                    _add(rules.setdefault(two, _Rules()).apart_from, one)
                    continue
                # Required affinity in both directions would deadlock (neither can start
                # first): the pod with fewer replicas follows the other, as in the model.
                follower, leader = _follower(one, two, replicas, nodes)
                _add(rules.setdefault(follower, _Rules()).with_pods, leader)
    return rules


def _follower(one: str, two: str, replicas: dict[str, int], nodes: dict[str, list[str]]
              ) -> tuple[str, str]:
    if replicas[one] != replicas[two]:
        return (one, two) if replicas[one] < replicas[two] else (two, one)
    # Equal counts: follow whichever the plan put on a subset of the other's nodes.
    if set(nodes.get(two, [])) <= set(nodes.get(one, [])):
        return two, one
    return one, two


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _namespace(members: list[Container]) -> str | None:
    spaces = {c.source.namespace if c.source else None for c in members}
    return spaces.pop() if len(spaces) == 1 else None


def _metadata(name: str, label: str, namespace: str | None,
              annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {NAME_LABEL: label, PART_OF_LABEL: PART_OF}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _parse_selector(text: str) -> dict[str, str]:
    """`key=value,key=value` as written by `_format_selector`; {} if malformed."""
    selector: dict[str, str] = {}
    for part in text.split(","):
        key, sign, value = part.partition("=")
        if not key or not sign:
            return {}
        selector[key] = value
    return selector


def _source_selector(pod: _Pod) -> dict[str, Any]:
    """The selector of the source workload (it cannot change): as the import read it, else
    as an earlier export recorded it, else the source's pod-template labels, else the name
    label."""
    source = pod.main.source
    if source is not None:
        if source.selector:
            return copy.deepcopy(source.selector)
        recorded = _parse_selector(source.annotations.get(SELECTOR_ANNOTATION, ""))
        if recorded:
            return {"matchLabels": recorded}
        labels = {k: v for k, v in source.labels.items()
                  if k != POD_LABEL and k not in JOB_LABELS}
        if labels:
            return {"matchLabels": labels}
    return {"matchLabels": {NAME_LABEL: pod.label}}


def _with_defaults(labels: dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    """The labels, plus each default whose key they do not have: never one overwritten."""
    out = dict(labels)
    for key, value in defaults.items():
        out.setdefault(key, value)
    return out


def _source_text(source: ContainerSource) -> str:
    where = f"{source.namespace}/" if source.namespace else ""
    return f"{source.kind} {where}{source.workload}"


def _workload(problem: Problem, pod: _Pod, nodes: list[str], rules: _Rules,
              updated: set[SourceKey], pods: list[_Pod]) -> dict[str, Any]:
    source = pod.main.source
    kind = _kind(pod)
    batch = kind in ("Job", "CronJob")
    selector = _workload_selector(pod, updated)
    annotations: dict[str, str] = {f"{ANNOTATION}note": NOTE,
                                   f"{ANNOTATION}advised-nodes": ",".join(nodes)}
    missing = [c.name for c in pod.containers if not c.image]
    if missing:
        # Listed so a script can find what to fill in; the image reads REPLACE-ME meanwhile.
        annotations[f"{ANNOTATION}missing-images"] = ",".join(missing)
    assumed = [f"{c.name} ({', '.join(c.defaulted_requests)})"
               for c in pod.members if c.defaulted_requests]
    if assumed:
        annotations[f"{ANNOTATION}assumed-requests"] = (
            "requests assumed by the import, check them: " + "; ".join(assumed))
    shared = _shared_elsewhere(problem, pod.plan)
    if shared:
        annotations[f"{ANNOTATION}unshared-volumes"] = (
            f"{', '.join(shared)} also mounted by other pods; an emptyDir is per pod: "
            "use a shared PersistentVolumeClaim if the data must be shared")
    foreign = _foreign_claims(pod)
    if foreign:
        here = (f"this workload is in {pod.namespace}" if pod.namespace
                else "this workload's containers come from several namespaces")
        annotations[f"{ANNOTATION}claim-namespaces"] = (
            f"{', '.join(foreign)}: a pod mounts claims of its own namespace only, and {here}")
    replaced = list(dict.fromkeys(
        _source_text(c.source) for c in pod.containers
        if c.source and c.source.kind in WORKLOAD_KINDS and _key(c.source) not in updated))
    if replaced:
        # Applying creates this workload beside them: without this, both would run.
        annotations[f"{ANNOTATION}replaces"] = (
            f"{', '.join(replaced)}: their containers run in this workload now; delete them "
            "once it runs, and point Services that selected their pods at its pods")
    unknown = [f"{c.name} ({c.source.injected_by})" for c in pod.members
               if c.source and c.source.injected_by and c.source.injected_by not in INJECTION
               and c not in pod.containers]
    if unknown:
        annotations[f"{ANNOTATION}injected-sidecars"] = (
            f"{', '.join(unknown)}: added by an admission webhook, not written here; "
            "enable its injection for these pods")
    if kind == "StatefulSet":
        annotations[f"{ANNOTATION}service-name"] = (
            "serviceName is not part of the problem and cannot change on an existing "
            f"StatefulSet: replace {pod.name} with the source's if it differs")
    if kind == "CronJob":
        annotations[f"{ANNOTATION}schedule"] = (
            f"the schedule is not part of the problem: replace {DEFAULT_SCHEDULE} with yours")
    template = {"metadata": _template_metadata(pod, batch, selector),
                "spec": _pod_spec(problem, pod, nodes, rules, pods, batch=batch)}
    meta = _metadata(pod.name, pod.label, pod.namespace, annotations)
    if source and source.labels:
        # The workload's own labels are not in the problem; its pods' usually say the same
        # (app: frontend), and tools that find workloads by label look for those. Theirs
        # win: the export's own are added only under keys they do not use.
        meta["labels"] = _with_defaults(
            {k: v for k, v in source.labels.items() if k not in JOB_LABELS}, meta["labels"])
    if kind == "Job":
        # Jobs generate their own selector; setting one needs manualSelector.
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"parallelism": pod.plan.replicas, "template": template}}
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"schedule": DEFAULT_SCHEDULE,
                         "jobTemplate": {"spec": {"parallelism": pod.plan.replicas,
                                                  "template": template}}}}
    if kind == "StatefulSet":
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
                "spec": {"replicas": pod.plan.replicas, "serviceName": pod.name,
                         "selector": selector, "template": template}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": pod.plan.replicas, "selector": selector,
                     "template": template}}


def _template_metadata(pod: _Pod, batch: bool, selector: dict[str, Any] | None
                       ) -> dict[str, Any]:
    """The source's pod-template labels and annotations, the labels the rules select on
    where the source has no label of their key, and the annotations that ask for the
    injected sidecars."""
    source = pod.main.source
    labels = {k: v for k, v in source.labels.items()
              if not (batch and k in JOB_LABELS)} if source else {}
    labels = _with_defaults(labels, {NAME_LABEL: pod.label, PART_OF_LABEL: PART_OF,
                                     POD_LABEL: pod.pod_label})
    if selector:
        # The pods must match the selector: its labels are the source's (or ours) already.
        labels = _with_defaults(labels, dict(selector.get("matchLabels") or {}))
    annotations = dict(source.annotations) if source else {}
    # Written by earlier exports, when the problem did not carry the selector.
    annotations.pop(SELECTOR_ANNOTATION, None)
    for c in pod.members:
        injector = _injected_by(c)
        if injector in INJECTION and c not in pod.containers:
            annotations.update(INJECTION[injector])
    meta: dict[str, Any] = {"labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _pod_spec(problem: Problem, pod: _Pod, nodes: list[str], rules: _Rules,
              pods: list[_Pod], *, batch: bool) -> dict[str, Any]:
    volumes = _volume_names(pod.containers)
    spec: dict[str, Any] = {"containers": [_container(c, volumes) for c in pod.containers]}
    if volumes:
        spec["volumes"] = [_volume(original, name) for original, name in volumes.items()]
    selector: dict[str, str] = {}
    for c in pod.members:
        for key, value in c.node_selector.items():
            selector.setdefault(key, value)
    if selector:
        spec["nodeSelector"] = selector
    tolerations: list[dict[str, Any]] = []
    for c in pod.members:
        for tol in c.tolerations:
            wire = tol.model_dump(mode="json", by_alias=True, exclude_none=True)
            if wire not in tolerations:
                tolerations.append(wire)
    if tolerations:
        spec["tolerations"] = tolerations
    affinity = _affinity(problem, pod, nodes, rules, pods)
    if affinity:
        spec["affinity"] = affinity
    spread = _spread_constraints(problem, pod)
    if spread:
        spec["topologySpreadConstraints"] = spread
    if batch:
        # Always is not allowed in a Job's pods; the problem does not say which of the
        # other two the source used, and Never is the usual one.
        spec["restartPolicy"] = "Never"
    return spec


def _spread_constraints(problem: Problem, pod: _Pod) -> list[dict[str, Any]]:
    if problem.policy.spread != Spread.ZONE:
        return []
    return [{"maxSkew": 1, "topologyKey": ZONE_LABELS[0], "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": copy.deepcopy(pod.match)}]


def _term(pod: _Pod) -> dict[str, Any]:
    return {"labelSelector": copy.deepcopy(pod.match), "topologyKey": HOSTNAME_LABEL}


def _affinity(problem: Problem, pod: _Pod, nodes: list[str], rules: _Rules,
              pods: list[_Pod]) -> dict[str, Any]:
    by_name = {p.plan.name: p for p in pods}
    affinity: dict[str, Any] = {}
    if rules.with_pods:
        affinity["podAffinity"] = {REQUIRED: [_term(by_name[p]) for p in rules.with_pods]}
    required = [_term(by_name[p]) for p in rules.apart_from]
    # Zone spreading in the model also keeps one replica per node.
    if problem.policy.spread != Spread.NONE:
        required.insert(0, _term(pod))
    anti: dict[str, Any] = {}
    if required:
        anti[REQUIRED] = required
    if (problem.policy.spread == Spread.NONE and pod.plan.replicas >= 2 and len(nodes) >= 2
            and any(c.critical for c in pod.members)):
        # No hard policy, but the plan spread a critical pod: ask the scheduler to keep that.
        anti[PREFERRED] = [{"weight": 100, "podAffinityTerm": _term(pod)}]
    if anti:
        affinity["podAntiAffinity"] = anti
    return affinity


def _volume_names(members: list[Container]) -> dict[str, str]:
    """Problem volume -> pod volume name (a DNS label, unique in the pod)."""
    names: dict[str, str] = {}
    for c in members:
        for volume in c.volumes:
            if volume in names:
                continue
            base = name = dns_label(volume)
            n = 2
            while name in names.values():
                name = dns_label(f"{base}-{n}")
                n += 1
            names[volume] = name
    return names


def _claim(volume: str) -> tuple[str | None, str] | None:
    """(namespace, claim) of a claim-backed volume, which the importers name
    `pvc:<claim>` or `pvc:<namespace>/<claim>`; None for a pod-local one."""
    if not volume.startswith(CLAIM_PREFIX):
        return None
    namespace, _, claim = volume.removeprefix(CLAIM_PREFIX).rpartition("/")
    return (namespace or None, claim) if claim else None


def _volume(original: str, name: str) -> dict[str, Any]:
    claim = _claim(original)
    if claim:
        return {"name": name, "persistentVolumeClaim": {"claimName": claim[1]}}
    return {"name": name, "emptyDir": {}}


def _foreign_claims(pod: _Pod) -> list[str]:
    """Claims the pod mounts that live in another namespace than the workload's."""
    found: list[str] = []
    for c in pod.containers:
        for volume in c.volumes:
            claim = _claim(volume)
            if claim and claim[0] and claim[0] != pod.namespace and volume not in found:
                found.append(volume)
    return found


def _shared_elsewhere(problem: Problem, pod: PlannedPod) -> list[str]:
    """Pod-local volumes of this pod that containers of other pods mount too."""
    inside = set(pod.containers)
    mine = {v for c in problem.containers if c.name in inside for v in c.volumes
            if _claim(v) is None}
    others = {v for c in problem.containers if c.name not in inside for v in c.volumes}
    return sorted(mine & others)


def _quantities(values: dict[str, Any]) -> dict[str, str]:
    # `pods` is a node limit, never a container resource.
    return {key: format_quantity(key, amount)
            for key, amount in values.items() if key != "pods"}


def _container(c: Container, volumes: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "image": c.image or MISSING_IMAGE}
    if c.ports:
        out["ports"] = [{"containerPort": p.port, "protocol": p.protocol} for p in c.ports]
    resources = _resources(c)
    if resources:
        out["resources"] = resources
    if c.volumes:
        out["volumeMounts"] = [{"name": volumes[v], "mountPath": f"/mnt/{volumes[v]}"}
                               for v in dict.fromkeys(c.volumes)]
    return out


def _resources(c: Container) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    requests, limits = _quantities(c.requests), _quantities(c.limits)
    for key, amount in requests.items():
        if key not in OVERCOMMITTABLE:
            limits[key] = amount  # refused by the API server unless equal to the request
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources


def _patch(problem: Problem, pod: _Pod, nodes: list[str], rules: _Rules, pods: list[_Pod]
           ) -> dict[str, Any]:
    """A strategic-merge patch of the source workload: replicas, pod affinity and
    anti-affinity, topology spread constraints and container resources, nothing else.

    A field set to null is deleted; the affinity rule lists have no merge key, so they are
    replaced; the spread constraints (merged by topologyKey otherwise) are replaced with
    `$patch: replace`; containers merge by name, so only their resources change."""
    source = pod.main.source
    assert source is not None  # a patched pod updates its source workload
    affinity = _affinity(problem, pod, nodes, rules, pods)

    def rules_of(part: str) -> dict[str, Any] | None:
        found = affinity.get(part)
        return {REQUIRED: found.get(REQUIRED), PREFERRED: found.get(PREFERRED)} if found else None

    spread = _spread_constraints(problem, pod)
    spec: dict[str, Any] = {
        "affinity": {"podAffinity": rules_of("podAffinity"),
                     "podAntiAffinity": rules_of("podAntiAffinity")},
        "topologySpreadConstraints": [{"$patch": "replace"}, *spread] if spread else None,
    }
    containers = [{"name": c.source.container if c.source else c.name, "resources": resources}
                  for c in pod.containers if (resources := _resources(c))]
    if containers:
        spec["containers"] = containers
    meta: dict[str, Any] = {"name": pod.name}
    if source.namespace:
        meta["namespace"] = source.namespace
    template = {"spec": spec}
    if source.kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"jobTemplate": {"spec": {"parallelism": pod.plan.replicas,
                                                  "template": template}}}}
    return {"apiVersion": "apps/v1", "kind": source.kind, "metadata": meta,
            "spec": {"replicas": pod.plan.replicas, "template": template}}
