"""Turning raw data into a Problem, with every error named by its field path.

Pydantic checks each field; the checks here span fields (names that must exist,
names that must be unique) and report the path of the offending value.
"""

from __future__ import annotations

import difflib
import types
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from models.problem import GroupHint, HelperHint, Problem, TrafficHint


@dataclass(frozen=True)
class FieldIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProblemError(ValueError):
    """The input is not a valid layout problem; `issues` names every offending field."""

    def __init__(self, issues: list[FieldIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


def format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def parse_problem(data: Any) -> Problem:
    """Validate raw JSON/YAML data into a Problem, or raise ProblemError."""
    if not isinstance(data, dict):
        raise ProblemError([FieldIssue("", "the problem must be a mapping with `containers`")])
    if "containers" not in data and "apiVersion" in data and "kind" in data:
        raise ProblemError([FieldIssue("", (
            f"this looks like a Kubernetes manifest (kind: {data['kind']}); the input is a "
            "layout problem: containers, hints, nodes, pools, policy (see `podlayout schema`)"
        ))])
    try:
        problem = Problem.model_validate(data)
    except ValidationError as exc:
        raise ProblemError(
            [FieldIssue(format_loc(_clean_loc(e["loc"])), _message(e)) for e in exc.errors()]
        ) from None
    issues = check_references(problem)
    if issues:
        raise ProblemError(issues)
    return problem


def _message(error: ErrorDetails) -> str:
    if error["type"] != "extra_forbidden":
        return error["msg"].removeprefix("Value error, ")
    *where, key = error["loc"]
    known = _known_keys(tuple(where))
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6) if known else []
    if not close:  # a case slip (`TimeLimitSeconds`) is close whatever its length
        close = [k for k in known if k.lower() == str(key).lower()][:1]
    return "unknown key" + (f"; did you mean `{close[0]}`?" if close else "")


def _leaves(annotation: Any) -> list[Any]:
    """The types a value of `annotation` may be: Annotated and unions unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaves(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [leaf for arg in get_args(annotation) for leaf in _leaves(arg)]
    return [annotation]


def _tagged(model: type[BaseModel], tag: str) -> bool:
    """Whether a union branch tag of pydantic's error paths (a discriminator value such as
    `sidecar`, or the class name) stands for `model`."""
    if tag == model.__name__:
        return True
    field = model.model_fields.get("type")
    return field is not None and any(
        get_origin(leaf) is Literal and tag in get_args(leaf) for leaf in _leaves(field.annotation))


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys (wire names) of the object at `loc` of a problem, found from the models."""
    current: list[Any] = [Problem]
    for part in loc:
        found: list[Any] = []
        for annotation in current:
            origin = get_origin(annotation)
            if isinstance(part, int):
                if origin in (list, tuple, set, frozenset):
                    found += _leaves(get_args(annotation)[0])
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                field = next((f for name, f in annotation.model_fields.items()
                              if part in (name, f.alias)), None)
                if field is not None:
                    found += _leaves(field.annotation)
                elif _tagged(annotation, part):
                    found.append(annotation)
            elif origin is dict:
                found += _leaves(get_args(annotation)[1])
        if found:
            current = found
        elif isinstance(part, int) or not part.startswith("function-"):
            return []  # a path the models do not know: no guess
    keys: list[str] = []
    for annotation in current:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += [f.alias or name for name, f in annotation.model_fields.items()
                     if (f.alias or name) not in keys]
    return keys


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # Drop pydantic's union-branch tags ("sidecar", "function-before[...]") from paths.
    return tuple(
        p for p in loc
        if isinstance(p, int) or not (p.startswith("function-") or p in _UNION_TAGS)
    )


_UNION_TAGS = {"sidecar", "ambassador", "adapter", "samePod", "separatePods", "sameNode",
               "separateNodes", "traffic", "HelperHint", "GroupHint", "TrafficHint"}


def _duplicates(names: list[str], path: str) -> list[FieldIssue]:
    counts = Counter(names)
    return [
        FieldIssue(f"{path}[{i}].name", f"duplicate name {name!r}")
        for i, name in enumerate(names)
        if counts[name] > 1 and names.index(name) != i
    ]


