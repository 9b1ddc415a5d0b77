"""Dependencies the routes share: settings, the job manager, the sync gate, the token check."""

from __future__ import annotations

import hmac
import threading
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.jobs import JobManager
from api.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_manager(request: Request) -> JobManager:
    manager: JobManager | None = getattr(request.app.state, "manager", None)
    if manager is None:  # only outside the lifespan, e.g. a client without `with`
        raise ApiError(503, "the job manager is not running")
    return manager


def get_gate(request: Request) -> threading.BoundedSemaphore:
    gate: threading.BoundedSemaphore = request.app.state.gate
    return gate


SettingsDep = Annotated[Settings, Depends(get_settings)]
ManagerDep = Annotated[JobManager, Depends(get_manager)]
GateDep = Annotated[threading.BoundedSemaphore, Depends(get_gate)]

_bearer = HTTPBearer(auto_error=False, description="Needed when PODLAYOUT_API_TOKEN is set.")


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if settings.api_token is None:
        return
    expected = settings.api_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials is not None else b""
    # Constant time: the comparison must not tell how much of a guess was right.
    if credentials is None or not hmac.compare_digest(given, expected):
        raise ApiError(401, "a valid `Authorization: Bearer <token>` header is required",
                       headers={"WWW-Authenticate": 'Bearer realm="podlayout"'})
