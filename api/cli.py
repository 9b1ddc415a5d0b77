"""`podlayout`: the core's commands plus `serve`, which runs the REST API with uvicorn.

The API (FastAPI, uvicorn, the settings and the job store) is imported inside `serve`:
every other command, `--version` and `--help` included, starts without it.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from advisor.cli import EXIT_INPUT, app, err
from advisor.cli import main as core_main

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from api.settings import Settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes the API.")] =
        "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the REST API (settings from PODLAYOUT_* variables; see the README)."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings
    from api.store import StoreError, open_store, store_setting

    level = log_level.lower()
    if level not in ("debug", "info", "warning", "error"):
        err.print(f"error: --log-level {log_level}: use debug, info, warning or error",
                  markup=False)
        raise typer.Exit(EXIT_INPUT)
    settings = _settings()
    known = {f"PODLAYOUT_{name.upper()}" for name in Settings.model_fields}
    known |= {"PODLAYOUT_DEBUG", "PODLAYOUT_QUIET"}
    for name in sorted(n for n in os.environ if n.startswith("PODLAYOUT_") and n not in known):
        err.print(f"warning: {name} is not a setting; ignored (see the README)", markup=False)
    try:  # a taken port is the user's to fix: say so now, not after the start-up
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        err.print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", markup=False)
        raise typer.Exit(EXIT_INPUT) from None
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                                                    "%(message)s")
    if host not in ("127.0.0.1", "localhost", "::1") and settings.api_token is None:
        err.print(f"warning: serving on {host} without PODLAYOUT_API_TOKEN: anyone who can "
                  "reach it can run solves", markup=False)
    try:
        # Fail here, with a clear message, not mid-start (a damaged file is found here too).
        store = open_store(settings)
        where = store.describe()
        store.close()
    except StoreError as exc:
        err.print(f"error: {store_setting(settings)}: {exc}", markup=False)
        raise typer.Exit(EXIT_INPUT) from None
    err.print(f"podlayout: jobs in {where}; {settings.workers} worker(s); "
              f"http://{host}:{port}/docs", markup=False)
    # Access logs carry method, path and status only: never bodies or headers.
    application = create_app(settings)
    config = uvicorn.Config(application, host=host, port=port, log_level=level,
                            timeout_graceful_shutdown=15)
    _server(config, application).run()


def _settings() -> Settings:
    """The settings from PODLAYOUT_* variables; invalid ones end the command."""
    from pydantic import ValidationError

    from api.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  PODLAYOUT_{str(e['loc'][0]).upper()}: {e['msg']}" if e["loc"]
                 else f"  {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        err.print("error: invalid settings\n" + "\n".join(lines), markup=False)
        raise typer.Exit(EXIT_INPUT) from None


def _server(config: uvicorn.Config, application: FastAPI) -> uvicorn.Server:
    """uvicorn's server, which also stops the synchronous solves as soon as a shutdown
    begins: they answer with their best plan instead of being cut off after the grace time."""
    from types import FrameType

    import uvicorn

    from api.app import stop_sync_solves

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stop_sync_solves(application)
            super().handle_exit(sig, frame)

    return Server(config)


def main() -> None:
    core_main()


if __name__ == "__main__":  # pragma: no cover
    main()
