"""ReadWriteOnce volumes: every replica of every pod mounting one runs on one node, as
Kubernetes requires; advice for such pods is a claim per replica, not more replicas."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from advisor.greedy import greedy
from advisor.kube.common import ImportOptions
from advisor.kube.detect import read_input
from advisor.prepare import prepare
from advisor.review import review
from advisor.solve import advise
from models import parse_problem
from tests.validator import validate


def _problem(mode: str = "ReadWriteOnce", replicas: int = 2, **policy: Any) -> dict[str, Any]:
    """A database with `replicas` replicas sharing one claim, a web tier, three nodes."""
    return {
        "containers": [
            {"name": "db", "requests": {"cpu": "500m", "memory": "1Gi"}, "replicas": replicas,
             "volumes": ["pvc:shop/data"]},
            {"name": "web", "requests": {"cpu": "250m", "memory": "256Mi"}, "replicas": 2},
        ],
        "volumes": [{"name": "pvc:shop/data", "accessMode": mode}],
        "nodes": [{"name": f"node-{i}", "allocatable": {"cpu": "4", "memory": "8Gi"}}
                  for i in range(3)],
        "policy": {"timeLimitSeconds": 5, "workers": 2, **policy},
    }


def _nodes_of(plan: dict[str, Any], container: str) -> set[str]:
    pod = next(p["name"] for p in plan["pods"] if container in p["containers"])
    return {p["node"] for p in plan["placements"] if p["pod"] == pod}


def test_replicas_sharing_a_read_write_once_claim_share_a_node() -> None:
    data = _problem()
    plan = advise(parse_problem(data)).to_wire()
    assert plan["status"] in ("optimal", "feasible")
    assert len(_nodes_of(plan, "db")) == 1
    assert len(_nodes_of(plan, "web")) == 2  # the rest is spread as usual
    assert validate(parse_problem(data), plan) == []
    finding = next(f for f in plan["findings"] if "db" in f["subjects"]
                   and f["code"] == "REPLICAS_ON_ONE_NODE")
    assert "StatefulSet" in finding["suggestion"]
    assert "volumeClaimTemplates" in finding["suggestion"]


def test_two_pods_sharing_a_read_write_once_claim_run_on_one_node() -> None:
    data = _problem(replicas=1)
    data["containers"].append({"name": "backup", "requests": {"cpu": "100m", "memory": "64Mi"},
                               "volumes": ["pvc:shop/data"]})
    data["hints"] = [{"type": "separatePods", "containers": ["db", "backup"]}]
    plan = advise(parse_problem(data)).to_wire()
    assert _nodes_of(plan, "db") == _nodes_of(plan, "backup")
    assert validate(parse_problem(data), plan) == []


def test_a_read_write_many_claim_does_not_constrain_placement() -> None:
    data = _problem("ReadWriteMany")
    plan = advise(parse_problem(data)).to_wire()
    assert len(_nodes_of(plan, "db")) == 2  # critical, two replicas: spread
    assert validate(parse_problem(data), plan) == []


def test_the_greedy_plan_keeps_the_rule_too() -> None:
    inst = prepare(parse_problem(_problem(replicas=3)))
    first = greedy(inst)
    db = next(u for u, unit in enumerate(inst.units) if unit.name == "db")
    assert len([k for k, n in first.counts[db].items() if n]) == 1


def test_a_single_replica_with_a_claim_is_told_to_use_a_claim_per_replica() -> None:
    plan = advise(parse_problem(_problem(replicas=1))).to_wire()
    finding = next(f for f in plan["findings"]
                   if f["code"] == "SINGLE_REPLICA" and "db" in f["subjects"])
    assert "StatefulSet" in finding["suggestion"]
    assert "ReadWriteOnce volume pvc:shop/data" in finding["message"]


@pytest.mark.parametrize(("data", "named"), [
    (_problem("ReadWriteOncePod"), "one pod replica only"),
    (_problem(spread="node"), "policy.spread"),
    (_problem(replicas=20), "no node that admits them has room"),
])
def test_what_cannot_hold_is_a_named_volume_conflict(data: dict[str, Any], named: str) -> None:
    plan = advise(parse_problem(data)).to_wire()
    assert plan["status"] == "infeasible"
    conflict = next(c for c in plan["conflicts"] if c["kind"] == "volume")
    assert "pvc:shop/data" in conflict["subjects"]
    assert named in conflict["message"]


def test_the_validator_refuses_a_claim_mounted_on_two_nodes() -> None:
    data = _problem()
    plan = advise(parse_problem(data)).to_wire()
    assert validate(parse_problem(data), plan) == []
    db = next(p["name"] for p in plan["pods"] if "db" in p["containers"])
    elsewhere = next(n for n in ("node-0", "node-1", "node-2")
                     if n not in _nodes_of(plan, "db"))
    for placement in plan["placements"]:
        if placement["pod"] == db and placement["replica"] == 1:
            placement["node"] = elsewhere  # the second replica moves off the claim's node
    assert any("ReadWriteOnce volume pvc:shop/data" in v
               for v in validate(parse_problem(data), plan))


def test_a_volume_declared_twice_is_an_error() -> None:
    data = _problem()
    data["volumes"].append(dict(data["volumes"][0]))
    with pytest.raises(ValueError, match="declared twice"):
        parse_problem(data)


def test_the_current_layout_is_placed_as_the_volume_allows() -> None:
    data = _problem(replicas=3)
    data["layout"] = {"pods": [{"name": "db", "containers": ["db"], "replicas": 3},
                               {"name": "web", "containers": ["web"], "replicas": 2}]}
    current = review(parse_problem(data)).to_wire()["current"]
    assert len({p["node"] for p in current["placements"] if p["pod"] == "db"}) == 1


# -- imported from manifests ------------------------------------------------------------

def _manifests(mode: str | None, kind: str = "Deployment", replicas: int = 2) -> str:
    pod_spec: dict[str, Any] = {"containers": [{
        "name": "db", "image": "postgres:16",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]}]}
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": "db"}},
                            "template": {"metadata": {"labels": {"app": "db"}}}}
    if kind == "StatefulSet":
        spec["serviceName"] = "db"
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    else:
        pod_spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "db"}}]
    spec["template"]["spec"] = pod_spec
    docs: list[dict[str, Any]] = [{"apiVersion": "apps/v1", "kind": kind,
                                   "metadata": {"name": "db"}, "spec": spec}]
    if mode is not None:
        docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": "db"},
                     "spec": {"accessModes": [mode],
                              "resources": {"requests": {"storage": "1Gi"}}}})
    return yaml.safe_dump_all(docs)


def _import(text: str) -> tuple[Any, list[str]]:
    options = ImportOptions(nodes=[{"name": f"node-{i}", "allocatable": {"cpu": "4",
                                                                        "memory": "8Gi"}}
                                   for i in range(3)])
    return read_input(text, "app.yaml", options)


def test_an_imported_read_write_once_claim_keeps_its_replicas_on_one_node() -> None:
    problem, _ = _import(_manifests("ReadWriteOnce"))
    assert [(v.name, v.access_mode) for v in problem.volumes] == [("pvc:db", "ReadWriteOnce")]
    plan = advise(problem).to_wire()
    assert len(_nodes_of(plan, "db")) == 1
    assert validate(problem, plan) == []


def test_an_imported_read_write_many_claim_lets_replicas_spread() -> None:
    problem, _ = _import(_manifests("ReadWriteMany"))
    assert problem.volumes[0].access_mode == "ReadWriteMany"
    assert len(_nodes_of(advise(problem).to_wire(), "db")) == 2


def test_a_claim_whose_pvc_is_missing_is_taken_as_read_write_once_and_said() -> None:
    problem, warnings = _import(_manifests(None))
    assert problem.volumes[0].access_mode == "ReadWriteOnce"
    assert any("taken as ReadWriteOnce" in w and "db" in w for w in warnings)


def test_volume_claim_templates_give_each_replica_its_own_claim() -> None:
    problem, _ = _import(_manifests(None, kind="StatefulSet"))
    assert problem.volumes == []
    plan = advise(problem).to_wire()
    assert len(_nodes_of(plan, "db")) == 2  # critical, two replicas, a claim each: spread
    assert validate(problem, plan) == []
