"""Services and PodDisruptionBudgets of imported manifests: a Service over several workloads
makes them one component; a PodDisruptionBudget becomes a disruption budget."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.kube.common import ImportOptions, ImportResult, ManifestError, load_documents
from advisor.kube.k8s import import_k8s
from models import parse_problem
from tests.conftest import EXAMPLES
from tests.test_cli import run

NODES = str(EXAMPLES / "nodes.json")


def deployment(name: str, labels: dict[str, str], *, namespace: str | None = None,
               replicas: int = 2, sidecar: bool = False) -> str:
    """A Deployment whose pod template carries `labels`, with one container named after it
    (and a log shipper when `sidecar`)."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    containers: list[dict[str, Any]] = [
        {"name": name.partition("-v")[0], "image": f"example/{name}:1",
         "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
         "ports": [{"containerPort": 9080}]}]
    if sidecar:
        containers.append({"name": "log-shipper", "image": "example/shipper:1",
                           "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}}})
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": containers}}}}, sort_keys=False)


def service(name: str, selector: dict[str, str] | None, *, namespace: str | None = None,
            kind: str = "ClusterIP") -> str:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    spec: dict[str, Any] = {"type": kind, "ports": [{"port": 9080}]}
    if selector is not None:
        spec["selector"] = selector
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                           "spec": spec}, sort_keys=False)


def budget(name: str, selector: dict[str, Any] | None, *, namespace: str | None = None,
           labels: dict[str, str] | None = None, api: str = "policy/v1",
           **amount: Any) -> str:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    spec: dict[str, Any] = dict(amount)
    if selector is not None:
        spec["selector"] = selector
    return yaml.safe_dump({"apiVersion": api, "kind": "PodDisruptionBudget",
                           "metadata": meta, "spec": spec}, sort_keys=False)


def imported(*parts: str) -> ImportResult:
    """Import YAML documents; the problem must be one the advisor takes."""
    result = import_k8s(load_documents("---\n".join(parts), "test.yaml"), ImportOptions())
    parse_problem(result.problem)
    return result


def by_workload(result: ImportResult) -> dict[str, dict[str, Any]]:
    """Main containers by the name of the workload they come from."""
    return {c["source"]["workload"]: c for c in mains_of(result)}


def mains_of(result: ImportResult) -> list[dict[str, Any]]:
    """Main containers (the ones with a replica count), in import order."""
    return [c for c in result.problem["containers"] if "replicas" in c]


def warned(result: ImportResult, *words: str) -> list[str]:
    return [w for w in result.warnings if all(word in w for word in words)]


def reviews(namespace: str | None = None, *, sidecar: bool = False) -> list[str]:
    return [deployment(f"reviews-{v}", {"app": "reviews", "version": v}, namespace=namespace,
                       sidecar=sidecar) for v in ("v1", "v2", "v3")]


# --- Services ----------------------------------------------------------------------------

def test_a_service_over_three_versions_makes_them_one_component() -> None:
    result = imported(
        *reviews(sidecar=True),
        deployment("productpage", {"app": "productpage"}),
        service("reviews", {"app": "reviews"}),
        service("productpage", {"app": "productpage"}),  # one workload: nothing to join
        service("external-db", None, kind="ExternalName"),
        service("manual", None))  # endpoints managed by hand
    mains = by_workload(result)
    assert {w: c.get("component") for w, c in mains.items()} == {
        "reviews-v1": "reviews", "reviews-v2": "reviews", "reviews-v3": "reviews",
        "productpage": None}
    # Helpers follow their main: only main containers name the component.
    helpers = [c for c in result.problem["containers"] if "replicas" not in c]
    assert len(helpers) == 3
    assert not any("component" in c for c in helpers)
    # The key sits with the replica count, not after the source.
    keys = list(mains["reviews-v1"])
    assert keys.index("component") == keys.index("replicas") + 1
    assert result.warnings.count(
        "Service reviews selects 3 workloads (reviews-v1, reviews-v2, reviews-v3): they count "
        "as one component") == 1
    assert not warned(result, "skipped")  # Services are read, not skipped
    assert not warned(result, "productpage", "component")
    parsed = parse_problem(result.problem)
    assert {c.name: c.component for c in parsed.containers if c.replicas is not None} == {
        mains[w]["name"]: mains[w].get("component") for w in mains}


