"""The REST API: `create_app(settings)`; `podlayout serve` runs it with uvicorn."""

from api.app import create_app
from api.settings import Settings

__all__ = ["Settings", "create_app"]
