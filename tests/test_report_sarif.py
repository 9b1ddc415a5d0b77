"""SARIF output: valid against the official SARIF 2.1.0 schema, one result per finding with
its rule, level, message and fix, located at the manifest or Compose line that defines the
workload (or container) when the input came from there, else at the problem file."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema  # type: ignore[import-untyped, unused-ignore]  # stubs may be absent
import pytest

from advisor import advise
from advisor.kube.common import ImportOptions
from advisor.kube.detect import read_input, read_nodes
from advisor.report.sarif import (
    FINGERPRINT_KEY,
    LEVELS,
    RULES,
    SARIF_SCHEMA,
    fingerprint,
    render_sarif,
    rule_name,
)
from advisor.review import review
from models import Policy, Problem, parse_problem
from tests.support import container, node, problem

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
BENCH = ROOT.parent / "shared" / "bench-data" / "manifests"
BOOKSTORE = "examples/bookstore.yaml"
NODES = "examples/nodes.json"


@cache
def schema() -> dict[str, Any]:
    loaded = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def validate(log: dict[str, Any]) -> None:
    """Against the schema with the validator its `$schema` declares (draft-04 in the
    published errata 01), and Draft 7 as well, the draft of the standard's first edition."""
    declared = jsonschema.validators.validator_for(schema())
    for cls in {declared, jsonschema.Draft7Validator}:
        cls.check_schema(schema())
        cls(schema(), format_checker=cls.FORMAT_CHECKER).validate(log)


def render(result: dict[str, Any], problem_: Problem | None, source: str | None
           ) -> dict[str, Any]:
    text = render_sarif(result, problem_, source)
    assert text.endswith("\n")
    log = json.loads(text)
    assert isinstance(log, dict)
    validate(log)
    return log


def reviewed(path: str, nodes: str | None = None) -> tuple[Problem, dict[str, Any]]:
    """Import a file (named as on a command line, relative to the repository) as the CLI
    does, and review it with a short solve."""
    options = ImportOptions()
    if nodes is not None:
        options.nodes = read_nodes((ROOT / nodes).read_text(encoding="utf-8"), nodes)
    loaded, _ = read_input((ROOT / path).read_text(encoding="utf-8"), path, options)
    return quick(loaded), review(quick(loaded)).to_wire()


def quick(loaded: Problem) -> Problem:
    """The problem with a short solve: the advised plan is not what is tested here."""
    policy = Policy.model_validate({**loaded.policy.model_dump(), "time_limit_seconds": 3.0,
                                    "workers": 2})
    return loaded.model_copy(update={"policy": policy})


def bench(relative: str) -> str:
    """A bench-data file as a path relative to the repository, as a user would give it."""
    path = BENCH / relative
    if not path.is_file():
        pytest.skip(f"bench data not found: {path}")
    return os.path.relpath(path, ROOT)


def run_of(log: dict[str, Any]) -> dict[str, Any]:
    assert log["version"] == "2.1.0"
    assert log["$schema"] == SARIF_SCHEMA
    (run,) = log["runs"]
    assert isinstance(run, dict)
    return run


def where(result: dict[str, Any]) -> tuple[str, int]:
    """(file as named, line) of a result's primary location."""
    physical = result["locations"][0]["physicalLocation"]
    artifact = physical["artifactLocation"]
    uri = artifact["uri"]
    assert not re.search(r"[\s\\]", uri), uri  # a URI reference, not a raw path
    if artifact.get("uriBaseId") is None:
        assert uri.startswith("file:///"), uri
        return unquote(uri.removeprefix("file://")), physical["region"]["startLine"]
    assert artifact["uriBaseId"] == "%SRCROOT%"
    return unquote(uri), physical["region"]["startLine"]


