"""Exported manifests keep the problem's disruption budgets: the source PodDisruptionBudget as
it was where the plan keeps its pods, one per advised pod where it regroups them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.kube.export import export_k8s, export_k8s_patches
from models import Plan, Problem
from tests.support import container, node, problem
from tests.test_cli import run
from tests.test_export_k8s import POD, pod_template, schema_errors, solved, workloads
from tests.test_export_patch import split

PDB = "PodDisruptionBudget"
REPLACES = "podlayout.io/replaces"
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def source(workload: str, labels: dict[str, str], selector: dict[str, Any] | None = None,
           container_: str | None = None) -> dict[str, Any]:
    """A container's source as the import sets it for a Deployment in namespace shop."""
    found: dict[str, Any] = {"kind": "Deployment", "workload": workload,
                             "container": container_ or workload, "namespace": "shop",
                             "labels": labels}
    if selector is not None:
        found["selector"] = selector
    return found


def app(name: str, replicas: int = 2, labels: dict[str, str] | None = None,
        **extra: Any) -> dict[str, Any]:
    """The one container of Deployment `name`, selected by its `app` label."""
    own = labels or {"app": name}
    return container(name, replicas=replicas, image=f"shop/{name}:1",
                     source=source(name, own, {"matchLabels": {"app": name}}), **extra)


def budget(name: str, containers: list[str], selector: dict[str, Any] | None = None,
           **amount: Any) -> dict[str, Any]:
    """A budget; with a selector, as imported from PodDisruptionBudget shop/`name`."""
    found: dict[str, Any] = {"name": name, "containers": containers, **amount}
    if selector is not None:
        found["source"] = {"name": name, "namespace": "shop", "selector": selector,
                           "labels": {"team": "shop"}}
    return found


def with_budgets(data: dict[str, Any], *budgets: dict[str, Any]) -> dict[str, Any]:
    data["disruptionBudgets"] = list(budgets)
    return data


def pdbs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = [d for d in docs if d["kind"] == PDB]
    names = [d["metadata"]["name"] for d in found]
    assert len(names) == len(set(names)), names  # each written once
    return {d["metadata"]["name"]: d for d in found}


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector against pod labels, as the API server reads it."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {"In": key in labels and labels[key] in values,
              "NotIn": key not in labels or labels[key] not in values,
              "Exists": key in labels,
              "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


def selected(pdb: dict[str, Any], docs: list[dict[str, Any]]) -> set[str]:
    """The exported workloads whose pods the budget selects (in its namespace)."""
    namespace = pdb["metadata"].get("namespace")
    return {name for name, doc in workloads(docs).items()
            if doc["metadata"].get("namespace") == namespace
            and matches(pdb["spec"]["selector"], pod_template(doc)["metadata"]["labels"])}


def check(docs: list[dict[str, Any]], wanted: dict[str, set[str]]) -> None:
    """Valid documents; each budget selects exactly the workloads it is meant for, so no
    pod has two (evicting it would fail)."""
    assert schema_errors(docs) == []
    found = pdbs(docs)
    assert set(found) == set(wanted)
    for name, pdb in found.items():
        assert SUBDOMAIN.match(name)
        assert len(name) <= 253
        assert selected(pdb, docs) == wanted[name], name


def pod_of(plan: Plan, name: str) -> str:
    return next(p.name for p in plan.pods if name in p.containers)


# ---- grouping unchanged --------------------------------------------------------------------

WEB_SELECTOR = {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}


def unchanged() -> tuple[Problem, Plan]:
    """web (server and its envoy sidecar) under budget web-pdb; api, replicated and critical,
    without one."""
    labels = {"app": "web", "tier": "front"}
    data = problem(
        [container("web", replicas=3, image="shop/web:1",
                   source=source("web", labels, WEB_SELECTOR, "server")),
         container("envoy", image="envoyproxy/envoy:1",
                   source=source("web", labels, WEB_SELECTOR, "envoy")),
         app("api")],
        nodes=[node("n1"), node("n2"), node("n3")],
        hints=[{"type": "sidecar", "container": "envoy", "main": "web"}],
    )
    return solved(with_budgets(data, budget("web-pdb", ["web"], WEB_SELECTOR,
                                            minAvailable="50%")))


def test_unchanged_grouping_writes_the_budget_once_as_it_was() -> None:
    parsed, plan = unchanged()
    assert {frozenset(p.containers) for p in plan.pods} == {
        frozenset({"web", "envoy"}), frozenset({"api"})}
    docs = export_k8s(parsed, plan)
    # api has no budget of its own: it gets the default one, and web no second one.
    check(docs, {"web-pdb": {"web"}, "api": {"api"}})
    assert pdbs(docs)["web-pdb"] == {
        "apiVersion": "policy/v1", "kind": PDB,
        "metadata": {"name": "web-pdb", "namespace": "shop", "labels": {"team": "shop"}},
        "spec": {"minAvailable": "50%", "selector": WEB_SELECTOR}}
    # Workloads first, then budgets.
    kinds = [d["kind"] for d in docs]
    assert kinds == sorted(kinds, key=lambda k: k == PDB)


