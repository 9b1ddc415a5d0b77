"""NO_REQUESTS: one finding per container, naming what its source left out, what the
import assumed, and what is still missing."""

from __future__ import annotations

from advisor.solve import advise
from models import Finding, parse_problem

NODE = {"name": "n", "allocatable": {"cpu": "2", "memory": "2Gi"}}


def _no_requests(containers: list[dict[str, object]]) -> dict[str, Finding]:
    plan = advise(parse_problem({"containers": containers, "nodes": [NODE],
                                 "policy": {"timeLimitSeconds": 2, "workers": 1}}))
    found: dict[str, Finding] = {}
    for f in plan.findings:
        if f.code == "NO_REQUESTS":
            (name,) = f.subjects
            assert name not in found, "one finding per container"
            found[name] = f
    return found


def _findings(containers: list[dict[str, object]]) -> dict[str, str]:
    return {name: f.message for name, f in _no_requests(containers).items()}


def test_assumed_and_missing_requests_make_one_finding() -> None:
    found = _findings([
        {"name": "a", "requests": {"cpu": "100m"}, "defaultedRequests": ["cpu"]},
        {"name": "b"},
        {"name": "c", "requests": {"cpu": "100m", "memory": "128Mi"},
         "defaultedRequests": ["cpu", "memory"]},
        {"name": "d", "requests": {"cpu": "250m", "memory": "64Mi"}},
    ])
    assert set(found) == {"a", "b", "c"}
    assert "assumes cpu 100m" in found["a"]
    assert "requests no memory" in found["a"]
    assert "requests no cpu and no memory" in found["b"]
    assert "assumes cpu 100m, memory 128Mi" in found["c"]
    assert "requests no" not in found["c"]


def test_the_suggestion_names_every_request_to_set() -> None:
    found = _no_requests([
        {"name": "both", "requests": {"cpu": "100m", "memory": "128Mi"},
         "defaultedRequests": ["cpu", "memory"]},
        {"name": "none"},
        {"name": "mixed", "requests": {"cpu": "100m"}, "defaultedRequests": ["cpu"]},
        {"name": "memory-only", "requests": {"cpu": "250m"}},
    ])
    for name in ("both", "none", "mixed"):
        assert found[name].suggestion == (
            "set resources.requests.cpu and resources.requests.memory from observed usage")
    assert found["memory-only"].suggestion == "set resources.requests.memory from observed usage"
