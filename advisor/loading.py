"""Reading a problem from JSON or YAML text, with errors that name the place."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import yaml

from models import FieldIssue, Problem, ProblemError, parse_problem

MAX_INPUT_BYTES = 16 * 1024 * 1024
# An alias repeats a whole subtree: a few nested ones blow a small text up exponentially
# once anything walks the data ("billion laughs"). Real problems need few, if any.
MAX_YAML_ALIASES = 1000

Format = Literal["auto", "json", "yaml"]


# libyaml's parser when PyYAML has it (the wheels do): many times faster than pure Python.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeBase):  # type: ignore[valid-type,misc]  # chosen at import time
    """Safe loading that rejects a key given twice (YAML would keep the last silently)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    # Merge keys (`<<: *defaults`, common in Compose files) first: what they bring in may be
    # overridden; only keys written twice are an error.
    merged = any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value)
    own = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
    if merged:
        loader.flatten_mapping(node)
    seen: set[object] = set()
    for key_node in own:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain strings", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(repr(key))
        out[key] = value
    return out


class SeveralDocumentsError(ProblemError):
    """YAML with more than one document: not a problem (manifests come that way)."""


class LimitError(ProblemError):
    """Readable input over a size limit (bytes, aliases, depth), as opposed to unreadable."""


# A problem is a few levels deep; building a very deep document recurses (and libyaml's
# constructor can take the process down before Python's recursion limit says anything).
MAX_DEPTH = 64


def _too_deep(source: str) -> ProblemError:
    return LimitError([FieldIssue(source, f"input is nested more than {MAX_DEPTH} levels deep")])


# Long numbers: Python parses a digit string in time quadratic in its length, and YAML 1.1
# sexagesimal ints (1:0:0:...) the same; no real amount needs more digits than this.
MAX_NUMBER_CHARS = 64


# Aliases may repeat at most this many bytes of scalars in all, counted after expansion: an
# anchored long string aliased a hundred times is small to send and huge to store and walk.
MAX_EXPANDED_BYTES = MAX_INPUT_BYTES

# Flow collections ([...] and {...}) outside quoted scalars and comments: what a YAML parser
# nests by. Only consulted once the parser has failed, to tell "too deep" from "broken".
_FLOW_TOKENS = re.compile(r"""
    "(?:[^"\\]|\\.)*"      # a double-quoted scalar
  | '(?:[^']|'')*'            # a single-quoted scalar
  | (?:^|(?<=\s))\#[^\n]*    # a comment
  | [\[{] | [\]}]
""", re.VERBOSE | re.MULTILINE)


def _flow_depth_over(text: str, limit: int) -> bool:
    depth = 0
    for match in _FLOW_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth = max(0, depth - 1)
    return False


def _check_events(text: str, max_aliases: int, source: str,
                  max_expanded_bytes: int = MAX_EXPANDED_BYTES) -> None:
    """Walk the YAML events (flat, no recursion) before building anything from them: depth,
    the number of aliases, and how much they would expand the document (an alias repeats
    its anchor's whole subtree: aliases may at most double the document's events, and may
    repeat at most MAX_EXPANDED_BYTES of scalars).

    The depth limit is ours whatever the parser's own: libyaml stops at a nesting level of
    its own while reading ahead, before the walk sees the level past ours."""
    try:
        _walk_events(text, max_aliases, source, max_expanded_bytes)
    except yaml.YAMLError:
        if _flow_depth_over(text, MAX_DEPTH):
            raise _too_deep(source) from None
        raise