def test_patch_leaves_an_unchanged_budget_alone() -> None:
    parsed, plan = unchanged()
    result = export_k8s_patches(parsed, plan)
    patches, full = split(result)
    assert {p["metadata"]["name"] for p in patches} == {"web", "api"}
    # Nothing to apply for web-pdb; api's default budget is a new object.
    assert set(pdbs(result.docs)) == {"api"}
    assert schema_errors(full) == []
    assert not any("web-pdb" in note for note in result.notes)


def test_no_budget_no_pdb() -> None:
    data = problem([app("web", replicas=1), app("worker", critical=False)],
                   nodes=[node("n1"), node("n2")])
    parsed, plan = solved(data)
    docs = export_k8s(parsed, plan)
    check(docs, {})
    assert set(workloads(docs)) == {"web", "worker"}
    assert pdbs(export_k8s_patches(parsed, plan).docs) == {}


# ---- regrouped -----------------------------------------------------------------------------

FRONT = {"matchLabels": {"tier": "front"}}


def merged(front: dict[str, Any], back: dict[str, Any]) -> tuple[Problem, Plan]:
    """a and c under budget front (tier=front), b under budget back; a and b share a pod."""
    data = problem(
        [app("a", replicas=4, labels={"app": "a", "tier": "front"}),
         app("b", replicas=4),
         app("c", labels={"app": "c", "tier": "front"})],
        nodes=[node("n1"), node("n2"), node("n3"), node("n4")],
        hints=[{"type": "samePod", "containers": ["a", "b"]}],
    )
    return solved(with_budgets(data, budget("front", ["a", "c"], FRONT, **front),
                               budget("back", ["b"], {"matchLabels": {"app": "b"}}, **back)))


def test_merged_budgeted_workloads_get_one_budget_per_pod() -> None:
    # front allows 1 of the merged pod's 4 replicas down, back 2: front's holds for it.
    parsed, plan = merged({"maxUnavailable": 1}, {"maxUnavailable": "50%"})
    ab, c = pod_of(plan, "a"), pod_of(plan, "c")
    assert ab == pod_of(plan, "b") != c
    docs = export_k8s(parsed, plan)
    found = workloads(docs)
    check(docs, {f"front-{ab}": {ab}, f"front-{c}": {c}})
    for pod in (ab, c):
        pdb = pdbs(docs)[f"front-{pod}"]
        assert pdb["spec"] == {"maxUnavailable": 1, "selector": found[pod]["spec"]["selector"]}
        assert pdb["metadata"]["namespace"] == "shop"
        assert pdb["metadata"]["labels"]["team"] == "shop"  # the source's labels stay
    # The source budgets would select these pods too: they are to be deleted.
    assert "PodDisruptionBudget shop/front" in pdbs(docs)[f"front-{c}"]["metadata"][
        "annotations"][REPLACES]
    replaced = pdbs(docs)[f"front-{ab}"]["metadata"]["annotations"][REPLACES]
    assert "PodDisruptionBudget shop/front" in replaced
    assert "PodDisruptionBudget shop/back" in replaced


def test_the_stricter_budget_holds_for_a_merged_pod() -> None:
    # back allows none of the merged pod's replicas down: its budget is the merged pod's,
    # under its own name; front keeps c only, under its own name.
    parsed, plan = merged({"maxUnavailable": "50%"}, {"maxUnavailable": 0})
    ab, c = pod_of(plan, "a"), pod_of(plan, "c")
    docs = export_k8s(parsed, plan)
    check(docs, {"back": {ab}, "front": {c}})
    found = workloads(docs)
    assert pdbs(docs)["back"]["spec"] == {"maxUnavailable": 0,
                                         "selector": found[ab]["spec"]["selector"]}
    assert pdbs(docs)["front"]["spec"] == {"maxUnavailable": "50%",
                                          "selector": found[c]["spec"]["selector"]}
    # Same names as the source budgets: applying updates them, nothing is left behind.
    assert all(REPLACES not in d["metadata"].get("annotations", {})
               for d in pdbs(docs).values())


