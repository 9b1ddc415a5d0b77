"""SARIF 2.1.0 for code scanning: one result per finding, located at the manifest or
Compose file (and line) that defines the workload it is about, else at the problem file.

A review reports the findings of the current layout, the one the repository holds; the
advised plan's outcome goes into the run's properties."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from models import HelperHint, Problem

SARIF_VERSION = "2.1.0"
# The OASIS standard's schema (2.1.0 with errata 01), as SARIF consumers look it up.
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
TOOL_NAME = "podlayout"
PACKAGE = "pod-layout-advisor"
# The base that relative artifact paths are resolved against: the repository's checkout.
SRCROOT = "%SRCROOT%"
# partialFingerprints key: code scanning matches results across runs by it.
FINGERPRINT_KEY = "podlayoutFinding/v1"

LEVELS: dict[str, str] = {"high": "error", "medium": "warning", "low": "note", "info": "note"}


@dataclass(frozen=True)
class Rule:
    short: str
    help: str
    severity: str  # the usual one; a result carries its own
    tags: tuple[str, ...]


_AVAILABILITY = ("kubernetes", "availability")
_EFFICIENCY = ("kubernetes", "efficiency")
_CORRECTNESS = ("kubernetes", "correctness")

# Every code the advisor reports (advisor/findings.py, advisor/scoring.py).
RULES: dict[str, Rule] = {
    "SINGLE_REPLICA": Rule(
        "A critical component runs a single replica.",
        "One replica is a single point of failure: a container crash, an eviction, a "
        "rollout or the failure of its node stops the component. Run at least 2 replicas "
        "(spec.replicas) and spread them over nodes with podAntiAffinity or a topology "
        "spread constraint on kubernetes.io/hostname. A component whose replicas share a "
        "ReadWriteOnce claim needs a claim per replica instead (a StatefulSet with "
        "volumeClaimTemplates and the application's own replication).",
        "high", _AVAILABILITY),
    "REPLICAS_ON_ONE_NODE": Rule(
        "Every replica of a critical component runs on one node.",
        "Several replicas on one node give no protection against that node's failure, a "
        "drain or an upgrade: all of them stop at once. Spread them with podAntiAffinity or "
        "a topology spread constraint on kubernetes.io/hostname; when only one node can "
        "host the pod (selectors, taints, size), add a second node that matches.",
        "high", _AVAILABILITY),
    "REPLICAS_IN_ONE_ZONE": Rule(
        "Every replica of a critical component runs in one zone.",
        "The cluster has several zones but all replicas of this component sit in one: a "
        "zone outage stops it. Spread the replicas over zones with a topology spread "
        "constraint on topology.kubernetes.io/zone, or add a node in another zone that "
        "matches its nodeSelector and tolerations.",
        "medium", _AVAILABILITY),
    "CRITICAL_COMPONENTS_BUNDLED": Rule(
        "One pod bundles several critical components.",
        "Containers in one pod share its fate and its replica count: a failure of the pod "
        "takes every component in it down, and they cannot scale apart. Give each "
        "component a pod of its own, keeping only its sidecars, ambassadors and adapters "
        "beside it.",
        "high", _AVAILABILITY),
    "NO_N1_HEADROOM": Rule(
        "After losing the worst node, the component's replicas fit nowhere.",
        "When the node holding most of this component fails, its evicted replicas cannot "
        "be rescheduled on the capacity that remains, so it stays down until the node is "
        "back. Keep spare capacity of one node, or let a node pool grow.",
        "medium", _AVAILABILITY),
    "N1_BREAKS_BUDGET": Rule(
        "One node holds more replicas than the disruption budget allows down.",
        "Losing or draining that node takes down more replicas than the "
        "PodDisruptionBudget allows at once. Spread the replicas so that no node holds "
        "more than the budget allows down (a topology spread constraint on "
        "kubernetes.io/hostname with maxSkew 1), or add replicas.",
        "medium", _AVAILABILITY),
    "NOT_RUNNING": Rule(
        "No replica of a critical component is placed.",
        "The component does not run at all: no node has room for it or admits it. Add "
        "capacity, or lower its requests or loosen its selectors so that it can be "
        "placed.",
        "high", _AVAILABILITY),
    "BLAST_RADIUS": Rule(
        "One node or zone failure stops several critical components at once.",
        "The layout concentrates the only replicas of several critical components in one "
        "failure domain: losing that node (or zone) stops all of them together, which "
        "often stops the whole application. Run at least 2 replicas of these components "
        "spread over nodes (or zones), and do not consolidate them onto fewer nodes unless "
        "that frees a node you pay for.",
        "high", _AVAILABILITY),
    "BUDGET_BLOCKS_DRAIN": Rule(
        "A PodDisruptionBudget allows no replica down.",
        "A budget that allows none of its replicas down makes every drain of a node that "
        "runs one wait for ever: node upgrades, autoscaler scale-down and consolidation "
        "stall. Run at least 2 replicas and allow 1 down (maxUnavailable: 1), or set "
        "minAvailable below the replica count.",
        "medium", _AVAILABILITY),
    "UNRELATED_CONTAINERS_IN_POD": Rule(
        "A pod holds containers that nothing relates.",
        "No hint, shared volume or traffic ties these containers together, yet they share "
        "a pod: they must scale together, restart together and fail together. Split them "
        "into separate pods; one pod is one component with its helpers.",
        "medium", _CORRECTNESS),
    "SCALE_MISMATCH": Rule(
        "Containers that ask for different replica counts share a pod.",
        "A pod has one replica count for all its containers, so containers that must "
        "scale differently cannot share one. Give each of them a pod that scales on its "
        "own.",
        "medium", _CORRECTNESS),
    "REPLICA_COUNT_DIFFERS": Rule(
        "A pod runs a different replica count than the problem asks for.",
        "The current layout runs this pod with a replica count other than the one its "
        "containers ask for; the advised plan follows the problem. Set the pod's replica "
        "count to what it needs.",
        "medium", _CORRECTNESS),
    "DUPLICATED_CONTAINER": Rule(
        "A container is repeated only because of the pod it shares.",
        "The container runs as many times as its pod has replicas, more than it needs, "
        "which spends requests for nothing. Give it a pod of its own, or mark it a helper "
        "of the pod's main container.",
        "low", _EFFICIENCY),
    "PORT_CLASH": Rule(
        "Two containers of one pod listen on the same port.",
        "Containers of a pod share one network namespace: the second container to bind "
        "the port cannot start. Change one port, or move one container to another pod.",
        "high", _CORRECTNESS),
    "HELPER_SEPARATED": Rule(
        "A sidecar, ambassador or adapter runs apart from its main container.",
        "A helper serves its main container over localhost or a shared volume, so it must "
        "live in the main container's pod. Put it back in that pod.",
        "high", _CORRECTNESS),
    "HINT_VIOLATED": Rule(
        "The layout breaks a grouping or placement hint.",
        "A samePod, separatePods, sameNode or separateNodes hint does not hold in this "
        "layout. Regroup or move the pods so that the hint holds, or drop the hint if it "
        "no longer applies.",
        "high", _CORRECTNESS),
    "NODE_NOT_ADMITTED": Rule(
        "A pod runs on a node its selectors and tolerations do not admit.",
        "The node's labels or taints exclude this pod, so the scheduler would never place "
        "it there. Move it to a node it selects and tolerates, or fix the nodeSelector "
        "and tolerations.",
        "high", _CORRECTNESS),
    "NODE_OVERCOMMITTED": Rule(
        "Pods on a node request more than it allocates.",
        "The summed requests exceed the node's allocatable capacity, so the scheduler "
        "would not place them all. Move pods off this node.",
        "high", _CORRECTNESS),
    "IDLE_NODES": Rule(
        "Provisioned nodes host no pod.",
        "Nodes that run nothing are paid for and wasted. Release them, or let pods that "
        "can run there spread onto them.",
        "medium", _EFFICIENCY),
    "STRANDED_CAPACITY": Rule(
        "Free capacity that no pod can use.",
        "One resource of these nodes ran out first (or the pod limit did), leaving the "
        "others free but unusable. Mix pods with complementary shapes on them, pick node "
        "shapes with more of the scarce resource, or raise the nodes' pod limit.",
        "low", _EFFICIENCY),
    "UNPLACED_REPLICAS": Rule(
        "Some replicas fit on no node.",
        "The nodes together cannot hold every replica. Add nodes, raise a pool's "
        "maxCount, or lower requests.",
        "high", _AVAILABILITY),
    "DUPLICATION_OVERHEAD": Rule(
        "Requests spent on containers repeated only because of their grouping.",
        "Part of the requested capacity goes to copies of containers that run more "
        "replicas than they need because of the pod they share. Give containers that "
        "scale differently pods of their own.",
        "low", _EFFICIENCY),
    "SINGLE_ZONE": Rule(
        "All nodes are in one zone.",
        "Whatever the layout, a zone failure stops everything. Add nodes in a second zone "
        "and spread replicas over zones (policy.spread: zone).",
        "info", _AVAILABILITY),
    "TINY_MEMORY_REQUEST": Rule(
        "A memory request of less than 1 MiB.",
        "A plain number is a count of bytes, so the request is almost certainly missing "
        "its unit. Write one, such as 256Mi or 1Gi.",
        "low", _CORRECTNESS),
    "NO_REQUESTS": Rule(
        "A container sets no cpu or memory request.",
        "Without requests the scheduler packs the container blindly and it is among the "
        "first evicted under pressure; the advisor had to assume an amount. Set "
        "resources.requests.cpu and resources.requests.memory from observed usage.",
        "medium", _EFFICIENCY),
}

# Findings about a container's own settings: located at its entry, not its workload.
_CONTAINER_CODES = frozenset({"NO_REQUESTS", "TINY_MEMORY_REQUEST", "DUPLICATED_CONTAINER",
                              "PORT_CLASH"})
# Findings whose subjects are nodes or zones, never workloads (a node may share a name
# with a container).
_CLUSTER_CODES = frozenset({"IDLE_NODES", "STRANDED_CAPACITY", "NODE_OVERCOMMITTED",
                            "SINGLE_ZONE", "DUPLICATION_OVERHEAD"})


def rule_for(code: str) -> Rule:
    """The rule of a finding code; a generic one for a code this version does not know."""
    known = RULES.get(code)
    if known is not None:
        return known
    words = code.replace("_", " ").lower()
    return Rule(f"Finding {code} ({words}).",
                f"The advisor reported {words}. The result's message says what it found "
                "and how to fix it.", "medium", ("kubernetes",))


def rule_name(code: str) -> str:
    """PascalCase of a code: SINGLE_REPLICA -> SingleReplica."""
    return "".join(part.capitalize() for part in code.split("_") if part)


def fingerprint(code: str, subjects: list[str]) -> str:
    """Stable across runs and orderings: what the finding is about, not how it is worded."""
    text = json.dumps([code, sorted(subjects)], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Where:
    file: str
    line: int


@dataclass(frozen=True)
class _Located:
    """Where a container is defined: its workload, and its own entry when known."""

    workload: _Where
    entry: _Where | None


class _Locator:
    """Subjects (containers, pods, components, budgets) to the files that define them."""

    def __init__(self, problem: Problem | None, pods: list[dict[str, Any]]) -> None:
        self.containers: dict[str, _Located] = {}
        helpers: set[str] = set()
        if problem is not None:
            helpers = {h.container for h in problem.hints if isinstance(h, HelperHint)}
            for cont in problem.containers:
                src = cont.source
                if src is None or not src.file:
                    continue
                workload = _Where(src.file, src.line or 1)
                entry = (_Where(src.file, src.container_line)
                         if src.container_line is not None else None)
                self.containers[cont.name] = _Located(workload, entry)
        # A pod by the container it is named after, else its first main container.
        self.pods: dict[str, str] = {}
        for pod in pods:
            members = [c for c in pod.get("containers", []) if c in self.containers]
            if not members:
                continue
            name = pod.get("name", "")
            mains = [c for c in members if c not in helpers]
            self.pods[name] = name if name in members else (mains or members)[0]
        self.components: dict[str, str] = {}
        self.budgets: dict[str, str] = {}
        if problem is not None:
            # A component by its first main container (helpers only when it has none).
            ordered = sorted(problem.containers, key=lambda c: c.name in helpers)
            for cont in ordered:
                if cont.component and cont.name in self.containers:
                    self.components.setdefault(cont.component, cont.name)
            for budget in problem.disruption_budgets:
                found = next((c for c in budget.containers if c in self.containers), None)
                if found is not None:
                    self.budgets[budget.name] = found

    def container_of(self, subject: str) -> str | None:
        if "/" in subject:  # node/NAME, zone/NAME, 8080/TCP
            return None
        if subject in self.containers:
            return subject
        return self.pods.get(subject) or self.components.get(subject) or self.budgets.get(
            subject)

    def locate(self, code: str, subjects: list[str]) -> list[tuple[str, _Where]]:
        """(subject, where) for each subject that maps to a file, primary first, one per
        distinct place."""
        if code in _CLUSTER_CODES:
            return []
        out: list[tuple[str, _Where]] = []
        seen: set[_Where] = set()
        for subject in subjects:
            name = self.container_of(subject)
            if name is None:
                continue
            located = self.containers[name]
            # A container's own settings are fixed at its entry, and only for the container
            # itself: a pod or a component named here is fixed at its workload.
            where = (located.entry if code in _CONTAINER_CODES and name == subject
                     and located.entry is not None else located.workload)
            if where not in seen:
                seen.add(where)
                out.append((subject, where))
        return out


def artifact_location(path: str) -> dict[str, str]:
    """An artifactLocation: relative paths stay relative to the checkout (%SRCROOT%)."""
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(pure.as_posix(), safe="/"), "uriBaseId": SRCROOT}


def _location(where: _Where, note: str | None = None, ident: int | None = None
              ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ident is not None:
        out["id"] = ident
    out["physicalLocation"] = {"artifactLocation": artifact_location(where.file),
                               "region": {"startLine": max(1, where.line)}}
    if note is not None:
        out["message"] = {"text": note}
    return out


def _side(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the layout whose findings are reported, the advised plan of a review or None)."""
    if isinstance(result.get("current"), dict) and isinstance(result.get("advised"), dict):
        return result["current"], result["advised"]
    return result, None


