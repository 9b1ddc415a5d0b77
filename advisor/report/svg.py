"""An inline SVG picture of one layout, for the HTML report.

Nodes are columns grouped by zone; each node has two bars, cpu (left) and memory (right),
whose heights stand for its allocatable on one scale per resource, so a larger node is a
taller column. Every placed pod replica is a block stacked in both bars, as tall as its
cpu and memory requests, coloured by pod. What is left above the blocks is free capacity;
it is hatched when stranded (no pod shape of the layout fits there any more), and a node
that hosts nothing is dimmed and marked "idle". Replicas that no node hosts are listed
under the picture. Every name is escaped: they come from user input.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from models.quantity import QuantityError, parse_quantity

# Tableau 10 without its grey (grey is the colour of free capacity here), then the lighter
# shades of Tableau 20: pods take the strong colours first, so small pictures stay distinct.
STRONG: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f",
)
LIGHT: tuple[str, ...] = (
    "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#f1ce63", "#499894", "#86bcb6", "#d37295",
    "#fabfd2", "#d4a6c8", "#d7b5a6",
)
PALETTE: tuple[str, ...] = STRONG + LIGHT
# Kubernetes' default pod limit, for a node whose allocatable does not name one.
DEFAULT_POD_SLOTS = Decimal(110)
MARGIN = 8
ZONE_H = 18  # zone label and its bracket
HEADROOM = 13  # above the bars: "idle" and "over" marks
ROW_GAP = 14
CHAR_W = 6.0  # a rough advance of one 10 px character, to fit labels without measuring
MAX_LEGEND_PODS = 40
MAX_UNPLACED_LINES = 20
STYLE = (
    ".pl-layout{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
    "font-size:10px;fill:#202124}"
    ".pl-free{fill:#fff;stroke:#9aa0a6;stroke-width:1}"
    ".pl-idle .pl-free{fill:#f1f3f4;stroke-dasharray:3 2}"
    ".pl-replica rect{stroke:#fff;stroke-width:.6}"
    ".pl-limit{stroke:#c5221f;stroke-width:2}"
    ".pl-mark{font-size:9px;text-anchor:middle;fill:#5f6368}"
    ".pl-over-mark{font-size:9px;text-anchor:middle;fill:#c5221f;font-weight:600}"
    ".pl-zone{font-weight:600}"
    ".pl-zone-line{stroke:#5f6368;stroke-width:1;fill:none}"
    ".pl-cap{font-size:8px;text-anchor:middle;fill:#80868b}"
    ".pl-none{stroke:#9aa0a6;stroke-width:1;stroke-dasharray:2 2}"
    ".pl-note{fill:#5f6368}"
    ".pl-warn{fill:#c5221f}"
)


def palette(names: Iterable[str]) -> dict[str, str]:
    """A colour per name: the entry its hash picks among the strong colours, moved on to the
    next one not yet taken; once they are all taken, the same among the light ones; then the
    hash alone. Pass the names of every picture of a page to keep a pod one colour in all."""
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(set(names)):
        code = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
        tier = next((t for t in (STRONG, LIGHT) if not used.issuperset(t)), PALETTE)
        index = code % len(tier)
        if tier is not PALETTE:
            while tier[index] in used:
                index = (index + 1) % len(tier)
        used.add(tier[index])
        chosen[name] = tier[index]
    return chosen


@dataclass
class _Replica:
    pod: str
    replica: int
    cpu: float  # cores
    memory: float  # bytes
    tip: str


@dataclass
class _Node:
    name: str
    zone: str | None
    pool: str | None
    cpu: float
    memory: float
    allocatable: dict[str, Decimal]
    replicas: list[_Replica] = field(default_factory=list)
    used: dict[str, Decimal] = field(default_factory=dict)

    @property
    def used_cpu(self) -> float:
        return float(self.used.get("cpu", 0))

    @property
    def used_memory(self) -> float:
        return float(self.used.get("memory", 0))


def render_svg(layout: Mapping[str, Any], *, colours: Mapping[str, str] | None = None,
               max_width: int = 1000, label: str | None = None) -> str:
    """The SVG (one `<svg>` element, no XML declaration) of a plan-shaped wire dict: `pods`,
    `placements`, `nodes` and optionally `unplaced`. `colours` maps pod names to colours
    (see `palette`); `max_width` is where rows of nodes wrap; `label` names the picture for
    screen readers."""
    pods = {str(p["name"]): p for p in layout.get("pods", [])}
    colours = dict(colours) if colours is not None else palette(pods)
    nodes = _nodes(layout, pods)
    shapes = [_shape(p) for p in pods.values()]
    aria = label or "layout of pods on nodes"
    # Ids are page-wide: two pictures in one page must not share one, and a picture redrawn
    # keeps its id.
    seed = "\n".join([aria, *(n.name for n in nodes),
                      *(f"{r.pod}/{r.replica}@{n.name}" for n in nodes for r in n.replicas)])
    pattern_id = f"pl-strand-{hashlib.sha256(seed.encode()).hexdigest()[:10]}"
    geo = _Geometry.fit(nodes, max_width, pattern_id)
    out: list[str] = []
    height = geo.place(nodes, out, colours, shapes)
    height = _legend(out, colours, pods, geo, height)
    height = _unplaced(out, layout.get("unplaced", []), geo, height)
    width = geo.width
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="pl-layout" role="img" '
            f'viewBox="0 0 {width} {_num(height)}" width="{width}" height="{_num(height)}" '
            f'aria-label="{_attr(aria)}"><title>{escape(aria)}</title>'
            f"<defs><style>{STYLE}</style>"
            f'<pattern id="{geo.pattern_id}" width="5" height="5" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/>'
            f'<line x1="0" y1="0" x2="0" y2="5" stroke="#f29900" stroke-width="2"/></pattern>'
            f"</defs>{''.join(out)}</svg>")


def _attr(text: str) -> str:
    """Text for a double-quoted attribute."""
    return html.escape(text, quote=True)


def _amount(value: Any) -> Decimal:
    try:
        return max(Decimal(0), parse_quantity(value))
    except (QuantityError, TypeError, ValueError):
        return Decimal(0)


def _shape(pod: Mapping[str, Any]) -> dict[str, Decimal]:
    """What one replica of the pod takes from a node, its pod slot included."""
    shape = {r: _amount(v) for r, v in (pod.get("requests") or {}).items()}
    shape["pods"] = Decimal(1)
    return shape


def _nodes(layout: Mapping[str, Any], pods: Mapping[str, Mapping[str, Any]]) -> list[_Node]:
    nodes: dict[str, _Node] = {}
    for n in layout.get("nodes", []):
        allocatable = {r: _amount(v) for r, v in (n.get("allocatable") or {}).items()}
        allocatable.setdefault("pods", DEFAULT_POD_SLOTS)
        nodes[str(n["name"])] = _Node(
            name=str(n["name"]), zone=n.get("zone"), pool=n.get("pool"),
            cpu=float(allocatable.get("cpu", 0)), memory=float(allocatable.get("memory", 0)),
            allocatable=allocatable)
    placements = sorted(layout.get("placements", []),
                        key=lambda p: (str(p["pod"]), int(p["replica"])))
    for p in placements:
        node = nodes.get(str(p["node"]))
        pod = pods.get(str(p["pod"]))
        if node is None or pod is None:
            continue
        shape = _shape(pod)
        for r, amount in shape.items():
            node.used[r] = node.used.get(r, Decimal(0)) + amount
        node.replicas.append(_Replica(
            pod=str(p["pod"]), replica=int(p["replica"]), cpu=float(shape.get("cpu", 0)),
            memory=float(shape.get("memory", 0)), tip=_replica_tip(pod, p)))
    return list(nodes.values())


def _replica_tip(pod: Mapping[str, Any], placement: Mapping[str, Any]) -> str:
    requests = ", ".join(f"{r} {v}" for r, v in (pod.get("requests") or {}).items())
    containers = [str(c) for c in pod.get("containers", [])]
    shown = ", ".join(containers[:8]) + (f" and {len(containers) - 8} more"
                                         if len(containers) > 8 else "")
    return (f"pod {pod['name']}, replica {placement['replica']} on {placement['node']}\n"
            f"requests: {requests or 'none'}\ncontainers: {shown}")


def _shorten(text: str, limit: int) -> str:
    """Cut from the middle: node names (gke-prod-pool-1a2b-x7k2) differ at their ends."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 2
    return text[: limit - 1 - tail] + "\u2026" + text[len(text) - tail:]