def test_a_service_named_like_a_container_outside_it_is_renamed() -> None:
    result = imported(
        deployment("cache-a", {"app": "cache", "shard": "a"}),
        deployment("cache-b", {"app": "cache", "shard": "b"}),
        deployment("cache", {"app": "warmer"}),  # its container is named `cache`
        service("cache", {"app": "cache"}))
    mains = by_workload(result)
    assert mains["cache"]["name"] == "cache"
    assert "component" not in mains["cache"]
    assert mains["cache-a"]["component"] == mains["cache-b"]["component"] == "cache-service"
    assert warned(result, "Service cache selects 2 workloads (cache-a, cache-b)",
                  "named cache-service", "a container outside it")


def test_a_service_may_share_its_name_with_a_container_inside_it() -> None:
    result = imported(
        deployment("api", {"app": "api", "track": "stable"}),  # its container is `api`
        deployment("api-canary", {"app": "api", "track": "canary"}),
        service("api", {"app": "api"}))
    mains = by_workload(result)
    assert mains["api"]["name"] == "api"
    assert mains["api"]["component"] == mains["api-canary"]["component"] == "api"


def test_services_select_workloads_of_their_own_namespace() -> None:
    result = imported(
        deployment("reviews-v1", {"app": "reviews"}, namespace="shop"),
        deployment("reviews-v2", {"app": "reviews"}, namespace="staging"),
        deployment("reviews-v3", {"app": "reviews"}),  # applied to any namespace
        service("reviews", {"app": "reviews"}, namespace="shop"),
        service("ratings", {"app": "reviews"}, namespace="other"))  # selects one
    mains = by_workload(result)
    assert {w: c.get("component") for w, c in mains.items()} == {
        "reviews-v1": "reviews", "reviews-v2": None, "reviews-v3": "reviews"}
    assert warned(result, "Service reviews selects 2 workloads (reviews-v1, reviews-v3)")
    assert not warned(result, "Service ratings")


def test_services_of_one_name_in_two_namespaces_are_two_components() -> None:
    result = imported(
        *reviews("shop"), *reviews("staging"),
        service("reviews", {"app": "reviews"}, namespace="shop"),
        service("reviews", {"app": "reviews"}, namespace="staging"))
    components = {(c["source"]["namespace"], c["component"])
                  for c in mains_of(result)}
    assert components == {("shop", "reviews"), ("staging", "reviews-service")}
    assert warned(result, "named reviews-service", "the component of another Service")


def test_a_workload_two_services_select_joins_the_larger_one() -> None:
    result = imported(
        *reviews(),
        deployment("ratings-v1", {"app": "ratings", "track": "stable"}),
        deployment("ratings-v2", {"app": "ratings", "track": "canary"}),
        # Also in the canary Service, which selects two workloads: fewer than reviews, as
        # many as ratings but after it by name.
        deployment("reviews-v4", {"app": "reviews", "version": "v4", "track": "canary"}),
        service("reviews", {"app": "reviews"}),
        service("track-canary", {"track": "canary"}),
        service("ratings", {"app": "ratings"}))
    mains = by_workload(result)
    assert {w: c.get("component") for w, c in mains.items()} == {
        "reviews-v1": "reviews", "reviews-v2": "reviews", "reviews-v3": "reviews",
        "reviews-v4": "reviews", "ratings-v1": "ratings", "ratings-v2": "ratings"}
    [both] = warned(result, "Deployment ratings-v2", "several Services")
    assert "the component of Service ratings" in both
    assert "track-canary" in both
    assert warned(result, "Deployment reviews-v4", "component of Service reviews",
                  "track-canary")
    # The canary Service lost both its workloads: it is no component.
    assert not warned(result, "Service track-canary selects")


def test_a_tie_goes_to_the_first_service_by_name() -> None:
    result = imported(
        deployment("a", {"app": "x", "tier": "web"}),
        deployment("b", {"app": "x", "tier": "web"}),
        service("web", {"tier": "web"}),
        service("front", {"app": "x"}))
    assert {c.get("component") for c in by_workload(result).values()} == {"front"}
    assert warned(result, "Deployment a", "component of Service front", "web")


# --- PodDisruptionBudgets ----------------------------------------------------------------