def check_references(problem: Problem) -> list[FieldIssue]:
    known = {c.name for c in problem.containers}
    issues = _check_inventory(problem)
    issues += _check_hints(problem, known)
    issues += _check_components(problem)
    issues += _check_budgets(problem, known)
    if problem.layout is not None:
        issues += _check_layout(problem, known)
    return issues


def _check_inventory(problem: Problem) -> list[FieldIssue]:
    """Unique names, pool and node names apart, requests of `pods`, some capacity."""
    issues: list[FieldIssue] = []
    issues += _duplicates([c.name for c in problem.containers], "containers")
    issues += _duplicates([n.name for n in problem.nodes], "nodes")
    issues += _duplicates([p.name for p in problem.pools], "pools")
    node_names = {n.name for n in problem.nodes}
    for i, pool in enumerate(problem.pools):
        if pool.name in node_names:
            issues.append(FieldIssue(f"pools[{i}].name", f"{pool.name!r} is also a node name"))
    pool_names = {p.name for p in problem.pools}
    for i, node in enumerate(problem.nodes):
        prefix, _, number = node.name.rpartition("-")
        if prefix in pool_names and number.isdigit():
            issues.append(FieldIssue(
                f"nodes[{i}].name",
                f"{node.name!r} looks like a node of pool {prefix!r} (pool nodes are named "
                f"{prefix}-1, {prefix}-2, ...); rename the node or the pool",
            ))
    for i, cont in enumerate(problem.containers):
        if "pods" in cont.requests:
            issues.append(FieldIssue(
                f"containers[{i}].requests.pods",
                "pods is a node's pod limit (allocatable.pods), not something a container requests",
            ))
    if not problem.nodes and not any(p.max_count > 0 for p in problem.pools):
        issues.append(FieldIssue("nodes", "give at least one node or a pool with maxCount > 0"))
    capacities = [(f"nodes[{i}]", n.allocatable) for i, n in enumerate(problem.nodes)]
    capacities += [(f"pools[{i}]", p.allocatable) for i, p in enumerate(problem.pools)]
    issues += [FieldIssue(f"{path}.allocatable", "allocates no resources")
               for path, allocatable in capacities
               if not any(v > 0 for k, v in allocatable.items() if k != "pods")]
    return issues


def _check_hints(problem: Problem, known: set[str]) -> list[FieldIssue]:
    """Hints name known containers, each once; helpers form no ring and serve no two mains
    a hint keeps apart."""
    issues: list[FieldIssue] = []
    mains_of: dict[str, list[str]] = {}
    apart: set[frozenset[str]] = set()
    for i, hint in enumerate(problem.hints):
        if isinstance(hint, HelperHint):
            issues += [FieldIssue(f"hints[{i}].{field}", f"unknown container {value!r}")
                       for field in ("container", "main")
                       if (value := getattr(hint, field)) not in known]
            if hint.container == hint.main:
                issues.append(FieldIssue(
                    f"hints[{i}].main", f"{hint.main!r} cannot be a {hint.type} of itself"
                ))
            mains_of.setdefault(hint.container, []).append(hint.main)
            continue
        assert isinstance(hint, GroupHint | TrafficHint)
        issues += [FieldIssue(f"hints[{i}].containers[{j}]", f"unknown container {value!r}")
                   for j, value in enumerate(hint.containers) if value not in known]
        if len(set(hint.containers)) != len(hint.containers):
            issues.append(FieldIssue(f"hints[{i}].containers", "names a container twice"))
        if isinstance(hint, GroupHint) and hint.type in ("separatePods", "separateNodes"):
            apart |= {frozenset((a, b)) for a in hint.containers for b in hint.containers
                      if a < b}
    for i, hint in enumerate(problem.hints):
        if isinstance(hint, HelperHint) and hint.container != hint.main:
            issues += _helper_issues(i, hint, mains_of, apart)
    return issues


