"""Compose import: services as containers, `service:` network joins as sidecars in one pod,
resources, ports, volumes and dependencies read as Compose means them, and overrides merged
like `docker compose -f a -f b`."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from advisor.kube.common import (
    DEFAULT_REQUESTS,
    Document,
    ImportOptions,
    ImportResult,
    ManifestError,
    load_documents,
)
from advisor.kube.compose import import_compose, is_compose
from advisor.solve import advise
from models import parse_problem

MANIFESTS = Path(__file__).resolve().parents[2] / "shared" / "bench-data" / "manifests"
NODE: dict[str, Any] = {"name": "node-1", "allocatable": {"cpu": "8", "memory": "32Gi"}}
# eShopOnDapr: each app service and the daprd service that joins its network namespace.
ESHOP_PAIRS = {
    "basket-api": "basket-api-dapr", "catalog-api": "catalog-api-dapr",
    "identity-api": "identity-api-dapr", "ordering-api": "ordering-api-dapr",
    "payment-api": "payment-api-dapr", "webshoppingagg": "webshoppingagg-dapr",
    "webshoppingapigw": "webshoppingapigw-dapr",
}
SOCK_SHOP_SERVICES = [
    "front-end", "edge-router", "catalogue", "catalogue-db", "carts", "carts-db", "orders",
    "orders-db", "shipping", "queue-master", "rabbitmq", "payment", "user", "user-db",
    "user-sim",
]


def documents(*texts: str) -> list[Document]:
    """Each text as its own file (file-0.yml, file-1.yml, ...), in order."""
    return [doc for i, text in enumerate(texts)
            for doc in load_documents(textwrap.dedent(text), f"file-{i}.yml")]


def compose(*texts: str, options: ImportOptions | None = None) -> ImportResult:
    """Import inline files; what comes out must always be a valid problem."""
    result = import_compose(documents(*texts), options or ImportOptions(nodes=[NODE]))
    parse_problem(result.problem)
    return result


def by_name(result: ImportResult) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result.problem["containers"]}


def only(result: ImportResult) -> dict[str, Any]:
    (container,) = result.problem["containers"]
    assert isinstance(container, dict)
    return container


def service(body: str, extra: str = "") -> str:
    """A file with one service `web` whose fields are `body`."""
    indented = textwrap.indent(textwrap.dedent(body), "    ")
    return f"services:\n  web:\n    image: nginx\n{indented}\n{textwrap.dedent(extra)}"


def traffic_pairs(result: ImportResult) -> set[frozenset[str]]:
    return {frozenset(h["containers"]) for h in result.problem["hints"]
            if h["type"] == "traffic"}


def bench(*names: str) -> list[Document]:
    paths = [MANIFESTS / name for name in names]
    if not all(p.is_file() for p in paths):
        pytest.skip("bench-data manifests are not available")
    return [doc for p in paths for doc in load_documents(p.read_text(), p.name)]


def eshop() -> ImportResult:
    docs = bench("eShopOnDapr/docker-compose.yml", "eShopOnDapr/docker-compose.override.yml")
    return import_compose(docs, ImportOptions(time_limit_seconds=5))


# --- the bench files ---------------------------------------------------------------------


def test_eshop_apps_and_their_daprd_become_two_container_pods() -> None:
    result = eshop()
    problem = result.problem
    pods = {p["name"]: p for p in problem["layout"]["pods"]}
    pairs = {name: pod["containers"] for name, pod in pods.items()
             if len(pod["containers"]) > 1}
    assert pairs == {app: [app, dapr] for app, dapr in ESHOP_PAIRS.items()}
    assert all(pod["replicas"] == 1 for pod in pods.values())
    assert len(pods) == len(problem["containers"]) - len(ESHOP_PAIRS)
    sidecars = [h for h in problem["hints"] if h["type"] == "sidecar"]
    assert sorted((h["container"], h["main"]) for h in sidecars) == sorted(
        (dapr, app) for app, dapr in ESHOP_PAIRS.items())
    containers = by_name(result)
    for app, dapr in ESHOP_PAIRS.items():
        assert "replicas" not in containers[dapr]  # follows its app's pod
        assert containers[app]["replicas"] == 1
        assert containers[dapr]["image"] == "daprio/daprd:1.9.4"
        assert "volumes" not in containers[dapr]  # bind mounts of components and config
    # Merged from the override: ports (container side), the named volume, the defaults.
    assert containers["basket-api"]["ports"] == [80, 50001]
    assert containers["webshoppingapigw"]["ports"] == [80, 8001, 50001]
    assert containers["sqldata"]["volumes"] == ["vol-eshop-sqldata"]
    assert containers["basket-api"]["image"] == "eshopdapr/basket.api:latest"
    assert containers["redis"]["defaultedRequests"] == ["cpu", "memory"]
    assert containers["redis"]["source"] == {
        "kind": "compose", "workload": "redis", "container": "redis",
        "file": "docker-compose.yml", "line": 11}
    assert problem["policy"] == {"timeLimitSeconds": 5.0}
    assert problem["pools"][0]["name"] == "default-pool"
    assert any("no node list" in w for w in result.warnings)
    # depends_on of an app on its own daprd is no traffic hint: they share a pod anyway.
    pairs_seen = traffic_pairs(result)
    assert frozenset(("basket-api", "identity-api")) in pairs_seen
    assert frozenset(("webshoppingagg", "sqldata")) in pairs_seen
    assert not any(frozenset((app, dapr)) in pairs_seen for app, dapr in ESHOP_PAIRS.items())


def test_eshop_plan_keeps_each_app_with_its_daprd() -> None:
    result = eshop()
    result.problem["policy"]["workers"] = 2
    plan = advise(parse_problem(result.problem))
    assert plan.status in ("optimal", "feasible", "heuristic")
    pod_of = {c: pod.name for pod in plan.pods for c in pod.containers}
    for app, dapr in ESHOP_PAIRS.items():
        assert pod_of[app] == pod_of[dapr]
    assert not plan.unplaced


def test_sock_shop_services_replicas_and_requests() -> None:
    docs = bench("sock-shop/docker-compose.yml")
    result = import_compose(docs, ImportOptions(nodes=[NODE]))
    problem = result.problem
    parse_problem(problem)
    containers = by_name(result)
    assert list(containers) == SOCK_SHOP_SERVICES
    for name, container in containers.items():
        # The file sets no deploy section, so one replica and the import's default requests.
        assert container["replicas"] == 1
        assert container["requests"] == DEFAULT_REQUESTS
        assert container["defaultedRequests"] == ["cpu", "memory"]
        assert container["source"]["workload"] == name
    assert containers["carts-db"]["image"] == "mongo:3.4"
    assert containers["edge-router"]["ports"] == [80, 8080]
    assert "volumes" not in containers["queue-master"]  # the docker socket: a bind mount
    # The file has no depends_on or links: no traffic hints, and nothing else couples them.
    assert problem["hints"] == []
    assert [p["containers"] for p in problem["layout"]["pods"]] == [
        [name] for name in SOCK_SHOP_SERVICES]
    assert problem["nodes"] == [NODE]
    assert "pools" not in problem
    assert problem["policy"] == {}
    assert result.warnings == []


# --- requests and limits -----------------------------------------------------------------


def test_reservations_and_limits() -> None:
    web = only(compose(service("""
        deploy:
          resources:
            reservations: {cpus: '0.25', memory: 256M}
            limits: {cpus: '1.5', memory: 1g}
    """)))
    assert web["requests"] == {"cpu": "0.25", "memory": "256Mi"}
    assert web["limits"] == {"cpu": "1.5", "memory": "1Gi"}
    assert "defaultedRequests" not in web


def test_limits_alone_are_also_the_requests() -> None:
    web = only(compose(service("""
        deploy:
          resources:
            limits: {cpus: 2, memory: 512m}
    """)))
    assert web["requests"] == web["limits"] == {"cpu": "2", "memory": "512Mi"}
    assert "defaultedRequests" not in web


def test_unset_resources_take_the_default_and_are_named() -> None:
    web = only(compose(service("""
        deploy:
          resources:
            reservations: {memory: 64M}
    """), options=ImportOptions(nodes=[NODE], default_requests={"cpu": "50m",
                                                                 "memory": "32Mi"})))
    assert web["requests"] == {"memory": "64Mi", "cpu": "50m"}
    assert web["defaultedRequests"] == ["cpu"]


def test_nothing_set_takes_every_default() -> None:
    web = only(compose(service("restart: always")))
    assert web["requests"] == DEFAULT_REQUESTS
    assert web["defaultedRequests"] == ["cpu", "memory"]
    assert "limits" not in web


def test_old_keys() -> None:
    web = only(compose(service("""
        cpus: 0.5
        mem_limit: 1g
        mem_reservation: 512m
    """)))
    assert web["requests"] == {"cpu": "0.5", "memory": "512Mi"}
    assert web["limits"] == {"cpu": "0.5", "memory": "1Gi"}
    assert "defaultedRequests" not in web


def test_deploy_wins_over_old_keys() -> None:
    web = only(compose(service("""
        cpus: 4
        mem_limit: 4g
        deploy:
          resources:
            limits: {cpus: '1', memory: 2g}
    """)))
    assert web["limits"] == {"cpu": "1", "memory": "2Gi"}


def test_zero_means_no_limit_as_in_docker() -> None:
    web = only(compose(service("""
        cpus: 0
        deploy:
          resources:
            limits: {memory: 0}
            reservations: {memory: 128M}
    """)))
    assert "limits" not in web
    assert web["requests"] == {"memory": "128Mi", "cpu": "100m"}


@pytest.mark.parametrize(("size", "quantity"), [
    ("512M", "512Mi"), ("512m", "512Mi"), ("1g", "1Gi"), ("2G", "2Gi"), ("256m", "256Mi"),
    ("1024k", "1024Ki"), ("1024K", "1024Ki"), ("1048576", "1048576"), (1048576, "1048576"),
    ("100b", "100"), ("1.5g", "1.5Gi"), ("2gb", "2Gi"), ("64MiB", "64Mi"), ("1 GB", "1Gi"),
    ("1t", "1Ti"),
])
def test_sizes(size: str | int, quantity: str) -> None:
    value = repr(size) if isinstance(size, str) else str(size)
    web = only(compose(service(f"mem_reservation: {value}")))
    assert web["requests"]["memory"] == quantity


@pytest.mark.parametrize(("cpus", "quantity"), [
    ("'0.5'", "0.5"), ("0.5", "0.5"), ("2", "2"), ("'1.50'", "1.5"), ("0.001", "0.001"),
])
def test_cpu_counts(cpus: str, quantity: str) -> None:
    web = only(compose(service(f"deploy: {{resources: {{reservations: {{cpus: {cpus}}}}}}}")))
    assert web["requests"]["cpu"] == quantity


def test_gpu_devices() -> None:
    result = compose(service("""
        deploy:
          resources:
            reservations:
              devices:
                - {driver: nvidia, count: 2, capabilities: [gpu]}
                - {capabilities: [[gpu, utility]], device_ids: ['0']}
                - {capabilities: [tpu], count: 4}
                - {capabilities: [gpu], count: all}
                - {driver: amd, capabilities: [gpu], count: 1}
    """))
    assert only(result)["requests"]["nvidia.com/gpu"] == "3"
    assert any("all of a host's GPUs" in w for w in result.warnings)
    assert any("'amd'" in w for w in result.warnings)


# --- replicas ----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "replicas"), [
    ("deploy: {replicas: 3}", 3), ("scale: 4", 4), ("restart: always", 1),
    ("deploy: {replicas: '2'}", 2),
])
def test_replicas(body: str, replicas: int) -> None:
    assert only(compose(service(body)))["replicas"] == replicas


def test_scale_and_deploy_replicas_disagreeing_warn() -> None:
    result = compose(service("scale: 2\ndeploy: {replicas: 3}"))
    assert only(result)["replicas"] == 3
    assert any("scale (2) and deploy.replicas (3) differ" in w for w in result.warnings)


def test_zero_replicas_and_global_mode_warn() -> None:
    result = compose(service("deploy: {replicas: 0}"))
    assert only(result)["replicas"] == 1
    assert any("0 replicas" in w for w in result.warnings)
    result = compose(service("deploy: {mode: global}"))
    assert only(result)["replicas"] == 1
    assert any("global" in w for w in result.warnings)


def test_profiles_are_imported() -> None:
    result = compose(service("profiles: [debug]"))
    assert only(result)["name"] == "web"


# --- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize(("ports", "expected"), [
    ('["8080:80"]', [80]),
    ('["80"]', [80]),
    ("[80]", [80]),
    ('["127.0.0.1:8080:80/udp"]', [{"port": 80, "protocol": "UDP"}]),
    ('["127.0.0.1::80"]', [80]),
    ('["[::1]:8080:80"]', [80]),
    ('["3000-3002"]', [3000, 3001, 3002]),
    ('["8000-8001:3000-3001/tcp"]', [3000, 3001]),
    ('["53:53/udp", "53:53/tcp"]', [{"port": 53, "protocol": "UDP"}, 53]),
    ("[{target: 53, published: 5353, protocol: udp, mode: host}]",
     [{"port": 53, "protocol": "UDP"}]),
    ("[{target: 80, published: '8080'}]", [80]),
    ('["8080:80", "9090:80", 80]', [80]),  # one container port, published twice
    ('["9000:9000/sctp"]', [{"port": 9000, "protocol": "SCTP"}]),
])
def test_port_syntaxes(ports: str, expected: list[Any]) -> None:
    assert only(compose(service(f"ports: {ports}")))["ports"] == expected


def test_expose_adds_container_ports() -> None:
    web = only(compose(service('ports: ["8080:80"]\nexpose: ["9000", "9100-9101", 80]')))
    assert web["ports"] == [80, 9000, 9100, 9101]


def test_wide_port_ranges_are_not_modelled() -> None:
    result = compose(service('ports: ["10000-20000", "80"]'))
    assert only(result)["ports"] == [80]
    assert any("10000-20000" in w and "not modelled" in w for w in result.warnings)


# --- volumes -----------------------------------------------------------------------------


def test_named_volumes_are_shared_and_host_paths_ignored() -> None:
    result = compose("""
        services:
          db:
            image: postgres
            volumes:
              - data:/var/lib/postgresql/data
              - ./init:/docker-entrypoint-initdb.d:ro
              - /etc/localtime:/etc/localtime:ro
              - ~/backups:/backups
              - /scratch
              - {type: tmpfs, target: /tmp}
              - {type: bind, source: ./conf, target: /conf}
          backup:
            image: backup
            volumes:
              - {type: volume, source: data, target: /data, read_only: true}
              - logs:/logs
        volumes:
          data: {}
          logs:
    """)
    containers = by_name(result)
    assert containers["db"]["volumes"] == ["vol-data"]
    assert containers["backup"]["volumes"] == ["vol-data", "vol-logs"]
    assert result.warnings == []


def test_undeclared_named_volume_warns() -> None:
    result = compose(service("volumes: [cache:/cache]"))
    assert only(result)["volumes"] == ["vol-cache"]
    assert any("'cache' is not declared" in w for w in result.warnings)


# --- network_mode ------------------------------------------------------------------------


def test_joining_a_service_network_is_a_sidecar_in_its_pod() -> None:
    result = compose("""
        services:
          app:
            image: app
            deploy: {replicas: 3}
          proxy:
            image: envoy
            network_mode: "service:app"
          exporter:
            image: exporter
            network_mode: service:proxy
            deploy: {replicas: 5}
    """)
    problem = result.problem
    containers = by_name(result)
    assert containers["app"]["replicas"] == 3
    assert "replicas" not in containers["proxy"]
    assert "replicas" not in containers["exporter"]
    assert problem["hints"] == [
        {"type": "sidecar", "container": "proxy", "main": "app"},
        {"type": "sidecar", "container": "exporter", "main": "proxy"},
    ]
    assert problem["layout"]["pods"] == [
        {"name": "app", "containers": ["app", "proxy", "exporter"], "replicas": 3}]
    assert any("exporter" in w and "5 replicas" in w for w in result.warnings)
    pod_of = {c: p.name for p in advise(parse_problem({**problem, "policy": {
        "timeLimitSeconds": 2.0, "workers": 1}})).pods for c in p.containers}
    assert pod_of["proxy"] == pod_of["exporter"] == pod_of["app"]


@pytest.mark.parametrize(("mode", "warning"), [
    ("container:abc123", "joins container 'abc123'"),
    ("host", "host networking"),
    ("none", "none (no network)"),
])
def test_other_network_modes_warn_and_are_ignored(mode: str, warning: str) -> None:
    result = compose(service(f"network_mode: {mode!r}"))
    assert only(result)["replicas"] == 1
    assert result.problem["hints"] == []
    assert any(warning in w for w in result.warnings)


def test_bridge_network_mode_is_plain() -> None:
    result = compose(service("network_mode: bridge"))
    assert result.warnings == []


# --- dependencies ------------------------------------------------------------------------


def test_depends_on_and_links_become_traffic_hints() -> None:
    result = compose("""
        services:
          web:
            image: web
            depends_on: [api, cache, ghost]
            links: ["api:backend", cache]
          api:
            image: api
            depends_on:
              db: {condition: service_healthy}
              web: {condition: service_started}
          db:
            image: postgres
          cache:
            image: redis
          agent:
            image: agent
            network_mode: service:api
            depends_on: [api, db]
            links: [db]
    """)
    traffic = [h for h in result.problem["hints"] if h["type"] == "traffic"]
    assert traffic == [
        {"type": "traffic", "containers": ["web", "api"], "weight": 1.0},
        {"type": "traffic", "containers": ["web", "cache"], "weight": 1.0},
        {"type": "traffic", "containers": ["api", "db"], "weight": 1.0},
        {"type": "traffic", "containers": ["agent", "db"], "weight": 1.0},
    ]
    assert any("depends_on: unknown service 'ghost'" in w for w in result.warnings)


# --- merging files -----------------------------------------------------------------------


def test_override_files_merge_in_order() -> None:
    result = compose("""
        services:
          web:
            image: web:1
            ports: ["8080:80"]
            depends_on: [db]
            command: ["serve", "--debug"]
            volumes: ["data:/data", "./src:/src"]
            deploy:
              replicas: 2
              resources:
                reservations: {cpus: '0.5', memory: 256M}
          db:
            image: postgres
        volumes:
          data:
    """, """
        services:
          web:
            image: web:2
            ports: ["8080:80", "8443:443"]
            depends_on:
              cache: {condition: service_started}
            command: ["serve"]
            volumes: ["cache-data:/data"]
            deploy:
              resources:
                limits: {memory: 1g}
          cache:
            image: redis
        volumes:
          cache-data:
    """)
    containers = by_name(result)
    web = containers["web"]
    assert web["image"] == "web:2"
    assert web["ports"] == [80, 443]
    assert web["replicas"] == 2
    assert web["requests"] == {"cpu": "0.5", "memory": "256Mi"}
    assert web["limits"] == {"memory": "1Gi"}
    assert web["volumes"] == ["vol-cache-data"]  # same target: the override's volume
    assert list(containers) == ["web", "db", "cache"]
    assert traffic_pairs(result) == {frozenset(("web", "db")), frozenset(("web", "cache"))}
    assert result.warnings == []


def test_variables_take_their_defaults() -> None:
    web = only(compose("""
        services:
          web:
            image: ${REGISTRY:-acme}/web:${TAG-1.0}
            deploy: {replicas: "${REPLICAS:-2}"}
            environment: ["PRICE=$$5"]
    """))
    assert web["image"] == "acme/web:1.0"
    assert web["replicas"] == 2


def test_service_names_become_unique_dns_labels() -> None:
    result = compose("""
        services:
          Web_1: {image: a}
          web-1: {image: b, depends_on: [Web_1]}
    """)
    assert [(c["name"], c["source"]["workload"]) for c in result.problem["containers"]] == [
        ("web-1", "Web_1"), ("web-1-2", "web-1")]
    assert traffic_pairs(result) == {frozenset(("web-1", "web-1-2"))}


def test_no_node_list_means_the_default_pool() -> None:
    result = compose(service("restart: always"), options=ImportOptions(time_limit_seconds=3))
    assert result.problem["pools"][0]["name"] == "default-pool"
    assert result.problem["policy"] == {"timeLimitSeconds": 3.0}


def test_is_compose() -> None:
    assert is_compose({"services": {"web": {"image": "nginx"}}})
    assert is_compose({"version": "3", "services": {}})
    assert not is_compose({"apiVersion": "apps/v1", "kind": "Deployment", "services": {}})
    assert not is_compose({"services": ["web"]})
    assert not is_compose({"volumes": {}})
    assert not is_compose(["services"])
    assert not is_compose(None)


# --- malformed input ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("services: [web, db]", "services: must be a mapping"),
    ("services:\n  web: nginx", "services.web: must be a mapping, not a string"),
    ("services:\n  web:", "services.web: must be a mapping, not empty"),
    (service("mem_limit: 12 parsecs"), "services.web.mem_limit: '12 parsecs' is not a size"),
    (service("deploy: {resources: {limits: {memory: -1g}}}"),
     "services.web.deploy.resources.limits.memory: '-1g' is not a size"),
    (service("cpus: lots"), "services.web.cpus: 'lots' is not a number of CPUs"),
    (service("network_mode: service:ghost"),
     "services.web.network_mode: joins unknown service 'ghost'"),
    (service("network_mode: service:web"), "cannot join its own network namespace"),
    ("services:\n  a: {network_mode: 'service:b'}\n  b: {network_mode: 'service:a'}",
     "in a ring"),
    (service("ports: [http]"), "services.web.ports[0]: 'http' is not a container port"),
    (service("ports: ['80:70000']"), "services.web.ports[0]: '70000' is not a port"),
    (service("ports: ['3002-3000']"), "is not a port or a rising port range"),
    (service("ports: ['80/quic']"), "protocol 'quic' is not tcp, udp or sctp"),
    (service("ports: [{published: 80}]"), "services.web.ports[0]: has no target"),
    (service("deploy: [1]"), "services.web.deploy: must be a mapping, not a list"),
    (service("deploy: {replicas: -1}"), "services.web.deploy.replicas: -1 is outside"),
    (service("scale: many"), "services.web.scale: must be a whole number"),
    (service("scale: '³'"), "services.web.scale: must be a whole number"),
    (service("ports: ['\uff18\uff10']"), "services.web.ports[0]: '\uff18\uff10' is not a "
     "container port"),  # full-width digits
    (service("depends_on: db"), "services.web.depends_on: must be a list, not a string"),
    (service("links: [{db: x}]"), "services.web.links[0]"),
    (service("volumes: [42]"), "services.web.volumes[0]: must be a string"),
    ("services:\n  web: {image: [nginx]}", "services.web.image: must be a string"),
    (service("deploy: {resources: {reservations: {memory: 2g}, limits: {memory: 1g}}}"),
     "reservations.memory: reserves 2Gi, above its limit 1Gi"),
    ("- web", "a Compose file is a mapping"),
    ("apiVersion: v1\nkind: Service\nservices: {}", "a Kubernetes object"),
    ("version: '3'", "no services to import"),
    ("services:\nvolumes: [data]", "volumes: must be a mapping"),
])
def test_malformed_input_names_the_place(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        compose(text)
    assert message in caught.value.message
    assert caught.value.source == "file-0.yml"
    assert caught.value.line == 1


def test_errors_point_at_the_document_that_set_the_field() -> None:
    base = "services:\n  web:\n    image: web\n    mem_limit: 1 parsec\n"
    override = "# comment\n\nservices:\n  web:\n    ports: ['80']\n"
    with pytest.raises(ManifestError) as caught:
        compose(base, override)
    assert (caught.value.source, caught.value.line) == ("file-0.yml", 1)
    bad_override = "# comment\n\nservices:\n  web:\n    ports: ['eighty']\n"
    with pytest.raises(ManifestError) as caught:
        compose(base.replace("1 parsec", "1g"), bad_override)
    assert (caught.value.source, caught.value.line) == ("file-1.yml", 3)
    assert str(caught.value).startswith("file-1.yml:3: services.web.ports[0]")


def test_a_second_document_in_one_file_has_its_own_line() -> None:
    text = "services:\n  web: {image: a}\n---\nservices:\n  db: 5\n"
    with pytest.raises(ManifestError) as caught:
        compose(text)
    assert caught.value.line == 4


ODD_VALUES: list[Any] = [None, 0, 1, -3, 1.5, True, "x", "", [], {}, [None], [{}], [[1]],
                         {"a": None}, {"target": None}, "1:2:3:4", ["a:b:c:d"]]
ODD_FIELDS = [
    "deploy", "deploy.resources", "deploy.resources.reservations", "deploy.resources.limits",
    "deploy.resources.reservations.devices", "deploy.resources.limits.cpus",
    "deploy.resources.reservations.memory", "deploy.replicas", "deploy.mode", "scale",
    "ports", "expose", "volumes", "depends_on", "links", "network_mode", "cpus", "mem_limit",
    "mem_reservation", "image", "profiles", "extends",
]


@pytest.mark.parametrize("field", ODD_FIELDS)
def test_odd_shapes_give_an_error_or_a_problem(field: str) -> None:
    """Whatever shape a field has, the import answers with a problem or a ManifestError."""
    places: set[tuple[str, int | None]] = set()
    for value in ODD_VALUES:
        spec: dict[str, Any] = {"image": "nginx"}
        *parents, last = field.split(".")
        here = spec
        for key in parents:
            here = here.setdefault(key, {})
        here[last] = value
        docs = [Document({"services": {"web": spec, "db": {"image": "db"}}}, "odd.yml", 1)]
        try:
            result = import_compose(docs, ImportOptions(nodes=[NODE]))
        except ManifestError as exc:
            places.add((exc.source, exc.line))
            continue
        parse_problem(result.problem)
    assert places <= {("odd.yml", 1)}