def test_budgets_become_disruption_budgets_over_main_containers() -> None:
    result = imported(
        *reviews(sidecar=True),
        deployment("productpage", {"app": "productpage"}),
        deployment("ratings", {"app": "ratings", "track": "stable"}),
        deployment("ratings-canary", {"app": "ratings", "track": "canary"}),
        budget("productpage", {"matchLabels": {"app": "productpage"}}, minAvailable=1),
        budget("reviews", {"matchLabels": {"app": "reviews"}}, labels={"team": "books"},
               maxUnavailable="25%"),
        budget("ratings", {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["ratings"]},
            {"key": "track", "operator": "NotIn", "values": ["canary"]}]},
            minAvailable="2"))  # a count written as a string
    mains = by_workload(result)
    assert result.problem["disruptionBudgets"] == [
        {"name": "productpage", "containers": [mains["productpage"]["name"]],
         "minAvailable": 1,
         "source": {"name": "productpage",
                    "selector": {"matchLabels": {"app": "productpage"}}}},
        {"name": "ratings", "containers": [mains["ratings"]["name"]], "minAvailable": 2,
         "source": {"name": "ratings", "selector": {"matchExpressions": [
             {"key": "app", "operator": "In", "values": ["ratings"]},
             {"key": "track", "operator": "NotIn", "values": ["canary"]}]}}},
        {"name": "reviews",
         "containers": [mains[f"reviews-{v}"]["name"] for v in ("v1", "v2", "v3")],
         "maxUnavailable": "25%",
         "source": {"name": "reviews", "selector": {"matchLabels": {"app": "reviews"}},
                    "labels": {"team": "books"}}},
    ]
    assert not warned(result, "skipped")
    parsed = parse_problem(result.problem)
    by_name = {b.name: b for b in parsed.disruption_budgets}
    assert by_name["reviews"].max_unavailable == "25%"
    assert by_name["reviews"].allowed_down(6) == 2  # 25 % of 6, rounded up
    assert by_name["productpage"].min_available == 1


def test_budgets_select_in_their_namespace_and_keep_it() -> None:
    result = imported(
        deployment("web", {"app": "web"}, namespace="shop"),
        deployment("web-eu", {"app": "web"}, namespace="eu"),
        budget("web", {"matchLabels": {"app": "web"}}, namespace="shop", maxUnavailable=1),
        budget("web", {"matchLabels": {"app": "web"}}, namespace="eu", maxUnavailable="50%"),
        budget("web-test", {"matchLabels": {"app": "web"}}, namespace="test",
               maxUnavailable=1))
    mains = by_workload(result)
    found = {b["source"]["namespace"]: b for b in result.problem["disruptionBudgets"]}
    assert set(found) == {"shop", "eu"}
    assert found["shop"]["containers"] == [mains["web"]["name"]]
    assert found["eu"]["containers"] == [mains["web-eu"]["name"]]
    # One name in two namespaces: two budgets of the problem, each named once.
    assert sorted(b["name"] for b in found.values()) == ["web", "web-shop"]
    assert warned(result, "PodDisruptionBudget web-test", "no workload", "left out")


def test_a_budget_selecting_nothing_is_left_out_with_a_warning() -> None:
    result = imported(
        deployment("web", {"app": "web"}),
        budget("db", {"matchLabels": {"app": "db"}}, minAvailable=1),
        budget("none", None, minAvailable=1),  # a null selector selects no pod
        budget("old", {}, api="policy/v1beta1", minAvailable=1))  # empty: none in v1beta1
    assert "disruptionBudgets" not in result.problem
    for name in ("db", "none", "old"):
        assert warned(result, f"PodDisruptionBudget {name} selects the pods of no workload")


def test_an_empty_selector_selects_every_pod_of_the_namespace_in_policy_v1() -> None:
    result = imported(
        deployment("web", {"app": "web"}, namespace="shop"),
        deployment("api", {"app": "api"}, namespace="shop"),
        deployment("other", {"app": "other"}, namespace="ops"),
        budget("all", {}, namespace="shop", maxUnavailable=1))
    mains = by_workload(result)
    [found] = result.problem["disruptionBudgets"]
    assert found["containers"] == [mains["web"]["name"], mains["api"]["name"]]


