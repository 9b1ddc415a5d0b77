"""Which container of a pod is its main one, and what kind of helper each other one is.

The main container is the one the helper hints point at and whose replicas the pod's are;
choosing a log shipper or a proxy would turn the pod's real work into its helper."""

from __future__ import annotations

import re

from advisor.kube.k8s.workload import Cont, Workload

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
# Containers that serve another one of their pod, known by their name or their image's:
# never the main container just because they are listed first.
_HELPERS: dict[str, str] = {
    **dict.fromkeys(("envoy", "istio-proxy", "proxyv2", "linkerd-proxy", "linkerd2-proxy",
                     "proxy", "oauth2-proxy", "kube-rbac-proxy", "nginx-proxy",
                     "cloud-sql-proxy", "cloudsql-proxy", "gce-proxy", "esp", "esp-v2",
                     "ambassador"), "a proxy"),
    **dict.fromkeys(("fluent-bit", "fluentbit", "fluentd", "filebeat", "promtail", "vector",
                     "logrotate", "log-shipper", "logshipper"), "a log shipper"),
    **dict.fromkeys(("configmap-reload", "config-reload", "config-reloader",
                     "prometheus-config-reloader", "k8s-sidecar", "reloader", "git-sync",
                     "consul-template"), "a config reloader"),
    **dict.fromkeys(("vault-agent", "vault-agent-init", "secrets-store", "secrets-agent"),
                    "a secrets agent"),
    **dict.fromkeys(("jaeger-agent", "otel-agent", "otel-collector",
                     "opentelemetry-collector", "opentelemetry-collector-contrib"),
                    "a telemetry agent"),
    **dict.fromkeys(("exporter", "metrics-exporter"), "a metrics exporter"),
}
_HELPER_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("-exporter", "a metrics exporter"), ("_exporter", "a metrics exporter"),
    ("-proxy", "a proxy"), ("-sidecar", "a sidecar"), ("-reloader", "a config reloader"),
    ("-reload", "a config reloader"), ("-shipper", "a log shipper"),
)
_ADAPTER = re.compile(r"exporter|metrics|prometheus")
_AMBASSADOR = re.compile(r"proxy|envoy|ambassador")


def _image_name(image: str | None) -> str:
    """An image's own name: `quay.io/org/config-reloader:v1@sha256:..` -> config-reloader."""
    if not image:
        return ""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0].lower()


def _helper_kind(cont: Cont) -> str | None:
    """What helper a container is by its name or its image's ("a proxy"), or None."""
    for text in (cont.k8s_name.lower(), _image_name(cont.image)):
        if not text:
            continue
        if text in _HELPERS:
            return _HELPERS[text]
        for suffix, kind in _HELPER_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                return kind
    return None


def _named_like(container: str, workload: str) -> bool:
    """Whether a container's name says it is its workload's (`payment` in `payment-service`,
    `grafana` in `my-grafana`, `web-app` in `web`), on whole `-`/`_`/`.` parts only."""
    a, b = container.lower(), workload.lower()
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return any(long.startswith(short + sep) or long.endswith(sep + short) for sep in "-_.")


def choose_main(work: Workload, warnings: list[str] | None) -> None:
    """Put the pod's main container first, which every later step takes as the main.

    In order: the template's kubectl.kubernetes.io/default-container annotation (when it
    names one of the pod's containers), a container named like its workload (its exact
    name first), the first one that is not a known helper (proxy, log shipper, config
    reloader, exporter, ...), the first one. Native sidecars and injected ones are helpers
    by definition. When the annotation did not decide among several containers, a warning
    says what did (None: say nothing, for DaemonSets, which are node overhead)."""
    apps = [c for c in work.containers if c.role == "app" and c.injected_by is None]
    if not apps:
        return
    named = work.annotations.get(DEFAULT_CONTAINER)
    chosen = next((c for c in apps if c.k8s_name == named), None) if named else None
    if chosen is None:
        chosen, why = _by_name_or_kind(work, apps)
        if warnings is not None and len(apps) > 1:
            warnings.append(f"{work.what}: main container `{chosen.k8s_name}` chosen because "
                            f"{why} ({_annotation_said(work, named)}); the others are its "
                            "helpers")
    work.containers.remove(chosen)
    work.containers.insert(0, chosen)


def _by_name_or_kind(work: Workload, apps: list[Cont]) -> tuple[Cont, str]:
    """The main container when no annotation names one, and why it is that one."""
    exact = [c for c in apps if c.k8s_name.lower() == work.name.lower()]
    alike = [c for c in apps if _named_like(c.k8s_name, work.name) and _helper_kind(c) is None]
    plain = [c for c in apps if _helper_kind(c) is None]
    if exact or alike:
        return (exact or alike)[0], "it is named like its workload"
    if plain and plain[0] is not apps[0]:
        chosen = plain[0]
        skipped = ", ".join(f"`{c.k8s_name}` is {_helper_kind(c)}"
                            for c in apps[:apps.index(chosen)])
        return chosen, f"it is the first that is not a known helper: {skipped}"
    return apps[0], ("it is listed first: every container looks like a helper and none is "
                     "named like its workload" if not plain else
                     "it is listed first: none is named like its workload, and it is no known "
                     "helper")


def _annotation_said(work: Workload, named: str | None) -> str:
    """What the default-container annotation said, when it did not decide."""
    if not named:
        return "no kubectl.kubernetes.io/default-container annotation"
    if any(c.k8s_name == named for c in work.containers):
        return (f"kubectl.kubernetes.io/default-container names `{named}`, a sidecar "
                "(an init container that keeps running, or an injected one)")
    return (f"kubectl.kubernetes.io/default-container names `{named}`, which is no "
            "container of the pod")


def helper_type(cont: Cont) -> str:
    """The hint type that ties a helper to its main: adapter, ambassador or sidecar."""
    known = _helper_kind(cont)  # a known helper by what it is (a config reloader of
    if known not in (None, "a sidecar"):  # Prometheus is no metrics adapter)
        return ("adapter" if known == "a metrics exporter"
                else "ambassador" if known == "a proxy" else "sidecar")
    text = f"{cont.k8s_name} {cont.image or ''}".lower()
    if _ADAPTER.search(text):
        return "adapter"
    if _AMBASSADOR.search(text):
        return "ambassador"
    return "sidecar"
