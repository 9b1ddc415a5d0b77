"""What the batch sends a child (an input and the options to solve it with) and what the
child sends back: plain data, light to import (a fully resumed batch loads no solver)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.batch.records import Figures


@dataclass(frozen=True)
class FileTask:
    """What a child needs to solve one input (sent to it, so plain data)."""

    position: int  # in the argument list
    path: str
    name: str  # the stable output stem
    report: str
    output_dir: str | None
    time_limit: float | None
    workers: int | None
    share: int  # solves running at once: each gets this share of its policy's workers
    nodes: str | None
    defaults: str | None
    injected: tuple[str, ...]
    memory_limit: int | None  # bytes of address space, or None
    key: str | None = None


@dataclass
class FileResult:
    line: dict[str, Any]
    sides: list[Figures] = field(default_factory=list)
    report: str | None = None  # rendered for stdout (text, markdown) when there is no -o
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)  # the import's, printed by the parent