def test_patch_writes_the_new_budgets_as_full_manifests() -> None:
    parsed, plan = merged({"maxUnavailable": 1}, {"maxUnavailable": "50%"})
    result = export_k8s_patches(parsed, plan)
    _, full = split(result)
    new = pdbs(full)
    assert new == pdbs(export_k8s(parsed, plan))
    assert schema_errors(full) == []
    for doc, comment in zip(result.docs, result.comments, strict=True):
        if doc["kind"] == PDB:
            assert comment is not None
            assert comment.startswith("podlayout: full manifest, not a patch: replaces ")
    # stderr names the source budgets to delete.
    notes = " ".join(result.notes)
    assert "PodDisruptionBudget shop/front: replaced by" in notes
    assert "PodDisruptionBudget shop/back: replaced by" in notes


def test_a_selector_that_would_select_another_pod_is_not_kept() -> None:
    # front covers a only, but c carries tier=front too: written as it was, it would hold c.
    data = problem([app("a", labels={"app": "a", "tier": "front"}),
                    app("c", labels={"app": "c", "tier": "front"}, critical=False)],
                   nodes=[node("n1"), node("n2")])
    parsed, plan = solved(with_budgets(data, budget("front", ["a"], FRONT, minAvailable=1)))
    docs = export_k8s(parsed, plan)
    check(docs, {"front": {"a"}})
    assert pdbs(docs)["front"]["spec"] == {"minAvailable": 1,
                                          "selector": {"matchLabels": {"app": "a"}}}


# ---- budgets without a source --------------------------------------------------------------

def test_a_budget_without_source_is_written_per_pod() -> None:
    data = problem([app("x"), app("y"), app("z", critical=False)],
                   nodes=[node("n1"), node("n2")])
    parsed, plan = solved(with_budgets(data, budget("pair", ["x", "y"], minAvailable="50%"),
                                       budget("Solo_Budget", ["z"], maxUnavailable=1)))
    docs = export_k8s(parsed, plan)
    check(docs, {"pair-x": {"x"}, "pair-y": {"y"}, "solo-budget": {"z"}})
    found = workloads(docs)
    for name, pod in (("pair-x", "x"), ("pair-y", "y")):
        assert pdbs(docs)[name]["spec"] == {"minAvailable": "50%",
                                           "selector": found[pod]["spec"]["selector"]}
        assert "annotations" not in pdbs(docs)[name]["metadata"]  # a percentage splits well


def test_a_jobs_budget_selects_its_pod_label() -> None:
    # A Job has no selector to reuse: the budget selects the label only its pods carry.
    job = container("migrate", replicas=2, source={**source("migrate", {"app": "migrate"}),
                                                   "kind": "Job"})
    data = problem([job], nodes=[node("n1"), node("n2")])
    parsed, plan = solved(with_budgets(data, budget("migrate", ["migrate"], maxUnavailable=1)))
    docs = export_k8s(parsed, plan)
    check(docs, {"migrate": {"migrate"}})
    assert pdbs(docs)["migrate"]["spec"]["selector"] == {"matchLabels": {POD: "migrate"}}


def test_a_default_budget_does_not_take_a_source_budgets_name() -> None:
    # Budget api (kept) covers a; pod api, replicated and critical, gets a default one.
    data = problem([app("a"), app("api")], nodes=[node("n1"), node("n2")])
    parsed, plan = solved(with_budgets(
        data, budget("api", ["a"], {"matchLabels": {"app": "a"}}, minAvailable=1)))
    docs = export_k8s(parsed, plan)
    check(docs, {"api": {"a"}, "api-2": {"api"}})
    assert pdbs(docs)["api"]["spec"] == {"minAvailable": 1,
                                        "selector": {"matchLabels": {"app": "a"}}}


def test_long_budget_names_stay_valid() -> None:
    long = "b" * 250
    data = problem([app("x"), app("y")], nodes=[node("n1"), node("n2")])
    parsed, plan = solved(with_budgets(data, budget(long, ["x", "y"], maxUnavailable=1)))
    docs = export_k8s(parsed, plan)
    names = sorted(pdbs(docs))
    assert [n[-2:] for n in names] == ["-x", "-y"]
    check(docs, {names[0]: {"x"}, names[1]: {"y"}})
    # A count over several pods now holds for each alone: the budget says so.
    assert all("podlayout.io/split-budget" in pdbs(docs)[n]["metadata"]["annotations"]
               for n in names)


# ---- the command ---------------------------------------------------------------------------

@pytest.mark.parametrize("patch", [False, True])
def test_export_command_keeps_the_budgets(tmp_path: Path, patch: bool) -> None:
    parsed, plan = unchanged()
    problem_file = tmp_path / "problem.json"
    problem_file.write_text(parsed.model_dump_json(by_alias=True, exclude_none=True))
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan.model_dump(mode="json", by_alias=True)))
    done = run(["export", "k8s", str(plan_file), "--problem", str(problem_file),
                *(["--patch"] if patch else [])])
    assert done.returncode == 0, done.stderr
    docs = list(yaml.safe_load_all(done.stdout))
    assert ("web-pdb" in pdbs(docs)) is not patch
