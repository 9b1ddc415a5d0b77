"""create_app(): the FastAPI adapter over the advisor core."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from api import errors, openapi
from api.deps import require_token
from api.jobs import JobManager
from api.routes import imports, jobs, meta, solve, whatif
from api.settings import Settings
from api.store import open_store

DESCRIPTION = """Decides how to group containers into Kubernetes pods and where to place every
replica, with waste and SPOF scores, findings, and the solver's bound and gap.

`POST /v1/advise` and `/v1/review` answer within the time limit; `POST /v1/jobs` solves in
the background (poll `GET /v1/jobs/{id}`, stop with `DELETE`). Bodies are JSON or YAML
(`Content-Type: application/yaml`). Errors are `application/problem+json` with the offending
fields in `errors`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        manager = JobManager(settings, store)
        manager.start()
        app.state.manager = manager
        try:
            yield
        finally:
            stop_sync_solves(app)
            app.state.manager = None
            manager.close()
            store.close()

    # /docs serves Swagger UI from the files fastapi-offline ships (under
    # /static-offline-docs), not from a CDN, so it works on a machine without internet. No
    # /redoc: ReDoc's sidebar loads its vendor's logo from the internet whatever it is given.
    app = FastAPIOffline(redoc_url=None, title="pod-layout-advisor",
                         version=metadata.version("pod-layout-advisor"),
                         description=DESCRIPTION, lifespan=lifespan,
                         # Starlette's slash redirect is absolute, built from the Host header;
                         # errors.slash_twin redirects to a relative path instead.
                         redirect_slashes=False)
    app.state.settings = settings
    app.state.manager = None
    app.state.gate = threading.BoundedSemaphore(settings.max_concurrent_requests)
    app.state.sync_controls = set()  # the synchronous solves running now
    errors.install(app)
    guarded = [Depends(require_token)]
    app.include_router(solve.router, dependencies=guarded)
    app.include_router(jobs.router, dependencies=guarded)
    app.include_router(imports.router, dependencies=guarded)
    app.include_router(whatif.router, dependencies=guarded)
    app.include_router(meta.router)
    openapi.install(app)
    return app


def stop_sync_solves(app: FastAPI) -> None:
    """Stop the synchronous solves in flight: each answers at once with its best plan."""
    for control in list(app.state.sync_controls):
        control.stop()
