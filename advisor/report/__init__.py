"""Reports of a plan or a review in the formats people and tools read: JSON (the contract),
YAML, a terminal summary, Markdown for a pull request, a self-contained HTML page, SARIF for
code scanning. Each renderer takes the wire dict, so a stored result renders as a fresh one."""

from __future__ import annotations

import importlib
import json
from typing import Any, Literal, Protocol, get_args

import yaml

from models import Problem

Format = Literal["json", "yaml", "text", "markdown", "html", "sarif"]
FORMATS: tuple[str, ...] = get_args(Format)
# Media types of the REST API's content negotiation, by format.
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "text": "text/plain",
    "markdown": "text/markdown",
    "html": "text/html",
    "sarif": "application/sarif+json",
}
# File name endings for reports written to a directory.
SUFFIXES: dict[str, str] = {
    "json": ".json", "yaml": ".yaml", "text": ".txt", "markdown": ".md", "html": ".html",
    "sarif": ".sarif",
}


def render(fmt: str, result: dict[str, Any], problem: Problem | None = None,
           source: str | None = None) -> str:
    """The report of `result` (a plan's or a review's wire dict) in `fmt`, ending in a
    newline. `problem` adds what the result does not carry (costs, source files)."""
    if fmt == "json":
        return json.dumps(result, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(result, sort_keys=False, allow_unicode=True)
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    # Renderers load on demand: a JSON answer never pays for a template engine.
    module, name = _RENDERERS[fmt]
    if "plans" in result and "recommended" in result:  # a frontier: several plans
        if fmt == "sarif":
            raise ValueError("sarif reports one layout's findings, not a frontier")
        module = "advisor.report.frontier"
    renderer: Renderer = getattr(importlib.import_module(module), name)
    return renderer(result, problem, source)


class Renderer(Protocol):
    def __call__(self, result: dict[str, Any], problem: Problem | None,
                 source: str | None) -> str: ...


_RENDERERS: dict[str, tuple[str, str]] = {
    "text": ("advisor.report.text", "render_text"),
    "markdown": ("advisor.report.markdown", "render_markdown"),
    "html": ("advisor.report.html", "render_html"),
    "sarif": ("advisor.report.sarif", "render_sarif"),
}
