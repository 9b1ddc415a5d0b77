"""The interactive API docs work without internet: /docs (Swagger UI) loads its script, styles
and icon from the server itself, checked in a headless Chromium against a real uvicorn on a
loopback port."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api import create_app
from tests.api_support import settings
from tests.browser import Browser, browser, needs_chromium, visit

__all__ = ["browser"]  # the fixture, used by name

pytestmark = needs_chromium


@pytest.fixture(autouse=True)
def _no_server_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PODLAYOUT_"):
            monkeypatch.delenv(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app under uvicorn in a thread (a browser needs a real socket, not a TestClient)."""
    tmp: Path = tmp_path_factory.mktemp("docs")
    port = free_port()
    config = uvicorn.Config(create_app(settings(tmp)), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped during start-up"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_docs_page_names_only_local_assets(server_url: str) -> None:
    page = httpx.get(f"{server_url}/docs", timeout=10).text
    assert "cdn." not in page, page
    assert "https://" not in page, page
    assert "/static-offline-docs/swagger-ui-bundle.js" in page, page
    # ReDoc is not served: it would fetch its vendor's logo from the internet.
    assert httpx.get(f"{server_url}/redoc", timeout=10).status_code == 404


def test_swagger_ui_renders_offline(browser: Browser, server_url: str) -> None:
    seen = visit(browser, f"{server_url}/docs", wait_for_text="/v1/advise")
    assert "/v1/advise" in seen.text
    assert "/v1/review" in seen.text
    assert "pod-layout-advisor" in seen.text
    assert seen.console_errors == []
    assert seen.foreign_requests() == []
    assert any(u.endswith("swagger-ui-bundle.js") for u in seen.requests), seen.requests
    assert any(u.endswith("/openapi.json") for u in seen.requests), seen.requests
