"""A headless Chromium for the tests: open a file or URL, get back the page's text, its
console errors, every request it made, and a screenshot.

Debian's `chromium` (installed by .ci/run) is driven through Playwright; Playwright's own
browser downloads are never used. Requests to any host but the loopback are recorded and
aborted, so a page that would reach the internet fails its test instead of hanging on it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Request, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
__all__ = ["ARGS", "CHROMIUM", "Browser", "Visit", "browser", "is_local", "is_loopback",
           "needs_chromium", "png_size", "png_variety", "visit"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")


@dataclass
class Visit:
    url: str
    text: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    counts: dict[str, int] = field(default_factory=dict)  # matches per CSS selector asked
    boxes: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # their boxes

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the page's own file or server (and inline data)."""
        own = urlsplit(self.url)
        return [u for u in self.requests if not is_local(u, own.scheme, own.netloc)]


def is_local(url: str, scheme: str, netloc: str) -> bool:
    """Whether `url` is inline data, or the page's own file (for a page opened from a file)
    or its own server (scheme and host:port, for a page opened from a URL)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    if scheme == "file":
        return parts.scheme == "file"
    return parts.scheme == scheme and parts.netloc == netloc


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and (parts.hostname or "") in LOCAL_HOSTS


# Per module: Playwright's sync API allows one instance at a time, and each test module that
# imports this fixture gets its own, closed when the module's tests are done.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS,
                                              headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def visit(browser: Browser, url: str, *, width: int = 1280, height: int = 800,
          full_page: bool = True, wait_for_text: str | None = None,
          selectors: Sequence[str] = (), media: str = "screen",
          timeout_ms: float = 20_000) -> Visit:
    """Open `url` in a fresh page (`media` "screen" or "print"); once loaded (and showing
    `wait_for_text`, when given), return what it showed and asked for, with the number and
    the boxes of the elements each of `selectors` matches."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  service_workers="block")
    page = context.new_page()
    page.emulate_media(media="print" if media == "print" else "screen")
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: requests.append(r.url))

    def guard(route: Route, request: Request) -> None:
        if is_loopback(request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    page.route(lambda u: urlsplit(u).scheme in ("http", "https", "ws", "wss"), guard)
    try:
        page.goto(url, wait_until="load", timeout=timeout_ms)
        if wait_for_text is not None:
            page.get_by_text(wait_for_text).first.wait_for(state="visible", timeout=timeout_ms)
        page.wait_for_load_state("networkidle", timeout=timeout_ms)
        text = page.inner_text("body")
        counts = {s: page.locator(s).count() for s in selectors}
        boxes = {s: [_box(b) for b in page.locator(s).evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().toJSON())")] for s in selectors}
        shot = page.screenshot(full_page=full_page, type="png")
    finally:
        context.close()
    return Visit(url=url, text=text, console_errors=errors, requests=requests, screenshot=shot,
                 counts=counts, boxes=boxes)


def _box(rect: Any) -> dict[str, float]:
    return {k: float(rect[k]) for k in ("x", "y", "width", "height")}


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_variety(png: bytes) -> int:
    """How many different scanlines the PNG has, as stored (filtered). An image of one colour
    stores every line alike (two kinds at most, the first line being filtered apart), so a
    handful of distinct lines already means something is drawn. Needs only zlib."""
    width, _ = png_size(png)
    pos, data, depth, colour = 8, bytearray(), 8, 6
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            depth, colour = body[8], body[9]
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    stride = 1 + (width * channels * depth + 7) // 8
    raw = zlib.decompress(bytes(data))
    return len({raw[i:i + stride] for i in range(0, len(raw), stride)})
