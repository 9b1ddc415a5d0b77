"""What-if on a real application: Online Boutique (bench-data) with 2 replicas per service
on three nodes in three zones, run today with both replicas of each service on one node.
Each zone failure must name exactly the services whose replicas all run in that zone
(recounted here from the placements), the advised layout must survive every zone failure,
and the migration to it must keep every rule at every step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from advisor.kube.common import ImportOptions
from advisor.kube.detect import read_input, read_nodes
from advisor.review import review
from models import Problem, parse_problem
from tests.validator import validate, validate_migration

ROOT = Path(__file__).resolve().parents[1]
BOUTIQUE = (ROOT.parent / "shared" / "bench-data" / "manifests" / "online-boutique"
            / "kubernetes-manifests.yaml")
NODES = ROOT / "examples" / "nodes.json"


def _boutique_two_replicas() -> Problem:
    if not BOUTIQUE.is_file():
        pytest.skip(f"{BOUTIQUE} is not here")
    options = ImportOptions()
    options.nodes = read_nodes(NODES.read_text(encoding="utf-8"), str(NODES))
    loaded, _ = read_input(BOUTIQUE.read_text(encoding="utf-8"), str(BOUTIQUE), options)
    data = loaded.model_dump(mode="json", by_alias=True, exclude_none=True)
    for container in data["containers"]:
        if container.get("replicas"):
            container["replicas"] = 2
    nodes = [n["name"] for n in data["nodes"]]
    assert len({n["zone"] for n in data["nodes"]}) == len(nodes) == 3
    layout = data["layout"]
    for pod in layout["pods"]:
        pod["replicas"] = 2
    # Both replicas of a service on one node, the services dealt round the nodes.
    layout["placements"] = [{"pod": pod["name"], "replica": r, "node": nodes[i % len(nodes)]}
                            for i, pod in enumerate(layout["pods"]) for r in range(2)]
    data["policy"]["timeLimitSeconds"] = 5
    return parse_problem(data)


@pytest.fixture(scope="module")
def boutique() -> tuple[Problem, dict[str, Any]]:
    problem = _boutique_two_replicas()
    return problem, review(problem).to_wire()


def _lost_in_zone(problem: Problem, layout: dict[str, Any], zone: str) -> set[str]:
    """The critical services with every placed replica on a node of `zone`."""
    zone_of = {n.name: n.zone for n in problem.nodes}
    critical = {c.component or c.name for c in problem.containers if c.critical}
    pods = {p["name"]: p for p in layout["pods"]}
    zones: dict[str, set[str | None]] = {}
    for placed in layout["placements"]:
        for container in pods[placed["pod"]]["containers"]:
            zones.setdefault(container, set()).add(zone_of[placed["node"]])
    return {name for name in critical if zones.get(name) == {zone}}


def test_each_zone_failure_names_the_services_it_takes_down(
        boutique: tuple[Problem, dict[str, Any]]) -> None:
    problem, result = boutique
    zone_failures = [f for f in result["whatIf"]["current"]["failures"]
                     if f["failure"]["kind"] == "zone"]
    assert {f["failure"]["name"] for f in zone_failures} == {n.zone for n in problem.nodes}
    named = set()
    for failure in zone_failures:
        expected = _lost_in_zone(problem, result["current"], failure["failure"]["name"])
        assert set(failure["lostComponents"]) == expected, failure["failure"]
        named |= expected
    assert len(named) >= 10  # every critical service lives in one zone today


def test_the_advice_survives_every_zone_failure_and_the_migration_is_safe(
        boutique: tuple[Problem, dict[str, Any]]) -> None:
    problem, result = boutique
    assert validate(problem, result["advised"]) == []
    for failure in result["whatIf"]["advised"]["failures"]:
        assert failure["lostComponents"] == [], failure
        lost = _lost_in_zone(problem, result["advised"], failure["failure"]["name"])
        assert failure["failure"]["kind"] != "zone" or lost == set()
    migration = result["migration"]
    assert migration["steps"]
    assert validate_migration(problem, result["current"], result["advised"], migration) == []