def check_results(log: dict[str, Any], findings: list[dict[str, Any]]) -> None:
    """One result per finding, in order, with its rule, level, message and fix; every rule
    used is described, with help text, once."""
    run = run_of(log)
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "podlayout"
    assert run["tool"]["driver"]["version"]
    assert [r["id"] for r in rules] == sorted({f["code"] for f in findings})
    for rule in rules:
        assert rule["name"] == rule_name(rule["id"])
        assert rule["shortDescription"]["text"]
        assert len(rule["help"]["text"]) > 60
        assert rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run["results"]
    assert len(results) == len(findings)
    for result, finding in zip(results, findings, strict=True):
        assert result["ruleId"] == finding["code"]
        assert rules[result["ruleIndex"]]["id"] == finding["code"]
        assert result["level"] == LEVELS[finding["severity"]]
        text = result["message"]["text"]
        assert text.startswith(finding["message"])
        assert text.endswith(f"Fix: {finding['suggestion']}")
        assert result["partialFingerprints"][FINGERPRINT_KEY] == fingerprint(
            finding["code"], finding["subjects"])
        assert result["locations"], result


def lines_of(path: str) -> list[str]:
    full = Path(path) if Path(path).is_absolute() else ROOT / path
    return full.read_text(encoding="utf-8").splitlines()


def defined_by(problem_: Problem, subject: str) -> list[Any]:
    """The sources of the containers a subject (container or component) names."""
    return [c.source for c in problem_.containers if c.source is not None
            and subject in (c.name, c.component)]


def assert_workload_start(path: str, line: int, workload: str) -> None:
    """`line` is where a Kubernetes object starts: it holds `kind:` or is the first line of
    its document, and the object's `name:` follows within a few lines."""
    lines = lines_of(path)
    here = lines[line - 1]
    before = [t for t in lines[:line - 1] if t.strip() and not t.lstrip().startswith("#")]
    assert "kind:" in here or not before or before[-1].strip() == "---", (line, here)
    assert any(re.search(rf"\bname:\s*{re.escape(workload)}\b", t)
               for t in lines[line - 1:line + 6]), (path, line, workload)


def check_single_replicas(log: dict[str, Any], problem_: Problem, path: str) -> int:
    """Every SINGLE_REPLICA result points at the manifest and the start of the workload's
    object; returns how many were checked."""
    checked = 0
    for result in run_of(log)["results"]:
        if result["ruleId"] != "SINGLE_REPLICA":
            continue
        file, line = where(result)
        assert file == path
        subject = result["properties"]["subjects"][0]
        sources = defined_by(problem_, subject)
        assert (file, line) in {(s.file, s.line) for s in sources}, (subject, line)
        workload = next(s.workload for s in sources if s.line == line)
        assert_workload_start(path, line, workload)
        checked += 1
    return checked


# --- a problem file ---------------------------------------------------------------------------

