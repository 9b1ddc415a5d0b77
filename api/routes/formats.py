"""Content negotiation for the answers that carry a plan or a review: the JSON of the
contract, or its report (text, Markdown, HTML, SARIF) by the request's `Accept` header."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from advisor.report import MEDIA_TYPES, render
from api.errors import ApiError
from models import FieldIssue, Problem

# What these answers come in, by format; on a tie the first wins, so JSON (the contract)
# is what `*/*`, `application/*` or no header at all get.
OFFERED: tuple[tuple[str, str], ...] = tuple(
    sorted(MEDIA_TYPES.items(), key=lambda item: item[0] != "json"))
SUPPORTED = ", ".join(media for _, media in OFFERED)
# Echoed in a 406 answer up to this many characters: a header is not a place to store text.
MAX_ECHO = 200


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    """The media ranges of an Accept header as (type, subtype, q). A range whose q is not a
    number from 0 to 1, or that is not `type/subtype`, is left out as unreadable."""
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub or (kind == "*" and sub != "*"):
            continue
        q: float | None = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = None
                if q is not None and not (math.isfinite(q) and 0.0 <= q <= 1.0):
                    q = None
        if q is not None:
            ranges.append((kind, sub, q))
    return ranges


def _quality(media: str, ranges: list[tuple[str, str, float]]) -> tuple[float, int]:
    """The q the client gives `media`, from its most specific matching range (RFC 9110,
    12.5.1: `text/html` before `text/*` before `*/*`), and how specific that range is."""
    kind, _, sub = media.partition("/")
    best: tuple[int, float] | None = None
    for r_kind, r_sub, q in ranges:
        if (r_kind, r_sub) == (kind, sub):
            rank = 2
        elif r_kind == kind and r_sub == "*":
            rank = 1
        elif (r_kind, r_sub) == ("*", "*"):
            rank = 0
        else:
            continue
        if best is None or (rank, q) > best:
            best = (rank, q)
    return (0.0, -1) if best is None else (best[1], best[0])


def negotiate(accept: str | None) -> str:
    """The format to answer in: the offered type with the highest q (then the most specific
    range, then JSON first); no header means JSON. 406 when the client takes none of them."""
    if accept is None or not accept.strip():
        return "json"
    ranges = _ranges(accept)
    scored = [(_quality(media, ranges), -i, fmt) for i, (fmt, media) in enumerate(OFFERED)]
    (q, _), _, fmt = max(scored)
    if q <= 0.0:
        shown = accept if len(accept) <= MAX_ECHO else accept[:MAX_ECHO] + "..."
        raise ApiError(406, f"none of the media types the Accept header takes is available "
                            f"here; ask for one of: {SUPPORTED}",
                       [FieldIssue("Accept", f"{shown!r} takes none of: {SUPPORTED}")])
    return fmt


def report_format(request: Request) -> str:
    # Several Accept fields in one request are one list (RFC 9110, 5.3).
    fields = request.headers.getlist("accept")
    return negotiate(", ".join(fields) if fields else None)


ReportFormat = Annotated[str, Depends(report_format)]


def report_response(fmt: str, body: dict[str, Any], problem: Problem | None,
                    headers: dict[str, str] | None = None) -> Response:
    """`body` as the JSON it is, or rendered in `fmt`. Renders in the calling thread: call
    it from a worker thread for anything but JSON."""
    # The answer depends on Accept: a cache must not give one client's report to another.
    headers = {**(headers or {}), "Vary": "Accept"}
    if fmt == "json":
        return JSONResponse(body, headers=headers)
    # Text types get `; charset=utf-8` from Starlette; SARIF is JSON, UTF-8 by definition.
    return Response(render(fmt, body, problem), media_type=MEDIA_TYPES[fmt], headers=headers)