def _cores(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def _bytes(value: float) -> str:
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            return f"{value / size:.2f}".rstrip("0").rstrip(".") + unit
    return f"{value:.0f}"


def _num(value: float) -> str:
    """A coordinate: one decimal is finer than a screen pixel and keeps large pictures small."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _fits(shape: Mapping[str, Decimal], free: Mapping[str, Decimal]) -> bool:
    return all(amount <= free.get(r, Decimal(0)) for r, amount in shape.items() if amount > 0)


def _stranded(node: _Node, shapes: list[dict[str, Decimal]]) -> set[str]:
    """The resources whose free capacity on a node that hosts pods no pod shape can use any
    more, because another resource ran out first (as the waste score counts them)."""
    if not node.replicas or not shapes:
        return set()
    free = {r: node.allocatable.get(r, Decimal(0)) - node.used.get(r, Decimal(0))
            for r in set(node.allocatable) | set(node.used)}
    if any(_fits(s, free) for s in shapes):
        return set()
    return {r for r in ("cpu", "memory")
            if free.get(r, Decimal(0)) > 0
            and any(s.get(r, Decimal(0)) <= free[r] for s in shapes)}


def _zone_label_w(zone: str | None) -> float:
    return min(len(zone if zone is not None else "no zone"), 24) * CHAR_W + 6


@dataclass
class _Geometry:
    bar_w: float
    bar_h: float
    gap: float
    with_memory: bool
    rotate_names: bool
    name_chars: int
    name_h: float
    width: int
    left: float  # where rows start: room for the first column's slanted name
    cpu_scale: float  # pixels per core
    memory_scale: float  # pixels per byte
    pattern_id: str

    @property
    def col_w(self) -> float:
        return 2 * self.bar_w + 3 if self.with_memory else self.bar_w

    @property
    def pitch(self) -> float:
        return self.col_w + self.gap

    @property
    def row_h(self) -> float:
        return ZONE_H + HEADROOM + self.bar_h + 11 + self.name_h + ROW_GAP

    @classmethod
    def fit(cls, nodes: list[_Node], max_width: int, pattern_id: str) -> _Geometry:
        count = len(nodes)
        bar_w = 30.0 if count <= 8 else 16.0 if count <= 24 else 10.0
        bar_h = 180.0 if count <= 8 else 150.0 if count <= 60 else 90.0
        gap = 14.0 if count <= 24 else 8.0
        # Scale on the larger of allocatable and requested: an overcommitted node still fits.
        top_cpu = max([max(n.cpu, n.used_cpu) for n in nodes], default=0.0)
        top_memory = max([max(n.memory, n.used_memory) for n in nodes], default=0.0)
        with_memory = top_memory > 0 or not nodes
        col_w = 2 * bar_w + 3 if with_memory else bar_w
        longest = max((len(n.name) for n in nodes), default=0)
        rotate = longest * CHAR_W > col_w + gap - 2
        chars = min(longest, 22)
        name_h = (math.ceil(chars * CHAR_W * 0.71) + 10) if rotate else 12.0
        left = MARGIN + (max(0.0, chars * CHAR_W * 0.71 - col_w / 2) if rotate else 0.0)
        # As wide as the zones side by side need, up to max_width (then rows wrap).
        zones: dict[str | None, int] = {}
        for n in nodes:
            zones[n.zone] = zones.get(n.zone, 0) + 1
        natural = left + MARGIN + sum(
            max(k * (col_w + gap) - gap, _zone_label_w(z)) + gap + 8
            for z, k in zones.items()) - gap - 8
        return cls(bar_w=bar_w, bar_h=bar_h, gap=gap, with_memory=with_memory,
                   rotate_names=rotate, name_chars=chars, name_h=name_h,
                   width=max(min(math.ceil(natural), max_width), 320), left=left,
                   cpu_scale=bar_h / top_cpu if top_cpu > 0 else 0.0,
                   memory_scale=bar_h / top_memory if top_memory > 0 else 0.0,
                   pattern_id=pattern_id)

    def place(self, nodes: list[_Node], out: list[str], colours: Mapping[str, str],
              shapes: list[dict[str, Decimal]]) -> float:
        """Draw the node columns row by row; return the height used."""
        if not nodes:
            out.append(f'<text class="pl-note" x="{MARGIN}" y="{MARGIN + 12}">no nodes</text>')
            return MARGIN + 20
        zones: dict[str | None, list[_Node]] = {}
        for node in nodes:
            zones.setdefault(node.zone, []).append(node)
        order = sorted(zones, key=lambda z: (z is None, z or ""))
        right = self.width - MARGIN
        x, row = self.left, 0
        for zone in order:
            name = zone if zone is not None else "no zone"
            label_w = _zone_label_w(zone)
            members = zones[zone]
            if x > self.left and x + max(self.col_w, label_w) > right:
                x, row = self.left, row + 1
            start = x
            for node in members:
                if x > start and x + self.col_w > right:
                    self._zone(out, name, start, x - self.gap, row)
                    x, row = self.left, row + 1
                    start = x
                self._node(out, node, x, MARGIN + row * self.row_h + ZONE_H, colours, shapes)
                x += self.pitch
            end = max(x - self.gap, start + label_w)
            self._zone(out, name, start, end, row)
            x = end + self.gap + 8  # zones stand apart
        return MARGIN + (row + 1) * self.row_h

    def _zone(self, out: list[str], name: str, start: float, end: float, row: int) -> None:
        y = MARGIN + row * self.row_h
        fits = max(1, int((end - start) // CHAR_W))
        text = name if len(name) <= fits else name[: max(1, fits - 1)] + "\u2026"
        out.append(f'<g><title>{escape("zone " + name)}</title>'
                   f'<text class="pl-zone" x="{_num(start)}" y="{_num(y + 10)}">'
                   f"{escape(text)}</text>"
                   f'<path class="pl-zone-line" d="M{_num(start)} {_num(y + 15)}'
                   f'H{_num(end)}"/></g>')

    def _node(self, out: list[str], node: _Node, x: float, y: float,
              colours: Mapping[str, str], shapes: list[dict[str, Decimal]]) -> None:
        idle = not node.replicas
        stranded = _stranded(node, shapes)
        over = [r for r in ("cpu", "memory")
                if node.used.get(r, Decimal(0)) > node.allocatable.get(r, Decimal(0))
                and (r == "cpu" or self.with_memory)]
        bottom = HEADROOM + self.bar_h
        classes = "pl-node pl-idle" if idle else "pl-node"
        parts = [f'<g class="{classes}" transform="translate({_num(x)},{_num(y)})">'
                 f"<title>{escape(self._node_tip(node, idle, stranded, over))}</title>"]
        bars = [("cpu", 0.0, node.cpu, node.used_cpu, self.cpu_scale)]
        if self.with_memory:
            bars.append(("memory", self.bar_w + 3, node.memory, node.used_memory,
                         self.memory_scale))
        parts += self._node_bars(bars, stranded, bottom)
        parts += self._node_replicas(node, colours, bottom)
        for resource, bx, capacity, _, scale in bars:
            if resource in over and capacity > 0:
                line_y = bottom - capacity * scale
                parts.append(f'<path class="pl-limit" d="M{_num(bx - 1)} {_num(line_y)}'
                             f'h{_num(self.bar_w + 2)}"/>')
        parts += self._node_labels(node, idle, over, bottom)
        parts.append("</g>")
        out.append("".join(parts))

    def _node_bars(self, bars: list[tuple[str, float, float, float, float]],
                   stranded: set[str], bottom: float) -> list[str]:
        """Each resource's frame, hatched where its free part is stranded."""
        parts: list[str] = []
        for resource, bx, capacity, used, scale in bars:
            if capacity <= 0:
                # No such resource on this node: a dashed stub rather than an empty frame.
                parts.append(f'<path class="pl-none" d="M{_num(bx)} {_num(bottom)}'
                             f'h{_num(self.bar_w)}"/>')
                continue
            top = bottom - capacity * scale
            free_h = max(0.0, (capacity - used) * scale)
            parts.append(f'<rect class="pl-free" x="{_num(bx)}" y="{_num(top)}" '
                         f'width="{_num(self.bar_w)}" height="{_num(capacity * scale)}"/>')
            if resource in stranded and free_h >= 0.5:
                parts.append(f'<rect fill="url(#{self.pattern_id})" x="{_num(bx + 0.5)}" '
                             f'y="{_num(top + 0.5)}" width="{_num(self.bar_w - 1)}" '
                             f'height="{_num(max(0.0, free_h - 0.5))}"/>')
        return parts

    def _node_replicas(self, node: _Node, colours: Mapping[str, str], bottom: float
                       ) -> list[str]:
        """Each replica, stacked from the bottom of the cpu and memory bars."""
        parts: list[str] = []
        y_cpu = y_mem = bottom
        for rep in node.replicas:
            colour = colours.get(rep.pod, PALETTE[0])
            rects: list[str] = []
            h_cpu = rep.cpu * self.cpu_scale
            h_mem = rep.memory * self.memory_scale
            if node.cpu > 0 or rep.cpu > 0:
                y_cpu -= h_cpu
                rects.append(f'<rect x="0" y="{_num(y_cpu)}" width="{_num(self.bar_w)}" '
                             f'height="{_num(max(h_cpu, 0.8))}"/>')
            if self.with_memory and (node.memory > 0 or rep.memory > 0) and h_mem > 0:
                y_mem -= h_mem
                rects.append(f'<rect x="{_num(self.bar_w + 3)}" y="{_num(y_mem)}" '
                             f'width="{_num(self.bar_w)}" height="{_num(max(h_mem, 0.8))}"/>')
            parts.append(f'<g class="pl-replica" fill="{_attr(colour)}">'
                         f"<title>{escape(rep.tip)}</title>{''.join(rects)}</g>")
        return parts

    def _node_labels(self, node: _Node, idle: bool, over: list[str], bottom: float
                     ) -> list[str]:
        """The idle/over mark, the bar captions and the node's name."""
        parts: list[str] = []
        mid = self.col_w / 2
        if idle:
            parts.append(f'<text class="pl-mark" x="{_num(mid)}" y="{HEADROOM - 3}">idle</text>')
        elif over:
            parts.append(f'<text class="pl-over-mark" x="{_num(mid)}" y="{HEADROOM - 3}">'
                         f"over</text>")
        if self.bar_w >= 16:
            parts.append(f'<text class="pl-cap" x="{_num(self.bar_w / 2)}" '
                         f'y="{_num(bottom + 9)}">cpu</text>')
            if self.with_memory:
                parts.append(f'<text class="pl-cap" x="{_num(self.bar_w * 1.5 + 3)}" '
                             f'y="{_num(bottom + 9)}">mem</text>')
        name = _shorten(node.name, self.name_chars)
        label_y = bottom + 11 + 10
        if self.rotate_names:
            parts.append(f'<text x="{_num(mid + 3)}" y="{_num(label_y - 4)}" '
                         f'text-anchor="end" transform="rotate(-45 {_num(mid + 3)} '
                         f'{_num(label_y - 4)})">{escape(name)}</text>')
        else:
            parts.append(f'<text x="{_num(mid)}" y="{_num(label_y)}" text-anchor="middle">'
                         f"{escape(name)}</text>")
        return parts

    @staticmethod
    def _node_tip(node: _Node, idle: bool, stranded: set[str], over: list[str]) -> str:
        where = ", ".join(p for p in (
            f"zone {node.zone}" if node.zone else "no zone",
            f"pool {node.pool}" if node.pool else "") if p)
        lines = [f"node {node.name} ({where})"]
        lines.append(f"cpu {_cores(node.used_cpu)} of {_cores(node.cpu)} requested"
                     if node.cpu > 0 else "cpu: none allocatable")
        lines.append(f"memory {_bytes(node.used_memory)} of {_bytes(node.memory)} requested"
                     if node.memory > 0 else "memory: none allocatable")
        lines.append(f"{len(node.replicas)} pod(s)")
        if idle:
            lines.append("idle: hosts no pod")
        if stranded:
            lines.append(f"stranded {', '.join(sorted(stranded))}: no pod of this layout fits "
                         "the free capacity")
        if over:
            lines.append(f"overcommitted: {', '.join(over)} requested beyond allocatable")
        return "\n".join(lines)


def _legend(out: list[str], colours: Mapping[str, str], pods: Mapping[str, Any],
            geo: _Geometry, top: float) -> float:
    """The key: what the bars and marks mean, then a swatch per pod (the first ones)."""
    x, y = float(MARGIN), top + 4
    right = geo.width - MARGIN
    entries: list[tuple[str, str]] = [
        ('<rect class="pl-free" width="10" height="10"/>', "free"),
        (f'<rect fill="url(#{geo.pattern_id})" stroke="#9aa0a6" width="10" height="10"/>',
         "stranded"),
        ('<rect class="pl-free" style="fill:#f1f3f4;stroke-dasharray:3 2" width="10" '
         'height="10"/>', "idle node"),
    ]
    names = sorted(pods)
    entries += [(f'<rect fill="{_attr(colours.get(n, PALETTE[0]))}" width="10" height="10"/>',
                 n if len(n) <= 28 else n[:27] + "\u2026") for n in names[:MAX_LEGEND_PODS]]
    bars = "cpu | memory" if geo.with_memory else "cpu"
    out.append(f'<text class="pl-note" x="{MARGIN}" y="{_num(y + 9)}">bars: {bars}; '
               f"height: allocatable; blocks: pod replicas</text>")
    y += 16
    for swatch, text in entries:
        w = 14 + len(text) * CHAR_W + 12
        if x > MARGIN and x + w > right:
            x, y = float(MARGIN), y + 15
        out.append(f'<g class="pl-key" transform="translate({_num(x)},{_num(y)})">{swatch}'
                   f'<text x="14" y="9">{escape(text)}</text></g>')
        x += w
    if len(names) > MAX_LEGEND_PODS:
        out.append(f'<text class="pl-note" x="{MARGIN}" y="{_num(y + 24)}">'
                   f"and {len(names) - MAX_LEGEND_PODS} more pods (hover a block for its "
                   f"name)</text>")
        y += 15
    return y + 20


def _unplaced(out: list[str], unplaced: list[Mapping[str, Any]], geo: _Geometry,
              top: float) -> float:
    if not unplaced:
        return top
    y = top + 12
    out.append(f'<text class="pl-warn" x="{MARGIN}" y="{_num(y)}">'
               f"{len(unplaced)} replica(s) unplaced, on no node:</text>")
    limit = max(10, int((geo.width - 2 * MARGIN) // CHAR_W))
    for u in unplaced[:MAX_UNPLACED_LINES]:
        y += 14
        line = f"{u.get('pod')} replica {u.get('replica')}"
        if u.get("reason"):
            line += f": {u['reason']}"
        if len(line) > limit:
            line = line[: limit - 1] + "\u2026"
        out.append(f'<text x="{MARGIN + 10}" y="{_num(y)}">{escape(line)}</text>')
    if len(unplaced) > MAX_UNPLACED_LINES:
        y += 14
        out.append(f'<text class="pl-note" x="{MARGIN + 10}" y="{_num(y)}">'
                   f"and {len(unplaced) - MAX_UNPLACED_LINES} more</text>")
    return y + 10