def test_a_plan_of_a_problem_file_points_at_the_problem_file() -> None:
    parsed = parse_problem(problem(
        [container("web", memory="64"), container("api", cpu="200m"), container("db")],
        [node("n1")]))
    plan = advise(parsed).to_wire()
    codes = {f["code"] for f in plan["findings"]}
    assert {"SINGLE_REPLICA", "TINY_MEMORY_REQUEST", "BLAST_RADIUS"} <= codes
    log = render(plan, parsed, "problems/shop.yaml")
    check_results(log, plan["findings"])
    for result in run_of(log)["results"]:
        assert result["locations"][0]["physicalLocation"] == {
            "artifactLocation": {"uri": "problems/shop.yaml", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": 1}}
    props = run_of(log)["properties"]
    assert props["report"] == "plan"
    assert props["status"] == plan["status"]
    assert props["scores"]["spof"] == plan["scores"]["spof"]["score"]


def test_an_absolute_path_is_a_file_uri_and_no_source_no_location() -> None:
    parsed = parse_problem(problem([container("web")], [node("n1")]))
    plan = advise(parsed).to_wire()
    log = render(plan, parsed, "/srv/my apps/shop.yaml")
    location = run_of(log)["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "file:///srv/my%20apps/shop.yaml"}
    # Without a problem file nothing can be pointed at: still a valid log.
    log = render(plan, None, None)
    assert all("locations" not in r for r in run_of(log)["results"])


# --- manifests and Compose files -----------------------------------------------------------

def test_bookstore_review_points_at_the_manifest_lines() -> None:
    loaded, result = reviewed(BOOKSTORE, NODES)
    log = render(result, loaded, BOOKSTORE)
    # The current layout's findings: what the repository holds.
    check_results(log, result["current"]["findings"])
    assert check_single_replicas(log, loaded, BOOKSTORE) >= 1
    for r in run_of(log)["results"]:
        file, line = where(r)
        assert file == BOOKSTORE
        assert line > 1
    # The component `reviews` spans three Deployments: it points at one of them.
    spread = next(r for r in run_of(log)["results"] if r["ruleId"] == "REPLICAS_ON_ONE_NODE")
    file, line = where(spread)
    assert_workload_start(file, line, "reviews-v1")
    # A blast radius names a node, then components: each component is located.
    blast = next(r for r in run_of(log)["results"] if r["ruleId"] == "BLAST_RADIUS")
    assert blast["properties"]["subjects"][0].startswith(("node/", "zone/"))
    related = {x["message"]["text"] for x in blast.get("relatedLocations", [])}
    assert related <= set(blast["properties"]["subjects"][1:])
    props = run_of(log)["properties"]
    assert props["report"] == "review"
    assert props["advised"]["summary"] == result["comparison"]["summary"]
    assert props["advised"]["status"] == result["advised"]["status"]
    notes = run_of(log)["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["message"]["text"] == result["comparison"]["summary"]


@pytest.mark.parametrize("relative", ["online-boutique/kubernetes-manifests.yaml",
                                      "sock-shop/complete-demo.yaml"])
def test_bench_reviews_render_valid_located_sarif(relative: str) -> None:
    path = bench(relative)
    loaded, result = reviewed(path)
    log = render(result, loaded, path)
    check_results(log, result["current"]["findings"])
    assert check_single_replicas(log, loaded, path) >= 10
    lines = lines_of(path)
    for r in run_of(log)["results"]:
        file, line = where(r)
        assert file == path
        if r["ruleId"] == "NO_REQUESTS":
            # A container's own setting: its `- name: X` entry in the pod template.
            (name,) = r["properties"]["subjects"]
            source = next(c.source for c in loaded.containers if c.name == name)
            assert source is not None
            assert line == source.container_line
            assert re.search(rf"-\s+name:\s*{re.escape(source.container)}\s*$",
                             lines[line - 1]), lines[line - 1]
    # The same input renders the same log.
    assert render_sarif(result, loaded, path) == render_sarif(result, loaded, path)


def test_sock_shop_compose_points_at_the_service_keys() -> None:
    path = bench("sock-shop/docker-compose.yml")
    loaded, result = reviewed(path)
    log = render(result, loaded, path)
    check_results(log, result["current"]["findings"])
    lines = lines_of(path)
    located = 0
    for r in run_of(log)["results"]:
        file, line = where(r)
        subject = r["properties"]["subjects"][0]
        if r["ruleId"] in ("SINGLE_REPLICA", "NO_REQUESTS"):
            assert file == path
            assert lines[line - 1].strip() == f"{subject}:", (subject, line)
            located += 1
    assert located >= 5


COMPOSE = """\
# A shop
services:
  web:
    image: nginx
    depends_on: [api]

  api:
    image: example/api
    deploy:
      replicas: 2
      resources:
        reservations: {cpus: "0.5", memory: 256M}
"""


def test_a_compose_file_locates_each_service() -> None:
    loaded, _ = read_input(COMPOSE, "compose.yaml", ImportOptions())
    sources = {c.name: c.source for c in loaded.containers}
    assert {n: (s.file, s.line) for n, s in sources.items() if s is not None} == {
        "web": ("compose.yaml", 3), "api": ("compose.yaml", 7)}
    result = review(quick(loaded)).to_wire()
    log = render(result, loaded, "compose.yaml")
    by_rule = {(r["ruleId"], *r["properties"]["subjects"][:1]): where(r)
               for r in run_of(log)["results"]}
    assert by_rule[("SINGLE_REPLICA", "web")] == ("compose.yaml", 3)
    assert by_rule[("NO_REQUESTS", "web")] == ("compose.yaml", 3)


# --- subjects that are not containers --------------------------------------------------------

MANIFESTS = """\
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: shop}
  spec:
    replicas: 1
    selector: {matchLabels: {app: shop}}
    template:
      metadata: {labels: {app: shop}}
      spec:
        containers:
        - name: proxy
          image: envoy
        - name: shop
          image: example/shop
          resources: {requests: {cpu: 100m, memory: 64Mi}}
- apiVersion: policy/v1
  kind: PodDisruptionBudget
  metadata: {name: shop-pdb}
  spec:
    minAvailable: 1
    selector: {matchLabels: {app: shop}}
"""


def test_pods_budgets_components_and_nodes_map_to_what_defines_them() -> None:
    loaded, _ = read_input(MANIFESTS, "app.yaml", ImportOptions())
    sources = {c.name: c.source for c in loaded.containers}
    # A List item starts where its `- ` is; a container at its entry.
    assert {n: (s.line, s.container_line) for n, s in sources.items() if s is not None} == {
        "shop": (4, 16), "proxy": (4, 14)}
    finding = {"severity": "medium", "message": "m", "suggestion": "s"}
    # A pod named unlike its containers stands for its main container's workload.
    result = {"status": "optimal",
              "pods": [{"name": "storefront", "containers": ["proxy", "shop"]}],
              "findings": [
                  {**finding, "code": "BUDGET_BLOCKS_DRAIN", "subjects": ["shop-pdb", "shop"]},
                  {**finding, "code": "NODE_NOT_ADMITTED", "subjects": ["storefront", "n1"]},
                  {**finding, "code": "BLAST_RADIUS", "subjects": ["node/n1", "shop"]},
                  {**finding, "code": "NO_REQUESTS", "subjects": ["proxy"]},
                  {**finding, "code": "NO_REQUESTS", "subjects": ["storefront"]},
                  {**finding, "code": "DUPLICATED_CONTAINER", "subjects": ["proxy", "shop"]},
                  {**finding, "code": "IDLE_NODES", "subjects": ["shop"]},
                  {**finding, "code": "SOMETHING_NEW", "subjects": ["nothing"]}]}
    log = render(result, loaded, "app.yaml")
    located = [where(r) for r in run_of(log)["results"]]
    assert located == [("app.yaml", 4), ("app.yaml", 4), ("app.yaml", 4), ("app.yaml", 14),
                       ("app.yaml", 4), ("app.yaml", 14), ("app.yaml", 1), ("app.yaml", 1)]
    rules = {r["id"]: r for r in run_of(log)["tool"]["driver"]["rules"]}
    assert rules["SOMETHING_NEW"]["name"] == "SomethingNew"
    assert rules["SOMETHING_NEW"]["help"]["text"]
    assert rules["SOMETHING_NEW"]["defaultConfiguration"]["level"] == "warning"


def test_fingerprints_ignore_subject_order_and_rule_names_are_pascal_case() -> None:
    assert fingerprint("BLAST_RADIUS", ["b", "a"]) == fingerprint("BLAST_RADIUS", ["a", "b"])
    assert fingerprint("BLAST_RADIUS", ["a"]) != fingerprint("SINGLE_REPLICA", ["a"])
    assert rule_name("N1_BREAKS_BUDGET") == "N1BreaksBudget"
    assert rule_name("SINGLE_REPLICA") == "SingleReplica"


def test_every_code_the_advisor_reports_has_help() -> None:
    emitted: set[str] = set()
    for name in ("findings.py", "scoring.py"):
        text = (ROOT / "advisor" / name).read_text(encoding="utf-8")
        emitted |= set(re.findall(r'code="([A-Z0-9_]+)"', text))
        emitted |= set(re.findall(r'code == "([A-Z0-9_]+)"', text))
        emitted |= set(re.findall(r'e\.add\([^,]+, "([A-Z0-9_]+)"', text))
    assert {"BLAST_RADIUS", "N1_BREAKS_BUDGET", "BUDGET_BLOCKS_DRAIN", "NO_REQUESTS",
            "SINGLE_REPLICA"} <= emitted
    assert emitted <= set(RULES), emitted - set(RULES)


def test_the_schema_is_the_published_one() -> None:
    loaded = schema()
    assert loaded["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert loaded["id"] == SARIF_SCHEMA
    assert loaded["properties"]["version"]["enum"] == ["2.1.0"]