def _scores(side: dict[str, Any]) -> dict[str, Any]:
    scores = side.get("scores") or {}
    spof = scores.get("spof") or {}
    out: dict[str, Any] = {}
    if scores:
        out["waste"] = (scores.get("waste") or {}).get("score")
        out["spof"] = spof.get("score")
        if spof.get("blastRadius"):
            out["blastRadius"] = spof["blastRadius"]
    return out


def _properties(result: dict[str, Any], reported: dict[str, Any],
                advised: dict[str, Any] | None) -> dict[str, Any]:
    if advised is None:
        return {"report": "plan", "status": reported.get("status"),
                "scores": _scores(reported), "findings": len(reported.get("findings", [])),
                "conflicts": len(reported.get("conflicts", []))}
    comparison = result.get("comparison") or {}
    return {
        "report": "review",
        "reported": "current layout",
        "current": {"scores": _scores(reported),
                    "findings": len(reported.get("findings", []))},
        "advised": {"status": advised.get("status"), "scores": _scores(advised),
                    "findings": len(advised.get("findings", [])),
                    "summary": comparison.get("summary", "")},
        "comparison": comparison,
    }


def render_sarif(result: dict[str, Any], problem: Problem | None, source: str | None) -> str:
    """The SARIF log (JSON text) of a plan's or a review's wire dict; `problem` tells where
    imported workloads are written, `source` names the problem file for the rest."""
    reported, advised = _side(result)
    findings: list[dict[str, Any]] = list(reported.get("findings") or [])
    locator = _Locator(problem, list(reported.get("pods") or []))
    codes = sorted({str(f.get("code", "")) for f in findings})
    index = {code: i for i, code in enumerate(codes)}
    rules = [_rule(code, findings) for code in codes]
    results = [_result(f, index, locator, source) for f in findings]
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if advised is not None:
        summary = (result.get("comparison") or {}).get("summary")
        if summary:
            # What the advice would change, for whoever reads the log beside its results.
            invocation["toolExecutionNotifications"] = [
                {"level": "note", "message": {"text": summary}}]
    log = {
        "version": SARIF_VERSION,
        "$schema": SARIF_SCHEMA,
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "version": importlib.metadata.version(PACKAGE),
                "rules": rules,
            }},
            "invocations": [invocation],
            "results": results,
            "properties": _properties(result, reported, advised),
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(code: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    rule = rule_for(code)
    severity = rule.severity if code in RULES else next(
        (str(f.get("severity")) for f in findings if f.get("code") == code), "medium")
    return {
        "id": code,
        "name": rule_name(code),
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.help},
        "help": {"text": rule.help},
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
        "properties": {"tags": list(rule.tags)},
    }


def _result(finding: dict[str, Any], index: dict[str, int], locator: _Locator,
            source: str | None) -> dict[str, Any]:
    code = str(finding.get("code", ""))
    subjects = [str(s) for s in finding.get("subjects") or []]
    severity = str(finding.get("severity", "medium"))
    message = str(finding.get("message", "")).rstrip().rstrip(".")
    suggestion = str(finding.get("suggestion", "")).strip()
    text = f"{message}. Fix: {suggestion}" if suggestion else message
    out: dict[str, Any] = {
        "ruleId": code,
        "ruleIndex": index[code],
        "level": LEVELS.get(severity, "warning"),
        "message": {"text": text},
    }
    places = locator.locate(code, subjects)
    if places:
        out["locations"] = [_location(places[0][1])]
        if len(places) > 1:
            out["relatedLocations"] = [_location(where, subject, i)
                                       for i, (subject, where) in enumerate(places[1:], 1)]
    elif source:
        out["locations"] = [_location(_Where(source, 1))]
    out["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(code, subjects)}
    out["properties"] = {"severity": severity, "subjects": subjects}
    return out
