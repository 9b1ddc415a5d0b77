"""The Indexed Job and the container image the README tells users to run batches with."""

from __future__ import annotations

import re
import shlex
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped, unused-ignore]
import yaml

from tests.conftest import ROOT
from tests.test_export_k8s import K8S_VERSION

JOB = ROOT / "deploy" / "batch-job.yaml"
CONTAINERFILE = ROOT / "Containerfile"


def job() -> dict[str, Any]:
    doc = yaml.safe_load(JOB.read_text())
    assert isinstance(doc, dict)
    return doc


def command(doc: dict[str, Any]) -> list[str]:
    container = doc["spec"]["template"]["spec"]["containers"][0]
    return shlex.split(" ".join(container["command"][2:] + container["args"]))


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def test_the_job_passes_the_kubernetes_schemas() -> None:
    kubernetes_validate.validate(job(), K8S_VERSION, strict=True)


def test_the_job_is_indexed_with_one_shard_per_completion() -> None:
    doc = job()
    spec = doc["spec"]
    words = command(doc)
    assert spec["completionMode"] == "Indexed"
    assert words[:2] == ["podlayout", "batch"] or words[:3] == ["exec", "podlayout", "batch"]
    assert int(option(words, "--shards")) == spec["completions"]
    assert "--shard" not in words  # the index comes from JOB_COMPLETION_INDEX
    assert "--resume" in words  # a retried index skips what it finished
    assert 1 <= spec["parallelism"] <= spec["completions"]


def test_inputs_and_results_are_on_the_claim_and_cpu_is_the_workers() -> None:
    doc = job()
    pod = doc["spec"]["template"]["spec"]
    container = pod["containers"][0]
    words = command(doc)
    claims = {v["name"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in claims]
    output = option(words, "--output-dir")
    inputs = [w for w in words if w.startswith("/") and w != output]
    assert any(output.startswith(m + "/") for m in mounts)
    assert inputs
    assert all(any(i.startswith(m + "/") for m in mounts) for i in inputs)
    jobs, workers = int(option(words, "--jobs")), int(option(words, "--workers"))
    assert float(container["resources"]["requests"]["cpu"]) == jobs * workers
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_containerfile_installs_the_locks_then_the_project_as_no_root() -> None:
    text = CONTAINERFILE.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    runs = [line for line in instructions if line.startswith("RUN ")]
    locked = next(i for i, r in enumerate(runs) if "--require-hashes -r requirements/run.txt"
                  in r)
    project = next(i for i, r in enumerate(runs) if "--no-deps" in r)
    assert locked < project
    for line in instructions:  # everything copied is in the repository
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            assert all((ROOT / s).exists() for s in sources), line
    user = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert user
    assert not re.match(r"^(0|root)(:|$)", user[-1])
    assert instructions[-2:] == ['ENTRYPOINT ["podlayout"]', 'CMD ["--help"]']