def _helper_issues(i: int, hint: HelperHint, mains_of: dict[str, list[str]],
                   apart: set[frozenset[str]]) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    # A helper serves a main; helpers of each other in a ring leave no main at all.
    seen, current = {hint.container}, hint.main
    while current in mains_of and current not in seen:
        seen.add(current)
        current = mains_of[current][0]
    if current in seen and current in mains_of:
        issues.append(FieldIssue(
            f"hints[{i}].main",
            f"{hint.container!r} and {hint.main!r} are helpers of each other "
            "(directly or through others): one of them must be the main container",
        ))
    for other in mains_of.get(hint.container, []):
        if other != hint.main and frozenset((hint.main, other)) in apart:
            issues.append(FieldIssue(
                f"hints[{i}].main",
                f"{hint.container!r} is a helper of both {hint.main!r} and {other!r}, "
                "which a hint keeps apart",
            ))
    return issues


def _check_components(problem: Problem) -> list[FieldIssue]:
    """A component named like a container includes that container (naming a container's
    component joins it); a container of another component by that name is a clash."""
    own = {c.name: c.component or c.name for c in problem.containers}
    return [
        FieldIssue(f"containers[{i}].component",
                   f"{cont.component!r} is the name of a container in component "
                   f"{own[cont.component]!r}; name the component differently")
        for i, cont in enumerate(problem.containers)
        if cont.component is not None and own.get(cont.component, cont.component)
        != cont.component
    ]


def _check_budgets(problem: Problem, known: set[str]) -> list[FieldIssue]:
    issues = _duplicates([b.name for b in problem.disruption_budgets], "disruptionBudgets")
    covered: dict[str, str] = {}
    for i, budget in enumerate(problem.disruption_budgets):
        for j, name in enumerate(budget.containers):
            path = f"disruptionBudgets[{i}].containers[{j}]"
            if name not in known:
                issues.append(FieldIssue(path, f"unknown container {name!r}"))
            elif name in covered and covered[name] != budget.name:
                # Kubernetes refuses to evict a pod that two budgets select.
                issues.append(FieldIssue(path, f"{name!r} is already covered by budget "
                                         f"{covered[name]!r}; a pod may have one budget"))
            else:
                covered[name] = budget.name
    return issues


def _check_layout(problem: Problem, known: set[str]) -> list[FieldIssue]:
    assert problem.layout is not None
    issues: list[FieldIssue] = []
    layout = problem.layout
    seen: dict[str, str] = {}
    replicas: dict[str, int] = {}
    for i, pod in enumerate(layout.pods):
        if pod.name in replicas:
            issues.append(FieldIssue(f"layout.pods[{i}].name", f"duplicate pod {pod.name!r}"))
        replicas[pod.name] = pod.replicas
        for j, name in enumerate(pod.containers):
            path = f"layout.pods[{i}].containers[{j}]"
            if name not in known:
                issues.append(FieldIssue(path, f"unknown container {name!r}"))
            elif name in seen:
                issues.append(FieldIssue(path, f"{name!r} is already in pod {seen[name]!r}"))
            else:
                seen[name] = pod.name
    missing = sorted(known - set(seen))
    if missing:
        issues.append(FieldIssue("layout.pods", f"containers in no pod: {', '.join(missing)}"))
    node_names = {n.name for n in problem.nodes}
    pools = {p.name: p.max_count for p in problem.pools}
    taken: set[tuple[str, int]] = set()
    for i, place in enumerate(layout.placements):
        path = f"layout.placements[{i}]"
        if place.pod not in replicas:
            issues.append(FieldIssue(f"{path}.pod", f"unknown pod {place.pod!r}"))
        elif place.replica >= replicas[place.pod]:
            count = replicas[place.pod]
            issues.append(FieldIssue(
                f"{path}.replica", f"pod {place.pod!r} has {count} replicas (0..{count - 1})"
            ))
        elif (place.pod, place.replica) in taken:
            issues.append(
                FieldIssue(path, f"replica {place.replica} of {place.pod!r} placed twice")
            )
        taken.add((place.pod, place.replica))
        if place.node not in node_names and not _is_pool_node(place.node, pools):
            issues.append(FieldIssue(
                f"{path}.node", f"unknown node {place.node!r} (a node, or POOL-N for a pool)"
            ))
    return issues


def _is_pool_node(name: str, pools: dict[str, int]) -> bool:
    pool, _, index = name.rpartition("-")
    return (pool in pools and index.isdigit() and str(int(index)) == index
            and 1 <= int(index) <= pools[pool])
