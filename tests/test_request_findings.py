"""NO_REQUESTS: one finding per container, naming what its source left out, what the
import assumed, and what is still missing."""

from __future__ import annotations

from advisor.solve import advise
from models import parse_problem

NODE = {"name": "n", "allocatable": {"cpu": "2", "memory": "2Gi"}}


def _findings(containers: list[dict[str, object]]) -> dict[str, str]:
    plan = advise(parse_problem({"containers": containers, "nodes": [NODE],
                                 "policy": {"timeLimitSeconds": 2, "workers": 1}}))
    found: dict[str, str] = {}
    for f in plan.findings:
        if f.code == "NO_REQUESTS":
            (name,) = f.subjects
            assert name not in found, "one finding per container"
            found[name] = f.message
    return found


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