def test_overlapping_budgets_keep_the_first_by_name() -> None:
    result = imported(
        *reviews(),
        deployment("ratings", {"app": "ratings"}),
        # Listed out of name order: the order of the documents does not decide.
        budget("c-mixed", {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["reviews", "ratings"]}]},
            minAvailable=1),
        budget("b-v1", {"matchLabels": {"version": "v1"}}, maxUnavailable=0),
        budget("a-reviews", {"matchLabels": {"app": "reviews"}}, minAvailable="50%"))
    mains = by_workload(result)
    assert [(b["name"], b["containers"]) for b in result.problem["disruptionBudgets"]] == [
        ("a-reviews", [mains[f"reviews-{v}"]["name"] for v in ("v1", "v2", "v3")]),
        ("c-mixed", [mains["ratings"]["name"]]),
    ]
    assert warned(result, "PodDisruptionBudget b-v1", "by a-reviews",
                  "refuses to evict a pod that two budgets select")
    assert warned(result, "PodDisruptionBudget b-v1 covers no pod of its own", "left out")
    assert warned(result, "PodDisruptionBudget c-mixed", ", ".join(
        mains[f"reviews-{v}"]["name"] for v in ("v1", "v2", "v3")) + " (by a-reviews)")
    assert not warned(result, "c-mixed covers no pod")


def test_services_and_budgets_together_from_the_command_line(tmp_path: Path) -> None:
    manifests = tmp_path / "bookinfo.yaml"
    manifests.write_text("---\n".join([
        *reviews(),
        service("reviews", {"app": "reviews"}),
        budget("reviews", {"matchLabels": {"app": "reviews"}}, maxUnavailable=1)]))
    result = run(["import", "k8s", str(manifests), "--nodes", NODES])
    assert result.returncode == 0, result.stderr
    problem = yaml.safe_load(result.stdout)
    assert {c["component"] for c in problem["containers"]} == {"reviews"}
    assert problem["disruptionBudgets"][0]["maxUnavailable"] == 1
    assert "Service reviews selects 3 workloads" in result.stderr
    assert "skipped" not in result.stderr
    parsed = parse_problem(problem)
    assert len(parsed.disruption_budgets[0].containers) == 3


# --- bad budgets -------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "words"), [
    ({"minAvailable": "abc"}, ["spec.minAvailable", "'abc'", "percentage"]),
    ({"maxUnavailable": "150%"}, ["spec.maxUnavailable", "more than 100%"]),
    ({"maxUnavailable": -1}, ["spec.maxUnavailable", ">= 0"]),
    ({"minAvailable": True}, ["spec.minAvailable"]),
    ({"minAvailable": 1.5}, ["spec.minAvailable"]),
    ({"minAvailable": 20000}, ["spec.minAvailable", "10000"]),
    ({"minAvailable": 1, "maxUnavailable": 1}, ["spec", "both", "refuses"]),
])
def test_bad_budget_amounts_are_import_errors(amount: dict[str, Any],
                                              words: list[str]) -> None:
    text = "---\n".join([deployment("web", {"app": "web"}),
                         budget("web", {"matchLabels": {"app": "web"}}, **amount)])
    with pytest.raises(ManifestError) as caught:
        import_k8s(load_documents(text, "bad.yaml"), ImportOptions())
    assert "PodDisruptionBudget web" in str(caught.value)
    for word in words:
        assert word in str(caught.value)


def test_a_budget_with_neither_amount_is_taken_as_min_available_1_with_a_warning() -> None:
    text = "---\n".join([deployment("web", {"app": "web"}),
                         budget("web", {"matchLabels": {"app": "web"}})])
    result = import_k8s(load_documents(text, "app.yaml"), ImportOptions())
    assert [(b["name"], b["minAvailable"]) for b in result.problem["disruptionBudgets"]] == [
        ("web", 1)]
    assert any("neither minAvailable nor maxUnavailable" in w for w in result.warnings)


def test_a_bad_budget_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("---\n".join([
        deployment("web", {"app": "web"}),
        textwrap.dedent("""\
            apiVersion: policy/v1
            kind: PodDisruptionBudget
            metadata: {name: web}
            spec:
              minAvailable: abc
              selector: {matchLabels: {app: web}}
            """)]))
    for args in (["import", "k8s", str(bad)], ["review", str(bad), "--nodes", NODES]):
        result = run(args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "bad.yaml" in result.stderr
        assert "PodDisruptionBudget web: spec.minAvailable" in result.stderr
        assert "Traceback" not in result.stderr