def _walk_events(text: str, max_aliases: int, source: str, max_expanded_bytes: int) -> None:
    aliases = depth = 0
    # Running totals with every alias expanded; an anchor's size is the difference between
    # the totals at its end and at its start, so aliases inside anchors count in full.
    events = scalar_bytes = 0
    open_anchors: list[tuple[str | None, int, int]] = []  # per open collection
    size: dict[str, tuple[int, int]] = {}  # anchor -> (events, scalar bytes) it expands to
    for read, event in enumerate(yaml.parse(text, Loader=_SafeBase), start=1):
        events += 1
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > max_aliases:
                raise LimitError([FieldIssue(
                    source, f"YAML uses more than {max_aliases} aliases (*name); write the "
                    "values out"
                )])
            more_events, more_bytes = size.get(event.anchor or "", (1, 0))
            events += more_events - 1
            scalar_bytes += more_bytes
            if events - read > max(100_000, read):
                raise LimitError([FieldIssue(
                    source, "YAML aliases (*name) would expand the input more than twice over; "
                    "write the values out")])
            if scalar_bytes > max_expanded_bytes:
                raise LimitError([FieldIssue(
                    source, f"YAML aliases (*name) would expand the input to more than "
                    f"{max_expanded_bytes} bytes of values (the expanded-size limit); write "
                    "the values out")])
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(source)
            open_anchors.append((event.anchor, events - 1, scalar_bytes))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start_events, start_bytes = open_anchors.pop()
            if anchor is not None:
                size[anchor] = (events - start_events, scalar_bytes - start_bytes)
        elif isinstance(event, yaml.ScalarEvent):
            value_bytes = len(event.value.encode("utf-8", errors="replace"))
            scalar_bytes += value_bytes
            if event.anchor is not None:
                size[event.anchor] = (1, value_bytes)
            if not event.style and len(event.value) > MAX_NUMBER_CHARS and \
                    event.value.lstrip("+-")[:1].isdigit():
                raise LimitError([FieldIssue(source, (
                    f"a plain value of {len(event.value)} characters starts like a number; "
                    f"numbers have at most {MAX_NUMBER_CHARS} (quote it if it is text)"))])


def glued_separator_hint(text: str, line: int | None = None) -> str:
    """When a YAML stream failed to read: a `---` glued to the end of a line with something
    before it (`{}---`, `value---`, then a new document), as `cat a.yaml b.yaml` makes of a
    file without its final newline, said as " (...)" to append to the error; else "".
    Only for errors: a value may end with `---` in valid YAML."""
    lines = text.splitlines()
    glued: list[int] = []
    for i, raw in enumerate(lines):
        content = raw.rstrip()
        body = content.lstrip()
        if (not content.endswith("---") or body.startswith("#") or not body.strip("-")
                or content[-4].isspace()):
            continue
        if i + 1 < len(lines) and lines[i + 1].strip():
            glued.append(i + 1)
    if not glued:
        return ""
    before = [n for n in glued if line is None or n <= line]
    at = before[-1] if before else glued[0]
    return (f" (line {at} ends with `---`: `---` must start its own line; a file probably "
            "lacks its final newline)")


def load_data(text: str, source: str, fmt: Format = "auto",
              max_aliases: int = MAX_YAML_ALIASES,
              max_expanded_bytes: int = MAX_EXPANDED_BYTES) -> Any:
    """JSON when `fmt` says so or the text starts like JSON, else YAML (one document,
    loaded safely, at most `max_aliases` aliases expanding to at most `max_expanded_bytes`
    bytes of values)."""
    if len(text.encode("utf-8", errors="replace")) > MAX_INPUT_BYTES:
        raise LimitError([FieldIssue(source, f"input is larger than {MAX_INPUT_BYTES} bytes")])
    stripped = text.lstrip()
    if not stripped:
        raise ProblemError([FieldIssue(source, "input is empty")])
    if fmt == "json" or (fmt == "auto" and stripped[0] in "{["):
        try:
            return json.loads(text, object_pairs_hook=_unique_keys)
        except _DuplicateKeyError as exc:
            raise ProblemError([FieldIssue(source, f"invalid JSON: duplicate key {exc}")]) from None
        except RecursionError:
            raise _too_deep(source) from None
        except json.JSONDecodeError as exc:
            raise ProblemError([FieldIssue(
                source, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
                + glued_separator_hint(text, exc.lineno)
            )]) from None
        except ValueError as exc:  # e.g. an integer past Python's digit limit
            raise LimitError([FieldIssue(source, f"invalid JSON: {exc}")]) from None
    try:
        _check_events(text, max_aliases, source, max_expanded_bytes)
        docs = [d for d in yaml.load_all(text, Loader=_StrictLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        hint = glued_separator_hint(text, mark.line + 1 if mark else None)
        raise ProblemError([FieldIssue(source, f"invalid YAML{where}: {problem}{hint}")]
                           ) from None
    except ProblemError:
        raise
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        raise LimitError([FieldIssue(source, f"invalid YAML: {exc}")]) from None
    if len(docs) != 1:
        raise (SeveralDocumentsError if docs else ProblemError)([FieldIssue(
            source, f"expected one YAML document with a problem, found {len(docs)}"
        )])
    return docs[0]


def load_problem(text: str, source: str = "input", fmt: Format = "auto",
                 max_aliases: int = MAX_YAML_ALIASES) -> Problem:
    return parse_problem(load_data(text, source, fmt, max_aliases))
