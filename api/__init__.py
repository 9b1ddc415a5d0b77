"""The REST API: `create_app(settings)`; `podlayout serve` runs it with uvicorn.

Both names load FastAPI when first used, not when this package is imported: the command
line starts from `api.cli`, and only `serve` needs the API.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app
    from api.settings import Settings

__all__ = ["Settings", "create_app"]
_WHERE = {"create_app": "api.app", "Settings": "api.settings"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
