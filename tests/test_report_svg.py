"""The layout picture (advisor/report/svg.py), read back as XML: one block per placed replica,
sizes in proportion to requests and allocatable, idle and stranded capacity marked, every
name escaped, and large or odd layouts drawn within bounds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from advisor.report.svg import PALETTE, STRONG, palette, render_svg
from advisor.review import review
from advisor.solve import advise
from models import parse_problem
from tests.conftest import load_example

NS = {"s": "http://www.w3.org/2000/svg"}
S = "{http://www.w3.org/2000/svg}"


def node(name: str, cpu: str | None = "8", memory: str | None = "16Gi",
         zone: str | None = None) -> dict[str, Any]:
    allocatable = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": name, "pool": None, "zone": zone, "allocatable": allocatable,
            "requested": {}, "pods": 0}


def pod(name: str, cpu: str = "1", memory: str = "1Gi", replicas: int = 1,
        containers: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "containers": containers or [name], "replicas": replicas,
            "requests": {"cpu": cpu, "memory": memory}}


def layout(pods: list[dict[str, Any]], placements: list[tuple[str, int, str]],
           nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"pods": pods, "nodes": nodes, **extra,
            "placements": [{"pod": p, "replica": r, "node": n} for p, r, n in placements]}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well formed, or this raises


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{S}g") if cls in classes(g)]


def title(element: ET.Element) -> str:
    found = element.find("s:title", NS)
    assert found is not None
    return found.text or ""


def node_group(root: ET.Element, name: str) -> ET.Element:
    found = [g for g in groups(root, "pl-node") if title(g).startswith(f"node {name} ")]
    assert len(found) == 1, name
    return found[0]


def heights(g: ET.Element, cls: str | None = None) -> list[float]:
    return [float(r.get("height", "0")) for r in g.findall("s:rect", NS)
            if cls is None or cls in classes(r)]


def test_one_block_per_placed_replica_of_a_solved_plan() -> None:
    plan = advise(parse_problem(load_example("reference.yaml"))).to_wire()
    root = parse(render_svg(plan))
    blocks = groups(root, "pl-replica")
    assert len(blocks) == len(plan["placements"]) > 0
    tips = sorted(title(b).split("\n")[0] for b in blocks)
    assert tips == sorted(f"pod {p['pod']}, replica {p['replica']} on {p['node']}"
                          for p in plan["placements"])
    assert len(groups(root, "pl-node")) == len(plan["nodes"])


def test_both_sides_of_a_review_are_drawn_and_one_pod_keeps_one_colour() -> None:
    result = review(parse_problem(load_example("reference-review.yaml"))).to_wire()
    names = [p["name"] for side in ("current", "advised") for p in result[side]["pods"]]
    colours = palette(names)
    for side in ("current", "advised"):
        root = parse(render_svg(result[side], colours=colours))
        blocks = groups(root, "pl-replica")
        assert len(blocks) == len(result[side]["placements"])
        for block in blocks:
            assert block.get("fill") == colours[title(block).split(",")[0].removeprefix("pod ")]
    # Today's monolith leaves node-2 empty: marked idle.
    current = parse(render_svg(result["current"]))
    idle = node_group(current, "node-2")
    assert "pl-idle" in classes(idle)
    assert "idle" in [t.text for t in idle.iter(f"{S}text")]
    assert "pl-idle" not in classes(node_group(current, "node-1"))


def test_heights_are_in_proportion_to_requests_and_allocatable() -> None:
    data = layout([pod("web", cpu="2", memory="4Gi"), pod("db", cpu="1", memory="8Gi")],
                  [("web", 0, "big"), ("db", 0, "big"), ("web", 1, "small")],
                  [node("big", cpu="8", memory="16Gi"), node("small", cpu="4", memory="8Gi")])
    root = parse(render_svg(data))
    big, small = node_group(root, "big"), node_group(root, "small")
    cpu_big, mem_big = heights(big, "pl-free")
    cpu_small, mem_small = heights(small, "pl-free")
    assert cpu_small == pytest.approx(cpu_big / 2, abs=0.1)
    assert mem_small == pytest.approx(mem_big / 2, abs=0.1)
    by_pod = {title(b).split(",")[0]: heights(b) for b in groups(big, "pl-replica")}
    assert by_pod["pod web"] == pytest.approx([cpu_big * 2 / 8, mem_big * 4 / 16], abs=0.1)
    assert by_pod["pod db"] == pytest.approx([cpu_big * 1 / 8, mem_big * 8 / 16], abs=0.1)
    (web_small,) = groups(small, "pl-replica")
    assert heights(web_small) == pytest.approx(by_pod["pod web"], abs=0.1)


def test_names_are_escaped() -> None:
    evil = "<script>alert('x')</script>&\"q\""
    data = layout([pod(evil, containers=[evil, "side&car"])], [(evil, 0, f"n{evil}")],
                  [node(f"n{evil}", zone=f"z{evil}")],
                  unplaced=[{"pod": evil, "replica": 1, "reason": f"no room for {evil}"}])
    svg = render_svg(data, colours={evil: '"><script>'}, label=evil)
    assert "<script>" not in svg
    root = parse(svg)  # well formed
    (block,) = groups(root, "pl-replica")
    assert title(block).startswith(f"pod {evil}, replica 0 on n{evil}")
    assert "side&car" in title(block)
    texts = "".join(t.text or "" for t in root.iter(f"{S}text"))
    assert evil in texts  # the unplaced list, whole
    assert root.get("aria-label") == evil


def test_no_nodes() -> None:
    svg = render_svg({"pods": [], "placements": [], "nodes": []})
    root = parse(svg)
    assert groups(root, "pl-node") == []
    assert "no nodes" in svg


def test_unplaced_replicas_are_listed() -> None:
    data = layout([pod("web", replicas=3)], [("web", 0, "n1")], [node("n1")],
                  unplaced=[{"pod": "web", "replica": 1, "reason": "fits nowhere"},
                            {"pod": "web", "replica": 2, "reason": "fits nowhere"}])
    root = parse(render_svg(data))
    texts = [t.text or "" for t in root.iter(f"{S}text")]
    assert "2 replica(s) unplaced, on no node:" in texts
    assert "web replica 1: fits nowhere" in texts
    assert "web replica 2: fits nowhere" in texts
    assert len(groups(root, "pl-replica")) == 1


def test_nodes_without_memory() -> None:
    data = layout([pod("gpu-job", cpu="1", memory="0")], [("gpu-job", 0, "a")],
                  [node("a", memory=None), node("b", memory=None)])
    root = parse(render_svg(data))
    (block,) = groups(root, "pl-replica")
    assert len(heights(block)) == 1  # the cpu bar only
    assert "memory: none allocatable" in title(node_group(root, "a"))
    mixed = layout([pod("web")], [("web", 0, "a"), ("web", 0, "b")],
                   [node("a", memory=None), node("b")])
    root = parse(render_svg(mixed))
    a, b = node_group(root, "a"), node_group(root, "b")
    assert len(heights(a, "pl-free")) == 1
    assert len(heights(b, "pl-free")) == 2
    assert [p.get("class") for p in a.findall("s:path", NS)] == ["pl-none"]


def test_stranded_and_overcommitted_capacity_are_marked() -> None:
    # Full on cpu, memory left: no pod fits, so the free memory is stranded.
    data = layout([pod("cpu-heavy", cpu="4", memory="1Gi")],
                  [("cpu-heavy", 0, "n1"), ("cpu-heavy", 1, "n1"), ("cpu-heavy", 0, "n2")],
                  [node("n1"), node("n2"), node("n3", cpu="2")])
    root = parse(render_svg(data))
    n1 = node_group(root, "n1")
    assert "stranded memory" in title(n1)
    assert any((r.get("fill") or "").startswith("url(#pl-strand-")
               for r in n1.findall("s:rect", NS))
    assert "stranded" not in title(node_group(root, "n2"))  # another one still fits there
    over = layout([pod("big", cpu="6")], [("big", 0, "n"), ("big", 1, "n")], [node("n")])
    root = parse(render_svg(over))
    n = node_group(root, "n")
    assert "overcommitted: cpu" in title(n)
    assert "over" in [t.text for t in n.iter(f"{S}text")]


def test_zones_group_the_columns() -> None:
    nodes = [node("a1", zone="zone-a"), node("b1", zone="zone-b"), node("a2", zone="zone-a"),
             node("loose")]
    root = parse(render_svg(layout([], [], nodes)))
    zones = [t.text for t in root.iter(f"{S}text") if "pl-zone" in classes(t)]
    assert zones == ["zone-a", "zone-b", "no zone"]

    def x_of(name: str) -> float:
        transform = node_group(root, name).get("transform", "")
        return float(transform.removeprefix("translate(").split(",")[0])

    assert x_of("a1") < x_of("a2") < x_of("b1") < x_of("loose")


def test_500_nodes_wrap_into_rows_and_stay_small() -> None:
    nodes = [node(f"gke-production-pool-{k:04d}-x7k2", zone=f"zone-{k % 3}") for k in range(500)]
    pods = [pod(f"service-{i:03d}", cpu="500m", memory="1Gi", replicas=10) for i in range(400)]
    placements = [(f"service-{i:03d}", r, nodes[(i * 10 + r) % 500]["name"])
                  for i in range(400) for r in range(10)]
    svg = render_svg(layout(pods, placements, nodes), max_width=1200)
    assert len(svg.encode()) < 2_000_000
    root = parse(svg)
    assert len(groups(root, "pl-replica")) == 4000
    assert len(groups(root, "pl-node")) == 500
    width = float(root.get("width", "0"))
    assert width <= 1200
    assert float(root.get("height", "0")) > 10 * 150  # many rows, not one line 20 000 px wide
    # Long names are cut in the middle: their ends tell nodes apart.
    labels = {t.text for g in groups(root, "pl-node") for t in g.iter(f"{S}text")}
    assert "gke-production…-0499-x7k2" in labels or any(
        (x or "").endswith("0499-x7k2") for x in labels)


def test_palette_is_stable_and_distinct_while_it_lasts() -> None:
    names = [f"svc-{i}" for i in range(len(STRONG))]
    first = palette(names)
    assert palette(reversed(names)) == first
    assert len(set(first.values())) == len(STRONG)
    assert set(first.values()) == set(STRONG)
    many = palette(f"svc-{i}" for i in range(50))
    assert set(many.values()) <= set(PALETTE)
    assert len(set(many.values())) == len(PALETTE)
