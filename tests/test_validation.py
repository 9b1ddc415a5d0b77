"""Input validation: every error names its field."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.loading import LimitError, load_problem
from models import ProblemError, parse_problem


def base(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "containers": [{"name": "a", "requests": {"cpu": "1"}}, {"name": "b"}],
        "nodes": [{"name": "n1", "allocatable": {"cpu": "4", "memory": "8Gi"}}],
    }
    data.update(extra)
    return data


def issues(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ProblemError) as info:
        parse_problem(data)
    return {i.path: i.message for i in info.value.issues}


def test_valid_problem_parses() -> None:
    problem = parse_problem(base(hints=[{"type": "sidecar", "container": "b", "main": "a"}]))
    assert problem.containers[0].requests["cpu"] == 1


def test_duplicate_names() -> None:
    found = issues(base(containers=[{"name": "a"}, {"name": "a"}]))
    assert "containers[1].name" in found
    found = issues(base(nodes=[{"name": "n", "allocatable": {"cpu": 1}}] * 2))
    assert "nodes[1].name" in found


def test_unknown_containers_in_hints() -> None:
    found = issues(base(hints=[{"type": "samePod", "containers": ["a", "zz"]}]))
    assert "unknown container 'zz'" in found["hints[0].containers[1]"]
    found = issues(base(hints=[{"type": "adapter", "container": "b", "main": "nope"}]))
    assert "hints[0].main" in found


def test_sidecar_of_itself() -> None:
    found = issues(base(hints=[{"type": "sidecar", "container": "a", "main": "a"}]))
    assert "itself" in found["hints[0].main"]


def test_helper_of_two_mains_kept_apart() -> None:
    data = base(
        containers=[{"name": "a"}, {"name": "b"}, {"name": "h"}],
        hints=[
            {"type": "sidecar", "container": "h", "main": "a"},
            {"type": "sidecar", "container": "h", "main": "b"},
            {"type": "separatePods", "containers": ["a", "b"]},
        ],
    )
    found = issues(data)
    assert any(path.startswith("hints[") and "apart" in msg for path, msg in found.items())


@pytest.mark.parametrize("replicas", [0, -1])
def test_non_positive_replicas(replicas: int) -> None:
    found = issues(base(containers=[{"name": "a", "replicas": replicas}]))
    assert "containers[0].replicas" in found


def test_nodes_without_allocatable() -> None:
    assert "nodes[0].allocatable" in issues(base(nodes=[{"name": "n1", "allocatable": {}}]))
    assert "nodes[0].allocatable" in issues(base(nodes=[{"name": "n1"}]))
    assert "nodes[0].allocatable" in issues(
        base(nodes=[{"name": "n1", "allocatable": {"cpu": 0}}])
    )
    assert "nodes" in issues(base(nodes=[]))


def test_bad_and_negative_quantities() -> None:
    found = issues(base(containers=[{"name": "a", "requests": {"cpu": "-1"}}]))
    assert "negative" in found["containers[0].requests.cpu"]
    found = issues(base(containers=[{"name": "a", "requests": {"memory": "1 Gi"}}]))
    assert "containers[0].requests.memory" in found


def test_unknown_keys_and_hint_types() -> None:
    assert "containers[0].cpus" in issues(base(containers=[{"name": "a", "cpus": 1}]))
    assert "hints[0]" in issues(base(hints=[{"type": "buddy", "containers": ["a", "b"]}]))


def test_bad_names() -> None:
    assert "containers[0].name" in issues(base(containers=[{"name": "Not_DNS"}]))


def test_layout_references() -> None:
    layout = {
        "pods": [{"name": "p", "containers": ["a", "ghost"]}],
        "placements": [{"pod": "p", "replica": 3, "node": "nowhere"}],
    }
    found = issues(base(layout=layout))
    assert "layout.pods[0].containers[1]" in found
    assert "layout.pods" in found  # b is in no pod
    assert "layout.placements[0].replica" in found
    assert "layout.placements[0].node" in found


def test_policy_limits() -> None:
    assert "policy.timeLimitSeconds" in issues(base(policy={"timeLimitSeconds": 0}))
    assert "policy.objective" in issues(base(policy={"objective": "cheapest"}))


def test_ports_as_numeric_strings() -> None:
    problem = parse_problem(base(containers=[{"name": "a", "ports": ["8080", 53]}]))
    assert [p.port for p in problem.containers[0].ports] == [8080, 53]
    assert "containers[0].ports[0]" in issues(base(containers=[{"name": "a", "ports": ["http"]}]))


def test_limits_without_requests_become_requests() -> None:
    problem = parse_problem(base(containers=[{"name": "a", "limits": {"cpu": "2"}}]))
    assert problem.containers[0].requests["cpu"] == 2
    found = issues(base(containers=[{"name": "a", "requests": {"cpu": "2"},
                                     "limits": {"cpu": "1"}}]))
    assert "above limits.cpu" in found["containers[0]"]


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    "a: " + "[" * 100_000 + "]" * 100_000,
    "a: " + "{b: " * 65 + "1" + "}" * 65,
])
def test_nesting_beyond_the_limit_is_a_limit_error(text: str) -> None:
    # Deep YAML once crashed the process inside libyaml's constructor: refused up front.
    with pytest.raises(LimitError, match="nested more than"):
        load_problem(text, "input")


def test_yaml_aliases_beyond_the_limit_are_a_limit_error() -> None:
    text = "a: &x [1]\nb: [*x, *x, *x]\n"
    with pytest.raises(LimitError, match="more than 2 aliases"):
        load_problem(text, "input", max_aliases=2)
    with pytest.raises(ProblemError, match="containers"):  # within the limit: read, then judged
        load_problem(text, "input", max_aliases=3)


@pytest.mark.parametrize(("field", "value"), [
    ("replicas", "2"), ("replicas", True), ("replicas", 2.0), ("critical", "yes"),
    ("critical", 0),
])
def test_values_are_not_converted_between_types(field: str, value: object) -> None:
    data = {"containers": [{"name": "web", field: value}],
            "nodes": [{"name": "n", "allocatable": {"cpu": "1"}}]}
    with pytest.raises(ProblemError, match=f"containers\\[0\\].{field}"):
        parse_problem(data)


@pytest.mark.parametrize(("text", "match"), [
    ("a: 1" + ":0" * 200_000, "starts like a number"),  # YAML 1.1 sexagesimal: quadratic
    ("a: " + "9" * 5000, "starts like a number"),
    ('{"a": ' + "9" * 5000 + "}", "integer string conversion"),
    ("x: &L {" + ", ".join(f"k{i}: v" for i in range(3000)) + "}\n"
     + "\n".join(f"y{i}: *L" for i in range(100)), "expand the input"),
])
def test_inputs_that_cost_far_more_than_their_size_are_refused(text: str, match: str) -> None:
    with pytest.raises(LimitError, match=match):
        load_problem(text, "input")


def test_an_anchor_reused_a_few_times_is_fine() -> None:
    text = ("containers:\n  - {name: a, requests: &r {cpu: 1}}\n  - {name: b, requests: *r}\n"
            "nodes: [{name: n, allocatable: {cpu: '4'}}]\n")
    assert [c.name for c in load_problem(text, "input").containers] == ["a", "b"]


def test_unknown_keys_suggest_a_close_known_one() -> None:
    found = issues(base(
        containers=[{"name": "a", "requets": {"cpu": "1"}, "nodeselector": {}},
                    {"name": "b", "zzzz": 1}],
        hints=[{"type": "sidecar", "container": "b", "main": "a", "mian": "a"},
               {"type": "samePod", "containers": ["a", "b"], "containrs": []}],
        nodes=[{"name": "n1", "allocatable": {"cpu": "4"},
                "taints": [{"key": "k", "efect": "NoSchedule"}]}],
        policy={"timeLimit": 3},
        nods=[],
    ))
    assert found["containers[0].requets"].endswith("did you mean `requests`?")
    assert found["containers[0].nodeselector"].endswith("did you mean `nodeSelector`?")
    assert "did you mean" not in found["containers[1].zzzz"]
    # Each hint type has its own keys: `main` for helpers, `containers` for groups.
    assert found["hints[0].mian"].endswith("did you mean `main`?")
    assert found["hints[1].containrs"].endswith("did you mean `containers`?")
    assert found["nodes[0].taints[0].efect"].endswith("did you mean `effect`?")
    assert found["policy.timeLimit"].endswith("did you mean `timeLimitSeconds`?")
    assert found["nods"].endswith("did you mean `nodes`?")


GLUE_HINT = "`---` must start its own line; a file probably lacks its final newline"


@pytest.mark.parametrize("text", [
    "containers: [{name: a}]\nnodes: []---\ncontainers: [{name: b}]\n",
    "containers:\n- name: a---\ncontainers: [{name: b}]\n",
    '{"containers": [{"name": "a"}]}---\ncontainers: [{name: b}]\n',
])
def test_a_glued_document_separator_is_explained(text: str) -> None:
    with pytest.raises(ProblemError) as info:
        load_problem(text, "p.yaml")
    (issue,) = info.value.issues
    assert issue.message.endswith(f"ends with `---`: {GLUE_HINT})")
