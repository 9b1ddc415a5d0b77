"""Docker Compose files as a layout problem.

Each service becomes one container. A service that joins another's network namespace
(`network_mode: service:X`) shares X's IP and ports, which is what a pod is: it becomes a
sidecar of X, lives in X's pod and follows X's replica count. The current grouping (one pod
per service, with the services that join it) becomes the problem's `layout`.

How the files are read:

- several files merge in order, like `docker compose -f a.yml -f b.yml`: mappings merge key
  by key and later scalars win; `command` and `entrypoint` are replaced; a `volumes` entry
  replaces an earlier one with the same target; other lists (`ports`, `expose`,
  `depends_on`, `links`, ...) are concatenated without duplicates; a `depends_on` list
  meeting a mapping is read as a mapping; an empty (null) value leaves the earlier one;
- `${VAR:-default}` and `${VAR-default}` take their default and `$$` is `$`; the
  environment is not read, other variables stay as written;
- services with `profiles` are imported like the others;
- replicas: `deploy.replicas`, else `scale`, else 1;
- requests: `deploy.resources.reservations` (`cpus`, `memory`, GPU `devices`); limits:
  `deploy.resources.limits`; the older `cpus`, `mem_limit` (limits) and `mem_reservation`
  (a request) fill what `deploy` leaves unset; 0 means unset, as in Docker; a limit
  without a reservation is also the request (Kubernetes' defaulting); a resource with
  neither takes the import's default request and is named in `defaultedRequests`;
- sizes are Docker's (binary units): `512M`/`512m`/`512mb` -> `512Mi`, `1g` -> `1Gi`,
  `1024k` -> `1024Ki`, a plain number or `b` suffix -> bytes;
- ports: `ports` and `expose`, short (`"8080:80"`, `"127.0.0.1:8080:80/udp"`,
  `"3000-3002"`) or long (`{target, published, protocol}`), give the container side
  (the target); ranges of more than 100 ports are not modelled;
- volumes: a named volume (`data:/var/lib/x`) becomes `vol-<name>`, shared by every service
  that mounts it; bind mounts, anonymous volumes and tmpfs are private to a container or
  node and are ignored;
- `depends_on` and `links` become traffic hints of weight 1 between the two services
  (once per pair, not for services already forced into one pod);
- `network_mode: container:...`, `host` and `none` have no pod counterpart: warned, ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from advisor.kube.common import (
    Document,
    ImportOptions,
    ImportResult,
    ManifestError,
    attach_nodes,
    container_names,
    describe,
)
from models.problem import MAX_REPLICAS
from models.quantity import parse_quantity

# Wider port ranges (a passive FTP range, a media server's RTP range) would flood the model
# with ports that only matter for clashes inside one pod.
MAX_PORT_RANGE = 100
GPU_RESOURCE = "nvidia.com/gpu"

# Keys whose lists an override replaces instead of extending (as Compose does).
_REPLACED_LISTS = frozenset({"command", "entrypoint"})
_VARIABLE = re.compile(r"\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}")
# Docker's RAMInBytes: a number, an optional binary unit, an optional `i` and `b`.
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?) ?(?:([kmgtp])i?)?b?$", re.IGNORECASE)
_SIZE_UNITS = {"k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti", "p": "Pi"}
_PORT_RANGE = re.compile(r"^\s*([0-9]+)(?:\s*-\s*([0-9]+))?\s*$")
_WHOLE = re.compile(r"^\s*[0-9]+\s*$")
# What Docker accepts as a volume name; any other source is a host path (a bind mount).
_VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]$")


def is_compose(data: object) -> bool:
    """A Compose file: a mapping with a `services` mapping, and not a Kubernetes object."""
    return (isinstance(data, dict) and isinstance(data.get("services"), dict)
            and "apiVersion" not in data and "kind" not in data)


@dataclass
class _Service:
    name: str
    first: Document  # the document that first defines it
    line: int  # of its key under `services` in `first`
    spec: dict[str, Any] = field(default_factory=dict)
    # Top-level key -> the document that last set it: errors point there.
    origin: dict[str, Document] = field(default_factory=dict)

    def fail(self, path: str, message: str) -> NoReturn:
        doc = self.origin.get(re.split(r"[.\[]", path, maxsplit=1)[0], self.first)
        raise ManifestError(doc.source, f"services.{self.name}.{path}: {message}", doc.line)


def import_compose(documents: list[Document], options: ImportOptions) -> ImportResult:
    """One problem from Compose documents merged in order (a file and its overrides)."""
    warnings: list[str] = []
    services: dict[str, _Service] = {}
    declared_volumes: set[str] = set()
    for doc in documents:
        _merge_document(doc, services, declared_volumes, warnings)
    if not services:
        where = documents[0] if documents else None
        raise ManifestError(where.source if where else "compose", "no services to import",
                            where.line if where else None)

    names = dict(zip(services, container_names([(s, s, True) for s in services]),
                     strict=True))
    joins: dict[str, str] = {}  # service -> the service whose network namespace it joins
    for svc in services.values():
        target = _joined_service(svc, services, warnings)
        if target is not None:
            joins[svc.name] = target
    root = {name: _pod_root(services[name], joins, services) for name in services}

    replicas: dict[str, int] = {}
    explicit: dict[str, bool] = {}
    for svc in services.values():
        replicas[svc.name], explicit[svc.name] = _replicas(svc, warnings)
    for name, main in joins.items():
        own, pod = replicas[name], replicas[root[name]]
        if explicit[name] and own != pod:
            warnings.append(
                f"services.{name}: asks for {own} replicas but joins the network namespace "
                f"of {main}, so it runs in {root[name]}'s pod with {pod}")
        replicas[name] = pod

    containers = [_container(svc, names[svc.name], declared_volumes, options, warnings,
                             None if svc.name in joins else replicas[svc.name])
                  for svc in services.values()]
    hints: list[dict[str, Any]] = [
        {"type": "sidecar", "container": names[name], "main": names[main]}
        for name, main in joins.items()]
    hints += _traffic_hints(services, names, root, warnings)

    pods = [{"name": names[name],
             "containers": [names[name]] + [names[s] for s in joins if root[s] == name],
             "replicas": replicas[name]}
            for name in services if name not in joins]
    problem: dict[str, Any] = {"containers": containers, "hints": hints}
    attach_nodes(problem, options, warnings)
    policy: dict[str, Any] = {}
    if options.time_limit_seconds is not None:
        policy["timeLimitSeconds"] = float(options.time_limit_seconds)
    problem["policy"] = policy
    problem["layout"] = {"pods": pods}
    return ImportResult(problem=problem, warnings=warnings)


def _merge_document(doc: Document, services: dict[str, _Service], declared_volumes: set[str],
                    warnings: list[str]) -> None:
    data = doc.data
    if not isinstance(data, dict):
        raise ManifestError(doc.source, f"a Compose file is a mapping with `services`, not "
                            f"{describe(data)}", doc.line)
    if "apiVersion" in data or "kind" in data:
        raise ManifestError(doc.source, "a Kubernetes object, not a Compose file", doc.line)
    raw = data.get("services")
    if raw is not None and not isinstance(raw, dict):
        raise ManifestError(doc.source, "services: must be a mapping of service names to "
                            f"services, not {describe(raw)}", doc.line)
    volumes = data.get("volumes")
    if volumes is not None and not isinstance(volumes, dict):
        raise ManifestError(doc.source, "volumes: must be a mapping of volume names, not "
                            f"{describe(volumes)}", doc.line)
    declared_volumes.update(str(name) for name in volumes or {})
    if data.get("include") is not None:
        warnings.append(f"{doc.source}: include is not followed; pass the included files too")
    for key, spec in (raw or {}).items():
        name = str(key)
        if not isinstance(spec, dict):
            raise ManifestError(doc.source, f"services.{name}: must be a mapping, not "
                                f"{describe(spec)}", doc.line)
        if spec.get("extends") is not None:
            warnings.append(f"services.{name}.extends: not followed; import the output of "
                            "`docker compose config` to include what it extends")
        svc = services.get(name)
        if svc is None:
            svc = services[name] = _Service(name, doc, doc.line_of(spec) or doc.line)
        for field_key, value in _interpolate(spec).items():
            k = str(field_key)
            svc.spec[k] = _merge(svc.spec[k], value, k) if k in svc.spec else value
            svc.origin[k] = doc


def _interpolate(value: Any) -> Any:
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: "$" if m[0] == "$$" else m[1], value)
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    return value


def _merge(base: Any, over: Any, key: str) -> Any:
    """`over` (a later file's value) on top of `base`, as Compose merges overrides."""
    if over is None:
        return base
    if key == "depends_on":
        # The list form names services; the mapping form adds conditions to them.
        if isinstance(base, list) and isinstance(over, dict):
            base = _as_mapping(base)
        elif isinstance(base, dict) and isinstance(over, list):
            over = _as_mapping(over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(out[k], v, str(k)) if k in out else v
        return out
    if key in _REPLACED_LISTS or not (isinstance(base, list) and isinstance(over, list)):
        return over
    if key == "volumes":
        targets = {_volume_target(v) for v in over} - {None}
        base = [v for v in base if _volume_target(v) not in targets]
    out_list = list(base)
    for item in over:
        if item not in out_list:
            out_list.append(item)
    return out_list


def _as_mapping(names: list[Any]) -> Any:
    if all(isinstance(n, str) for n in names):
        return {n: {} for n in names}
    return names  # an odd shape: left for the reader to report


def _split_volume(text: str) -> tuple[str | None, str]:
    """(source, target) of a short volume entry; no source for an anonymous volume."""
    parts = text.split(":")
    if len(parts) >= 3 and _WINDOWS_DRIVE.match(parts[0]) and parts[1][:1] in ("\\", "/"):
        parts = [f"{parts[0]}:{parts[1]}", *parts[2:]]
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], parts[1]


def _volume_target(entry: Any) -> str | None:
    if isinstance(entry, str):
        return _split_volume(entry)[1]
    if isinstance(entry, dict) and isinstance(entry.get("target"), str):
        return str(entry["target"])
    return None


def _mapping(svc: _Service, value: Any, path: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        svc.fail(path, f"must be a mapping, not {describe(value)}")
    return value


def _list(svc: _Service, value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        svc.fail(path, f"must be a list, not {describe(value)}")
    return value


def _joined_service(svc: _Service, services: dict[str, _Service],
                    warnings: list[str]) -> str | None:
    """The service whose network namespace `svc` joins, if any."""
    mode = svc.spec.get("network_mode")
    if mode is None:
        return None
    if not isinstance(mode, str):
        svc.fail("network_mode", f"must be a string, not {describe(mode)}")
    kind, _, target = mode.partition(":")
    where = f"services.{svc.name}.network_mode"
    if kind == "service":
        if target == svc.name:
            svc.fail("network_mode", "a service cannot join its own network namespace")
        if target not in services:
            svc.fail("network_mode", f"joins unknown service {target!r}")
        return target
    if kind == "container":
        warnings.append(f"{where}: joins container {target!r}, which is not in the files; "
                        "ignored")
    elif mode == "host":
        warnings.append(f"{where}: host networking (hostNetwork in a pod) is not modelled; "
                        "ignored")
    elif mode == "none":
        warnings.append(f"{where}: none (no network) has no pod counterpart; ignored")
    return None


def _pod_root(svc: _Service, joins: dict[str, str], services: dict[str, _Service]) -> str:
    """The service whose pod `svc` lives in: follows `service:` joins to their end."""
    chain = [svc.name]
    while chain[-1] in joins:
        nxt = joins[chain[-1]]
        if nxt in chain:
            ring = " -> ".join([*chain[chain.index(nxt):], nxt])
            services[nxt].fail("network_mode", f"services join each other's network "
                               f"namespace in a ring ({ring}): one must have its own")
        chain.append(nxt)
    return chain[-1]


def _count(svc: _Service, path: str, value: Any) -> int:
    if isinstance(value, str) and _WHOLE.match(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        svc.fail(path, f"must be a whole number, not {describe(value)}")
    if not 0 <= value <= MAX_REPLICAS:
        svc.fail(path, f"{value} is outside 0..{MAX_REPLICAS}")
    return value


def _replicas(svc: _Service, warnings: list[str]) -> tuple[int, bool]:
    """(replica count, whether the service sets one)."""
    deploy = _mapping(svc, svc.spec.get("deploy"), "deploy")
    where = f"services.{svc.name}"
    count: int | None = None
    if deploy.get("replicas") is not None:
        count = _count(svc, "deploy.replicas", deploy["replicas"])
    if svc.spec.get("scale") is not None:
        scale = _count(svc, "scale", svc.spec["scale"])
        if count is None:
            count = scale
        elif scale != count:
            warnings.append(f"{where}: scale ({scale}) and deploy.replicas ({count}) differ; "
                            "using deploy.replicas")
    if deploy.get("mode") == "global":
        warnings.append(f"{where}.deploy.mode: global (one per node, a DaemonSet) is imported "
                        f"as {count or 1} replica(s)")
    if count == 0:
        warnings.append(f"{where}: 0 replicas (not started); imported with 1")
        count = 1
    return (1 if count is None else count), count is not None


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def _quantity(svc: _Service, path: str, value: Any, text: str) -> str:
    """`text` if Kubernetes can take it as a quantity (not too many digits, not too large)."""
    try:
        parse_quantity(text)
    except ValueError as exc:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        reason = str(exc) if len(str(exc)) <= 100 else "too large or too precise for Kubernetes"
        svc.fail(path, f"{shown}: {reason}")
    return text


def _cpus(svc: _Service, path: str, value: Any) -> str | None:
    """A CPU count as a Kubernetes quantity; None for 0 (Docker's "no limit")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        svc.fail(path, f"must be a number of CPUs, not {describe(value)}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        svc.fail(path, f"{value!r} is not a number of CPUs (e.g. 0.5)")
    if not amount.is_finite() or amount < 0:
        svc.fail(path, f"{value!r} is not a number of CPUs (e.g. 0.5)")
    return _quantity(svc, path, value, _plain(amount)) if amount else None


def _size(svc: _Service, path: str, value: Any) -> str | None:
    """A Docker size as a Kubernetes quantity; None for 0 (Docker's "no limit")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        amount = Decimal(str(value))
        if not amount.is_finite() or amount < 0:
            svc.fail(path, f"{value!r} is not a size")
        return _quantity(svc, path, value, _plain(amount)) if amount else None
    match = _SIZE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        svc.fail(path, f"{value!r} is not a size (e.g. 512M, 1g, 1024k or a number of bytes)")
    amount = Decimal(match[1])
    if not amount:
        return None
    return _quantity(svc, path, value,
                     _plain(amount) + _SIZE_UNITS.get((match[2] or "").lower(), ""))


def _gpus(svc: _Service, devices: Any, path: str, warnings: list[str]) -> int:
    total = 0
    for i, entry in enumerate(_list(svc, devices, path)):
        here = f"{path}[{i}]"
        device = _mapping(svc, entry, here)
        capabilities = _list(svc, device.get("capabilities"), f"{here}.capabilities")
        # The old syntax nests the capability lists one level deeper.
        flat = [c for cap in capabilities for c in (cap if isinstance(cap, list) else [cap])]
        if "gpu" not in flat:
            continue
        driver = device.get("driver")
        if driver not in (None, "nvidia"):
            warnings.append(f"services.{svc.name}.{here}: GPUs of driver {driver!r} are not "
                            f"modelled (only {GPU_RESOURCE}); ignored")
            continue
        count, ids = device.get("count"), device.get("device_ids")
        if count is None and isinstance(ids, list) and ids:
            total += len(ids)
        elif count is None or count == "all":
            warnings.append(f"services.{svc.name}.{here}: all of a host's GPUs has no pod "
                            "counterpart; set count to request some")
        else:
            total += _count(svc, f"{here}.count", count)
    return total


def _amounts(svc: _Service, path: str, section: dict[Any, Any],
             warnings: list[str]) -> dict[str, tuple[str, str]]:
    """resource -> (quantity, where it was set) of a reservations or limits section."""
    out: dict[str, tuple[str, str]] = {}
    readers: tuple[tuple[str, str, Callable[[_Service, str, Any], str | None]], ...] = (
        ("cpus", "cpu", _cpus), ("memory", "memory", _size))
    for key, resource, read in readers:
        if section.get(key) is not None:
            amount = read(svc, f"{path}.{key}", section[key])
            if amount is not None:
                out[resource] = (amount, f"{path}.{key}")
    if section.get("devices") is not None:
        gpus = _gpus(svc, section["devices"], f"{path}.devices", warnings)
        if gpus:
            out[GPU_RESOURCE] = (str(gpus), f"{path}.devices")
    return out


def _resources(svc: _Service, options: ImportOptions, warnings: list[str]
               ) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(requests, limits, resources whose request the import filled in)."""
    deploy = _mapping(svc, svc.spec.get("deploy"), "deploy")
    section = _mapping(svc, deploy.get("resources"), "deploy.resources")
    path = "deploy.resources"
    wanted = _amounts(svc, f"{path}.reservations", _mapping(
        svc, section.get("reservations"), f"{path}.reservations"), warnings)
    capped = _amounts(svc, f"{path}.limits", _mapping(
        svc, section.get("limits"), f"{path}.limits"), warnings)
    # The pre-`deploy` keys, where `deploy` says nothing.
    old: tuple[tuple[str, dict[str, tuple[str, str]], str,
                     Callable[[_Service, str, Any], str | None]], ...] = (
        ("cpus", capped, "cpu", _cpus), ("mem_limit", capped, "memory", _size),
        ("mem_reservation", wanted, "memory", _size))
    for key, target, resource, read in old:
        if svc.spec.get(key) is not None and resource not in target:
            amount = read(svc, key, svc.spec[key])
            if amount is not None:
                target[resource] = (amount, key)
    for resource, (amount, where) in wanted.items():
        if resource in capped and parse_quantity(amount) > parse_quantity(capped[resource][0]):
            svc.fail(where, f"reserves {amount}, above its limit {capped[resource][0]} "
                     f"({capped[resource][1]})")
    requests = {r: amount for r, (amount, _) in wanted.items()}
    limits = {r: amount for r, (amount, _) in capped.items()}
    for resource, amount in limits.items():
        requests.setdefault(resource, amount)
    defaulted = [r for r in options.default_requests if r not in requests]
    for resource in defaulted:
        requests[resource] = options.default_requests[resource]
    return requests, limits, defaulted


def _protocol(svc: _Service, path: str, value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ("tcp", "udp", "sctp"):
        svc.fail(path, f"protocol {value!r} is not tcp, udp or sctp")
    return value.strip().upper()


def _port_numbers(svc: _Service, path: str, value: Any, warnings: list[str]) -> list[int]:
    """The container ports of one entry: a port or a range."""
    match = _PORT_RANGE.match(value) if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        low = high = value
    elif match is not None:
        low, high = int(match[1]), int(match[2] or match[1])
    else:
        svc.fail(path, f"{value!r} is not a container port")
    if not 1 <= low <= high <= 65535:
        svc.fail(path, f"{value!r} is not a port or a rising port range within 1-65535")
    if high - low + 1 > MAX_PORT_RANGE:
        warnings.append(f"services.{svc.name}.{path}: range {low}-{high} has more than "
                        f"{MAX_PORT_RANGE} ports; not modelled")
        return []
    return list(range(low, high + 1))


def _ports(svc: _Service, warnings: list[str]) -> list[int | dict[str, Any]]:
    found: list[tuple[int, str]] = []
    for key in ("ports", "expose"):
        for i, entry in enumerate(_list(svc, svc.spec.get(key), key)):
            path = f"{key}[{i}]"
            if isinstance(entry, dict):
                if entry.get("target") is None:
                    svc.fail(path, "has no target (the container port)")
                numbers = _port_numbers(svc, f"{path}.target", entry["target"], warnings)
                protocol = _protocol(svc, f"{path}.protocol", entry.get("protocol") or "tcp")
            elif isinstance(entry, int | str) and not isinstance(entry, bool):
                # [[ip:]published:]target[/protocol]: the container side is the last part.
                text, slash, proto = str(entry).partition("/")
                protocol = _protocol(svc, path, proto) if slash else "TCP"
                numbers = _port_numbers(svc, path, text.rpartition(":")[2], warnings)
            else:
                svc.fail(path, f"must be a port such as \"8080:80\" or a mapping with a "
                         f"target, not {describe(entry)}")
            for number in numbers:
                if (number, protocol) not in found:
                    found.append((number, protocol))
    return [n if p == "TCP" else {"port": n, "protocol": p} for n, p in found]


def _volumes(svc: _Service, declared: set[str], warnings: list[str]) -> list[str]:
    out: list[str] = []
    for i, entry in enumerate(_list(svc, svc.spec.get("volumes"), "volumes")):
        path = f"volumes[{i}]"
        source: Any
        if isinstance(entry, str):
            source = _split_volume(entry)[0]
        elif isinstance(entry, dict):
            source = entry.get("source") if entry.get("type", "volume") == "volume" else None
            if source is not None and not isinstance(source, str):
                svc.fail(f"{path}.source", f"must be a volume name, not {describe(source)}")
        else:
            svc.fail(path, f"must be a string such as \"data:/var/lib/data\" or a mapping, "
                     f"not {describe(entry)}")
        if not source or not _VOLUME_NAME.match(source):
            continue  # anonymous volume, tmpfs or a host path: nothing shared between pods
        if source not in declared:
            warnings.append(f"services.{svc.name}.{path}: volume {source!r} is not declared "
                            "under the top-level volumes; taken as a named volume")
        name = f"vol-{source}"
        if name not in out:
            out.append(name)
    return out


def _container(svc: _Service, name: str, declared_volumes: set[str], options: ImportOptions,
               warnings: list[str], replicas: int | None) -> dict[str, Any]:
    """The container of a service; `replicas` None for one that follows its pod's main."""
    requests, limits, defaulted = _resources(svc, options, warnings)
    container: dict[str, Any] = {"name": name}
    image = svc.spec.get("image")
    if image is not None:
        if not isinstance(image, str):
            svc.fail("image", f"must be a string, not {describe(image)}")
        container["image"] = image
    container["requests"] = requests
    if limits:
        container["limits"] = limits
    ports = _ports(svc, warnings)
    if ports:
        container["ports"] = ports
    volumes = _volumes(svc, declared_volumes, warnings)
    if volumes:
        container["volumes"] = volumes
    if replicas is not None:
        container["replicas"] = replicas
    container["source"] = {"kind": "compose", "workload": svc.name, "container": svc.name,
                           "file": svc.first.source, "line": svc.line}
    if defaulted:
        container["defaultedRequests"] = defaulted
    return container


def _dependencies(svc: _Service) -> list[tuple[str, str]]:
    """(service, field) for each service that `svc` depends on or links to."""
    out: list[tuple[str, str]] = []
    depends = svc.spec.get("depends_on")
    if isinstance(depends, dict):
        out += [(str(name), "depends_on") for name in depends]
    elif depends is not None:
        for i, name in enumerate(_list(svc, depends, "depends_on")):
            if not isinstance(name, str):
                svc.fail(f"depends_on[{i}]", f"must be a service name, not {describe(name)}")
            out.append((name, "depends_on"))
    for i, link in enumerate(_list(svc, svc.spec.get("links"), "links")):
        if not isinstance(link, str):
            svc.fail(f"links[{i}]", f"must be \"service\" or \"service:alias\", not "
                     f"{describe(link)}")
        out.append((link.partition(":")[0].strip(), "links"))
    return out


def _traffic_hints(services: dict[str, _Service], names: dict[str, str], root: dict[str, str],
                   warnings: list[str]) -> list[dict[str, Any]]:
    hints: list[dict[str, Any]] = []
    seen: set[frozenset[str]] = set()
    for svc in services.values():
        for other, key in _dependencies(svc):
            if other not in services:
                warnings.append(f"services.{svc.name}.{key}: unknown service {other!r}; "
                                "skipped")
                continue
            pair = frozenset((svc.name, other))
            # One pod already keeps them on localhost: a traffic hint would add nothing.
            if root[svc.name] == root[other] or pair in seen:
                continue
            seen.add(pair)
            hints.append({"type": "traffic", "containers": [names[svc.name], names[other]],
                          "weight": 1.0})
    return hints
